"""MCP latency through the stdio transport, measured by the official Python SDK client.

Usage: bench_mcp.py BIN REPO [CALLS] [search]. Prints a Markdown table: start-up (spawn, initialize,
tools/list) and per-tool p50/p95 over CALLS calls. Run by scripts/bench.sh on the seeded 10,000-task
ledger, and with `search` (memory and search tools only) by scripts/bench_search.sh on its seeded
chunks.
"""
import asyncio
import os
import statistics
import sys
import time

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

BIN, REPO = sys.argv[1], sys.argv[2]
CALLS = int(sys.argv[3]) if len(sys.argv) > 3 else 200
SEARCH_ONLY = len(sys.argv) > 4 and sys.argv[4] == "search"
RUN = int(time.time())  # memory keys unique per run
# The SDK passes the server only a few variables unless told; ABATHUR_MODEL_HOME must reach it.
SERVER_ENV = dict(os.environ)


def pct(samples, q):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def raw_lines(calls):
    """The same searches as bare JSON-RPC lines over the server's stdio, without the SDK: what the
    server and the transport take, apart from the client library's own work."""
    import json
    import subprocess

    server = subprocess.Popen([BIN, "mcp"], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def call(msg_id, method, params):
        server.stdin.write(json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}) + "\n")
        server.stdin.flush()
        while True:
            reply = json.loads(server.stdout.readline())
            if reply.get("id") == msg_id:
                return reply

    call(0, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}})
    server.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
    server.stdin.flush()
    rows = []
    for name, args in [
        ("search (text)", lambda i: {"query": f"synthetic milestone deliverables {i % 7}", "mode": "text"}),
        ("search (hybrid)", lambda i: {"query": f"what remains to implement for part {i % 7}"}),
    ]:
        call(1, "tools/call", {"name": "search", "arguments": args(-1)})  # warm
        samples = []
        for i in range(calls):
            t0 = time.perf_counter()
            reply = call(i + 2, "tools/call", {"name": "search", "arguments": args(i)})
            samples.append((time.perf_counter() - t0) * 1000)
            assert not reply["result"].get("isError"), reply
        rows.append((f"{name}, bare JSON-RPC lines (no SDK)", statistics.median(samples), pct(samples, 0.95)))
    server.stdin.close()
    server.wait()
    return rows


async def main():
    rows = []
    starts = []
    for _ in range(10):
        t0 = time.perf_counter()
        async with stdio_client(StdioServerParameters(command=BIN, args=["mcp"], cwd=REPO, env=SERVER_ENV)) as (r, w):
            async with ClientSession(r, w) as s:
                await s.initialize()
                await s.list_tools()
                starts.append((time.perf_counter() - t0) * 1000)
    rows.append(("spawn + initialize + tools/list", statistics.median(starts), pct(starts, 0.95)))

    async with stdio_client(StdioServerParameters(command=BIN, args=["mcp"], cwd=REPO, env=SERVER_ENV)) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            listed = await s.call_tool("task_list", {"limit": 1})
            tasks = listed.structured_content["tasks"]
            some_id = tasks[0]["id"] if tasks else None
            cases = [
                ("task_get", lambda i: {"task_id": some_id}),
                ("task_list", lambda i: {}),
                ("task_queue_status", lambda i: {}),
                ("task_enqueue", lambda i: {"description": f"bench task {i}", "source": "agent_planner"}),
                ("task_claim", lambda i: {"agent": "bench"}),
                # Searches first: after memory_add, a search also embeds the new entries (up to 32 each).
                ("search (text)", lambda i: {"query": f"synthetic milestone deliverables {i % 7}", "mode": "text"}),
                ("search (hybrid)", lambda i: {"query": f"what remains to implement for part {i % 7}"}),
                ("memory_add", lambda i: {"namespace": "project:", "key": f"bench-{RUN}-{i + 1}", "value": f"Bench note {i}."}),
                ("memory_get", lambda i: {"namespace": "project:", "key": f"bench-{RUN}-0"}),
            ]
            if SEARCH_ONLY:
                cases = [c for c in cases if not c[0].startswith("task_")]
            for name, args in cases:
                tool = name.split(" ")[0]
                await s.call_tool(tool, args(-1))  # warm
                samples = []
                for i in range(CALLS):
                    t0 = time.perf_counter()
                    result = await s.call_tool(tool, args(i))
                    samples.append((time.perf_counter() - t0) * 1000)
                    assert not result.is_error, result.structured_content
                rows.append((name, statistics.median(samples), pct(samples, 0.95)))
    if SEARCH_ONLY:
        rows.extend(raw_lines(CALLS))
    print("| MCP call | p50 [ms] | p95 [ms] |")
    print("|:---|---:|---:|")
    for name, p50, p95 in rows:
        print(f"| `{name}` | {p50:.1f} | {p95:.1f} |")


asyncio.run(main())
