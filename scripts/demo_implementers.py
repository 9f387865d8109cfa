"""The demo's implementer agents: one MCP client per agent type, each with its own `abathur mcp`
server (as Claude Code runs them), claiming work of its type, committing its code and completing the
task, until none is left. Uses the official MCP Python SDK. Run in the repository.
Usage: demo_implementers.py ABATHUR AGENT_TYPE...
"""
import asyncio
import pathlib
import subprocess
import sys

# The agents share one work tree here: one commit at a time.
COMMITTING = asyncio.Lock()


async def commit_work(task):
    async with COMMITTING:
        work = pathlib.Path("work")
        work.mkdir(exist_ok=True)
        (work / f"{task['id'][:10]}.md").write_text(f"# {task['summary']}\n\nDone.\n")
        subprocess.run(["git", "add", "work"], check=True)
        subprocess.run(["git", "commit", "-qm", task["summary"]], check=True)

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def implementer(binary, agent_type):
    name = f"{agent_type}-1"
    server = StdioServerParameters(command=binary, args=["mcp"])
    async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        while True:
            # Waits briefly for work its colleagues are about to unblock, instead of polling.
            claim = (await session.call_tool(
                "task_claim", {"agent_type": agent_type, "agent": name, "wait_seconds": 2})).structured_content
            if not claim.get("claimed"):
                print(f"  {name}: no more {agent_type} work ({claim.get('message', 'none ready')})")
                return
            task = claim["task"]
            print(f"  {name}: task_claim -> {task['id'][:10]} \"{task['summary']}\" (lease {claim['lease_id'][:10]}, {claim['scope']})")
            # Commit, then complete: the completion records the commit the work is in.
            await commit_work(task)
            done = (await session.call_tool("task_complete", {
                "task_id": task["id"], "lease_id": claim["lease_id"],
                "result_data": {"by": name, "files": [f"work/{task['id'][:10]}.md"]},
            })).structured_content
            ready = ", ".join(i[:10] for i in done.get("unblocked_task_ids", [])) or "none"
            print(f"  {name}: task_complete -> now ready: {ready}")


async def main():
    binary, types = sys.argv[1], sys.argv[2:]
    await asyncio.gather(*(implementer(binary, t) for t in types))


asyncio.run(main())
