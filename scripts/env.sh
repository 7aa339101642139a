# Sourced by the project's scripts: one build directory outside the clone, so
# CI on a developer's machine reuses the developer's build (RocksDB takes
# minutes to compile) and a fresh machine still builds from scratch.
export WEIR_CACHE="${WEIR_CACHE:-$HOME/.cache/weir}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$WEIR_CACHE/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
mkdir -p "$CARGO_TARGET_DIR"
