//! The topics a producer has written to, remembered so that a refusal the
//! client does not name (a transaction refused for an unknown partition)
//! can still name the topic that is gone.

use std::sync::Arc;

/// Every distinct topic noted, in the order first seen.
#[derive(Debug, Default)]
pub(crate) struct WrittenTopics {
    /// The topic of the previous record: a sink's records share one name,
    /// so most records are noted with one pointer comparison.
    last: Option<Arc<str>>,
    all: Vec<Arc<str>>,
}

impl WrittenTopics {
    /// Notes that a record went to `topic`.
    pub(crate) fn note(&mut self, topic: &Arc<str>) {
        if self.last.as_ref().is_some_and(|t| Arc::ptr_eq(t, topic)) {
            return;
        }
        if !self
            .all
            .iter()
            .any(|t| Arc::ptr_eq(t, topic) || **t == **topic)
        {
            self.all.push(Arc::clone(topic));
        }
        self.last = Some(Arc::clone(topic));
    }

    /// The topics noted, in the order first seen.
    pub(crate) fn all(&self) -> impl Iterator<Item = &str> {
        self.all.iter().map(|t| &**t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_topic_is_noted_once_whatever_its_pointer() {
        let mut w = WrittenTopics::default();
        let out: Arc<str> = Arc::from("out");
        let log: Arc<str> = Arc::from("app-store-changelog");
        w.note(&out);
        w.note(&out);
        w.note(&log);
        w.note(&Arc::from("out"));
        w.note(&log);
        assert_eq!(w.all().collect::<Vec<_>>(), ["out", "app-store-changelog"]);
    }
}
