#!/usr/bin/env bash
# Checks abathur's Claude Code set-up with the real Claude Code CLI (npm: @anthropic-ai/claude-code),
# offline: the MCP server from `init --claude` connects, and Claude Code finds both agent
# definitions. Not part of the suite (it needs Node.js and the npm package); docs/mcp.md records a run.
# Usage: scripts/check_claude_code.sh   (uses the installed abathur, or $ABATHUR)
set -euo pipefail
BIN=${ABATHUR:-$(command -v abathur || true)}
[ -n "$BIN" ] || { echo "install abathur first: cargo install --locked --path ." >&2; exit 1; }
command -v claude >/dev/null || { echo "install Claude Code first: npm install -g @anthropic-ai/claude-code" >&2; exit 1; }
export PATH="$(dirname "$BIN"):$PATH"
REPO=$(mktemp -d)
trap 'rm -rf "$REPO"' EXIT
cd "$REPO"
git init -q
abathur init --claude --hooks >/dev/null 2>&1
# Project servers wait for a person's approval the first time `claude` runs; this approves it for
# this throwaway copy only (settings.local.json is the user's, never committed).
printf '{"enabledMcpjsonServers": ["abathur"]}\n' > .claude/settings.local.json
claude --version
servers=$(timeout 60 claude mcp list 2>&1)
echo "$servers"
grep -q 'abathur: .*Connected' <<<"$servers" || { echo "FAILED: the abathur MCP server did not connect" >&2; exit 1; }
# An unknown agent makes Claude Code list the agents it found, before it needs any login.
agents=$(timeout 60 claude --agent no-such-agent -p hi 2>&1 || true)
echo "$agents"
for agent in implementation-orchestrator implementer; do
    grep -q "$agent" <<<"$agents" || { echo "FAILED: Claude Code does not see the $agent agent" >&2; exit 1; }
done
echo "Claude Code $(claude --version | cut -d' ' -f1): the server connects and both agents are found."
