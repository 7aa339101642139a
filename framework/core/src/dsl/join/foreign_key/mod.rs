//! Foreign-key table-table joins (Kafka Streams' KIP-213):
//! [`KTable::join_on_foreign_key`] and [`KTable::left_join_on_foreign_key`]
//! (what they emit, and how), named and given serdes by
//! [`ForeignKeyJoined`] (the internal topics, the store and their record
//! formats).

mod hash;
mod left;
mod right;
mod wire;

use std::sync::Arc;

use crate::dsl::join::ValueGetter;
use crate::dsl::ktable::{add_node, materialize};
use crate::dsl::{Change, KTable, Materialized};
use crate::processor::Data;
use crate::serde::{Serdes, SharedSerde};
use crate::store::KeyValueStoreBuilder;
use crate::topology::{Consumed, Produced, TopicName};

use left::{ResponseJoin, SubscriptionSend, Unmaterialized};
use right::{ForeignTableJoin, StoreKeys, SubscriptionReceive};
use wire::{Response, ResponseSerde, Subscription, SubscriptionSerde};

/// The name and serdes of a foreign-key join: `name` names its internal
/// topics (`<application.id>-<name>-subscription-registration-topic`,
/// `<application.id>-<name>-subscription-response-topic`), its
/// subscription store (`<name>-subscription-store`) and its nodes; the
/// serdes write the left key (both topics), the left value (its hash), the
/// foreign key (the subscription topic's key) and the right value (the
/// response topic).
///
/// # Record formats
///
/// Weir's own (Kafka Streams' differ: an application cannot move between
/// the two with a join's records in flight):
///
/// **Subscription** (value of `<application.id>-<name>-subscription-registration-topic`,
/// keyed by the foreign key, written with the foreign key's serde; a left
/// row whose foreign key is null in a left join travels without a key):
///
/// | bytes | field |
/// |---|---|
/// | 1 | version, 0 |
/// | 1 | instruction: 0 delete, no propagation; 1 delete and propagate; 2 propagate null if the right side has no value; 3 propagate only if it has one |
/// | 1 | flags: bit 0, a value hash follows |
/// | 4 | the left record's partition, big-endian (-1: unknown) |
/// | 16 | the hash of the left value (if flagged): two big-endian u64 |
/// | rest | the left key, written with the left key's serde |
///
/// **Response** (value of `<application.id>-<name>-subscription-response-topic`,
/// keyed by the left key, written with the left key's serde):
///
/// | bytes | field |
/// |---|---|
/// | 1 | version, 0 |
/// | 1 | flags: bit 0, a value hash follows; bit 1, a right value follows |
/// | 4 | the left record's partition, big-endian (-1: unknown) |
/// | 16 | the hash of the left value the subscription carried (if flagged) |
/// | rest | the right value (if flagged), written with the right value's serde |
///
/// **Subscription store** (`<name>-subscription-store`): keys are the
/// foreign key's serialized length (4 bytes, big-endian), its bytes, then the
/// left key's bytes, so a prefix scan of the first two finds every subscriber
/// of a foreign key; values are subscriptions as above.
///
/// The left value hash is MurmurHash3 x64 128 (seed 104729, as Kafka
/// Streams) of the left value written with its serde.
///
/// ```
/// use weir_core::dsl::ForeignKeyJoined;
/// use weir_core::Serdes;
///
/// let joined = ForeignKeyJoined::with(
///     "orders-customers",
///     Serdes::string(),
///     Serdes::string(),
///     Serdes::string(),
///     Serdes::string(),
/// );
/// assert_eq!(joined.name(), "orders-customers");
/// ```
pub struct ForeignKeyJoined<K, V, KO, VO> {
    name: String,
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<V>,
    foreign_key_serde: SharedSerde<KO>,
    other_value_serde: SharedSerde<VO>,
}

