//! The decision-record operations as `Service` methods: add, list, show, supersede, accept, reject.

use std::path::PathBuf;

use crate::decision::api::*;
use crate::decision::record::{self, Decision, DecisionMeta, DecisionStatus, MAX_SECTION_CHARS};
use crate::error::{Error, ErrorKind, Result};
use crate::id::Id;
use crate::service::Service;

/// The body template shipped in the binary; `.abathur/templates/decision.md.j2` overrides it.
const TEMPLATE: &str = include_str!("../../templates/decision.md.j2");

impl Service {
    fn decisions_dir(&self) -> PathBuf {
        self.ledger.root().join("decisions")
    }

    /// Every decision record with its path, oldest first; a malformed file is an error naming it.
    pub fn decisions(&self) -> Result<Vec<(PathBuf, Decision)>> {
        let mut out = Vec::new();
        for path in crate::ledger::codec::list(&self.decisions_dir(), "md")? {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            // Only abathur's records (`<ulid>-<slug>.md`); hand-written notes in the folder are searched, not parsed.
            if name.len() < 27 || !name.is_char_boundary(26) || Id::parse(&name[..26]).is_err() {
                continue;
            }
            let text = crate::ledger::codec::read_text(&path)?;
            out.push((path.clone(), Decision::parse(&text, &path)?));
        }
        out.sort_by_key(|(_, d)| d.meta.id);
        Ok(out)
    }

    fn find_decision(&self, text: &str) -> Result<(PathBuf, Decision)> {
        crate::id::IdPrefix::parse(text)?;
        let all = self.decisions()?;
        let id = crate::queue::store::resolve(text, all.iter().map(|(_, d)| &d.meta.id))
            .map_err(|e| if e.kind == ErrorKind::NotFound { Error::not_found("decision", text) } else { e })?;
        Ok(all.into_iter().find(|(_, d)| d.meta.id == id).expect("resolved among these"))
    }

    /// `decision_record`: writes a new record; decisions it supersedes are marked in the same lock.
    pub fn decision_add(&self, req: DecisionAddRequest) -> Result<DecisionWriteReply> {
        record::check_title(&req.title)?;
        for (field, text) in
            [("context", &req.context), ("decision", &req.decision), ("consequences", &req.consequences)]
        {
            if text.chars().count() > MAX_SECTION_CHARS {
                return Err(Error::invalid(field, format!("at most {MAX_SECTION_CHARS} characters")));
            }
        }
        let status = req.status.unwrap_or(DecisionStatus::Accepted);
        if !matches!(status, DecisionStatus::Proposed | DecisionStatus::Accepted) {
            return Err(Error::invalid("status", "a new decision is proposed or accepted")
                .hint("use `abathur decision supersede` or `reject` for the other states"));
        }
        let author = crate::memory::entry::check_author(req.author)?;
        let tasks = req
            .tasks
            .iter()
            .map(|t| self.resolve_task(t).map_err(|e| link_error("tasks", t, e)))
            .collect::<Result<Vec<_>>>()?;
        let (milestones, _) = self.milestones()?;
        for m in &req.milestones {
            if !milestones.iter().any(|r| &r.id == m) {
                return Err(Error::invalid("milestones", format!("no milestone `{m}`"))
                    .hint("`abathur milestone list` shows them"));
            }
        }
        let gate_ids: Vec<Id> = self.gate_records().into_iter().map(|g| g.id).collect();
        let gates = req
            .gates
            .iter()
            .map(|g| crate::queue::store::resolve(g, gate_ids.iter()).map_err(|e| link_error("gates", g, e)))
            .collect::<Result<Vec<_>>>()?;
        let _lock = self.ledger.lock()?;
        let mut replaced = Vec::new();
        for s in &req.supersedes {
            let (path, old) = self.find_decision(s).map_err(|e| link_error("supersedes", s, e))?;
            if old.meta.status == DecisionStatus::Superseded {
                return Err(Error::conflict(format!(
                    "decision {} is already superseded by {}",
                    old.meta.id,
                    old.meta.superseded_by.map(|i| i.to_string()).unwrap_or_default()
                )));
            }
            replaced.push((path, old));
        }
        let meta = DecisionMeta {
            id: Id::generate(),
            title: req.title.trim().to_string(),
            status,
            date: self.clock.now(),
            author,
            tasks,
            milestones: req.milestones.clone(),
            gates,
            supersedes: replaced.iter().map(|(_, d)| d.meta.id).collect(),
            superseded_by: None,
        };
        let body = self.render_decision(&meta, &req.context, &req.decision, &req.consequences)?;
        let new = Decision { meta, body };
        let path = self.decisions_dir().join(new.file_name());
        self.ledger.write(&path, new.render().as_bytes())?;
        let mut superseded = Vec::new();
        for (old_path, mut old) in replaced {
            old.meta.status = DecisionStatus::Superseded;
            old.meta.superseded_by = Some(new.meta.id);
            self.ledger.write(&old_path, old.render().as_bytes())?;
            superseded.push(old.meta.id.to_string());
        }
        Ok(self.decision_reply(&new, &path, superseded))
    }

