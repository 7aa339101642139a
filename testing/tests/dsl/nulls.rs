//! The null-value rules of the DSL's module docs: a tombstone never reaches a
//! closure; each operator drops it, forwards it, or ignores it as documented.

use super::*;

/// Pipes a tombstone then `k -> "v"` through `op` (whose closure bumps the
/// counter it is given) and returns what reached `out` and how often the
/// closure ran.
fn through<VR: weir_core::processor::Data>(
    op: impl FnOnce(KStream<String, String>, Arc<AtomicUsize>) -> KStream<String, VR>,
    value_serde: weir_core::serde::SharedSerde<VR>,
) -> (Vec<Record<String, VR>>, usize) {
    let calls = Arc::new(AtomicUsize::new(0));
    let builder = StreamsBuilder::new();
    op(builder.stream("in", strings()), calls.clone())
        .to("out", Produced::with(Serdes::string(), value_serde.clone()));
    let driver = drive(builder);
    let mut input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), value_serde);
    input.pipe_record(tombstone("gone", 5)).unwrap();
    input.pipe_record(rec("k", s("v"), 6)).unwrap();
    let records = out.read_records_to_list().unwrap();
    (records, calls.load(Ordering::SeqCst))
}

fn bump(calls: &AtomicUsize) {
    calls.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn filter_and_filter_not_drop_a_tombstone_without_calling_the_predicate() {
    let (out, calls) = through(
        |st, c| {
            st.filter(move |_, _| {
                bump(&c);
                true
            })
        },
        Serdes::string(),
    );
    assert_eq!((out, calls), (vec![rec("k", s("v"), 6)], 1));

    let (out, calls) = through(
        |st, c| {
            st.filter_not(move |_, _| {
                bump(&c);
                false
            })
        },
        Serdes::string(),
    );
    assert_eq!((out, calls), (vec![rec("k", s("v"), 6)], 1));
}

#[test]
fn map_drops_a_tombstone() {
    let (out, calls) = through(
        |st, c| {
            st.map(move |k, v| {
                bump(&c);
                (k.unwrap_or_default(), format!("{v}!"))
            })
        },
        Serdes::string(),
    );
    assert_eq!((out, calls), (vec![rec("k", s("v!"), 6)], 1));
}

#[test]
fn select_key_drops_a_tombstone() {
    let (out, calls) = through(
        |st, c| {
            st.select_key(move |_, v| {
                bump(&c);
                v.clone()
            })
        },
        Serdes::string(),
    );
    assert_eq!((out, calls), (vec![rec("v", s("v"), 6)], 1));
}

#[test]
fn flat_map_and_flat_map_values_drop_a_tombstone() {
    let (out, calls) = through(
        |st, c| {
            st.flat_map(move |k, v| {
                bump(&c);
                vec![(k.unwrap_or_default(), v.clone()), (s("again"), v)]
            })
        },
        Serdes::string(),
    );
    assert_eq!(
        (out, calls),
        (vec![rec("k", s("v"), 6), rec("again", s("v"), 6)], 1)
    );

    let (out, calls) = through(
        |st, c| {
            st.flat_map_values(move |v| {
                bump(&c);
                [v.clone(), v]
            })
        },
        Serdes::string(),
    );
    assert_eq!(
        (out, calls),
        (vec![rec("k", s("v"), 6), rec("k", s("v"), 6)], 1)
    );
}

#[test]
fn map_values_forwards_a_tombstone_as_a_null_of_the_new_type() {
    let (out, calls) = through(
        |st, c| {
            st.map_values(move |v| {
                bump(&c);
                v.len() as i64
            })
        },
        Serdes::i64(),
    );
    assert_eq!(
        (out, calls),
        (vec![tombstone("gone", 5), rec("k", 1, 6)], 1)
    );

    let (out, calls) = through(
        |st, c| {
            st.map_values_with_key(move |k, v| {
                bump(&c);
                format!("{}/{v}", k.unwrap())
            })
        },
        Serdes::string(),
    );
    assert_eq!(
        (out, calls),
        (vec![tombstone("gone", 5), rec("k", s("k/v"), 6)], 1)
    );
}

#[test]
fn peek_forwards_a_tombstone_without_calling_the_action() {
    let (out, calls) = through(|st, c| st.peek(move |_, _| bump(&c)), Serdes::string());
    assert_eq!(
        (out, calls),
        (vec![tombstone("gone", 5), rec("k", s("v"), 6)], 1)
    );
}

#[test]
fn foreach_ignores_a_tombstone() {
    let calls = seen();
    let c = calls.clone();
    let builder = StreamsBuilder::new();
    builder
        .stream("in", strings())
        .foreach(move |k, v| c.lock().unwrap().push((k.cloned(), v.clone())));
    let driver = drive(builder);
    let mut input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    input.pipe_record(tombstone("gone", 5)).unwrap();
    input.pipe_record(rec("k", s("v"), 6)).unwrap();
    assert_eq!(taken(&calls), vec![(Some(s("k")), s("v"))]);
    assert!(driver.producer_records().is_empty());
}

#[test]
fn a_tombstone_passes_through_merge_and_to_unchanged() {
    let builder = StreamsBuilder::new();
    let a = builder.stream("a", strings());
    let b = builder.stream("b", strings());
    a.merge(&b).to("out", to_strings());
    let driver = drive(builder);
    let mut a = driver.create_input_topic("a", Serdes::string(), Serdes::string());
    let mut b = driver.create_input_topic("b", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    a.pipe_record(tombstone("x", 1)).unwrap();
    b.pipe_record(tombstone("y", 2)).unwrap();
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![KeyValue::tombstone(s("x")), KeyValue::tombstone(s("y"))]
    );
    let raw = driver.producer_records();
    assert_eq!(raw.len(), 2);
    assert!(raw.iter().all(|r| r.value.is_none()));
}