impl<K, V, KO, VO> ForeignKeyJoined<K, V, KO, VO> {
    /// A join named `name` with the left table's key and value serdes, the
    /// foreign key's serde (the right table's key serde) and the right
    /// table's value serde.
    pub fn with(
        name: impl Into<String>,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
        foreign_key_serde: SharedSerde<KO>,
        other_value_serde: SharedSerde<VO>,
    ) -> Self {
        ForeignKeyJoined {
            name: name.into(),
            key_serde,
            value_serde,
            foreign_key_serde,
            other_value_serde,
        }
    }

    /// The join's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<K: Data, V: Data> KTable<K, V> {
    /// Joins each row with the row of `other` whose key `foreign_key`
    /// extracts from its value (an inner join): the result has a row for
    /// every left row whose right row exists, `joiner(left, right)`. A left
    /// row whose foreign key is `None` joins nothing. `materialized` keeps
    /// the result in a store of its own; without one the result table has
    /// no store, and no value getter: it cannot be joined again.
    ///
    /// Each row of the left table names a row of the right table by a foreign
    /// key its value holds; the result is keyed like the left table and is
    /// recomputed when either row changes. The two tables need not be
    /// co-partitioned: the join runs in two places and talks through two
    /// internal topics.
    ///
    /// - The left table's changes become **subscriptions** (an instruction, a
    ///   hash of the new left value, the left key), sent to
    ///   `<application.id>-<name>-subscription-registration-topic`, keyed and so
    ///   partitioned by foreign key: the topic has as many partitions as the
    ///   right table's source topics. A change of foreign key unsubscribes the
    ///   old key and subscribes the new one.
    /// - The right side keeps the subscriptions in `<name>-subscription-store`,
    ///   under (foreign key, left key), so a prefix scan finds every subscriber
    ///   of a foreign key. A subscription is answered at once with the right
    ///   row's current value; a change of a right row is sent to every
    ///   subscriber. The **responses** go to
    ///   `<application.id>-<name>-subscription-response-topic`, keyed by left
    ///   key and sent back to the partition the left row came from: the topic
    ///   has as many partitions as the left table's source topics.
    /// - The left side joins a response with the left row's current value,
    ///   read through the left table's value getter, unless the hash it carries
    ///   is not the current value's: then the row changed after it subscribed,
    ///   and its newer subscription's response is on its way; the stale one is
    ///   dropped (and counted in `dropped-records`).
    ///
    /// What each change emits (as Kafka Streams):
    ///
    /// - inner join: a new left row emits only if its right row exists; a left
    ///   row updated to another foreign key emits its new result, or a delete if
    ///   the new right row is missing; a left row deleted, or updated to a null
    ///   foreign key, emits a delete (even if it never joined: Weir cannot know);
    ///   a right row's insert, update or delete emits a result (or a delete) for
    ///   every left row referring to it.
    /// - left join: every left change emits, `(v, None)` where the right row is
    ///   missing or the foreign key is null; a deleted left row emits a delete.
    /// - results are stamped with the later of the two rows' timestamps when a
    ///   left change triggers them, with the right change's when a right change
    ///   does.
    ///
    /// The internal record formats are Weir's own, not Kafka Streams' (see
    /// [`ForeignKeyJoined`]).
    ///
    /// ```
    /// use weir_core::dsl::{ForeignKeyJoined, Materialized, StreamsBuilder};
    /// use weir_core::topology::{Consumed, Produced};
    /// use weir_core::Serdes;
    ///
    /// let builder = StreamsBuilder::new();
    /// let strings = || Consumed::with(Serdes::string(), Serdes::string());
    /// let orders = builder.table("orders", strings(), Materialized::as_("orders", Serdes::string(), Serdes::string()));
    /// let customers = builder.table("customers", strings(), Materialized::as_("customers", Serdes::string(), Serdes::string()));
    /// orders
    ///     .join_on_foreign_key(
    ///         &customers,
    ///         |order: &String| order.split('|').nth(1).map(str::to_string),
    ///         |order: &String, customer: &String| format!("{order} by {customer}"),
    ///         ForeignKeyJoined::with("order-customer", Serdes::string(), Serdes::string(), Serdes::string(), Serdes::string()),
    ///         None,
    ///     )
    ///     .to("enriched", Produced::with(Serdes::string(), Serdes::string()));
    /// let topology = builder.build()?;
    /// let description = topology.describe().to_string();
    /// assert!(description.contains("order-customer-subscription-registration-topic"));
    /// assert!(description.contains("order-customer-subscription-store"));
    /// # Ok::<(), weir_core::Error>(())
    /// ```
    pub fn join_on_foreign_key<KO: Data, VO: Data, VR: Data>(
        &self,
        other: &KTable<KO, VO>,
        foreign_key: impl Fn(&V) -> Option<KO> + Send + Sync + 'static,
        joiner: impl Fn(&V, &VO) -> VR + Send + Sync + 'static,
        joined: ForeignKeyJoined<K, V, KO, VO>,
        materialized: Option<Materialized<K, VR>>,
    ) -> KTable<K, VR> {
        let joiner = move |v: &V, o: Option<&VO>| o.map(|o| joiner(v, o));
        self.foreign_key_join(other, foreign_key, joiner, joined, materialized, false)
    }

