#!/usr/bin/env bash
# Memory and search benchmarks at 10,000 and 100,000 chunks (docs/benchmarks.md): in-process figures
# from examples/search_bench.rs, whole-process figures with hyperfine, and the indexing pipeline's
# overhead over the model's own embedding time. Needs the model (`abathur model install`) and hyperfine.
# Usage: scripts/bench_search.sh [OUT.md] [SIZES...]   (default sizes: 10000 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/abathur-target}"
command -v hyperfine >/dev/null || { echo "scripts/bench_search.sh needs hyperfine: apt-get install hyperfine (or cargo install hyperfine)" >&2; exit 1; }
OUT="${1:-$ROOT/target-bench-search.md}"
shift || true
[ $# -gt 0 ] && SIZES=("$@") || SIZES=(10000 100000)
cargo build --release --locked --quiet
cargo build --release --locked --quiet --example search_bench
BIN="$CARGO_TARGET_DIR/release/abathur"
BENCH="$CARGO_TARGET_DIR/release/examples/search_bench"
WORK="$(mktemp -d)"
trap 'cd /; rm -rf "$WORK"' EXIT
echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr); $(date -u +%Y-%m-%d)" > "$OUT"
echo >> "$OUT"

for N in "${SIZES[@]}"; do
    mkdir -p "$WORK/s$N" && cd "$WORK/s$N" && git init -q
    echo "### $N chunks (stored vectors synthetic and clustered; queries embedded by the real model)" >> "$OUT"
    echo '```' >> "$OUT"
    "$BENCH" "$WORK/s$N" "$N" >> "$OUT"
    echo '```' >> "$OUT"
    hyperfine -N --warmup 3 --runs 20 --export-markdown "$WORK/h.md" \
        -n "memory get (whole process)" "$BIN memory get project: fact-$((N / 2))" \
        -n "search, text mode (cold CLI process)" "$BIN search 'connection pool limits' --mode text" \
        -n "search, hybrid (cold CLI process: loads the model)" "$BIN search 'how do we undo a bad release'" > /dev/null
    cat "$WORK/h.md" >> "$OUT"
    echo >> "$OUT"
    if python3 -c 'import mcp' 2>/dev/null; then
        echo "MCP through stdio (official Python SDK client, 200 calls each):" >> "$OUT"
        echo >> "$OUT"
        python3 "$ROOT/scripts/bench_mcp.py" "$BIN" "$WORK/s$N" 200 search >> "$OUT"
        echo >> "$OUT"
    fi
    cd "$ROOT"
done

# The first index of real text against the model's own time: Django's documentation (1,485 sections
# of real prose and code, cut into chunks of up to 150 words), embedded for real.
mkdir -p "$WORK/real" && cd "$WORK/real" && git init -q && "$BIN" -q init
python3 - "$ROOT/tests/data/django/sections.jsonl" .git/abathur/decisions/django <<'PY'
import json, pathlib, sys
for line in open(sys.argv[1], encoding="utf-8"):
    row = json.loads(line)
    path = pathlib.Path(sys.argv[2]) / f"{row['id']}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(row["text"], encoding="utf-8")
PY
"$BIN" --json --quiet index > index.json
python3 - "$OUT" <<'PY'
import json, sys
r = json.load(open("index.json"))
overhead = (r["total_seconds"] - r["embed_seconds"]) / r["embed_seconds"] * 100
with open(sys.argv[1], "a") as out:
    out.write(f"### First index of real text (Django's documentation, {r['files_indexed']} sections)\n\n"
              f"{r['chunks_embedded']} chunks embedded in {r['embed_seconds']:.1f} s of model time "
              f"({r['chunks_embedded'] / r['embed_seconds']:.1f} chunks/s, the model's own rate); the whole first "
              f"index {r['total_seconds']:.1f} s ({r['chunks_total'] / r['total_seconds']:.1f} chunks/s): the pipeline "
              f"adds **{overhead:.1f} %**.\n")
PY
cd "$ROOT"
cat "$OUT"
