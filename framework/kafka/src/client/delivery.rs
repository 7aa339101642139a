//! A producer context that records the outcome of every delivery report.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use rdkafka::client::ClientContext;
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryResult, ProducerContext};
use weir_core::ErrorKind;

use crate::client::produce::RecordPosition;
use crate::error::classify;

/// The outcome of one delivery: where the record landed, or why it did not.
pub(crate) type Outcome = Result<RecordPosition, (String, ErrorKind)>;

/// Collects delivery reports keyed by the opaque index given at send time.
#[derive(Default)]
pub(crate) struct DeliveryTracker {
    outcomes: Mutex<HashMap<usize, Outcome>>,
}

impl DeliveryTracker {
    fn lock(&self) -> MutexGuard<'_, HashMap<usize, Outcome>> {
        // A panic while holding the lock cannot leave the map inconsistent.
        self.outcomes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Removes and returns the outcome of record `index`, if reported.
    pub(crate) fn take(&self, index: usize) -> Option<Outcome> {
        self.lock().remove(&index)
    }

    /// Removes every outcome; returns the first failure among them.
    pub(crate) fn drain_first_error(&self) -> Option<(String, ErrorKind)> {
        let mut map = self.lock();
        let mut failures: Vec<(usize, (String, ErrorKind))> = map
            .drain()
            .filter_map(|(i, o)| o.err().map(|e| (i, e)))
            .collect();
        failures.sort_by_key(|(i, _)| *i);
        failures.into_iter().next().map(|(_, e)| e)
    }
}

impl ClientContext for DeliveryTracker {}

impl ProducerContext for DeliveryTracker {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, index: usize) {
        let outcome = match result {
            Ok(msg) => Ok(RecordPosition {
                partition: msg.partition(),
                offset: msg.offset(),
            }),
            Err((err, _)) => Err((err.to_string(), classify(err))),
        };
        self.lock().insert(index, outcome);
    }
}