    /// Like [`join_on_foreign_key`](Self::join_on_foreign_key), but every
    /// left row has a result: `joiner(left, None)` when its foreign key is
    /// `None` or the right row is missing.
    pub fn left_join_on_foreign_key<KO: Data, VO: Data, VR: Data>(
        &self,
        other: &KTable<KO, VO>,
        foreign_key: impl Fn(&V) -> Option<KO> + Send + Sync + 'static,
        joiner: impl Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
        joined: ForeignKeyJoined<K, V, KO, VO>,
        materialized: Option<Materialized<K, VR>>,
    ) -> KTable<K, VR> {
        let joiner = move |v: &V, o: Option<&VO>| Some(joiner(v, o));
        self.foreign_key_join(other, foreign_key, joiner, joined, materialized, true)
    }

    fn foreign_key_join<KO: Data, VO: Data, VR: Data, F, J>(
        &self,
        other: &KTable<KO, VO>,
        foreign_key: F,
        joiner: J,
        joined: ForeignKeyJoined<K, V, KO, VO>,
        materialized: Option<Materialized<K, VR>>,
        left_join: bool,
    ) -> KTable<K, VR>
    where
        F: Fn(&V) -> Option<KO> + Send + Sync + 'static,
        J: Fn(&V, Option<&VO>) -> Option<VR> + Send + Sync + 'static,
    {
        let ForeignKeyJoined {
            name,
            key_serde,
            value_serde,
            foreign_key_serde,
            other_value_serde,
        } = joined;
        let left_lookup = self.lookup(&name);
        let right_lookup = other.lookup(&name);
        let subscription_topic = format!("{name}-subscription-registration-topic");
        let response_topic = format!("{name}-subscription-response-topic");
        let store = format!("{name}-subscription-store");
        let hash_topic: Arc<str> = Arc::from(format!("{subscription_topic}-vh"));
        let subscriptions = SubscriptionSerde::shared(key_serde.clone());
        let responses = ResponseSerde::shared(other_value_serde);
        let keys = StoreKeys {
            store: store.clone(),
            key_serde: key_serde.clone(),
            foreign_key_serde: foreign_key_serde.clone(),
        };

        let inner = self.shared();
        let node = |suffix: &str| format!("{name}-{suffix}");
        let (send, receive, foreign, resolver) = (
            node("subscription-registration-processor"),
            node("subscription-receive"),
            node("foreign-join-subscription"),
            node("subscription-response-resolver"),
        );
        {
            let mut b = inner.borrow_mut();
            let t = &mut b.topology;
            if name.is_empty() {
                t.problems.push(
                    "a foreign-key join has an empty name: its internal topics and store need \
                     a stable name of your own (ForeignKeyJoined::with)"
                        .to_string(),
                );
            }
            // Left side: subscriptions out, by foreign key.
            let foreign_key = Arc::new(foreign_key);
            let (fk_serde, v_serde, topic) = (
                foreign_key_serde.clone(),
                value_serde.clone(),
                hash_topic.clone(),
            );
            t.add_processor::<K, Change<V>, KO, Subscription<K>>(
                &send,
                move || SubscriptionSend {
                    foreign_key: foreign_key.clone(),
                    foreign_key_serde: fk_serde.clone(),
                    value_serde: v_serde.clone(),
                    topic: topic.clone(),
                    left_join,
                },
                &[self.node_name()],
            );
            t.add_internal_topic(&subscription_topic, None);
            t.add_sink_topic(
                &node("subscription-registration-sink"),
                TopicName::internal(&subscription_topic),
                Produced::with(foreign_key_serde.clone(), subscriptions.clone()),
                &[&send],
            );
            let source = node("subscription-registration-source");
            t.add_source_topics(
                &source,
                vec![TopicName::internal(&subscription_topic)],
                Consumed::with(foreign_key_serde, subscriptions.clone()),
            );

            // Right side: the subscription store, answers and fan-out.
            let (k, right) = (keys.clone(), right_lookup.clone());
            t.add_processor::<KO, Subscription<K>, K, Response<VO>>(
                &receive,
                move || SubscriptionReceive {
                    keys: k.clone(),
                    right: right.clone(),
                },
                &[&source],
            );
            let k = keys;
            t.add_processor::<KO, Change<VO>, K, Response<VO>>(
                &foreign,
                move || ForeignTableJoin { keys: k.clone() },
                &[other.node_name()],
            );
            let store_builder = KeyValueStoreBuilder::new(&store, Serdes::bytes(), subscriptions)
                .with_caching(false);
            t.add_key_value_store(&store_builder, &[&receive, &foreign]);
            let right_stores = right_lookup.stores().to_vec();
            let right_stores: Vec<&str> = right_stores.iter().map(String::as_str).collect();
            t.connect_processor_and_state_stores(&receive, &right_stores);
            t.add_internal_topic(&response_topic, None);
            let back_to_left_partition =
                |_: &str, _: Option<&K>, response: Option<&Response<VO>>, n: i32| {
                    response
                        .and_then(|r| r.primary_partition)
                        .filter(|&p| p < n)
                };
            t.add_sink_topic(
                &node("subscription-response-sink"),
                TopicName::internal(&response_topic),
                Produced::with(key_serde.clone(), responses.clone())
                    .with_partitioner(back_to_left_partition),
                &[&receive, &foreign],
            );

            // Left side again: responses in, joined with the current value.
            let source = node("subscription-response-source");
            t.add_source_topics(
                &source,
                vec![TopicName::internal(&response_topic)],
                Consumed::with(key_serde, responses),
            );
            let joiner = Arc::new(joiner);
            let left = left_lookup.clone();
            t.add_processor::<K, Response<VO>, K, VR>(
                &resolver,
                move || ResponseJoin {
                    left: left.clone(),
                    value_serde: value_serde.clone(),
                    topic: hash_topic.clone(),
                    joiner: joiner.clone(),
                },
                &[&source],
            );
            let left_stores = left_lookup.stores().to_vec();
            let left_stores: Vec<&str> = left_stores.iter().map(String::as_str).collect();
            t.connect_processor_and_state_stores(&resolver, &left_stores);
        }
        let result = node("result");
        match materialized {
            Some(m) => materialize(inner, &resolver, "KTABLE-FK-JOIN-OUTPUT", m).named(&result),
            None => {
                let n = add_node::<K, VR, K, Change<VR>>(
                    inner,
                    &resolver,
                    "KTABLE-FK-JOIN-OUTPUT",
                    || Unmaterialized,
                );
                KTable::new(inner.clone(), n, None).named(&result)
            }
        }
    }

    /// How the join reads this table's current values: its value getter
    /// (a table of windows, or a suppressed one, has none and cannot be
    /// joined: the build fails).
    fn lookup(&self, join: &str) -> ValueGetter<K, V> {
        match self.value_getter() {
            Some(getter) => getter.clone(),
            None => {
                self.shared().borrow_mut().topology.problems.push(format!(
                    "foreign-key join '{join}': table '{}' cannot be joined (a table of windows \
                     or a suppressed table has no value getter)",
                    self.node_name()
                ));
                ValueGetter::of_store("")
            }
        }
    }
}
