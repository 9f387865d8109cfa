#!/usr/bin/env bash
# A/B of two builds of the task commands in the same minutes, on one seeded 10,000-task ledger
# (docs/benchmarks.md): reads and a claim with hyperfine, then the 64-claimant storms, alternating.
# Each folder holds `abathur`, `seed_ledger` and `claim_loop` from one build (`cargo build --release
# --bin abathur --bin abathur-full --example seed_ledger --example claim_loop`, copied out with
# abathur-full). Usage: scripts/ab_tasks.sh BEFORE_DIR AFTER_DIR
set -euo pipefail
B="$(cd "$1" && pwd)"; A="$(cd "$2" && pwd)"
W="$(mktemp -d)"; trap 'cd /; rm -rf "$W"' EXIT
mkdir -p $W/t; cd $W/t; git init -q; $A/seed_ledger $W/t 10000 > /dev/null
declare -A BIN=([before]="$B" [after]="$A")
for v in before after; do rm -rf $W/$v; cp -r $W/t $W/$v; (cd $W/$v && ${BIN[$v]}/abathur task status > /dev/null); done
ID=$(ls $W/t/.git/abathur/tasks | sed -n "5000p" | cut -c1-26)
cd $W
hyperfine -N --warmup 5 --runs 60 --export-markdown $W/reads.md \
  -n "before: task get" "$B/abathur -C $W/before task get $ID" \
  -n "after: task get" "$A/abathur -C $W/after task get $ID" \
  -n "before: task list" "$B/abathur -C $W/before task list" \
  -n "after: task list" "$A/abathur -C $W/after task list" \
  -n "before: task status" "$B/abathur -C $W/before task status" \
  -n "after: task status" "$A/abathur -C $W/after task status" \
  -n "before: task plan -m M4" "$B/abathur -C $W/before task plan -m M4" \
  -n "after: task plan -m M4" "$A/abathur -C $W/after task plan -m M4" \
  -n "before: task claim" "$B/abathur -C $W/before -q task claim" \
  -n "after: task claim" "$A/abathur -C $W/after -q task claim" > /dev/null
cat $W/reads.md
for round in 1 2 3; do
  for v in before after; do
    rm -rf $W/run; cp -r $W/t $W/run; cd $W/run; ${BIN[$v]}/abathur task status > /dev/null
    START=$(date +%s.%N)
    for p in $(seq 64); do ${BIN[$v]}/claim_loop . 20 "l$p" > $W/loop$p & done
    wait
    END=$(date +%s.%N)
    TOTAL=$(cat $W/loop* | paste -sd+ | bc); rm -f $W/loop*
    echo "round $round $v: 64 long-lived claimants: $(python3 -c "print(round($TOTAL / ($END - $START)))") claims/s"
    rm -rf $W/run; cp -r $W/t $W/run; cd $W/run; ${BIN[$v]}/abathur task status > /dev/null
    START=$(date +%s.%N)
    seq 640 | xargs -P 64 -I{} ${BIN[$v]}/abathur -q task claim --agent "p{}" > /dev/null
    END=$(date +%s.%N)
    RUNNING=$(${BIN[$v]}/abathur --json task status | python3 -c 'import json, sys; print(json.load(sys.stdin)["running"])')
    echo "round $round $v: 64 one-shot claimants: $(python3 -c "print(round($RUNNING / ($END - $START)))") claims/s"
    cd $W
  done
done
