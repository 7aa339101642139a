//! Building window and session stores: a key-value store's options (name,
//! serdes, backend, logging, caching) plus retention and window size.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::builder::{BytesStoreSupplier, KeyValueStoreBuilder};
use super::kind::StoreKind;
use super::session_store::MeteredSessionStore;
use super::window_store::MeteredWindowStore;
use super::{StateStore, StoreContext, StoreSupplier};
use crate::error::{Error, Result};
use crate::serde::SharedSerde;
use crate::task_id::TaskId;

/// Milliseconds of `d`, saturating at `i64::MAX`.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The options both builders forward to the key-value builder they wrap.
macro_rules! store_options {
    () => {
        /// The store's name.
        pub fn name(&self) -> &str {
            self.kv.name()
        }

        /// The store's retention, in milliseconds.
        pub fn retention_ms(&self) -> i64 {
            self.retention_ms
        }

        /// Whether updates are change-logged.
        pub fn logging_enabled(&self) -> bool {
            self.kv.logging_enabled()
        }

        /// Whether the store caches its writes (when the thread has a cache budget).
        pub fn caching_enabled(&self) -> bool {
            self.kv.caching_enabled()
        }

        /// Whether the store uses the runtime's default backend.
        pub fn uses_default_backend(&self) -> bool {
            self.kv.uses_default_backend()
        }

        /// Keeps the data in memory, whatever the runtime's default (see
        /// [`KeyValueStoreBuilder::in_memory`]).
        pub fn in_memory(mut self) -> Self {
            self.kv = self.kv.in_memory();
            self
        }

        /// Keeps the data in the bytes stores `supplier` creates, one per
        /// task (see [`KeyValueStoreBuilder::with_bytes_supplier`]).
        pub fn with_bytes_supplier(mut self, supplier: BytesStoreSupplier) -> Self {
            self.kv = self.kv.with_bytes_supplier(supplier);
            self
        }

        /// Keeps the data where the runtime puts stores by default (the default).
        pub fn with_default_backend(mut self) -> Self {
            self.kv = self.kv.with_default_backend();
            self
        }

        /// Turns change-logging on or off (off by default). The changelog
        /// topic is `compact,delete` with `retention.ms` = the store's
        /// retention + `windowstore.changelog.additional.retention.ms`.
        pub fn with_logging(mut self, enabled: bool) -> Self {
            self.kv = self.kv.with_logging(enabled);
            self
        }

        /// Turns caching on or off (off by default; see
        /// [`KeyValueStoreBuilder::with_caching`]).
        pub fn with_caching(mut self, enabled: bool) -> Self {
            self.kv = self.kv.with_caching(enabled);
            self
        }

        /// A [`StoreSupplier`] for
        /// [`TopologyBuilder::add_state_store`](crate::topology::TopologyBuilder::add_state_store);
        /// prefer `add_window_store` / `add_session_store`, which also plan
        /// the changelog topic.
        pub fn build_supplier(&self) -> StoreSupplier {
            let this = self.clone();
            Arc::new(move |ctx| Ok(Box::new(this.build_in(&ctx)?) as Box<dyn StateStore>))
        }
    };
}

/// Describes a window store and builds one instance per task (Kafka
/// Streams' `Stores.windowStoreBuilder`): the options of a
/// [`KeyValueStoreBuilder`] (name, serdes, backend, logging, caching, with
/// the same defaults) plus the retention, the window size and whether the
/// store retains duplicates. The stack is the key-value one, under a
/// [`MeteredWindowStore`].
///
/// ```
/// use std::time::Duration;
/// use weir_core::serde::Serdes;
/// use weir_core::store::{ReadOnlyWindowStore, WindowStore, WindowStoreBuilder};
/// use weir_core::task::TaskId;
///
/// let builder = WindowStoreBuilder::new(
///     "clicks-per-minute",
///     Serdes::string(),
///     Serdes::i64(),
///     Duration::from_secs(3600),
///     Duration::from_secs(60),
///     false,
/// )
/// .with_logging(true);
/// let mut store = builder.build(TaskId::new(0, 0))?;
/// store.put(&"alice".to_string(), Some(&3), 60_000)?;
/// assert_eq!(store.fetch(&"alice".to_string(), 60_000)?, Some(3));
/// # Ok::<(), weir_core::Error>(())
/// ```
pub struct WindowStoreBuilder<K, V> {
    kv: KeyValueStoreBuilder<K, V>,
    retention_ms: i64,
    window_size_ms: i64,
    retain_duplicates: bool,
}

