"""Many `abathur mcp` servers (one per agent) on one repository at once, through the official MCP
Python SDK: every agent claims and completes until the queue is empty. Nothing may be lost or claimed
twice. Usage: many_servers.py BIN REPO AGENTS TASKS."""
import asyncio
import collections
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

BIN, REPO, AGENTS, TASKS = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])


async def agent(n, started, go):
    done = []
    params = StdioServerParameters(command=BIN, args=["mcp"], cwd=REPO)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as s:
            await s.initialize()
            # Agent n enqueues its share, then everyone works the queue at once.
            for i in range(n, TASKS, AGENTS):
                r = await s.call_tool("task_enqueue", {"description": f"work item {i}", "source": "agent_planner",
                                                       "agent_type": "worker"})
                assert not r.is_error, r.structured_content
            started.append(n)
            if len(started) == AGENTS:
                go.set()
            await go.wait()
            while True:
                r = await s.call_tool("task_claim", {"agent_type": "worker", "agent": f"agent-{n}"})
                assert not r.is_error, r.structured_content
                claim = r.structured_content
                if not claim["claimed"]:
                    return done
                task_id, lease = claim["task"]["id"], claim["lease_id"]
                r = await s.call_tool("task_heartbeat", {"task_id": task_id, "lease_id": lease})
                assert not r.is_error, r.structured_content
                r = await s.call_tool("task_complete", {"task_id": task_id, "lease_id": lease})
                assert not r.is_error, r.structured_content
                done.append(task_id)


async def main():
    started, go = [], asyncio.Event()
    results = await asyncio.gather(*(agent(n, started, go) for n in range(AGENTS)))
    completed = [t for r in results for t in r]
    twice = [t for t, c in collections.Counter(completed).items() if c > 1]
    assert not twice, f"claimed twice: {twice}"
    assert len(completed) == TASKS, f"{len(completed)} of {TASKS} completed"
    busy = sum(1 for r in results if r)
    print(f"{AGENTS} servers completed {TASKS} tasks, none twice; {busy} agents got work")


asyncio.run(main())
