//! `echo-app <input-topic> <output-topic>`: a Weir application copying one
//! topic to another, at-least-once, configured by `WEIR_*` environment
//! variables. It runs until SIGTERM/Ctrl-C; integration tests kill it with
//! SIGKILL and restart it.

fn main() -> std::process::ExitCode {
    weir_test_apps::run_app("echo-app", weir_test_apps::echo_topology)
}
