//! The memory operations as `Service` methods: add, get, update, delete, list, history, prune.
//!
//! Writers hold the ledger lock, copy the version they replace into `.history/` and then replace the
//! current file atomically, so a crash at any instant leaves a readable entry and every earlier
//! version. Readers take no lock.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::memory::api::*;
use crate::memory::entry::{self, Entry, EntryMeta, MAX_VALUE_BYTES, MemoryType, ValueFormat};
use crate::service::Service;
use crate::time::Timestamp;

impl Service {
    /// `memory_add`: writes version 1, or the next version of a deleted or expired key.
    pub fn memory_add(&self, req: MemoryAddRequest) -> Result<MemoryWriteReply> {
        let namespace = entry::normalize_namespace(&req.namespace)?;
        let key = entry::normalize_key(&req.key)?;
        let (format, body) = value_to_body(req.value)?;
        let author = entry::check_author(req.created_by)?;
        let memory_type = req.memory_type.unwrap_or(MemoryType::Semantic);
        let now = self.clock.now();
        let expires_at = self.expiry(memory_type, req.ttl.as_deref(), now)?;
        let _lock = self.ledger.lock()?;
        let path = entry::current_path(&self.ledger.memory_dir(), &namespace, &key);
        let previous = read_optional(&path)?;
        if let Some(prev) = previous.as_ref().filter(|p| p.is_live(now)) {
            return Err(Error::conflict(format!(
                "memory {namespace}{key} already exists (version {})",
                prev.meta.version
            ))
            .hint("use `abathur memory update` to change it"));
        }
        let meta = EntryMeta {
            namespace,
            key,
            memory_type,
            version: previous.as_ref().map_or(1, |p| p.meta.version + 1),
            format,
            author,
            created_at: now,
            updated_at: now,
            expires_at,
            deleted: false,
        };
        self.write_version(previous.as_ref(), &Entry { meta, body }, "created")
    }

    /// `memory_update`: a new version of a live key; type and creation time carry forward.
    pub fn memory_update(&self, req: MemoryUpdateRequest) -> Result<MemoryWriteReply> {
        let namespace = entry::normalize_namespace(&req.namespace)?;
        let key = entry::normalize_key(&req.key)?;
        let (format, body) = value_to_body(req.value)?;
        let author = entry::check_author(req.updated_by)?;
        let now = self.clock.now();
        let _lock = self.ledger.lock()?;
        let current = self.live_entry(&namespace, &key, now)?;
        let expires_at = self.expiry(current.meta.memory_type, req.ttl.as_deref(), now)?;
        let meta = EntryMeta {
            version: current.meta.version + 1,
            format,
            author,
            updated_at: now,
            expires_at,
            ..current.meta.clone()
        };
        self.write_version(Some(&current), &Entry { meta, body }, "updated")
    }

    /// `memory_delete`: writes a tombstone version; the key can be added again later.
    pub fn memory_delete(&self, req: MemoryKeyRequest) -> Result<MemoryWriteReply> {
        let namespace = entry::normalize_namespace(&req.namespace)?;
        let key = entry::normalize_key(&req.key)?;
        let author = entry::check_author(req.deleted_by)?;
        let now = self.clock.now();
        let _lock = self.ledger.lock()?;
        let current = self.live_entry(&namespace, &key, now)?;
        let meta = EntryMeta {
            version: current.meta.version + 1,
            format: ValueFormat::Markdown,
            author,
            updated_at: now,
            expires_at: None,
            deleted: true,
            ..current.meta.clone()
        };
        self.write_version(Some(&current), &Entry { meta, body: String::new() }, "deleted")
    }

