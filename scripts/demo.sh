#!/usr/bin/env bash
# The main job end to end, narrated: the seed's plan as milestones, tasks with prerequisites,
# implementer agents claiming by type over MCP, a gate checked from real JUnit and LCOV files and
# approved with a signed tag that plain `git verify-tag` accepts, a conditional approval with its
# follow-up task, memory and a search by meaning, a decision record, the pull-request review, the
# Claude Code set-up and the HTML view.
#
# Usage: scripts/demo.sh [DIR]   (default: a new folder under /tmp, kept for inspection)
# Uses the installed `abathur` (or $ABATHUR, or one already built in the cargo target folder); it
# builds nothing. Needs git, ssh-keygen and python3 with the MCP SDK (pip install 'mcp==2.3.0');
# installs the embedding model with `abathur model install` when it is missing.
# Every narrated command can be pasted into a shell in DIR and run again.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)

BIN=${ABATHUR:-}
if [ -z "$BIN" ]; then
    if command -v abathur >/dev/null; then
        BIN=$(command -v abathur)
    else
        for candidate in "${CARGO_TARGET_DIR:-$HOME/.cache/abathur-target}"/{release,debug}/abathur; do
            if [ -x "$candidate" ]; then BIN=$candidate; break; fi
        done
    fi
fi
if [ -z "$BIN" ]; then
    echo "demo: abathur is not installed; install it first: cargo install --locked --path ." >&2
    exit 1
fi
python3 -c 'import mcp' 2>/dev/null || { echo "demo: needs the MCP Python SDK: python3 -m pip install 'mcp==2.3.0'" >&2; exit 1; }
# Narrated commands say `abathur`, whichever binary runs them; `abathur mcp` servers use the same.
abathur() { "$BIN" "$@"; }
export PATH="$(dirname "$BIN"):$PATH"

REPO=${1:-$(mktemp -d /tmp/abathur-demo.XXXXXX)}
mkdir -p "$REPO"
cd "$REPO"

if [ -t 1 ]; then BOLD=$'\033[1m' DIM=$'\033[2m' OFF=$'\033[0m'; else BOLD='' DIM='' OFF=''; fi
# A comment line: pasted with the commands, it does nothing.
say() { printf '\n%s# %s%s\n' "$DIM" "$*" "$OFF"; }
# Prints the command, quoted so that it can be pasted, then runs it.
run() {
    local line
    line=$(printf '%q ' "$@")
    printf '%s%s%s\n' "$BOLD" "${line% }" "$OFF"
    "$@"
}
# Prints `NAME=$(command)`, runs it and sets NAME.
capture() {
    local name=$1 line
    shift
    line=$(printf '%q ' "$@")
    printf '%s%s=$(%s)%s\n' "$BOLD" "$name" "${line% }" "$OFF"
    printf -v "$name" '%s' "$("$@")"
}

say "A throwaway repository, kept for inspection: $REPO"
run cd "$REPO"
run git init -q -b main
run git config user.name "Dana Lead"
run git config user.email dana@example.com
printf 'The parcel tracker.\n' > README.md
run git add README.md
run git commit -qm "Start the parcel tracker"
run git switch -qc feature/core-schema

say "The lead's ssh key signs gate decisions; the ledger's allowed_signers says whose signatures count."
run ssh-keygen -q -t ed25519 -N "" -C dana@example.com -f .git/dana-signing-key
run git config gpg.format ssh
run git config user.signingkey "$REPO/.git/dana-signing-key"

say "The ledger: one folder outside every work tree, committed by abathur on branch abathur-ledger."
run abathur init
capture LEDGER abathur ledger path
printf '%sprintf "dana@example.com namespaces=\\"git\\" %%s\\n" "$(cat .git/dana-signing-key.pub)" > "$LEDGER/allowed_signers"%s\n' "$BOLD" "$OFF"
printf 'dana@example.com namespaces="git" %s\n' "$(cat .git/dana-signing-key.pub)" > "$LEDGER/allowed_signers"
run abathur ledger commit -m "Who may sign gate decisions"
run git config gpg.ssh.allowedSignersFile "$LEDGER/allowed_signers"

