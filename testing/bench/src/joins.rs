//! The Weir apps of the join workloads (stream-table and stream-stream).

use crate::apps::ChildArgs;
use crate::BenchResult;

/// The stream-table join (placeholder until the join API lands).
pub(crate) fn run_stream_table_join(_args: &ChildArgs) -> BenchResult<()> {
    Err("the stream-table join is not supported yet".into())
}

/// The stream-stream join (placeholder until the join API lands).
pub(crate) fn run_stream_stream_join(_args: &ChildArgs) -> BenchResult<()> {
    Err("the stream-stream join is not supported yet".into())
}
