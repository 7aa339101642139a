//! The windowed topologies (Kafka Streams side: `WindowTopologies`): time,
//! hopping, sliding and session windows, emit-on-close, and suppress.
//! Aggregates start from "0" and append "+" and the value; session mergers
//! join two aggregates with "|".

use std::time::Duration;

use weir_core::dsl::{
    BufferConfig, EmitStrategy, Grouped, KGroupedStream, KTable, SessionWindows, SlidingWindows,
    StreamsBuilder, Suppressed, TimeWindows,
};
use weir_core::serde::SharedSerde;
use weir_core::topology::{Consumed, Produced};
use weir_core::window::Windowed;
use weir_core::Serdes;

use super::{l, mat, s, strings, to_sl};

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

fn grouped(b: &StreamsBuilder) -> KGroupedStream<String, String> {
    strings(b).group_by_key()
}

fn time_key(size: i64) -> SharedSerde<Windowed<String>> {
    Serdes::time_windowed(s(), size)
}

fn session_key() -> SharedSerde<Windowed<String>> {
    Serdes::session_windowed(s())
}

fn time_longs(size: i64) -> Produced<Windowed<String>, i64> {
    Produced::with(time_key(size), l())
}

fn time_strings(size: i64) -> Produced<Windowed<String>, String> {
    Produced::with(time_key(size), s())
}

fn session_longs() -> Produced<Windowed<String>, i64> {
    Produced::with(session_key(), l())
}

fn session_strings() -> Produced<Windowed<String>, String> {
    Produced::with(session_key(), s())
}

fn init() -> String {
    "0".to_string()
}

fn add(_k: &String, v: String, agg: String) -> String {
    format!("{agg}+{v}")
}

fn reduce(agg: String, v: String) -> String {
    format!("{agg}+{v}")
}

fn merge(_k: &String, a: String, b: String) -> String {
    format!("{a}|{b}")
}

