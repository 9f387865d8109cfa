#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests (real binary, real git).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/abathur-target}"
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked
