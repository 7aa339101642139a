//! The serdes of a typed store layer: typed keys and values to bytes and
//! back, with the store's errors.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::headers::Headers;
use crate::serde::{SerdeContext, SerializeContext, SharedSerde};

/// A store's key and value serdes, which see the store's name as their
/// topic. Errors:
/// - a key or value that cannot be serialized is an [`Error::Serialization`]
///   (the caller's data is at fault); a key that serializes to null too;
/// - stored bytes that the serdes cannot read are an [`Error::Store`] naming
///   the store (the store or its serdes are at fault): never a panic.
pub(super) struct Codec<K, V> {
    pub(super) name: String,
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<V>,
}

impl<K, V> Clone for Codec<K, V> {
    fn clone(&self) -> Self {
        Codec {
            name: self.name.clone(),
            key_serde: Arc::clone(&self.key_serde),
            value_serde: Arc::clone(&self.value_serde),
        }
    }
}

impl<K, V> Codec<K, V> {
    pub(super) fn new(
        name: String,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
    ) -> Self {
        Codec {
            name,
            key_serde,
            value_serde,
        }
    }

    pub(super) fn key_bytes(&self, key: &K) -> Result<Vec<u8>> {
        let mut headers = Headers::new();
        let mut ctx = SerializeContext::key(&self.name, &mut headers);
        match self.key_serde.serialize(&mut ctx, key)? {
            Some(bytes) => Ok(bytes),
            None => Err(ctx.error("a store key cannot serialize to null")),
        }
    }

    pub(super) fn value_bytes(&self, value: &V) -> Result<Option<Vec<u8>>> {
        let mut headers = Headers::new();
        let mut ctx = SerializeContext::value(&self.name, &mut headers);
        self.value_serde.serialize(&mut ctx, value)
    }

    /// A store error naming the store.
    pub(super) fn error(&self, message: impl Into<String>) -> Error {
        Error::Store {
            store: self.name.clone(),
            message: message.into(),
        }
    }

    fn unreadable(&self, what: &str, cause: impl fmt::Display) -> Error {
        self.error(format!("cannot read a stored {what}: {cause}"))
    }

    pub(super) fn read_key(&self, bytes: &[u8]) -> Result<K> {
        let headers = Headers::new();
        let ctx = SerdeContext::key(&self.name, &headers);
        match self.key_serde.deserialize(&ctx, Some(bytes)) {
            Ok(Some(k)) => Ok(k),
            Ok(None) => Err(self.unreadable("key", "the serde read it as null")),
            Err(Error::Deserialization { message, .. }) => Err(self.unreadable("key", message)),
            Err(e) => Err(self.unreadable("key", e)),
        }
    }

    pub(super) fn read_value(&self, bytes: &[u8]) -> Result<V> {
        let headers = Headers::new();
        let ctx = SerdeContext::value(&self.name, &headers);
        match self.value_serde.deserialize(&ctx, Some(bytes)) {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(self.unreadable("value", "the serde read it as null")),
            Err(Error::Deserialization { message, .. }) => Err(self.unreadable("value", message)),
            Err(e) => Err(self.unreadable("value", e)),
        }
    }
}