/// Adds topology `id` to `b`; `false` if it is not one of these.
pub(crate) fn build(id: &str, b: &StreamsBuilder) -> Result<bool, String> {
    let tumbling_grace = || TimeWindows::of_size_and_grace(ms(10), ms(5));
    match id {
        "tumbling-count" => {
            grouped(b)
                .windowed_by(TimeWindows::of_size_with_no_grace(ms(10)))
                .count(mat("tw-counts", s(), l()))
                .to_stream()
                .to("out", time_longs(10));
        }
        "tumbling-count-grace" => {
            grouped(b)
                .windowed_by(tumbling_grace())
                .count(mat("tw-counts", s(), l()))
                .to_stream()
                .to("out", time_longs(10));
        }
        "tumbling-reduce" => {
            grouped(b)
                .windowed_by(tumbling_grace())
                .reduce(reduce, mat("tw-reduce", s(), s()))
                .to_stream()
                .to("out", time_strings(10));
        }
        "tumbling-aggregate-grace-90" => {
            grouped(b)
                .windowed_by(TimeWindows::of_size_and_grace(ms(10), ms(90)))
                .aggregate(init, add, mat("tw-agg", s(), s()))
                .to_stream()
                .to("out", time_strings(10));
        }
        "hopping-aggregate" => {
            grouped(b)
                .windowed_by(TimeWindows::of_size_and_grace(ms(10), ms(100)).advance_by(ms(5)))
                .aggregate(init, add, mat("hw-agg", s(), s()))
                .to_stream()
                .to("out", time_strings(10));
        }
        "hopping-aggregate-no-grace" => {
            grouped(b)
                .windowed_by(TimeWindows::of_size_with_no_grace(ms(10)).advance_by(ms(5)))
                .aggregate(init, add, mat("hw-agg", s(), s()))
                .to_stream()
                .to("out", time_strings(10));
        }
        "tumbling-count-emit-final" => {
            grouped(b)
                .windowed_by(tumbling_grace())
                .emit_strategy(EmitStrategy::on_window_close())
                .count(mat("tw-counts", s(), l()))
                .to_stream()
                .to("out", time_longs(10));
        }
        "hopping-count-emit-final" => {
            grouped(b)
                .windowed_by(TimeWindows::of_size_with_no_grace(ms(10)).advance_by(ms(5)))
                .emit_strategy(EmitStrategy::on_window_close())
                .count(mat("hw-counts", s(), l()))
                .to_stream()
                .to("out", time_longs(10));
        }
        "sliding-aggregate" => {
            grouped(b)
                .windowed_by(SlidingWindows::of_time_difference_and_grace(ms(10), ms(5)))
                .aggregate(init, add, mat("sw-agg", s(), s()))
                .to_stream()
                .to("out", time_strings(10));
        }
        "sliding-aggregate-grace-50" => {
            grouped(b)
                .windowed_by(SlidingWindows::of_time_difference_and_grace(ms(10), ms(50)))
                .aggregate(init, add, mat("sw-agg", s(), s()))
                .to_stream()
                .to("out", time_strings(10));
        }
        "sliding-reduce" => {
            grouped(b)
                .windowed_by(SlidingWindows::of_time_difference_and_grace(ms(10), ms(5)))
                .reduce(reduce, mat("sw-reduce", s(), s()))
                .to_stream()
                .to("out", time_strings(10));
        }
        "sliding-count-no-grace" => {
            grouped(b)
                .windowed_by(SlidingWindows::of_time_difference_with_no_grace(ms(10)))
                .count(mat("sw-counts", s(), l()))
                .to_stream()
                .to("out", time_longs(10));
        }
        "sliding-aggregate-emit-final" => {
            grouped(b)
                .windowed_by(SlidingWindows::of_time_difference_and_grace(ms(10), ms(10)))
                .emit_strategy(EmitStrategy::on_window_close())
                .aggregate(init, add, mat("sw-agg", s(), s()))
                .to_stream()
                .to("out", time_strings(10));
        }
        "session-count" => {
            grouped(b)
                .windowed_by(SessionWindows::of_inactivity_gap_and_grace(ms(50), ms(100)))
                .count(mat("sessions", s(), l()))
                .to_stream()
                .to("out", session_longs());
        }
        "session-count-no-grace" => {
            grouped(b)
                .windowed_by(SessionWindows::of_inactivity_gap_with_no_grace(ms(5)))
                .count(mat("sessions", s(), l()))
                .to_stream()
                .to("out", session_longs());
        }
        "session-aggregate" => {
            grouped(b)
                .windowed_by(SessionWindows::of_inactivity_gap_and_grace(ms(50), ms(100)))
                .aggregate(init, add, merge, mat("session-aggs", s(), s()))
                .to_stream()
                .to("out", session_strings());
        }
        "session-reduce" => {
            grouped(b)
                .windowed_by(SessionWindows::of_inactivity_gap_and_grace(ms(50), ms(100)))
                .reduce(reduce, mat("session-reduce", s(), s()))
                .to_stream()
                .to("out", session_strings());
        }
        "session-count-emit-final" => {
            grouped(b)
                .windowed_by(SessionWindows::of_inactivity_gap_and_grace(ms(5), ms(2)))
                .emit_strategy(EmitStrategy::on_window_close())
                .count(mat("sessions", s(), l()))
                .to_stream()
                .to("out", session_longs());
        }
        "tumbling-count-suppress" => {
            let counts = grouped(b)
                .windowed_by(TimeWindows::of_size_and_grace(ms(2), ms(1)))
                .count(mat("counts", s(), l()));
            counts.to_stream().to("out-raw", time_longs(2));
            counts
                .suppress(
                    Suppressed::until_window_closes(BufferConfig::unbounded())
                        .with_serdes(time_key(2), l()),
                )
                .to_stream()
                .to("out", time_longs(2));
        }
        "session-count-suppress" => {
            let counts = grouped(b)
                .windowed_by(SessionWindows::of_inactivity_gap_and_grace(ms(5), ms(0)))
                .count(mat("counts", s(), l()));
            counts.to_stream().to("out-raw", session_longs());
            counts
                .suppress(
                    Suppressed::until_window_closes(BufferConfig::unbounded())
                        .with_serdes(session_key(), l()),
                )
                .to_stream()
                .to("out", session_longs());
        }
        "table-count-suppress-time-limit" => {
            let counts: KTable<String, i64> = b
                .table("in", Consumed::with(s(), s()), mat("t", s(), s()))
                .group_by(|k, v| (v, k.clone()), Grouped::as_("regroup", s(), s()))
                .count(mat("counts", s(), l()));
            counts.to_stream().to("out-raw", to_sl());
            counts
                .suppress(
                    Suppressed::until_time_limit(ms(2), BufferConfig::unbounded())
                        .with_serdes(s(), l()),
                )
                .to_stream()
                .to("out", to_sl());
        }
        _ => return Ok(false),
    }
    Ok(true)
}
