//! Node names (generated and given), describe() goldens, and build errors.

use super::*;

#[test]
fn generated_names_follow_kafka_streams_style_one_counter_per_builder() {
    let builder = StreamsBuilder::new();
    let source = builder.stream("in", strings());
    let filtered = source.filter(|_, _| true);
    let not = filtered.filter_not(|_, _| false);
    let mapped = not.map(|k, v| (k.unwrap_or_default(), v));
    let values = mapped.map_values(|v| v);
    let with_key = values.map_values_with_key(|_, v| v);
    let flat = with_key.flat_map(|k, v| Some((k.unwrap_or_default(), v)));
    let flat_values = flat.flat_map_values(|v| vec![v]);
    let keyed = flat_values.select_key(|k, _| k.cloned().unwrap_or_default());
    let peeked = keyed.peek(|_, _| {});
    let merged = peeked.merge(&source);
    let processed = merged.process(|| PassOn, &[]);
    let branches = processed
        .split()
        .branch("-a", |_, _| true)
        .default_branch("-b");
    let sink = branches
        .get("KSTREAM-BRANCH-0000000012-a")
        .unwrap()
        .to("out", to_strings());
    let each = branches
        .get("KSTREAM-BRANCH-0000000012-b")
        .unwrap()
        .foreach(|_, _| {});
    let names = [
        source.node_name(),
        filtered.node_name(),
        not.node_name(),
        mapped.node_name(),
        values.node_name(),
        with_key.node_name(),
        flat.node_name(),
        flat_values.node_name(),
        keyed.node_name(),
        peeked.node_name(),
        merged.node_name(),
        processed.node_name(),
        sink.node_name(),
        each.node_name(),
    ];
    assert_eq!(
        names,
        [
            "KSTREAM-SOURCE-0000000000",
            "KSTREAM-FILTER-0000000001",
            "KSTREAM-FILTER-0000000002",
            "KSTREAM-MAP-0000000003",
            "KSTREAM-MAPVALUES-0000000004",
            "KSTREAM-MAPVALUES-0000000005",
            "KSTREAM-FLATMAP-0000000006",
            "KSTREAM-FLATMAPVALUES-0000000007",
            "KSTREAM-KEY-SELECT-0000000008",
            "KSTREAM-PEEK-0000000009",
            "KSTREAM-MERGE-0000000010",
            "KSTREAM-PROCESSOR-0000000011",
            "KSTREAM-SINK-0000000013",
            "KSTREAM-FOREACH-0000000014",
        ]
    );
    let text = builder.build().unwrap().describe().to_string();
    for name in names {
        assert!(text.contains(name), "{name} missing from\n{text}");
    }
    assert!(text.contains("Processor: KSTREAM-BRANCH-0000000012 (stores: [])"));
}

// A separate `split` counter check: the split node takes the next number when
// `split()` is called, branches take none.
#[test]
fn split_takes_one_number_and_its_branches_none() {
    let builder = StreamsBuilder::new();
    let branches = builder
        .stream("in", strings())
        .split()
        .branch("x", |_, _| true)
        .no_default_branch();
    let next = branches
        .get("KSTREAM-BRANCH-0000000001x")
        .unwrap()
        .map_values(|v| v);
    assert_eq!(next.node_name(), "KSTREAM-MAPVALUES-0000000002");
}

/// Forwards every record unchanged.
struct PassOn;
impl Processor<String, String> for PassOn {
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<String, String>,
        r: Record<String, String>,
    ) -> Result<()> {
        ctx.forward(r)
    }
}

/// `orders` split into `big` and the rest; the rest is uppercased and merged
/// back with `big`, then written to `out`. All names generated.
fn split_and_merge() -> Topology {
    let builder = StreamsBuilder::new();
    let branches = builder
        .stream("orders", strings())
        .split()
        .branch("big", |_, v| v.len() > 3)
        .default_branch("small");
    let big = branches.get("KSTREAM-BRANCH-0000000001big").unwrap();
    let small = branches
        .get("KSTREAM-BRANCH-0000000001small")
        .unwrap()
        .map_values(|v| v.to_uppercase());
    big.merge(&small).to("out", to_strings());
    builder.build().unwrap()
}