say "The orchestrator takes the seed's plan: four milestones with budgets, criteria and quality targets."
run abathur milestone add --example seed-plan
run abathur milestone list

say "It breaks M1 into tasks with agent types, priorities, estimates and prerequisites."
capture SCHEMA abathur -q task add "Create the core schema: tasks, agents, checkpoints" -t database-schema-implementer -p 8 -m M1 --estimate 6h
capture INDEXES abathur -q task add "Add the 15 core indexes" -t database-schema-implementer -p 6 -m M1 --after "$SCHEMA" --estimate 3h
capture TESTS abathur -q task add "Unit tests for the schema, 90% coverage or more" -t test-automation-engineer -p 7 -m M1 --after "$SCHEMA" --estimate 5h
run abathur task plan -m M1
run abathur task graph -m M1

say "Why PostgreSQL: a decision record, linked to the milestone. Conventions go to project memory."
run abathur -q decision add "Use PostgreSQL 16 for the ledger of parcels" --context "We need JSONB and row-level locks" --decision "PostgreSQL 16, one schema per service" -m M1
run abathur memory add project: error-format "API errors are JSON objects with code, message and request_id; never HTML pages."
run abathur memory add project: migrations "Schema changes go through numbered SQL migrations, reviewed like code."

say "Two implementer agents, one per type, each with its own MCP server (as Claude Code runs them): they claim by type, commit their work and complete."
run python3 "$HERE/demo_implementers.py" abathur database-schema-implementer test-automation-engineer
run git log --oneline main..HEAD

say "The gate: evidence from the test run (JUnit), coverage (LCOV) and a benchmark, against M1's targets."
cat > junit.xml <<'XML'
<testsuites><testsuite name="schema" tests="3" failures="0" errors="0" skipped="0">
<testcase classname="schema" name="ddl_runs_clean"/><testcase classname="schema" name="integrity_check"/>
<testcase classname="schema" name="queries_use_indexes"/></testsuite></testsuites>
XML
printf 'SF:src/schema.rs\nDA:1,1\nDA:2,1\nDA:3,1\nDA:4,1\nDA:5,1\nDA:6,1\nDA:7,1\nDA:8,1\nDA:9,1\nDA:10,0\nLF:10\nLH:9\nend_of_record\n' > lcov.info
printf '{"read_latency_ms": 12.5}\n' > bench.json
run abathur gate check M1 --junit junit.xml --lcov lcov.info --bench bench.json --met "1: ddl_runs_clean passed" --met "2: integrity_check passed" --met "3: queries_use_indexes passed" --met "4: coverage 90%"

say "Approve: the report, a signed commit and a signed tag; M2 opens. Plain git verifies the tag."
run abathur gate approve M1 --rationale "All criteria met; coverage 90%, reads 12.5 ms" --junit junit.xml --lcov lcov.info --bench bench.json
capture TAG git tag --list "abathur/gate/M1/*"
run git verify-tag "$TAG"
run abathur gate verify

say "M2 ships with a known issue: a conditional approval turns it into a follow-up task."
capture VERSIONS abathur -q task add "Versioned memory updates" -t memory-implementer -m M2 --estimate 4h
run python3 "$HERE/demo_implementers.py" abathur memory-implementer
run abathur gate conditional M2 --rationale "Ship; audit logging of deletes follows" --issue "medium: deletes are not yet audited" --agent-type memory-implementer
run abathur task list --status ready

say "Memory by meaning: the question shares no words with the answer."
if ! abathur --json model status | grep -q '"installed": true'; then
    run abathur model install
fi
run abathur search "what should a failed request return to the client" --limit 3

say "For the pull request: what the ledger did while this branch's code was written."
run abathur review main..HEAD

say "Claude Code: the MCP server in .mcp.json and the two agent definitions."
run abathur init --claude
run ls .claude/agents
run cat .mcp.json

say "A picture of it all, one HTML file that opens offline."
run abathur view
run abathur task status

say "Done. The repository stays for inspection: $REPO"
say "Try: cd $REPO && git log --oneline abathur-ledger && abathur task list"
