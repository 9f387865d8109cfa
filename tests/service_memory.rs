//! Project memory through `Service` directly, with a fixed clock: versions, tombstones, expiry.

use abathur::memory::api::{MemoryAddRequest, MemoryKeyRequest, MemoryListRequest, MemoryUpdateRequest};
use abathur::memory::entry::MemoryType;
use serde_json::json;

use crate::common::Fixture;

fn add(namespace: &str, key: &str, value: serde_json::Value, ttl: Option<&str>) -> MemoryAddRequest {
    MemoryAddRequest {
        namespace: namespace.into(),
        key: key.into(),
        value,
        memory_type: Some(if ttl.is_some() { MemoryType::Episodic } else { MemoryType::Semantic }),
        created_by: Some("tester".into()),
        ttl: ttl.map(str::to_string),
    }
}

fn key(namespace: &str, key: &str, version: Option<u32>) -> MemoryKeyRequest {
    MemoryKeyRequest { namespace: namespace.into(), key: key.into(), version, deleted_by: None }
}

#[test]
fn every_version_stays_readable_and_a_delete_is_a_tombstone() {
    let fixture = Fixture::new();
    let service = fixture.at("2030-01-01T00:00:00Z");
    service.memory_add(add("project:", "style", json!("Use rustfmt."), None)).unwrap();
    let update = MemoryUpdateRequest {
        namespace: "project:".into(),
        key: "style".into(),
        value: json!({"formatter": "rustfmt", "width": 120}),
        updated_by: None,
        ttl: None,
    };
    assert_eq!(service.memory_update(update).unwrap().version, 2);
    assert_eq!(service.memory_get(key("project:", "style", None)).unwrap().value["width"], 120);
    assert_eq!(service.memory_get(key("project:", "style", Some(1))).unwrap().value, "Use rustfmt.");

    let deleted = service.memory_delete(key("project:", "style", None)).unwrap();
    assert_eq!(deleted.version, 3);
    assert!(service.memory_get(key("project:", "style", None)).is_err(), "a deleted key reads as gone");
    let history = service.memory_history(key("project:", "style", None)).unwrap();
    assert_eq!(history.versions.iter().map(|v| v.version).collect::<Vec<_>>(), [3, 2, 1], "newest first");
    assert!(history.versions[0].deleted);
    // The key can be added again after the delete.
    assert_eq!(service.memory_add(add("project:", "style", json!("Tabs."), None)).unwrap().version, 4);
    assert!(service.memory_add(add("project:", "style", json!("Again"), None)).is_err(), "a live key is not re-added");
}

#[test]
fn episodic_entries_expire_at_their_time_and_prefixes_list_exactly_their_namespace() {
    let fixture = Fixture::new();
    let start = fixture.at("2030-01-01T00:00:00Z");
    start.memory_add(add("task:01abc:", "notes", json!("Partitioned by month"), Some("1h"))).unwrap();
    start.memory_add(add("task:01abcd:", "notes", json!("Another task"), None)).unwrap();
    let list = |at: &str, prefix: &str| {
        let req = MemoryListRequest { namespace_prefix: Some(prefix.into()), ..Default::default() };
        fixture.at(at).memory_list(req).unwrap().entries.into_iter().map(|e| e.namespace).collect::<Vec<_>>()
    };
    assert_eq!(
        list("2030-01-01T00:59:00Z", "task:01abc:"),
        ["task:01abc:"],
        "exactly that namespace, not its neighbour task:01abcd:"
    );
    assert!(list("2030-01-01T01:01:00Z", "task:01abc:").is_empty(), "expired after an hour");
    assert_eq!(list("2030-01-01T01:01:00Z", "task:").len(), 1);
}
