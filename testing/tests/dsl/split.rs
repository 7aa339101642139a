//! `split`: first match wins, the default branch, null values, renamed branches.

use super::*;

/// `levels` split by `level-`: `high` (> 100), `low` (< 0), and a default
/// `normal` branch if `default`; each branch goes to the topic of its name.
fn levels(default: bool) -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    let split = builder
        .stream("levels", string_i64())
        .split()
        .named("level-")
        .branch("high", |_, v| *v > 100)
        .branch("low", |_, v| *v < 0);
    let branches = if default {
        split.default_branch("normal")
    } else {
        split.no_default_branch()
    };
    for (name, topic) in [
        ("level-high", "high"),
        ("level-low", "low"),
        ("level-normal", "normal"),
    ] {
        if let Some(branch) = branches.get(name) {
            branch.to(topic, to_string_i64());
        }
    }
    let expected: Vec<&str> = if default {
        vec!["level-high", "level-low", "level-normal"]
    } else {
        vec!["level-high", "level-low"]
    };
    assert_eq!(branches.names().collect::<Vec<_>>(), expected);
    assert_eq!(branches.len(), expected.len());
    drive(builder)
}

fn pipe_levels(driver: &TopologyTestDriver) {
    let mut input = driver.create_input_topic("levels", Serdes::string(), Serdes::i64());
    input
        .pipe_records([
            (0, rec("a", 500, 1)),
            (0, rec("b", 5, 2)),
            (0, rec("c", -3, 3)),
            (0, rec("d", 101, 4)),
            (0, rec("e", 0, 5)),
        ])
        .unwrap();
}

fn read(driver: &TopologyTestDriver, topic: &str) -> Vec<Record<String, i64>> {
    driver
        .create_output_topic(topic, Serdes::string(), Serdes::i64())
        .read_records_to_list()
        .unwrap()
}

#[test]
fn split_sends_each_record_to_its_branch_and_the_rest_to_the_default() {
    let driver = levels(true);
    pipe_levels(&driver);
    assert_eq!(
        read(&driver, "high"),
        vec![rec("a", 500, 1), rec("d", 101, 4)]
    );
    assert_eq!(read(&driver, "low"), vec![rec("c", -3, 3)]);
    assert_eq!(
        read(&driver, "normal"),
        vec![rec("b", 5, 2), rec("e", 0, 5)]
    );
}

#[test]
fn split_without_default_drops_what_no_branch_takes() {
    let driver = levels(false);
    pipe_levels(&driver);
    assert_eq!(
        read(&driver, "high"),
        vec![rec("a", 500, 1), rec("d", 101, 4)]
    );
    assert_eq!(read(&driver, "low"), vec![rec("c", -3, 3)]);
    assert_eq!(
        driver.output_topics(),
        vec![s("high"), s("low")],
        "nothing else was sent"
    );
    assert_eq!(driver.producer_records().len(), 3);
}

#[test]
fn split_first_matching_branch_wins_and_later_predicates_are_not_asked() {
    let asked = seen();
    let (a1, a2) = (asked.clone(), asked.clone());
    let builder = StreamsBuilder::new();
    let branches = builder
        .stream("levels", string_i64())
        .split()
        .branch("positive", move |k, v| {
            a1.lock().unwrap().push(format!("positive?{}", k.unwrap()));
            *v > 0
        })
        .branch("big", move |k, v| {
            a2.lock().unwrap().push(format!("big?{}", k.unwrap()));
            *v > 100
        })
        .default_branch("rest");
    // Without `named`, branch names are prefixed with the generated split name.
    assert_eq!(
        branches.names().collect::<Vec<_>>(),
        vec![
            "KSTREAM-BRANCH-0000000001big",
            "KSTREAM-BRANCH-0000000001positive",
            "KSTREAM-BRANCH-0000000001rest",
        ]
    );
    for (branch, topic) in [("positive", "p"), ("big", "b"), ("rest", "r")] {
        branches
            .get(&format!("KSTREAM-BRANCH-0000000001{branch}"))
            .unwrap()
            .to(topic, to_string_i64());
    }
    let driver = drive(builder);
    let mut input = driver.create_input_topic("levels", Serdes::string(), Serdes::i64());
    input.pipe_record(rec("x", 500, 1)).unwrap();
    input.pipe_record(rec("y", -500, 2)).unwrap();
    assert_eq!(read(&driver, "p"), vec![rec("x", 500, 1)]);
    assert_eq!(read(&driver, "b"), vec![]);
    assert_eq!(read(&driver, "r"), vec![rec("y", -500, 2)]);
    assert_eq!(
        taken(&asked),
        vec!["positive?x", "positive?y", "big?y"],
        "x stopped at the first branch"
    );
}

