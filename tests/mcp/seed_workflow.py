"""The seed's workflow through the official MCP Python SDK (stdio client), against `abathur mcp`.

Usage: seed_workflow.py BIN REPO. Exits non-zero with a message on the first failed expectation.
Also checks that each tool's reply equals what `abathur --json <command>` prints (same serde type).
"""
import asyncio
import json
import subprocess
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

BIN, REPO = sys.argv[1], sys.argv[2]
SEED_TOOLS = {"task_enqueue", "task_list", "task_get", "task_queue_status", "task_cancel", "task_execution_plan"}


def cli(*args):
    out = subprocess.run([BIN, "--json", *args], cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def expect(condition, message):
    if not condition:
        raise SystemExit(f"FAILED: {message}")


async def call(session, tool, args):
    result = await session.call_tool(tool, args)
    expect(not result.is_error, f"{tool}({args}) failed: {result.structured_content}")
    return result.structured_content


async def main():
    params = StdioServerParameters(command=BIN, args=["mcp"], cwd=REPO)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as s:
            await s.initialize()
            tools = {t.name: t for t in (await s.list_tools()).tools}
            expect(SEED_TOOLS <= set(tools), f"seed tools missing: {SEED_TOOLS - set(tools)}")
            listing = json.dumps({"tools": [t.model_dump(mode="json", exclude_none=True) for t in tools.values()]})
            expect(len(listing) < 32 * 1024, f"tools/list stays under 32 KB: {len(listing)} bytes")
            for name, tool in tools.items():
                expect(tool.description and tool.annotations is not None, f"{name} lacks description or annotations")
                # Deliberately none: reply schemas would triple what tools/list costs an agent (docs/mcp.md).
                expect(tool.output_schema is None, f"{name} declares an output schema")
            expect(tools["task_list"].annotations.read_only_hint is True, "task_list is read-only")
            expect(tools["task_cancel"].annotations.destructive_hint is True, "task_cancel is destructive")

            # A hand-over thread whose state outlives the agent: session tools.
            session = await call(s, "session_create", {"app_name": "implementation-orchestrator", "initial_state": {"m": "M1"}})
            sid = session["id"]
            appended = await call(s, "session_append_event", {"session_id": sid, "event": {"note": "schema reviewed"},
                                                              "state_delta": {"reviewed": True}})
            expect(appended["state"] == {"m": "M1", "reviewed": True}, f"session state: {appended}")
            got_session = await call(s, "session_get", {"session_id": sid})
            expect(got_session["event_count"] == 1 and got_session["events"][0]["event"] == {"note": "schema reviewed"},
                   f"session_get: {got_session}")

            # An agent starting up asks for its context first: one call, bounded.
            context = await call(s, "context", {"agent_type": "database-schema-implementer"})
            expect({"gates", "ready", "ready_total", "counts", "decisions", "memory"} <= set(context), f"context: {context}")

            # The seed's calls, with exactly its parameters.
            schema = await call(s, "task_enqueue", {"description": "Create the core schema", "source": "agent_planner",
                                                    "agent_type": "database-schema-implementer", "base_priority": 8})
            for field in ("task_id", "status", "calculated_priority"):
                expect(field in schema, f"task_enqueue reply lacks {field}")
            tests = await call(s, "task_enqueue", {"description": "Unit tests for the schema", "source": "agent_planner",
                                                   "agent_type": "test-automation-engineer", "base_priority": 7,
                                                   "prerequisites": [schema["task_id"]], "deadline": "2030-01-01T00:00:00Z"})
            expect(tests["status"] == "blocked", f"a task with an open prerequisite is blocked: {tests}")
            report = await call(s, "task_enqueue", {"description": "Baseline report", "source": "agent_planner",
                                                    "agent_type": "test-automation-engineer",
                                                    "prerequisites": [tests["task_id"]]})

            # The orchestrator re-plans over MCP: priority, type and prerequisites of a waiting task.
            updated = await call(s, "task_update", {"task_id": report["task_id"], "base_priority": 6,
                                                    "agent_type": "technical-writer"})
            expect(updated["base_priority"] == 6 and updated["agent_type"] == "technical-writer", f"update: {updated}")
            cycle = await s.call_tool("task_update", {"task_id": schema["task_id"], "add_prerequisites": [report["task_id"]]})
            expect(cycle.is_error and "cycle" in cycle.structured_content["message"], f"a cycle is refused: {cycle}")

            plan = await call(s, "task_execution_plan", {"task_ids": [report["task_id"], tests["task_id"], schema["task_id"]]})
            expect(plan["batches"] == [[schema["task_id"]], [tests["task_id"]], [report["task_id"]]], f"plan: {plan}")
            expect(plan["total_batches"] == 3 and plan["max_parallelism"] == 1, f"plan: {plan}")

            listed = await call(s, "task_list", {"status": "blocked", "limit": 10})
            expect({t["id"] for t in listed["tasks"]} == {tests["task_id"], report["task_id"]}, f"list: {listed}")

            claim = await call(s, "task_claim", {"agent_type": "database-schema-implementer", "agent": "impl-1"})
            expect(claim["claimed"] and claim["task"]["id"] == schema["task_id"], f"claim: {claim}")
            await call(s, "task_heartbeat", {"task_id": schema["task_id"], "lease_id": claim["lease_id"]})
            done = await call(s, "task_complete", {"task_id": schema["task_id"], "lease_id": claim["lease_id"],
                                                   "result_data": {"files": ["schema.sql"]}})
            expect(done["unblocked_task_ids"] == [tests["task_id"]], f"complete: {done}")
            got = await call(s, "task_get", {"task_id": tests["task_id"]})
            expect(got["status"] == "ready", f"the dependent became ready: {got['status']}")

            status = await call(s, "task_queue_status", {})
            for field in ("total_tasks", "pending", "blocked", "ready", "running", "completed", "failed", "cancelled",
                          "avg_priority", "oldest_pending"):
                expect(field in status, f"task_queue_status lacks {field}")
            expect(status["completed"] == 1 and status["ready"] == 1 and status["blocked"] == 1, f"status: {status}")

            # Replies are the same serde types as the CLI's --json.
            expect(got == cli("task", "get", tests["task_id"]), "task_get differs from `task get --json`")
            expect(status == cli("task", "status"), "task_queue_status differs from `task status --json`")
            expect(await call(s, "task_list", {}) == cli("task", "list"), "task_list differs from `task list --json`")

            cancel = await call(s, "task_cancel", {"task_id": tests["task_id"]})
            expect(cancel == {"cancelled_task_id": tests["task_id"], "cascaded_task_ids": [report["task_id"]],
                              "total_cancelled": 2}, f"cancel: {cancel}")

            # Errors are tool errors carrying {error, message}.
            for tool, args, kind in [
                ("task_get", {"task_id": "01zzzzzzzzzzzzzzzzzzzzzzzz"}, "NotFoundError"),
                ("task_get", {"task_id": "../../etc/passwd"}, "ValidationError"),
                ("task_enqueue", {"description": "x", "base_priority": 11}, "ValidationError"),
                ("task_enqueue", {"description": "x" * 10001}, "ValidationError"),
                ("task_cancel", {"task_id": tests["task_id"]}, "ConflictError"),
                ("task_execution_plan", {"task_ids": ["01zzzzzzzzzzzzzzzzzzzzzzzz"]}, "NotFoundError"),
                ("task_list", {"limit": 501}, "ValidationError"),
                ("task_enqueue", {"description": "x", "result_data": {"ok": True}}, "ValidationError"),
            ]:
                result = await s.call_tool(tool, args)
                expect(result.is_error, f"{tool}({str(args)[:60]}) should fail")
                body = result.structured_content
                expect(body.get("error") == kind and body.get("message"), f"{tool}: expected {kind}, got {body}")
            # Work already done is recorded completed in one call, and counts as finished work.
            done = await call(s, "task_enqueue", {"description": "Fixed the flaky test", "completed": True,
                                                  "result_data": {"commit": "abc123"}})
            expect(done["status"] == "completed", f"recorded as done: {done}")
            after = await call(s, "task_enqueue", {"description": "Build on it", "prerequisites": [done["task_id"]]})
            expect(after["status"] == "ready", f"a task after done work is ready: {after}")
            got = await call(s, "task_get", {"task_id": done["task_id"]})
            expect(got["result_data"] == {"commit": "abc123"}, f"the result is kept: {got}")
            await call(s, "task_cancel", {"task_id": after["task_id"]})
            bad = await s.call_tool("task_list", {"limit": "many"})
            expect(bad.is_error, "a wrongly typed argument is a tool error, not a crash")

            # The gate at the milestone boundary: status, check, decide (unsigned here; the signed path
            # is tested in tests/gate.rs), and the next milestone opens.
            # The plan over MCP: milestones with budgets, and the orchestrator's checklist as progress.
            await call(s, "milestone_add", {"id": "M1", "title": "One", "budget_hours": 86,
                                            "quality_targets": ["test_pass_rate>=100%"]})
            await call(s, "milestone_add", {"id": "M2", "title": "Two"})
            todos = [{"content": "Review the schema", "status": "completed", "activeForm": "Reviewing the schema"},
                     {"content": "Run the gate", "status": "in_progress", "activeForm": "Running the gate"}]
            updated = await call(s, "milestone_update", {"id": "M1", "todos": todos})
            expect(updated["todos"] == todos, f"the checklist is kept as given: {updated}")
            milestones = await call(s, "milestone_list", {})
            first = milestones["milestones"][0]
            expect(first["progress"]["budget_hours"] == 86 and first["todos"] == todos, f"milestone_list: {first}")
            m1 = await call(s, "task_enqueue", {"description": "M1 work", "milestone": "M1"})
            m2 = await call(s, "task_enqueue", {"description": "M2 work", "milestone": "M2"})
            expect(m2["status"] == "blocked", f"M2 waits for gate M1: {m2}")
            gates = await call(s, "gate_status", {})
            expect([g["state"] for g in gates["gates"]] == ["undecided", "undecided"], f"gate_status: {gates}")
            claimed = await call(s, "task_claim", {"task_id": m1["task_id"]})
            await call(s, "task_complete", {"task_id": m1["task_id"], "lease_id": claimed["lease_id"]})
            junit = f"{REPO}/junit.xml"
            with open(junit, "w") as f:
                f.write('<testsuite><testcase name="a"/></testsuite>')
            check = await call(s, "gate_check", {"milestone": "M1", "junit": [junit]})
            expect(check["proposed_decision"] == "approve", f"gate_check: {check}")
            decided = await call(s, "gate_decide", {"milestone": "M1", "decision": "approve", "rationale": "All met",
                                                    "unsigned": True, "evidence": {"milestone": "M1", "junit": [junit]}})
            expect(decided["next_milestone_opens"] is True and decided["signed"] is False, f"gate_decide: {decided}")
            got = await call(s, "task_get", {"task_id": m2["task_id"]})
            expect(got["status"] == "ready", f"M2 opened: {got['status']}")
            refused = await s.call_tool("gate_decide", {"milestone": "M1", "decision": "approve", "rationale": "again"})
            expect(refused.is_error and refused.structured_content["error"] == "ValidationError",
                   f"no signing key and not unsigned: refused, {refused.structured_content}")

            # Memory and search: what an agent learned, found again by its words.
            added = await call(s, "memory_add", {"namespace": "agent:impl:", "key": "schema-notes",
                                                 "value": "The parcels table is partitioned by month.", "created_by": "impl-1"})
            expect(added["version"] == 1 and added["status"] == "created", f"memory_add: {added}")
            await call(s, "memory_update", {"namespace": "agent:impl:", "key": "schema-notes",
                                            "value": {"partitioning": "monthly", "table": "parcels"}})
            got = await call(s, "memory_get", {"namespace": "agent:impl:", "key": "schema-notes"})
            expect(got["value"] == {"partitioning": "monthly", "table": "parcels"} and got["version"] == 2, f"memory_get: {got}")
            expect(got == cli("memory", "get", "agent:impl:", "schema-notes"), "memory_get differs from the CLI")
            old = await call(s, "memory_get", {"namespace": "agent:impl:", "key": "schema-notes", "version": 1})
            expect(old["value"] == "The parcels table is partitioned by month.", f"version 1: {old}")
            listed = await call(s, "memory_list", {"namespace_prefix": "agent:"})
            expect([e["key"] for e in listed["entries"]] == ["schema-notes"], f"memory_list: {listed}")
            found = await call(s, "search", {"query": "partitioning parcels", "kinds": ["memory"]})
            expect([h["id"] for h in found["hits"]] == ["agent:impl:schema-notes"], f"search: {found}")
            decided = await call(s, "decision_record", {"title": "Partition parcels by month", "context": "The table grows fast.",
                                                         "decision": "Monthly partitions.", "consequences": "Queries need a time range."})
            expect(decided["status"] == "accepted" and "/abathur/decisions/" in decided["path"], f"decision_record: {decided}")
            found = await call(s, "search", {"query": "monthly partitions time range", "kinds": ["decision"]})
            expect(decided["path"].endswith(found["hits"][0]["id"].removeprefix(".abathur")), f"the decision is searchable: {found}")
            dup = await s.call_tool("memory_add", {"namespace": "agent:impl:", "key": "schema-notes", "value": "x"})
            expect(dup.is_error and dup.structured_content["error"] == "ConflictError", f"duplicate add: {dup.structured_content}")
    print("seed workflow ok")


asyncio.run(main())
