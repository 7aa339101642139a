//! [`Joined`]: the name, serdes and grace period of a stream-table join.

use std::time::Duration;

use crate::serde::SharedSerde;

/// How a stream joins a table (Kafka Streams' `Joined`): the join's name,
/// the serdes of the stream's key and value and of the table's value, and
/// an optional grace period.
///
/// The serdes are needed only when the stream must be repartitioned before
/// the join (an operator upstream changed its key: the stream goes through
/// `<application.id>-<name>-repartition`) and for the grace period's
/// buffer; [`Joined::as_`] gives a name without serdes.
///
/// ```
/// use std::time::Duration;
/// use weir_core::dsl::Joined;
/// use weir_core::Serdes;
///
/// let joined: Joined<String, i64, String> =
///     Joined::with(Serdes::string(), Serdes::i64(), Serdes::string())
///         .with_name("orders-with-customers")
///         .with_grace_period(Duration::from_secs(5));
/// assert_eq!(joined.name(), Some("orders-with-customers"));
/// ```
pub struct Joined<K, V, VO> {
    pub(crate) name: Option<String>,
    pub(crate) key_serde: Option<SharedSerde<K>>,
    pub(crate) value_serde: Option<SharedSerde<V>>,
    pub(crate) other_value_serde: Option<SharedSerde<VO>>,
    pub(crate) grace: Option<Duration>,
}

impl<K, V, VO> Default for Joined<K, V, VO> {
    fn default() -> Self {
        Joined {
            name: None,
            key_serde: None,
            value_serde: None,
            other_value_serde: None,
            grace: None,
        }
    }
}

impl<K, V, VO> Clone for Joined<K, V, VO> {
    fn clone(&self) -> Self {
        Joined {
            name: self.name.clone(),
            key_serde: self.key_serde.clone(),
            value_serde: self.value_serde.clone(),
            other_value_serde: self.other_value_serde.clone(),
            grace: self.grace,
        }
    }
}

impl<K, V, VO> Joined<K, V, VO> {
    /// A join with these serdes: the stream's key and value, the table's
    /// value.
    pub fn with(
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
        other_value_serde: SharedSerde<VO>,
    ) -> Self {
        Joined {
            key_serde: Some(key_serde),
            value_serde: Some(value_serde),
            other_value_serde: Some(other_value_serde),
            ..Joined::default()
        }
    }

    /// A join named `name`, without serdes.
    pub fn as_(name: &str) -> Self {
        Joined::default().with_name(name)
    }

    /// Names the join: its node, and its repartition topic if it needs one.
    pub fn with_name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// Waits `grace` of stream time before joining each stream record, so a
    /// table update that arrives late (up to `grace` behind the stream) is
    /// still seen by the stream records after it in event time. Needs a
    /// versioned table; stream records are buffered in timestamp order.
    pub fn with_grace_period(mut self, grace: Duration) -> Self {
        self.grace = Some(grace);
        self
    }

    /// The join's name, if given.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The grace period, if given.
    pub fn grace_period(&self) -> Option<Duration> {
        self.grace
    }
}
