#!/usr/bin/env bash
# Whole-process benchmarks of the task commands at 1,000 and 10,000 tasks (docs/benchmarks.md).
# Needs hyperfine (installed from Debian when missing and running as root). Usage: scripts/bench.sh [OUT.md]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/abathur-target}"
OUT="${1:-$ROOT/target-bench.md}"
if ! command -v hyperfine >/dev/null; then
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq hyperfine; else
        echo "hyperfine is required (apt-get install hyperfine)" >&2; exit 1; fi
fi
cargo build --release --locked --quiet
cargo build --release --locked --quiet --example seed_ledger --example claim_loop
BIN="$CARGO_TARGET_DIR/release/abathur"
SEED="$CARGO_TARGET_DIR/release/examples/seed_ledger"
LOOP="$CARGO_TARGET_DIR/release/examples/claim_loop"
WORK="$(mktemp -d)"
trap 'cd /; rm -rf "$WORK"' EXIT

{
    echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr); $(date -u +%Y-%m-%d)"
    echo
} > "$OUT"

table() { # table JSON [skip-header]: hyperfine's results as Markdown, with the median (robust to a noisy VM)
    python3 - "$@" <<'PY'
import json, statistics, sys
results = json.load(open(sys.argv[1]))["results"]
if len(sys.argv) < 3:
    print("| Command | Median [ms] | Mean ± σ [ms] | Min [ms] | Max [ms] |")
    print("|:---|---:|---:|---:|---:|")
for r in results:
    t = [x * 1000 for x in r["times"]]
    print(f"| `{r['command']}` | {statistics.median(t):.1f} | {r['mean'] * 1000:.1f} ± {r['stddev'] * 1000:.1f} | {min(t):.1f} | {max(t):.1f} |")
PY
}

summary() { # summary X Y Z: "median (min-max)"
    python3 -c "import sys, statistics as s; v = sorted(map(int, sys.argv[1:])); print(f'**{int(s.median(v))}** ({v[0]}-{v[-1]})')" "$@"
}

fresh() { # fresh N: a seeded ledger copied from the template for N
    rm -rf "$WORK/run"; cp -r "$WORK/t$1" "$WORK/run"; cd "$WORK/run"; "$BIN" task status > /dev/null
}

for N in 1000 10000; do
    mkdir -p "$WORK/t$N"; (cd "$WORK/t$N" && git init -q && "$SEED" "$WORK/t$N" "$N" > /dev/null)
    fresh "$N"
    ID=$(ls .git/abathur/tasks | sed -n "$((N / 2))p" | cut -c1-26)
    echo "### $N tasks (warm file cache)" >> "$OUT"
    hyperfine -N --warmup 5 --runs 100 --export-json "$WORK/read.json" \
        -n "abathur --version (process start, the floor)" "$BIN --version" \
        -n "task get" "$BIN task get $ID" \
        -n "task list" "$BIN task list" \
        -n "task status" "$BIN task status" \
        -n "task plan -m M4" "$BIN task plan -m M4" > /dev/null
    table "$WORK/read.json" >> "$OUT"
    fresh "$N"
    # Writes, each with its commit on the ledger branch (a claim is volatile: no commit).
    hyperfine -N --warmup 3 --runs 100 --export-json "$WORK/write.json" \
        -n "task add (enqueue + commit)" "$BIN -q task add bench-task" \
        -n "task claim" "$BIN -q task claim" > /dev/null
    table "$WORK/write.json" skip-header >> "$OUT"
    # Complete: 100 tasks claimed first, then one run per task, no shell in between (hyperfine -N).
    IDS=$(for _ in $(seq 100); do "$BIN" --json task claim | python3 -c 'import json,sys; print(json.load(sys.stdin)["task"]["id"])'; done | paste -sd,)
    hyperfine -N --runs 1 -L id "$IDS" --export-json "$WORK/each.json" "$BIN -q task complete {id}" > /dev/null 2>&1
    python3 - "$WORK/each.json" "$WORK/complete.json" <<'PY'
