//! `process`: the Processor API inside the DSL, with state stores and punctuation.

use super::*;

use weir_core::store::{StateStore, StoreSupplier};

/// Tags each value with where it came from and the node it ran in; changes the value type.
struct Locate;
impl Processor<String, String, String, (String, i64)> for Locate {
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<String, (String, i64)>,
        r: Record<String, String>,
    ) -> Result<()> {
        let m = ctx.record_metadata().cloned().unwrap();
        let v = r
            .value
            .clone()
            .map(|v| (format!("{v}@{}:{}", ctx.node_name(), m.topic), m.offset));
        ctx.forward(r.with_value(v))
    }
}

#[test]
fn process_runs_a_user_processor_and_forwards_what_it_forwards() {
    let builder = StreamsBuilder::new();
    let out = builder
        .stream("in", strings())
        .process(|| Locate, &[])
        .map_values(|(text, offset)| format!("{text}#{offset}"));
    assert_eq!(out.node_name(), "KSTREAM-MAPVALUES-0000000002");
    out.to("out", to_strings());
    let driver = drive(builder);
    let mut input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    let output = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    input.pipe_record(rec("a", s("x"), 1)).unwrap();
    input.pipe_record(rec("b", s("y"), 2)).unwrap();
    assert_eq!(
        output.read_records_to_list().unwrap(),
        vec![
            rec("a", s("x@KSTREAM-PROCESSOR-0000000001:in#0"), 1),
            rec("b", s("y@KSTREAM-PROCESSOR-0000000001:in#1"), 2),
        ]
    );
}

/// Sums values per key and forwards the sums when a punctuation fires.
struct SumEvery {
    kind: PunctuationType,
    interval_ms: u64,
    sums: std::collections::BTreeMap<String, i64>,
}

impl SumEvery {
    fn new(kind: PunctuationType, interval_ms: u64) -> Self {
        SumEvery {
            kind,
            interval_ms,
            sums: Default::default(),
        }
    }
}

impl Processor<String, i64> for SumEvery {
    fn init(&mut self, ctx: &mut dyn ProcessorContext<String, i64>) -> Result<()> {
        ctx.schedule(Duration::from_millis(self.interval_ms), self.kind)?;
        Ok(())
    }
    fn process(
        &mut self,
        _ctx: &mut dyn ProcessorContext<String, i64>,
        r: Record<String, i64>,
    ) -> Result<()> {
        if let (Some(k), Some(v)) = (r.key, r.value) {
            *self.sums.entry(k).or_default() += v;
        }
        Ok(())
    }
    fn punctuate(
        &mut self,
        ctx: &mut dyn ProcessorContext<String, i64>,
        p: Punctuation,
    ) -> Result<()> {
        for (k, v) in std::mem::take(&mut self.sums) {
            ctx.forward(Record::new(k, v, p.timestamp))?;
        }
        Ok(())
    }
}

fn sums(kind: PunctuationType, interval_ms: u64, config: DriverConfig) -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    builder
        .stream("numbers", string_i64())
        .process(move || SumEvery::new(kind, interval_ms), &[])
        .map_values(|v| v * 100)
        .to("sums", to_string_i64());
    TopologyTestDriver::new(builder.build().unwrap(), config).unwrap()
}

#[test]
fn process_wall_clock_punctuation_forwards_downstream_of_the_processor() {
    let driver = sums(
        PunctuationType::WallClockTime,
        1_000,
        DriverConfig::new().with_wall_clock_time_ms(10_000),
    );
    let mut numbers = driver.create_input_topic("numbers", Serdes::string(), Serdes::i64());
    let out = driver.create_output_topic("sums", Serdes::string(), Serdes::i64());
    numbers
        .pipe_records([
            (0, rec("b", 1, 1)),
            (0, rec("a", 2, 2)),
            (0, rec("b", 3, 3)),
        ])
        .unwrap();
    assert!(out.is_empty(), "nothing before the clock moves");
    driver
        .advance_wall_clock_time(Duration::from_millis(999))
        .unwrap();
    assert!(out.is_empty());
    driver
        .advance_wall_clock_time(Duration::from_millis(1))
        .unwrap();
    assert_eq!(
        out.read_records_to_list().unwrap(),
        vec![rec("a", 200, 11_000), rec("b", 400, 11_000)]
    );
    numbers.pipe_record(rec("c", 5, 4)).unwrap();
    driver
        .advance_wall_clock_time(Duration::from_millis(1_000))
        .unwrap();
    assert_eq!(
        out.read_records_to_list().unwrap(),
        vec![rec("c", 500, 12_000)]
    );
}

