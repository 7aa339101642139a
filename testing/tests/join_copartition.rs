//! Co-partitioning of joins under the TopologyTestDriver: a stream re-keyed
//! before a stream-table join is repartitioned by its new key through the
//! join's topic (sized like the table's topic), and records without a key
//! pass that topic on to a left join, as in Kafka Streams.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use weir_core::dsl::{Joined, KStream, KTable, Materialized, StreamsBuilder};
use weir_core::topology::{Consumed, Produced, Topology};
use weir_core::{Headers, Record, Serdes};
use weir_testing::{DriverConfig, TopologyTestDriver};

fn strings() -> Consumed<String, String> {
    Consumed::with(Serdes::string(), Serdes::string())
}

/// `clicks` (user -> page) re-keyed by page, and `rekeyed` merged with
/// `pages-direct` (keys kept), left-joined with the table `pages`.
fn topology() -> Topology {
    let builder = StreamsBuilder::new();
    let pages: KTable<String, String> = builder.table(
        "pages",
        strings(),
        Materialized::as_("pages", Serdes::string(), Serdes::string()),
    );
    let rekeyed: KStream<String, String> = builder
        .stream("clicks", strings())
        .select_key(|_user, page| page.clone())
        .map_values(|page| format!("click on {page}"));
    rekeyed
        .merge(&builder.stream("pages-direct", strings()))
        .left_join_table(
            &pages,
            |click: &String, title: Option<&String>| {
                format!("{click}: {}", title.map_or("?", String::as_str))
            },
            Joined::with(Serdes::string(), Serdes::string(), Serdes::string())
                .with_name("clicks-with-titles"),
        )
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    builder.build().unwrap()
}

#[test]
fn a_re_keyed_stream_joins_by_its_new_key_through_the_joins_repartition_topic() {
    let topology = topology();
    let description = topology.describe().to_string();
    assert!(
        description.contains("clicks-with-titles-repartition-source"),
        "{description}"
    );
    let config = DriverConfig::new()
        .with_topic_partitions("clicks", 4)
        .with_topic_partitions("pages", 3)
        .with_topic_partitions("pages-direct", 4);
    // The join's topic is sized like the topics it is joined with, not like `clicks`.
    let plan = config.internal_topics(&topology).unwrap();
    let repartition = plan
        .iter()
        .find(|t| t.name == "test-app-clicks-with-titles-repartition")
        .expect("the join's repartition topic");
    assert_eq!(repartition.partitions, 3);

    let driver = TopologyTestDriver::new(topology, config).unwrap();
    let mut pages = driver.create_input_topic("pages", Serdes::string(), Serdes::string());
    let mut clicks = driver.create_input_topic("clicks", Serdes::string(), Serdes::string());
    let mut direct = driver.create_input_topic("pages-direct", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    for (page, title) in [("home", "Home"), ("docs", "Docs"), ("blog", "Blog")] {
        pages
            .pipe_record(Record::new(page.to_string(), title.to_string(), 1))
            .unwrap();
    }
    for (user, page) in [("ann", "docs"), ("bob", "blog"), ("cy", "nowhere")] {
        clicks
            .pipe_record(Record::new(user.to_string(), page.to_string(), 5))
            .unwrap();
    }
    // A record without a key reaches the left join through the repartition topic.
    direct
        .pipe_record(Record::from_parts(
            None,
            Some("direct".to_string()),
            6,
            Headers::new(),
        ))
        .unwrap();
    let got: Vec<(Option<String>, Option<String>)> = out
        .read_records_to_list()
        .unwrap()
        .into_iter()
        .map(|r| (r.key, r.value))
        .collect();
    let pair = |k: Option<&str>, v: &str| (k.map(str::to_string), Some(v.to_string()));
    assert_eq!(
        got,
        [
            pair(Some("docs"), "click on docs: Docs"),
            pair(Some("blog"), "click on blog: Blog"),
            pair(Some("nowhere"), "click on nowhere: ?"),
            pair(None, "direct: ?"),
        ]
    );
    driver.close().unwrap();
}

#[test]
fn a_re_keyed_stream_joined_without_serdes_fails_the_build_naming_the_join() {
    let builder = StreamsBuilder::new();
    let pages: KTable<String, String> = builder.table(
        "pages",
        strings(),
        Materialized::as_("pages", Serdes::string(), Serdes::string()),
    );
    builder
        .stream("clicks", strings())
        .select_key(|_user, page| page.clone())
        .join_table(
            &pages,
            |click: &String, title: &String| format!("{click}: {title}"),
            Joined::as_("clicks-with-titles"),
        )
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let err = builder.build().unwrap_err().to_string();
    assert!(err.contains("join 'clicks-with-titles'"), "{err}");
    assert!(err.contains("key and value serdes"), "{err}");
}