impl<K, V> Clone for WindowStoreBuilder<K, V> {
    fn clone(&self) -> Self {
        WindowStoreBuilder {
            kv: self.kv.clone(),
            retention_ms: self.retention_ms,
            window_size_ms: self.window_size_ms,
            retain_duplicates: self.retain_duplicates,
        }
    }
}

impl<K, V> fmt::Debug for WindowStoreBuilder<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WindowStoreBuilder")
            .field("kv", &self.kv)
            .field("retention_ms", &self.retention_ms)
            .field("window_size_ms", &self.window_size_ms)
            .field("retain_duplicates", &self.retain_duplicates)
            .finish()
    }
}

impl<K: 'static, V: 'static> WindowStoreBuilder<K, V> {
    /// A window store called `name` with these serdes, keeping windows
    /// `retention` behind the newest start, each `window_size` long.
    pub fn new(
        name: impl Into<String>,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
        retention: Duration,
        window_size: Duration,
        retain_duplicates: bool,
    ) -> Self {
        Self::from_key_value(
            KeyValueStoreBuilder::new(name, key_serde, value_serde),
            millis(retention),
            millis(window_size),
            retain_duplicates,
        )
    }

    /// A window store with the name, serdes, backend, logging and caching
    /// of `kv` (what the DSL's `Materialized` describes).
    pub fn from_key_value(
        kv: KeyValueStoreBuilder<K, V>,
        retention_ms: i64,
        window_size_ms: i64,
        retain_duplicates: bool,
    ) -> Self {
        WindowStoreBuilder {
            kv,
            retention_ms,
            window_size_ms,
            retain_duplicates,
        }
    }

    store_options!();

    /// The windows' size, in milliseconds.
    pub fn window_size_ms(&self) -> i64 {
        self.window_size_ms
    }

    /// Whether the store keeps every value put (stream-stream joins).
    pub fn retains_duplicates(&self) -> bool {
        self.retain_duplicates
    }

    /// The store's kind, which plans its changelog topic.
    pub fn store_kind(&self) -> StoreKind {
        StoreKind::Window {
            retention_ms: self.retention_ms,
        }
    }

    /// Checks the options: a window size >= 0 and a retention no smaller
    /// than it (as Kafka Streams requires); an [`Error::Config`] otherwise.
    pub fn validate(&self) -> Result<()> {
        let fail = |message: String| Error::Config {
            key: format!("window store '{}'", self.name()),
            message,
        };
        if self.window_size_ms < 0 {
            return Err(fail(format!(
                "the window size must be >= 0, got {} ms",
                self.window_size_ms
            )));
        }
        if self.retention_ms < self.window_size_ms {
            return Err(fail(format!(
                "the retention ({} ms) must be no smaller than the window size ({} ms)",
                self.retention_ms, self.window_size_ms
            )));
        }
        Ok(())
    }

    /// Builds task `task`'s instance without runtime defaults (in memory,
    /// no cache).
    pub fn build(&self, task: TaskId) -> Result<MeteredWindowStore<K, V>> {
        self.build_in(&StoreContext::new(task))
    }

    /// Builds the instance of the task `ctx` describes (see
    /// [`KeyValueStoreBuilder::build_in`]).
    pub fn build_in(&self, ctx: &StoreContext) -> Result<MeteredWindowStore<K, V>> {
        self.validate()?;
        let (key_serde, value_serde) = self.kv.serdes();
        MeteredWindowStore::new(
            self.name().to_string(),
            self.kv.build_stack(ctx)?,
            key_serde,
            value_serde,
            self.retention_ms,
            self.window_size_ms,
            self.retain_duplicates,
        )
    }
}