    /// `memory_get`: the current live version, or any version by number.
    pub fn memory_get(&self, req: MemoryKeyRequest) -> Result<MemoryEntryReply> {
        let namespace = entry::normalize_namespace(&req.namespace)?;
        let key = entry::normalize_key(&req.key)?;
        let dir = self.ledger.memory_dir();
        let Some(version) = req.version else {
            let entry = self.live_entry(&namespace, &key, self.clock.now())?;
            return Ok(self.entry_reply(entry, &entry::current_path(&dir, &namespace, &key)));
        };
        let current_path = entry::current_path(&dir, &namespace, &key);
        let current = read_optional(&current_path)?.ok_or_else(|| not_found(&namespace, &key))?;
        if version == current.meta.version {
            return Ok(self.entry_reply(current, &current_path));
        }
        let path = entry::history_path(&dir, &namespace, &key, version);
        match read_optional(&path)? {
            Some(entry) if version < current.meta.version => Ok(self.entry_reply(entry, &path)),
            _ => Err(Error::not_found("memory version", &format!("{namespace}{key} v{version}"))
                .hint(format!("versions run from 1 to {}; see `abathur memory history`", current.meta.version))),
        }
    }

    /// `memory_history`: every version still on disk, newest first.
    pub fn memory_history(&self, req: MemoryKeyRequest) -> Result<MemoryHistoryReply> {
        let namespace = entry::normalize_namespace(&req.namespace)?;
        let key = entry::normalize_key(&req.key)?;
        let dir = self.ledger.memory_dir();
        let current_path = entry::current_path(&dir, &namespace, &key);
        let current = read_optional(&current_path)?.ok_or_else(|| not_found(&namespace, &key))?;
        let mut versions = Vec::new();
        for version in (1..current.meta.version).rev() {
            let path = entry::history_path(&dir, &namespace, &key, version);
            if let Some(entry) = read_optional(&path)? {
                versions.push(self.entry_reply(entry, &path));
            }
        }
        versions.insert(0, self.entry_reply(current, &current_path));
        Ok(MemoryHistoryReply { versions })
    }