#[test]
fn split_sends_a_null_value_to_the_default_branch_without_asking_predicates() {
    let asked = Arc::new(AtomicUsize::new(0));
    let a = asked.clone();
    let builder = StreamsBuilder::new();
    let branches = builder
        .stream("levels", string_i64())
        .split()
        .named("s-")
        .branch("any", move |_, _| {
            a.fetch_add(1, Ordering::SeqCst);
            true
        })
        .default_branch("default");
    branches.get("s-any").unwrap().to("any", to_string_i64());
    branches
        .get("s-default")
        .unwrap()
        .to("default", to_string_i64());
    let driver = drive(builder);
    let mut input = driver.create_input_topic("levels", Serdes::string(), Serdes::i64());
    input.pipe_record(tombstone("t", 1)).unwrap();
    input.pipe_record(rec("v", 1, 2)).unwrap();
    assert_eq!(read(&driver, "any"), vec![rec("v", 1, 2)]);
    assert_eq!(read(&driver, "default"), vec![tombstone("t", 1)]);
    assert_eq!(asked.load(Ordering::SeqCst), 1);
}

#[test]
fn split_without_default_drops_a_null_value() {
    let builder = StreamsBuilder::new();
    let branches = builder
        .stream("levels", string_i64())
        .split()
        .named("s-")
        .branch("any", |_, _| true)
        .no_default_branch();
    branches.get("s-any").unwrap().to("any", to_string_i64());
    let driver = drive(builder);
    let mut input = driver.create_input_topic("levels", Serdes::string(), Serdes::i64());
    input.pipe_record(tombstone("t", 1)).unwrap();
    assert!(driver.producer_records().is_empty());
}

#[test]
fn renamed_branch_streams_still_get_their_records() {
    let builder = StreamsBuilder::new();
    let branches = builder
        .stream("levels", string_i64())
        .split()
        .named("level-")
        .branch("high", |_, v| *v > 100)
        .branch("low", |_, v| *v < 0)
        .default_branch("normal");
    // Rename in an order other than the branches', and to names sorting otherwise.
    let normal = branches.get("level-normal").unwrap().named("a-normal");
    let high = branches.get("level-high").unwrap().named("z-high");
    let low = branches.get("level-low").unwrap().named("m-low");
    normal.to("normal", to_string_i64());
    low.to("low", to_string_i64());
    high.to("high", to_string_i64());
    let topology = builder.build().unwrap();
    let text = topology.describe().to_string();
    assert!(
        text.contains("    Processor: level- (stores: [])\n      --> z-high, m-low, a-normal\n"),
        "{text}"
    );
    for old in ["level-high", "level-low", "level-normal"] {
        assert!(!text.contains(old), "{old} is still in\n{text}");
    }
    let driver = TopologyTestDriver::with_defaults(topology);
    pipe_levels(&driver);
    assert_eq!(
        read(&driver, "high"),
        vec![rec("a", 500, 1), rec("d", 101, 4)]
    );
    assert_eq!(read(&driver, "low"), vec![rec("c", -3, 3)]);
    assert_eq!(
        read(&driver, "normal"),
        vec![rec("b", 5, 2), rec("e", 0, 5)]
    );
}

#[test]
fn split_branches_can_be_merged_back() {
    let builder = StreamsBuilder::new();
    let branches = builder
        .stream("levels", string_i64())
        .split()
        .named("s-")
        .branch("neg", |_, v| *v < 0)
        .default_branch("rest");
    let flipped = branches.get("s-neg").unwrap().map_values(|v| -v);
    flipped
        .merge(&branches.get("s-rest").unwrap())
        .to("abs", to_string_i64());
    let driver = drive(builder);
    let mut input = driver.create_input_topic("levels", Serdes::string(), Serdes::i64());
    input
        .pipe_records([
            (0, rec("a", -1, 1)),
            (0, rec("b", 2, 2)),
            (0, rec("c", -3, 3)),
        ])
        .unwrap();
    assert_eq!(
        read(&driver, "abs"),
        vec![rec("a", 1, 1), rec("b", 2, 2), rec("c", 3, 3)]
    );
}
