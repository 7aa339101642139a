//! Errors of the application's own code through the TopologyTestDriver:
//! they reach the caller whole, their type recoverable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::error::Error as _;

use weir_core::processor::{Processor, ProcessorContext};
use weir_core::topology::{Consumed, Produced, TopologyBuilder};
use weir_core::{Error, Record, Result, Serdes};
use weir_testing::TopologyTestDriver;

/// The application's own error type.
#[derive(Debug, PartialEq)]
struct Overdrawn(i64);

impl std::fmt::Display for Overdrawn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "balance would be {}", self.0)
    }
}

impl std::error::Error for Overdrawn {}

/// Fails with the application's own error on a negative amount.
struct Ledger;
impl Processor<String, String> for Ledger {
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<String, String>,
        r: Record<String, String>,
    ) -> Result<()> {
        if let Some(amount) = r.value.as_deref().and_then(|v| v.parse::<i64>().ok()) {
            if amount < 0 {
                return Err(Error::application(ctx.node_name(), Overdrawn(amount)));
            }
        }
        ctx.forward(r)
    }
}

#[test]
fn a_processors_own_error_reaches_the_caller_whole() {
    let mut b = TopologyBuilder::new();
    b.add_source(
        "in",
        ["input"],
        Consumed::with(Serdes::string(), Serdes::string()),
    )
    .add_processor("ledger", || Ledger, &["in"])
    .add_sink(
        "out",
        "output",
        Produced::with(Serdes::string(), Serdes::string()),
        &["ledger"],
    );
    let driver = TopologyTestDriver::with_defaults(b.build().unwrap());
    let mut input = driver.create_input_topic("input", Serdes::string(), Serdes::string());
    let err = input.pipe_input("-5".to_string()).unwrap_err();
    // The processing handler (log and fail) wraps it, naming the record;
    // the application's error is whole down the chain.
    assert_eq!(
        err.to_string(),
        "processing of record input-0 offset 0 failed at processor 'ledger' and the handler \
         said fail: ledger: balance would be -5"
    );
    let mut chain = err.source();
    let mut found = None;
    while let Some(e) = chain {
        found = found.or(e.downcast_ref::<Overdrawn>());
        chain = e.source();
    }
    assert_eq!(found, Some(&Overdrawn(-5)));
}