#[test]
fn describe_golden_for_a_split_and_a_merge() {
    let topology = split_and_merge();
    assert_eq!(
        topology.describe().to_string(),
        "\
Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [orders])
      --> KSTREAM-BRANCH-0000000001
    Processor: KSTREAM-BRANCH-0000000001 (stores: [])
      --> KSTREAM-BRANCH-0000000001big, KSTREAM-BRANCH-0000000001small
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-BRANCH-0000000001big (stores: [])
      --> KSTREAM-MERGE-0000000003
      <-- KSTREAM-BRANCH-0000000001
    Processor: KSTREAM-BRANCH-0000000001small (stores: [])
      --> KSTREAM-MAPVALUES-0000000002
      <-- KSTREAM-BRANCH-0000000001
    Processor: KSTREAM-MAPVALUES-0000000002 (stores: [])
      --> KSTREAM-MERGE-0000000003
      <-- KSTREAM-BRANCH-0000000001small
    Processor: KSTREAM-MERGE-0000000003 (stores: [])
      --> KSTREAM-SINK-0000000004
      <-- KSTREAM-BRANCH-0000000001big, KSTREAM-MAPVALUES-0000000002
    Sink: KSTREAM-SINK-0000000004 (topic: out)
      <-- KSTREAM-MERGE-0000000003

"
    );
    let driver = TopologyTestDriver::with_defaults(topology);
    let mut orders = driver.create_input_topic("orders", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    orders
        .pipe_value_list(["large", "tiny", "s"].map(String::from))
        .unwrap();
    assert_eq!(
        out.read_values_to_list().unwrap(),
        vec![s("large"), s("tiny"), s("S")]
    );
}

#[test]
fn named_streams_and_terminals_show_in_describe_and_still_run() {
    let builder = StreamsBuilder::new();
    let positive = builder
        .stream("numbers", string_i64())
        .named("numbers-source")
        .filter(|_, v| *v > 0)
        .named("positive");
    assert_eq!(positive.node_name(), "positive");
    let sink = positive
        .map_values(|v| v * 2)
        .named("double")
        .to("doubled", to_string_i64())
        .named("doubled-sink");
    assert_eq!(sink.node_name(), "doubled-sink");
    let each = positive.foreach(|_, _| {}).named("log");
    assert_eq!(each.node_name(), "log");
    let topology = builder.build().unwrap();
    assert_eq!(
        topology.describe().to_string(),
        "\
Topologies:
   Sub-topology: 0
    Source: numbers-source (topics: [numbers])
      --> positive
    Processor: positive (stores: [])
      --> double, log
      <-- numbers-source
    Processor: double (stores: [])
      --> doubled-sink
      <-- positive
    Sink: doubled-sink (topic: doubled)
      <-- double
    Processor: log (stores: [])
      --> none
      <-- positive

"
    );
    let driver = TopologyTestDriver::with_defaults(topology);
    let mut numbers = driver.create_input_topic("numbers", Serdes::string(), Serdes::i64());
    let out = driver.create_output_topic("doubled", Serdes::string(), Serdes::i64());
    numbers
        .pipe_key_value_list([(s("a"), 1), (s("b"), -1), (s("c"), 3)])
        .unwrap();
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![KeyValue::new(s("a"), 2), KeyValue::new(s("c"), 6)]
    );
}

#[test]
fn consumed_and_produced_names_name_the_source_and_sink() {
    let builder = StreamsBuilder::new();
    let sink = builder
        .stream("in", strings().with_name("read-in"))
        .to("out", to_strings().with_name("write-out"));
    assert_eq!(sink.node_name(), "write-out");
    let text = builder.build().unwrap().describe().to_string();
    assert!(
        text.contains("Source: read-in (topics: [in])\n      --> write-out\n"),
        "{text}"
    );
    assert!(
        text.contains("Sink: write-out (topic: out)\n      <-- read-in\n"),
        "{text}"
    );
}