#[test]
fn process_stream_time_punctuation_fires_as_records_arrive() {
    let driver = sums(PunctuationType::StreamTime, 10, DriverConfig::new());
    let mut numbers = driver.create_input_topic("numbers", Serdes::string(), Serdes::i64());
    let out = driver.create_output_topic("sums", Serdes::string(), Serdes::i64());
    // Stream-time punctuation runs after the record that moves stream time:
    // the first record sets it and fires with that record summed.
    numbers.pipe_record(rec("a", 1, 100)).unwrap();
    assert_eq!(
        out.read_records_to_list().unwrap(),
        vec![rec("a", 100, 100)]
    );
    numbers.pipe_record(rec("a", 2, 105)).unwrap();
    numbers.pipe_record(rec("b", 9, 90)).unwrap(); // late: stream time stays 105
    assert!(out.is_empty());
    numbers.pipe_record(rec("b", 4, 110)).unwrap();
    assert_eq!(
        out.read_records_to_list().unwrap(),
        vec![rec("a", 200, 110), rec("b", 1_300, 110)]
    );
}

/// A store of the values seen, shared with the test through its `seen` list.
struct ListStore {
    name: String,
    seen: Seen<String>,
}
impl StateStore for ListStore {
    fn name(&self) -> &str {
        &self.name
    }
    fn persistent(&self) -> bool {
        false
    }
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
    fn close(&mut self) -> Result<()> {
        Ok(())
    }
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

/// Appends each value to the `history` store and forwards how many it holds.
struct Append;
impl Processor<String, String, String, i64> for Append {
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<String, i64>,
        r: Record<String, String>,
    ) -> Result<()> {
        let store = ctx.state_store("history")?;
        let store = store.as_any_mut().downcast_mut::<ListStore>().unwrap();
        let mut seen = store.seen.lock().unwrap();
        seen.push(r.value.clone().unwrap_or_default());
        let n = seen.len() as i64;
        drop(seen);
        ctx.forward(r.with_value(Some(n)))
    }
}

#[test]
fn process_uses_a_state_store_added_to_the_builder() {
    let history = seen();
    let h = history.clone();
    let supplier: StoreSupplier = Arc::new(move |_| {
        Ok(Box::new(ListStore {
            name: s("history"),
            seen: h.clone(),
        }) as Box<dyn StateStore>)
    });
    let builder = StreamsBuilder::new();
    builder.add_state_store("history", supplier);
    builder
        .stream("in", strings())
        .process(|| Append, &["history"])
        .named("append")
        .to("counts", to_string_i64());
    let topology = builder.build().unwrap();
    assert!(topology
        .describe()
        .to_string()
        .contains("    Processor: append (stores: [history])\n"));
    assert_eq!(topology.subtopologies()[0].stores(), [s("history")]);
    let driver = TopologyTestDriver::with_defaults(topology);
    let mut input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("counts", Serdes::string(), Serdes::i64());
    input
        .pipe_key_value_list([(s("k"), s("a")), (s("k"), s("b"))])
        .unwrap();
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![KeyValue::new(s("k"), 1), KeyValue::new(s("k"), 2)]
    );
    assert_eq!(taken(&history), vec![s("a"), s("b")]);
}

#[test]
fn process_naming_an_unknown_store_is_a_build_error() {
    let builder = StreamsBuilder::new();
    builder
        .stream("in", strings())
        .process(|| Append, &["nope"])
        .to("counts", to_string_i64());
    let text = build_error(builder);
    assert!(
        text.contains("'KSTREAM-PROCESSOR-0000000001'") && text.contains("'nope'"),
        "{text}"
    );
}
