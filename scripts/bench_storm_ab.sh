#!/usr/bin/env bash
# The one-shot claim storm of scripts/bench.sh (64 concurrent `task claim` processes, one claim each,
# 640 claims on a fresh 10,000-task ledger), alternating two binaries round by round, so that both
# see the same minutes of a VM whose speed drifts. Prints each round and each binary's median.
# Usage: scripts/bench_storm_ab.sh BIN_A BIN_B [ROUNDS]   (e.g. target/release/abathur{,-full})
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/abathur-target}"
A="$(realpath "$1")"; B="$(realpath "$2")"; ROUNDS="${3:-5}"
cargo build --release --locked --quiet --example seed_ledger
SEED="$CARGO_TARGET_DIR/release/examples/seed_ledger"
WORK="$(mktemp -d)"
trap 'cd /; rm -rf "$WORK"' EXIT
mkdir "$WORK/template" && (cd "$WORK/template" && git init -q && "$SEED" . 10000 > /dev/null)

storm() { # storm BIN: claims per second
    rm -rf "$WORK/run"; cp -r "$WORK/template" "$WORK/run"; cd "$WORK/run"; "$1" task status > /dev/null
    local start end running
    start=$(date +%s.%N)
    seq 640 | xargs -P 64 -I{} "$1" -q task claim --agent "p{}" > /dev/null
    end=$(date +%s.%N)
    running=$("$1" --json task status | sed -n 's/^  "running": \([0-9]*\),$/\1/p')
    python3 -c "print(round($running / ($end - $start)))"
}

RA=(); RB=()
for round in $(seq "$ROUNDS"); do
    RA+=("$(storm "$A")"); RB+=("$(storm "$B")")
    echo "round $round: ${RA[-1]} vs ${RB[-1]} claims/s"
done
python3 -c "
import statistics, sys
a, b = (sorted(map(int, s.split())) for s in sys.argv[1:3])
print(f'A {sys.argv[3]}: median {statistics.median(a):.0f} ({a[0]}-{a[-1]}) claims/s')
print(f'B {sys.argv[4]}: median {statistics.median(b):.0f} ({b[0]}-{b[-1]}) claims/s')
" "${RA[*]}" "${RB[*]}" "$A" "$B"
