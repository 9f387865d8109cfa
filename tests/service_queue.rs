//! The queue's core behaviour through `Service` directly, with a fixed clock: what the end-to-end
//! tests show through the binary, without a process per step.

use abathur::Service;
use abathur::queue::api::{
    BlockReason, ClaimRequest, CompleteRequest, EnqueueRequest, FailRequest, GetRequest, PlanRequest,
};
use abathur::queue::task::Status;
use abathur::time::Timestamp;

use crate::common::Fixture;

fn enqueue(service: &Service, description: &str, agent_type: &str, after: &[&str]) -> String {
    let req = EnqueueRequest {
        description: description.into(),
        agent_type: Some(agent_type.into()),
        prerequisites: after.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    service.task_enqueue(req).unwrap().task_id
}

#[test]
fn a_chain_runs_in_order_and_blocked_by_names_each_prerequisite_with_its_status() {
    let fixture = Fixture::new();
    let service = fixture.at("2030-01-01T00:00:00Z");
    let schema = enqueue(&service, "Create the schema", "db", &[]);
    let tests = enqueue(&service, "Write the tests", "qa", &[&schema]);

    let waiting = service.task_get(GetRequest { task_id: tests.clone() }).unwrap();
    assert_eq!(waiting.status, Status::Blocked);
    let reason = &waiting.blocked_by[0];
    assert_eq!(reason.reason, BlockReason::Prerequisite);
    assert_eq!(reason.task_id.as_deref(), Some(schema.as_str()));
    assert_eq!(reason.status, Some(Status::Ready), "the prerequisite's status as task_list shows it");

    let plan = service
        .task_execution_plan(PlanRequest { task_ids: vec![schema.clone(), tests.clone()], milestone: None })
        .unwrap();
    assert_eq!(plan.batches, [vec![schema.clone()], vec![tests.clone()]]);

    // The qa agent finds nothing yet; the db agent takes the schema and completes it.
    let nothing = service.task_claim(ClaimRequest { agent_type: Some("qa".into()), ..Default::default() }).unwrap();
    assert!(!nothing.claimed);
    let claim = service.task_claim(ClaimRequest { agent_type: Some("db".into()), ..Default::default() }).unwrap();
    assert_eq!(claim.task.as_ref().unwrap().id, schema);
    let done = service
        .task_complete(CompleteRequest { task_id: schema.clone(), lease_id: claim.lease_id, ..Default::default() })
        .unwrap();
    assert_eq!(done.unblocked_task_ids, std::slice::from_ref(&tests));
    let ready = service.task_get(GetRequest { task_id: tests.clone() }).unwrap();
    assert_eq!(ready.status, Status::Ready);
    assert!(ready.blocked_by.is_empty());
}

#[test]
fn a_lease_lapses_at_its_time_and_a_failure_retries_after_its_backoff() {
    let fixture = Fixture::new();
    let task = enqueue(&fixture.at("2030-01-01T00:00:00Z"), "Flaky work", "w", &[]);
    let claim = fixture
        .at("2030-01-01T00:00:00Z")
        .task_claim(ClaimRequest { lease_seconds: Some(60), ..Default::default() })
        .unwrap();
    assert!(claim.claimed);
    let get = |now: &str| fixture.at(now).task_get(GetRequest { task_id: task.clone() }).unwrap();
    assert_eq!(get("2030-01-01T00:00:59Z").status, Status::Running, "still inside the lease");
    let lapsed = get("2030-01-01T00:01:01Z");
    assert_eq!(lapsed.status, Status::Ready, "the lease lapsed: back in the queue");
    assert_eq!(lapsed.retry_count, 1);

    let later = fixture.at("2030-01-01T00:02:00Z");
    let again = later.task_claim(ClaimRequest::default()).unwrap();
    let failed = later
        .task_fail(FailRequest {
            task_id: task.clone(),
            error_message: "connection reset".into(),
            lease_id: again.lease_id,
            agent: None,
        })
        .unwrap();
    assert_eq!(failed.status, Status::Pending, "retried, not failed: {failed:?}");
    let retry_at = Timestamp::parse(failed.retry_at.as_deref().unwrap()).unwrap();
    assert!(!later.task_claim(ClaimRequest::default()).unwrap().claimed, "not before its backoff");
    let when = retry_at.plus_seconds(1.0).to_string();
    assert!(fixture.at(&when).task_claim(ClaimRequest::default()).unwrap().claimed, "after its backoff");
}