    /// `memory_list`: live entries by namespace prefix, sorted by namespace and key.
    pub fn memory_list(&self, req: MemoryListRequest) -> Result<MemoryListReply> {
        let prefix = req.namespace_prefix.as_deref().map(|p| p.trim().to_ascii_lowercase());
        let now = self.clock.now();
        let mut entries = Vec::new();
        for (_, entry) in self.memory_entries()? {
            let visible = !entry.meta.deleted && (req.include_expired || entry.is_live(now));
            if visible
                && prefix.as_deref().is_none_or(|p| entry.meta.namespace.starts_with(p))
                && req.memory_type.is_none_or(|t| t == entry.meta.memory_type)
            {
                entries.push(summary(&entry));
            }
        }
        let limit = req.limit.unwrap_or(100);
        if !(1..=500).contains(&limit) {
            return Err(Error::invalid("limit", format!("limit {limit} is out of range; use 1 to 500")));
        }
        entries.sort_by(|a, b| (&a.namespace, &a.key).cmp(&(&b.namespace, &b.key)));
        let total = entries.len();
        // The order is by name, which nothing changes: the cursor is the last name shown.
        if let Some(cursor) = &req.cursor {
            let after = cursor
                .strip_prefix("m1.")
                .and_then(|hex| {
                    (0..hex.len())
                        .step_by(2)
                        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                        .collect::<Option<Vec<u8>>>()
                })
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .and_then(|text| text.split_once('\n').map(|(n, k)| (n.to_string(), k.to_string())))
                .ok_or_else(|| {
                    Error::invalid("cursor", format!("`{cursor}` is not a cursor a memory list returned"))
                        .hint("pass the next_cursor of the previous page, or start again without a cursor")
                })?;
            entries.retain(|e| (&e.namespace, &e.key) > (&after.0, &after.1));
        }
        let next_cursor = (entries.len() > limit).then(|| {
            let last = &entries[limit - 1];
            let bytes = format!("{}\n{}", last.namespace, last.key).into_bytes();
            format!("m1.{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
        });
        entries.truncate(limit);
        Ok(MemoryListReply { entries, total, next_cursor })
    }

    /// `memory_prune`: removes expired episodic entries with all their versions.
    pub fn memory_prune(&self, req: MemoryPruneRequest) -> Result<MemoryPruneReply> {
        let prefix = req.namespace_prefix.as_deref().map(|p| p.trim().to_ascii_lowercase());
        let now = self.clock.now();
        let _lock = if req.dry_run { None } else { Some(self.ledger.lock()?) };
        let dir = self.ledger.memory_dir();
        let mut pruned = Vec::new();
        let mut files_removed = 0;
        for (path, entry) in self.memory_entries()? {
            let expired = !entry.meta.deleted && entry.meta.expires_at.is_some_and(|at| at <= now);
            if !expired || prefix.as_deref().is_some_and(|p| !entry.meta.namespace.starts_with(p)) {
                continue;
            }
            if !req.dry_run {
                let (ns, key) = (&entry.meta.namespace, &entry.meta.key);
                for version in 1..entry.meta.version {
                    files_removed +=
                        usize::from(remove_if_present(&self.ledger, &entry::history_path(&dir, ns, key, version))?);
                }
                files_removed += usize::from(remove_if_present(&self.ledger, &path)?);
                self.ledger.remove_empty_folders(&entry::namespace_dir(&dir, ns).join(".history"), &dir);
            }
            pruned.push(summary(&entry));
        }
        Ok(MemoryPruneReply { pruned, files_removed, dry_run: req.dry_run })
    }

    /// Every current-version file under `memory/` with its parsed entry (tombstones included).
    ///
    /// A malformed file is an error naming it: listing around it would hide knowledge silently.
    pub fn memory_entries(&self) -> Result<Vec<(PathBuf, Entry)>> {
        let dir = self.ledger.memory_dir();
        let mut out = Vec::new();
        for path in crate::ledger::codec::walk(&dir)? {
            let rel = path.strip_prefix(&dir).unwrap_or(&path);
            // `.history/` folders hold earlier versions; `.abathur-tmp-*` files are writers' staging.
            let hidden = rel.components().any(|c| c.as_os_str().to_string_lossy().starts_with('.'));
            if hidden || path.extension().is_none_or(|e| e != "md") {
                continue;
            }
            let text = crate::ledger::codec::read_text(&path)?;
            out.push((path.clone(), Entry::parse(&text, &path)?));
        }
        Ok(out)
    }

    fn live_entry(&self, namespace: &str, key: &str, now: Timestamp) -> Result<Entry> {
        let path = entry::current_path(&self.ledger.memory_dir(), namespace, key);
        let entry = read_optional(&path)?.ok_or_else(|| not_found(namespace, key))?;
        if entry.meta.deleted {
            let hint = match entry.meta.version {
                1 => "it can be added again with `abathur memory add`".to_string(),
                v => format!("`--version {}` reads the last value; `abathur memory add` brings the key back", v - 1),
            };
            return Err(Error::not_found("memory", &format!("{namespace}{key}")).hint(format!(
                "it was deleted in version {} at {}; {hint}",
                entry.meta.version, entry.meta.updated_at
            )));
        }
        if let Some(at) = entry.meta.expires_at.filter(|at| *at <= now) {
            return Err(Error::not_found("memory", &format!("{namespace}{key}")).hint(format!(
                "it expired at {at}; `--version {}` still reads it until `abathur memory prune`",
                entry.meta.version
            )));
        }
        Ok(entry)
    }

    fn expiry(&self, memory_type: MemoryType, ttl: Option<&str>, now: Timestamp) -> Result<Option<Timestamp>> {
        match (memory_type, ttl) {
            (MemoryType::Episodic, Some(text)) => {
                let ttl = humantime::parse_duration(text.trim())
                    .map_err(|e| Error::invalid("ttl", format!("`{text}`: {e} (write e.g. 7d or 12h)")))?;
                Ok(Some(now.plus_seconds(ttl.as_secs_f64())))
            }
            (MemoryType::Episodic, None) => Ok(Some(now.plus_seconds(self.config.memory.episodic_ttl_days * 86_400.0))),
            (_, Some(_)) => Err(Error::invalid("ttl", "only episodic entries expire").hint("add `--type episodic`")),
            (_, None) => Ok(None),
        }
    }

    fn write_version(&self, previous: Option<&Entry>, entry: &Entry, status: &str) -> Result<MemoryWriteReply> {
        let dir = self.ledger.memory_dir();
        let (ns, key) = (&entry.meta.namespace, &entry.meta.key);
        let path = entry::current_path(&dir, ns, key);
        if let Some(prev) = previous {
            let copy = entry::history_path(&dir, ns, key, prev.meta.version);
            self.ledger.write(&copy, prev.render().as_bytes())?;
        }
        self.ledger.write(&path, entry.render().as_bytes())?;
        Ok(MemoryWriteReply {
            namespace: ns.clone(),
            key: key.clone(),
            version: entry.meta.version,
            status: status.to_string(),
            path: self.relative(&path),
        })
    }

    fn entry_reply(&self, entry: Entry, path: &Path) -> MemoryEntryReply {
        let value = body_to_value(&entry);
        let m = entry.meta;
        MemoryEntryReply {
            namespace: m.namespace,
            key: m.key,
            memory_type: m.memory_type,
            version: m.version,
            format: m.format,
            value,
            author: m.author,
            created_at: m.created_at,
            updated_at: m.updated_at,
            expires_at: m.expires_at,
            deleted: m.deleted,
            path: self.relative(path),
        }
    }

    /// `path` relative to the work tree, as replies show it.
    pub(crate) fn relative(&self, path: &Path) -> String {
        path.display().to_string()
    }
}

/// Splits a request value into the stored format and body: strings are Markdown, the rest JSON.
fn value_to_body(value: serde_json::Value) -> Result<(ValueFormat, String)> {
    let (format, body) = match value {
        serde_json::Value::String(text) => (ValueFormat::Markdown, format!("{}\n", text.trim_end())),
        serde_json::Value::Null => return Err(Error::invalid("value", "is missing")),
        other => (ValueFormat::Json, serde_json::to_string_pretty(&other).expect("JSON serialises") + "\n"),
    };
    if body.trim().is_empty() {
        return Err(Error::invalid("value", "is empty"));
    }
    if body.len() > MAX_VALUE_BYTES {
        return Err(Error::invalid("value", format!("{} bytes, at most {MAX_VALUE_BYTES}", body.len()))
            .hint("store large artefacts in the repository and put their path in memory"));
    }
    Ok((format, body))
}

fn body_to_value(entry: &Entry) -> serde_json::Value {
    match entry.meta.format {
        ValueFormat::Json if !entry.meta.deleted => {
            serde_json::from_str(&entry.body).unwrap_or_else(|_| serde_json::Value::String(entry.body.clone()))
        }
        _ => serde_json::Value::String(entry.body.strip_suffix('\n').unwrap_or(&entry.body).to_string()),
    }
}

fn summary(entry: &Entry) -> MemorySummary {
    let first = entry.body.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    MemorySummary {
        namespace: entry.meta.namespace.clone(),
        key: entry.meta.key.clone(),
        memory_type: entry.meta.memory_type,
        version: entry.meta.version,
        author: entry.meta.author.clone(),
        updated_at: entry.meta.updated_at,
        expires_at: entry.meta.expires_at,
        summary: first.trim_start_matches('#').trim().chars().take(120).collect(),
    }
}

fn not_found(namespace: &str, key: &str) -> Error {
    Error::not_found("memory", &format!("{namespace}{key}")).hint("`abathur memory list` shows what exists")
}

fn read_optional(path: &Path) -> Result<Option<Entry>> {
    match crate::ledger::codec::read_optional(path)? {
        Some(text) => Entry::parse(&text, path).map(Some),
        None => Ok(None),
    }
}

fn remove_if_present(ledger: &crate::ledger::Ledger, path: &Path) -> Result<bool> {
    if path.symlink_metadata().is_err() {
        return Ok(false);
    }
    ledger.remove(path)?;
    Ok(true)
}
