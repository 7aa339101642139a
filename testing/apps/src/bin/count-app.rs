//! `count-app <input-topic> <output-topic>`: counts records by key into a
//! changelogged in-memory store (`counts`) and writes each new count to the
//! output, at-least-once, configured by `WEIR_*` environment variables. Tests
//! kill it with SIGKILL and restart it.

fn main() -> std::process::ExitCode {
    weir_test_apps::run_app("count-app", weir_test_apps::count_topology)
}
