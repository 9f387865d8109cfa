#!/usr/bin/env bash
# Builds abathur and runs its main job end to end in a throwaway git repository, narrating each step.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/abathur-target}"
cargo build --release --locked --quiet
BIN="$CARGO_TARGET_DIR/release/abathur"
REPO="$(mktemp -d)"
trap 'rm -rf "$REPO"' EXIT
cd "$REPO"
git init -q -b main .

step() { printf '\n\033[1m$ abathur %s\033[0m\n' "$*"; "$BIN" "$@"; }

echo "A throwaway repository: $REPO"
step init
echo; echo "# The orchestrator breaks milestone M1 into tasks with priorities and prerequisites."
SCHEMA=$("$BIN" -q task add "Create the core schema: tasks, agents, checkpoints" -t database-schema-implementer -p 8 -m M1 --estimate 6h)
INDEXES=$("$BIN" -q task add "Add the 15 core indexes" -t database-schema-implementer -p 6 -m M1 --after "$SCHEMA" --estimate 3h)
TESTS=$("$BIN" -q task add "Unit tests for the schema (>= 90% coverage)" -t test-automation-engineer -p 7 -m M1 --after "$SCHEMA" --estimate 5h)
REPORT=$("$BIN" -q task add "Baseline performance report" -t test-automation-engineer -p 5 -m M1 --after "$INDEXES" --after "$TESTS" --deadline 2030-01-15)
step task list
step task plan -m M1

echo; echo "# An implementer agent claims the best ready task for its type, under a lease."
CLAIM=$("$BIN" --json task claim -t database-schema-implementer --agent impl-1)
LEASE=$(printf '%s' "$CLAIM" | sed -n 's/^  "lease_id": "\([0-9a-z]*\)",$/\1/p')
echo "claimed $SCHEMA with lease $LEASE"
step task heartbeat "$SCHEMA" --lease "$LEASE"
step task complete "$SCHEMA" --lease "$LEASE" --result '{"files":["schema.sql"]}'

echo; echo "# A flaky attempt is retried with backoff."
"$BIN" -q task claim -t test-automation-engineer --agent tester-1 >/dev/null
step task fail "$TESTS" -e "pytest crashed: connection reset"
step task get "$TESTS"

echo; echo "# Scope cut: cancelling a task cascades to what depends on it."
step task cancel "$INDEXES" --reason "indexes move to M2"
step task status
echo; echo "Files are the state:"
ls "$REPO/.git/abathur/tasks"
echo; sed -n '1,12p' "$REPO/.git/abathur/tasks/$SCHEMA.toml"