#[test]
fn a_split_named_with_a_prefix_names_its_branches() {
    let builder = StreamsBuilder::new();
    let branches = builder
        .stream("in", strings())
        .split()
        .named("route-")
        .branch("left", |_, v| v.starts_with('l'))
        .default_branch("right");
    assert_eq!(
        branches.names().collect::<Vec<_>>(),
        vec!["route-left", "route-right"]
    );
    assert!(branches.get("left").is_none());
    branches.get("route-left").unwrap().to("l", to_strings());
    let text = builder.build().unwrap().describe().to_string();
    assert!(
        text.contains("Processor: route- (stores: [])\n      --> route-left, route-right\n"),
        "{text}"
    );
}

#[test]
fn two_operators_named_alike_fail_the_build_naming_the_node() {
    let builder = StreamsBuilder::new();
    builder
        .stream("in", strings())
        .filter(|_, _| true)
        .named("same")
        .map_values(|v| v)
        .named("same")
        .to("out", to_strings());
    let text = build_error(builder);
    assert!(
        text.contains("'same'") && text.contains("used twice"),
        "{text}"
    );

    // A terminal named like a stream.
    let builder = StreamsBuilder::new();
    let s1 = builder.stream("in", strings()).named("dup");
    s1.to("out", to_strings()).named("dup");
    let text = build_error(builder);
    assert!(
        text.contains("'dup'") && text.contains("used twice"),
        "{text}"
    );

    // A generated name taken by hand.
    let builder = StreamsBuilder::new();
    builder
        .stream("in", strings())
        .named("KSTREAM-FILTER-0000000001")
        .filter(|_, _| true)
        .to("out", to_strings());
    let text = build_error(builder);
    assert!(
        text.contains("'KSTREAM-FILTER-0000000001'") && text.contains("used twice"),
        "{text}"
    );

    // Two splits with the same prefix: their branches collide.
    let builder = StreamsBuilder::new();
    let input = builder.stream("in", strings());
    let _ = input.split().named("s-").branch("a", |_, _| true);
    let _ = input.split().named("t-").default_branch("a");
    builder.build().unwrap();
    let builder = StreamsBuilder::new();
    let input = builder.stream("in", strings());
    let _ = input.split().named("s-").default_branch("a");
    let _ = input.split().named("s-").default_branch("b");
    let text = build_error(builder);
    assert!(
        text.contains("'s-'") && text.contains("used twice"),
        "{text}"
    );

    // A produced name clashing with a stream's.
    let builder = StreamsBuilder::new();
    builder
        .stream("in", strings())
        .named("node")
        .to("out", to_strings().with_name("node"));
    let text = build_error(builder);
    assert!(
        text.contains("'node'") && text.contains("used twice"),
        "{text}"
    );
}

#[test]
fn an_empty_name_fails_the_build_naming_the_node() {
    let builder = StreamsBuilder::new();
    builder
        .stream("in", strings())
        .filter(|_, _| true)
        .named("")
        .to("out", to_strings());
    let text = build_error(builder);
    assert!(
        text.contains("'KSTREAM-FILTER-0000000001'") && text.contains("empty name"),
        "{text}"
    );
}

#[test]
fn two_repartitions_named_alike_fail_the_build() {
    let builder = StreamsBuilder::new();
    let input = builder.stream("in", strings());
    let r = || Repartitioned::as_("twice", Serdes::string(), Serdes::string());
    input.repartition(r()).to("a", to_strings());
    input.repartition(r()).to("b", to_strings());
    let text = build_error(builder);
    assert!(text.contains("'twice-repartition'"), "{text}");
}

#[test]
fn a_repartition_with_fewer_than_one_partition_fails_the_build() {
    for n in [0, -1] {
        let builder = StreamsBuilder::new();
        builder
            .stream("in", strings())
            .repartition(
                Repartitioned::as_("none", Serdes::string(), Serdes::string()).with_partitions(n),
            )
            .to("out", to_strings());
        let text = build_error(builder);
        assert!(
            text.contains("'none-repartition'")
                && text.contains(&format!("at least 1 partition, got {n}")),
            "{text}"
        );
    }
}