    /// `decision supersede OLD NEW`: marks OLD superseded by the existing NEW (and NEW as superseding it).
    pub fn decision_supersede(&self, old: &str, new: &str) -> Result<DecisionWriteReply> {
        let _lock = self.ledger.lock()?;
        let (old_path, mut old) = self.find_decision(old)?;
        let (new_path, mut new) = self.find_decision(new)?;
        if old.meta.id == new.meta.id {
            return Err(Error::invalid("supersede", "a decision cannot supersede itself"));
        }
        if old.meta.status == DecisionStatus::Superseded {
            return Err(Error::conflict(format!("decision {} is already superseded", old.meta.id)));
        }
        old.meta.status = DecisionStatus::Superseded;
        old.meta.superseded_by = Some(new.meta.id);
        if !new.meta.supersedes.contains(&old.meta.id) {
            new.meta.supersedes.push(old.meta.id);
        }
        self.ledger.write(&new_path, new.render().as_bytes())?;
        self.ledger.write(&old_path, old.render().as_bytes())?;
        Ok(self.decision_reply(&new, &new_path, vec![old.meta.id.to_string()]))
    }

    /// `decision accept|reject ID`: settles a proposed decision.
    pub fn decision_settle(&self, id: &str, status: DecisionStatus) -> Result<DecisionWriteReply> {
        let _lock = self.ledger.lock()?;
        let (path, mut d) = self.find_decision(id)?;
        if d.meta.status != DecisionStatus::Proposed {
            return Err(Error::conflict(format!("decision {} is {}, not proposed", d.meta.id, d.meta.status.as_str())));
        }
        d.meta.status = status;
        self.ledger.write(&path, d.render().as_bytes())?;
        Ok(self.decision_reply(&d, &path, Vec::new()))
    }

    /// `decision list`: every record, oldest first, optionally of one status.
    pub fn decision_list(&self, status: Option<DecisionStatus>) -> Result<DecisionListReply> {
        let decisions = self
            .decisions()?
            .into_iter()
            .filter(|(_, d)| status.is_none_or(|s| s == d.meta.status))
            .map(|(path, d)| DecisionSummary {
                id: d.meta.id.to_string(),
                title: d.meta.title,
                status: d.meta.status,
                date: d.meta.date,
                milestones: d.meta.milestones,
                superseded_by: d.meta.superseded_by.map(|i| i.to_string()),
                path: self.relative(&path),
            })
            .collect();
        Ok(DecisionListReply { decisions })
    }

    /// `decision show ID`: one record, whole.
    pub fn decision_show(&self, id: &str) -> Result<DecisionDetail> {
        let (path, d) = self.find_decision(id)?;
        Ok(DecisionDetail { meta: d.meta, body: d.body, path: self.relative(&path) })
    }

    fn decision_reply(&self, d: &Decision, path: &std::path::Path, superseded: Vec<String>) -> DecisionWriteReply {
        DecisionWriteReply {
            id: d.meta.id.to_string(),
            title: d.meta.title.clone(),
            status: d.meta.status,
            path: self.relative(path),
            superseded,
        }
    }

    fn render_decision(
        &self,
        meta: &DecisionMeta,
        context: &str,
        decision: &str,
        consequences: &str,
    ) -> Result<String> {
        let override_path = self.ledger.root().join("templates/decision.md.j2");
        let source = crate::ledger::codec::read_optional(&override_path)?.unwrap_or_else(|| TEMPLATE.to_string());
        let mut env = minijinja::Environment::new();
        let or_tbd = |s: &str| if s.trim().is_empty() { "(to be written)".to_string() } else { s.trim().to_string() };
        let mut render = || -> std::result::Result<String, minijinja::Error> {
            env.add_template("decision", &source)?;
            env.get_template("decision")?.render(minijinja::context! {
                title => &meta.title,
                status => meta.status.as_str(),
                context => or_tbd(context),
                decision => or_tbd(decision),
                consequences => or_tbd(consequences),
                meta => minijinja::value::Serde(meta),
            })
        };
        render().map_err(|e| {
            Error::new(ErrorKind::Validation, format!("decision template: {e}"))
                .hint(format!("fix {} or delete it to use the built-in template", override_path.display()))
        })
    }
}

fn link_error(field: &str, text: &str, e: Error) -> Error {
    let message = format!("{field}: `{text}`: {}", e.message);
    Error { message, ..e }
}