import json, sys
times = [r["times"][0] for r in json.load(open(sys.argv[1]))["results"]]
mean = sum(times) / len(times)
sd = (sum((t - mean) ** 2 for t in times) / (len(times) - 1)) ** 0.5
json.dump({"results": [{"command": "task complete (+ commit)", "times": times, "mean": mean, "stddev": sd}]}, open(sys.argv[2], "w"))
PY
    table "$WORK/complete.json" skip-header >> "$OUT"
    # 64 concurrent processes, each one claim: total claims per second. Three rounds each, since a
    # 2-core VM's speed drifts from minute to minute: the median and the range are reported.
    CLAIMS=$(( N < 5000 ? 200 : 640 ))
    ONESHOT=()
    for round in 1 2 3; do
        fresh "$N"
        START=$(date +%s.%N)
        seq "$CLAIMS" | xargs -P 64 -I{} "$BIN" -q task claim --agent "p{}" > /dev/null
        END=$(date +%s.%N)
        RUNNING=$("$BIN" --json task status | sed -n 's/^  "running": \([0-9]*\),$/\1/p')
        ONESHOT+=("$(python3 -c "print(round($RUNNING / ($END - $START)))")")
    done
    echo >> "$OUT"
    echo "64 concurrent one-shot \`abathur task claim\` processes (one claim each, $CLAIMS claims; 3 rounds): $(summary "${ONESHOT[@]}") claims/s" >> "$OUT"
    echo >> "$OUT"
    # 64 concurrent long-lived processes (as one MCP server per agent), each claiming in a loop.
    PER=$(( N < 5000 ? 3 : 20 ))
    LONG=()
    for round in 1 2 3; do
        fresh "$N"
        START=$(date +%s.%N)
        for p in $(seq 64); do "$LOOP" . "$PER" "l$p" > "$WORK/loop$p" & done
        wait
        END=$(date +%s.%N)
        TOTAL=$(cat "$WORK"/loop* | paste -sd+ | bc)
        LONG+=("$(python3 -c "print(round($TOTAL / ($END - $START)))")")
        rm -f "$WORK"/loop*
    done
    echo "64 concurrent long-lived processes (start-up included, $((64 * PER)) claims; 3 rounds): $(summary "${LONG[@]}") claims/s" >> "$OUT"
    echo >> "$OUT"
    rm -f "$WORK"/loop*
    cd "$ROOT"
done
# The ledger through a remote, at 10,000 tasks: `git daemon` on loopback as the remote.
fresh 10000
git config user.name Bench && git config user.email bench@example.com
git commit -q --allow-empty -m seed
mkdir -p "$WORK/srv" && git init -q --bare "$WORK/srv/r.git"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
git daemon --reuseaddr --export-all --enable=receive-pack --listen=127.0.0.1 --port="$PORT" \
    --base-path="$WORK/srv" "$WORK/srv" > /dev/null 2>&1 &
DAEMON=$!
trap 'kill $DAEMON 2>/dev/null || true; cd /; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.05; done
git remote add origin "git://127.0.0.1:$PORT/r.git"
"$BIN" -q sync --remote origin > /dev/null
echo "### The ledger through a remote (git daemon on loopback), 10000 tasks" >> "$OUT"
hyperfine -N --warmup 3 --runs 50 --export-json "$WORK/remote.json" \
    -n "task claim with a ledger remote (one create-only push)" "$BIN -q task claim" > /dev/null
table "$WORK/remote.json" >> "$OUT"
# sync that merges 200 tasks another clone changed (and one this clone changed): 3 rounds.
git clone -q "git://127.0.0.1:$PORT/r.git" "$WORK/other"
(cd "$WORK/other" && "$BIN" -q sync --remote origin > /dev/null)
SYNC=()
for round in 1 2 3; do
    (cd "$WORK/other" && "$BIN" --json task list -s ready -n 200 | python3 -c 'import json,sys; [print(t["id"]) for t in json.load(sys.stdin)["tasks"]]' \
        | while read -r id; do "$BIN" -q task update "$id" -p $((round + 5)) > /dev/null; done && "$BIN" -q sync > /dev/null)
    "$BIN" -q task update "$ID" -p "$round" > /dev/null
    START=$(date +%s.%N); "$BIN" -q sync > /dev/null; END=$(date +%s.%N)
    SYNC+=("$(python3 -c "print(round(($END - $START) * 1000))")")