/// Describes a session store and builds one instance per task (Kafka
/// Streams' `Stores.sessionStoreBuilder`): the options of a
/// [`KeyValueStoreBuilder`] plus the retention. The stack is the key-value
/// one, under a [`MeteredSessionStore`].
///
/// ```
/// use std::time::Duration;
/// use weir_core::serde::Serdes;
/// use weir_core::store::{ReadOnlySessionStore, SessionStore, SessionStoreBuilder};
/// use weir_core::task::TaskId;
/// use weir_core::window::{Window, Windowed};
///
/// let builder = SessionStoreBuilder::new(
///     "visits",
///     Serdes::string(),
///     Serdes::i64(),
///     Duration::from_secs(3600),
/// );
/// let mut store = builder.build(TaskId::new(0, 0))?;
/// let session = Windowed::new("alice".to_string(), Window::new(1_000, 5_000));
/// store.put(&session, &2)?;
/// assert_eq!(store.fetch_session(&"alice".to_string(), 1_000, 5_000)?, Some(2));
/// # Ok::<(), weir_core::Error>(())
/// ```
pub struct SessionStoreBuilder<K, V> {
    kv: KeyValueStoreBuilder<K, V>,
    retention_ms: i64,
}

impl<K, V> Clone for SessionStoreBuilder<K, V> {
    fn clone(&self) -> Self {
        SessionStoreBuilder {
            kv: self.kv.clone(),
            retention_ms: self.retention_ms,
        }
    }
}

impl<K, V> fmt::Debug for SessionStoreBuilder<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionStoreBuilder")
            .field("kv", &self.kv)
            .field("retention_ms", &self.retention_ms)
            .finish()
    }
}

impl<K: 'static, V: 'static> SessionStoreBuilder<K, V> {
    /// A session store called `name` with these serdes, keeping sessions
    /// `retention` behind the newest end.
    pub fn new(
        name: impl Into<String>,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
        retention: Duration,
    ) -> Self {
        Self::from_key_value(
            KeyValueStoreBuilder::new(name, key_serde, value_serde),
            millis(retention),
        )
    }

    /// A session store with the name, serdes, backend, logging and caching
    /// of `kv` (what the DSL's `Materialized` describes).
    pub fn from_key_value(kv: KeyValueStoreBuilder<K, V>, retention_ms: i64) -> Self {
        SessionStoreBuilder { kv, retention_ms }
    }

    store_options!();

    /// The store's kind, which plans its changelog topic.
    pub fn store_kind(&self) -> StoreKind {
        StoreKind::Session {
            retention_ms: self.retention_ms,
        }
    }

    /// Checks the options: a retention >= 0; an [`Error::Config`] otherwise.
    pub fn validate(&self) -> Result<()> {
        if self.retention_ms < 0 {
            return Err(Error::Config {
                key: format!("session store '{}'", self.name()),
                message: format!("the retention must be >= 0, got {} ms", self.retention_ms),
            });
        }
        Ok(())
    }

    /// Builds task `task`'s instance without runtime defaults (in memory,
    /// no cache).
    pub fn build(&self, task: TaskId) -> Result<MeteredSessionStore<K, V>> {
        self.build_in(&StoreContext::new(task))
    }

    /// Builds the instance of the task `ctx` describes (see
    /// [`KeyValueStoreBuilder::build_in`]).
    pub fn build_in(&self, ctx: &StoreContext) -> Result<MeteredSessionStore<K, V>> {
        self.validate()?;
        let (key_serde, value_serde) = self.kv.serdes();
        MeteredSessionStore::new(
            self.name().to_string(),
            self.kv.build_stack(ctx)?,
            key_serde,
            value_serde,
            self.retention_ms,
        )
    }
}
