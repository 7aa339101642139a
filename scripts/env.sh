# Sourced by the project's scripts: one build directory outside the clone, so
# CI on a developer's machine reuses the developer's build (RocksDB takes
# minutes to compile) and a fresh machine still builds from scratch.
export WEIR_CACHE="${WEIR_CACHE:-$HOME/.cache/weir}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$WEIR_CACHE/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
mkdir -p "$CARGO_TARGET_DIR"
# RocksDB's C++ is compiled once per machine by scripts/build-rocksdb (run by
# scripts/setup) and linked from there by every profile and feature set.
WEIR_ROCKSDB_VERSION=$(awk '/^name = "librocksdb-sys"$/ { getline; gsub(/"/, "", $3); print $3 }' \
    "$(dirname "${BASH_SOURCE[0]}")/../Cargo.lock")
export ROCKSDB_LIB_DIR="${ROCKSDB_LIB_DIR:-$WEIR_CACHE/rocksdb/$WEIR_ROCKSDB_VERSION}"
export ROCKSDB_STATIC=1
unset WEIR_ROCKSDB_VERSION