done
echo >> "$OUT"
echo "\`abathur sync\` merging 200 tasks changed on another clone (field-wise, validated, pushed; 3 rounds): $(summary "${SYNC[@]}") ms" >> "$OUT"
echo >> "$OUT"
# Repository growth: 1,000 ledger commits (one \`task add\` each) on the 10,000-task ledger.
BEFORE=$(du -sk .git/objects | cut -f1)
for i in $(seq 1000); do "$BIN" -q task add "growth $i" > /dev/null; done
LOOSE=$(du -sk .git/objects | cut -f1)
git gc -q
PACKED=$(du -sk .git/objects | cut -f1)
echo "Repository growth for 1,000 ledger commits at 10,000 tasks: $((LOOSE - BEFORE)) KiB as loose objects, the whole object store after \`git gc\` ($PACKED KiB; $BEFORE KiB before the 1,000 commits, loose)" >> "$OUT"
echo >> "$OUT"
kill $DAEMON 2>/dev/null || true
cd "$ROOT"

# Gate check and decision end to end on the 10,000-task ledger (unsigned: the signer's own time
# excluded), then reads and claims with signed gates in force.
fresh 10000
git config user.name Bench && git config user.email bench@example.com
git commit -q --allow-empty -m seed
"$BIN" -q milestone add --example seed-plan > /dev/null
printf '<testsuite>%s</testsuite>' "$(for i in $(seq 500); do printf '<testcase name="t%s"/>' "$i"; done)" > junit.xml
for i in $(seq 200); do printf 'SF:src/f%s.rs\nLF:100\nLH:96\nend_of_record\n' "$i"; done > lcov.info
echo '{"benchmarks": [{"name": "read_latency_ms", "value": 4.6}]}' > bench.json
echo "### Gates, 10000 tasks (decisions unsigned: the signer's own time excluded)" >> "$OUT"
hyperfine -N --warmup 3 --runs 30 --export-json "$WORK/gate.json" \
    -n "gate check M1 (JUnit 500 cases, LCOV 200 files, bench)" "$BIN gate check M1 --junit junit.xml --lcov lcov.info --bench bench.json" \
    -n "gate approve M1 --unsigned (report, record, commit, tag)" "$BIN -q gate approve M1 -r bench --unsigned" > /dev/null
table "$WORK/gate.json" >> "$OUT"
# With gates in force, on a fresh copy: M1-M3 approved with a real ssh key; every read judges the
# latest decisions (cached verdicts), and afresh when the cache is gone (two git verifications each).
fresh 10000
git config user.name Bench && git config user.email bench@example.com
git commit -q --allow-empty -m seed
"$BIN" -q milestone add --example seed-plan > /dev/null
ssh-keygen -q -t ed25519 -N "" -f "$WORK/key"
git config gpg.format ssh && git config user.signingkey "$WORK/key"
echo "bench@example.com namespaces=\"git\" $(cat "$WORK/key.pub")" > .git/abathur/allowed_signers
"$BIN" -q ledger commit -m "Who may sign" > /dev/null
for m in M1 M2 M3; do "$BIN" -q gate approve "$m" -r bench > /dev/null; done
hyperfine -N --warmup 3 --runs 50 --export-json "$WORK/gated.json" \
    -n "task get, gates M1-M3 signed (verdicts cached)" "$BIN task get $ID" \
    -n "task claim, gates M1-M3 signed (verdicts cached)" "$BIN -q task claim" > /dev/null
table "$WORK/gated.json" skip-header >> "$OUT"
hyperfine -N --runs 20 --prepare "rm -f .git/abathur/cache/gate-verdicts.json" --export-json "$WORK/judged.json" \
    -n "task get, the 3 verdicts judged afresh" "$BIN task get $ID" > /dev/null
table "$WORK/judged.json" skip-header >> "$OUT"
echo >> "$OUT"
cd "$ROOT"

# A waiting claim's wake-up, on an empty ledger (nothing ready until the task is added).
mkdir -p "$WORK/wait" && (cd "$WORK/wait" && git init -q && "$BIN" -q init > /dev/null)
python3 "$ROOT/scripts/bench_wait.py" "$BIN" "$WORK/wait" 20 >> "$OUT"
echo >> "$OUT"

# MCP latency through stdio on the 10,000-task ledger, measured by the official Python SDK client.
if python3 -c 'import mcp' 2>/dev/null; then
    fresh 10000
    # Search needs the index (and, with a model installed, every task embedded: about a minute).
    "$BIN" -q index > /dev/null
    echo "### MCP tool calls through stdio, 10000 tasks (official Python SDK client)" >> "$OUT"
    python3 "$ROOT/scripts/bench_mcp.py" "$BIN" "$WORK/run" 200 >> "$OUT"
    cd "$ROOT"
fi
cat "$OUT"
