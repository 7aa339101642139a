//! `split`: route each record to the first branch whose predicate it satisfies.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use crate::dsl::{KStream, Shared};
use crate::error::Result;
use crate::processor::{Data, ErasedProcessor, ErasedRecord, Punctuation};
use crate::task::NodeContext;
use crate::topology::NodeFactory;

type Predicate<K, V> = Arc<dyn Fn(Option<&K>, &V) -> bool + Send + Sync>;

/// The branches of a split, fixed when the split is finished.
struct Routes<K, V> {
    predicates: Vec<Predicate<K, V>>,
    has_default: bool,
}

/// The split node: children are the branches in order, then the default.
struct SplitNode<K, V> {
    routes: Arc<OnceLock<Routes<K, V>>>,
}

impl<K: Data, V: Data> ErasedProcessor for SplitNode<K, V> {
    fn init(&mut self, _ctx: &mut NodeContext<'_>) -> Result<()> {
        Ok(())
    }
    fn process(&mut self, ctx: &mut NodeContext<'_>, record: ErasedRecord) -> Result<()> {
        let Some(routes) = self.routes.get() else {
            return Ok(());
        };
        let record = record.typed::<K, V>(ctx.node_name())?;
        let chosen = match &record.value {
            Some(v) => routes
                .predicates
                .iter()
                .position(|p| p(record.key.as_ref(), v)),
            None => None,
        };
        let target = match chosen {
            Some(i) => i,
            None if routes.has_default => routes.predicates.len(),
            None => return Ok(()),
        };
        ctx.forward_to_position(target, ErasedRecord::erase(record))
    }
    fn punctuate(&mut self, _ctx: &mut NodeContext<'_>, _p: Punctuation) -> Result<()> {
        Ok(())
    }
    fn close(&mut self, _ctx: &mut NodeContext<'_>) -> Result<()> {
        Ok(())
    }
}

/// A stream being split (Kafka Streams' `BranchedKStream`). Each record goes
/// to the first branch whose predicate it satisfies, else to the default
/// branch if there is one, else nowhere. Branch `name` becomes the node
/// `<prefix><name>`; the prefix is the split node's name, set with
/// [`named`](Self::named) before adding branches.
///
/// ```
/// use weir_core::dsl::StreamsBuilder;
/// use weir_core::topology::{Consumed, Produced};
/// use weir_core::Serdes;
///
/// let builder = StreamsBuilder::new();
/// let branches = builder
///     .stream("levels", Consumed::with(Serdes::string(), Serdes::i64()))
///     .split()
///     .named("level-")
///     .branch("high", |_, v| *v > 100)
///     .branch("low", |_, v| *v < 0)
///     .default_branch("normal");
/// let out = Produced::with(Serdes::string(), Serdes::i64());
/// branches.get("level-high").unwrap().to("high", out.clone());
/// branches.get("level-normal").unwrap().to("normal", out);
/// builder.build()?;
/// # Ok::<(), weir_core::Error>(())
/// ```
pub struct BranchedKStream<K: Data, V: Data> {
    inner: Shared,
    node: String,
    /// The parent's key-changed mark, which every branch keeps.
    key_changed: bool,
    predicates: Vec<Predicate<K, V>>,
    routes: Arc<OnceLock<Routes<K, V>>>,
    branches: Branches<K, V>,
}

impl<K: Data, V: Data> BranchedKStream<K, V> {
    pub(crate) fn new(parent: &KStream<K, V>) -> Self {
        let inner = parent.shared().clone();
        let routes: Arc<OnceLock<Routes<K, V>>> = Arc::new(OnceLock::new());
        let node_routes = routes.clone();
        let factory: NodeFactory = Arc::new(move || {
            Box::new(SplitNode {
                routes: node_routes.clone(),
            }) as Box<dyn ErasedProcessor>
        });
        let node = {
            let mut b = inner.borrow_mut();
            let name = b.next_name("KSTREAM-BRANCH");
            b.topology
                .add_internal_processor::<K, V>(&name, factory, &[parent.node_name()]);
            name
        };
        BranchedKStream {
            inner,
            node,
            key_changed: parent.key_changed(),
            predicates: Vec::new(),
            routes,
            branches: Branches {
                map: BTreeMap::new(),
            },
        }
    }

    /// Names the split node; branch names are prefixed with it. Call before `branch`.
    pub fn named(mut self, prefix: &str) -> Self {
        self.inner.borrow_mut().topology.rename(&self.node, prefix);
        self.node = prefix.to_string();
        self
    }

    fn add_branch(&mut self, name: &str) {
        let full = format!("{}{name}", self.node);
        self.inner
            .borrow_mut()
            .topology
            .add_pass_through::<K, V>(&full, &[&self.node]);
        let stream =
            KStream::new(self.inner.clone(), full.clone()).with_key_changed(self.key_changed);
        self.branches.map.insert(full, stream);
    }

    /// Adds branch `name` for records whose value satisfies `predicate`.
    pub fn branch(
        mut self,
        name: &str,
        predicate: impl Fn(Option<&K>, &V) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.add_branch(name);
        self.predicates.push(Arc::new(predicate));
        self
    }

    /// Finishes the split with a default branch `name` for records no predicate takes.
    pub fn default_branch(mut self, name: &str) -> Branches<K, V> {
        self.add_branch(name);
        self.finish(true)
    }

    /// Finishes the split; records no predicate takes are dropped.
    pub fn no_default_branch(mut self) -> Branches<K, V> {
        self.finish(false)
    }

    fn finish(&mut self, has_default: bool) -> Branches<K, V> {
        let _ = self.routes.set(Routes {
            predicates: std::mem::take(&mut self.predicates),
            has_default,
        });
        Branches {
            map: std::mem::take(&mut self.branches.map),
        }
    }
}

impl<K: Data, V: Data> Drop for BranchedKStream<K, V> {
    /// A split dropped unfinished routes to the branches added so far, without default.
    fn drop(&mut self) {
        if self.routes.get().is_none() {
            self.finish(false);
        }
    }
}

/// The branches of a finished split, by full name (`<prefix><name>`).
pub struct Branches<K, V> {
    map: BTreeMap<String, KStream<K, V>>,
}

impl<K: Data, V: Data> Branches<K, V> {
    /// The branch stream named `name` (with its prefix).
    pub fn get(&self, name: &str) -> Option<KStream<K, V>> {
        self.map.get(name).cloned()
    }

    /// Branch names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(|k| k.as_str())
    }

    /// The number of branches.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are no branches.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
