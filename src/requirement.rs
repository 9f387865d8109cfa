//! Project requirements (the seed's "10 core requirements") and the completion report.
//!
//! A requirement is `requirements/<id>.toml`: what must be true of the whole project, linked to the
//! milestones and tasks that deliver it, with a status and the evidence for it. The completion
//! report renders every milestone, gate, decision and requirement from
//! `templates/completion-report.md.j2` and is sealed like a gate decision: a signed commit holding
//! `reports/<id>.md` and a signed tag `abathur/completion/<id>`, applied all or nothing.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::id::Id;
use crate::queue::task::check_chars;
use crate::service::Service;

const REPORT_TEMPLATE: &str = include_str!("../templates/completion-report.md.j2");

/// Where a requirement stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum RequirementStatus {
    /// Not yet shown.
    #[default]
    Open,
    /// Shown met, with evidence.
    Met,
    /// Shown not met.
    NotMet,
    /// Deliberately left for later.
    Deferred,
}

/// A requirement's file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// `R1`, `R2`, ...; the file name.
    pub id: String,
    /// What must be true.
    pub title: String,
    /// Longer statement.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Where it stands.
    #[serde(default)]
    pub status: RequirementStatus,
    /// Milestones that deliver it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub milestones: Vec<String>,
    /// Acceptance criteria that show it, as `M1:2` (milestone M1's second criterion).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub criteria: Vec<String>,
    /// Tasks that deliver it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<Id>,
    /// What shows its status (test names, reports, commits).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
}

/// `requirement_set`: define a requirement or change it.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequirementSetRequest {
    /// `R1`, `R2`, ...
    pub id: String,
    /// What must be true (required when the requirement is new).
    #[serde(default)]
    pub title: Option<String>,
    /// Longer statement.
    #[serde(default)]
    pub description: Option<String>,
    /// open, met, not_met or deferred.
    #[serde(default)]
    pub status: Option<RequirementStatus>,
    /// Milestones to link.
    #[serde(default)]
    pub milestones: Vec<String>,
    /// Acceptance criteria to link, as `M1:2` (milestone M1's second criterion).
    #[serde(default)]
    pub criteria: Vec<String>,
    /// Tasks to link (ids or prefixes).
    #[serde(default)]
    pub tasks: Vec<String>,
    /// Evidence to add.
    #[serde(default)]
    pub evidence: Vec<String>,
}

/// Reply of `requirement_list`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct RequirementList {
    /// Every requirement, by id.
    pub requirements: Vec<Requirement>,
    /// How many per status.
    pub counts: std::collections::BTreeMap<String, usize>,
}

/// Reply of `completion_report`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct CompletionReply {
    /// The report's id.
    pub id: String,
    /// The report, as written into the ledger (absolute path).
    pub report: String,
    /// The commit holding it.
    pub commit: String,
    /// The tag sealing it.
    pub tag: String,
    /// Whether commit and tag are signed.
    pub signed: bool,
    /// Requirements not met (open, not met or deferred): the project is complete only when empty.
    pub unmet: Vec<String>,
}

impl Service {
    fn requirements_dir(&self) -> PathBuf {
        self.ledger.root().join("requirements")
    }

    /// Every requirement, by id; a file that cannot be read is an error naming it.
    pub fn requirement_list(&self) -> Result<RequirementList> {
        let mut requirements = Vec::new();
        for path in crate::ledger::codec::list(&self.requirements_dir(), "toml")? {
            let text = crate::ledger::codec::read_text(&path)?;
            let r: Requirement = toml::from_str(&text).map_err(|e| Error::malformed(&path, e.message().trim_end()))?;
            requirements.push(r);
        }
        requirements.sort_by_key(|r| natural(&r.id));
        let mut counts = std::collections::BTreeMap::new();
        for r in &requirements {
            let status =
                serde_json::to_value(r.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            *counts.entry(status).or_insert(0) += 1;
        }
        Ok(RequirementList { requirements, counts })
    }

    /// `requirement_set`: creates or changes a requirement; links are checked, evidence appended.
    pub fn requirement_set(&self, req: RequirementSetRequest) -> Result<Requirement> {
        crate::queue::task::validate_milestone(&req.id).map_err(|_| {
            Error::invalid("id", format!("`{}` is not a requirement id; use R1, R2, ...", req.id.escape_debug()))
        })?;
        let (milestones, _) = self.milestones()?;
        for m in &req.milestones {
            if !milestones.iter().any(|x| &x.id == m) {
                return Err(Error::invalid("milestones", format!("{m} is not a milestone of this ledger")));
            }
        }
        for c in &req.criteria {
            let known = c.split_once(':').and_then(|(m, n)| {
                let n: usize = n.parse().ok()?;
                milestones.iter().find(|x| x.id == m).filter(|x| (1..=x.acceptance_criteria.len()).contains(&n))
            });
            if known.is_none() {
                return Err(Error::invalid(
                    "criteria",
                    format!("{c} names no acceptance criterion; write M1:2 for M1's second"),
                )
                .hint("`abathur milestone show M1` numbers its criteria"));
            }
        }
        let tasks = req.tasks.iter().map(|t| self.resolve_task(t)).collect::<Result<Vec<_>>>()?;
        for e in &req.evidence {
            check_chars("evidence", e, 2000)?;
        }
        let _lock = self.ledger.lock()?;
        let dir = self.requirements_dir();
        let path = dir.join(format!("{}.toml", req.id));
        // A file that exists but cannot be read is an error: treating it as new would overwrite it.
        let mut r = match crate::ledger::codec::read_optional(&path)? {
            Some(text) => toml::from_str(&text).map_err(|e| Error::malformed(&path, e.message().trim_end()))?,
            None => Requirement { id: req.id.clone(), ..Default::default() },
        };
        if let Some(title) = req.title {
            r.title = title.trim().to_string();
        }
        if r.title.is_empty() {
            return Err(Error::invalid("title", "a new requirement needs a title"));
        }
        check_chars("title", &r.title, 500)?;
        if let Some(d) = req.description {
            check_chars("description", &d, 10_000)?;
            r.description = d;
        }
        if let Some(s) = req.status {
            r.status = s;
        }
        for m in req.milestones {
            if !r.milestones.contains(&m) {
                r.milestones.push(m);
            }
        }
        for c in req.criteria {
            if !r.criteria.contains(&c) {
                r.criteria.push(c);
            }
        }
        for t in tasks {
            if !r.tasks.contains(&t) {
                r.tasks.push(t);
            }
        }
        r.evidence.extend(req.evidence);
        self.ledger.write(&path, toml::to_string(&r).expect("a requirement serialises").as_bytes())?;
        Ok(r)
    }

    /// `completion_report`: renders the project's completion report and seals it in a signed commit
    /// and tag (`unsigned` records it unsigned), all or nothing, as a gate decision is sealed.
    pub fn completion_report(&self, unsigned: bool) -> Result<CompletionReply> {
        let repo = self.ledger.repo()?;
        let who = crate::git::identity(&repo)?;
        let signer = if unsigned { None } else { Some(crate::git::signer(&repo)?) };
        let milestones = self.milestone_list()?.milestones;
        let gates = self.gate_status()?.gates;
        let decisions = self.decision_list(None)?.decisions;
        let requirements = self.requirement_list()?;
        let records = self.gate_records();
        let unmet: Vec<String> = requirements
            .requirements
            .iter()
            .filter(|r| r.status != RequirementStatus::Met)
            .map(|r| format!("{}: {}", r.id, r.title))
            .collect();
        let id = Id::generate();
        let now = self.clock.now();
        let override_path = self.ledger.root().join("templates/completion-report.md.j2");
        let source =
            crate::ledger::codec::read_optional(&override_path)?.unwrap_or_else(|| REPORT_TEMPLATE.to_string());
        let mut env = minijinja::Environment::new();
        let mut text = env
            .add_template("report", &source)
            .and_then(|()| env.get_template("report"))
            .and_then(|t| {
                t.render(minijinja::context! {
                    generated_at => now.to_string(),
                    generated_by => format!("{} <{}>", who.name().unwrap_or(""), who.email().unwrap_or("")),
                    signed => signer.is_some(),
                    milestones => minijinja::value::Serde(&milestones),
                    gates => minijinja::value::Serde(&gates),
                    decisions => minijinja::value::Serde(&decisions),
                    requirements => minijinja::value::Serde(&requirements.requirements),
                    records => minijinja::value::Serde(&records),
                    unmet => minijinja::value::Serde(&unmet),
                })
            })
            .map_err(|e| {
                Error::new(ErrorKind::Validation, format!("completion report template: {e}"))
                    .hint(format!("fix {} or delete it to use the built-in template", override_path.display()))
            })?;
        text.push('\n');
        let rel = format!("reports/{id}.md");
        let tag = format!("abathur/completion/{id}");
        let title = format!(
            "Completion report: {} of {} requirements met",
            requirements.requirements.len() - unmet.len(),
            requirements.requirements.len()
        );
        let message = format!("{title}\n\nAbathur-Report: {id}\n");
        // Prepared under the lock, signed outside it, applied under it (see `ledger::sealed`).
        let (parent, tree) = {
            let lock = self.ledger.lock()?;
            lock.commit()?;
            crate::ledger::sealed::tree_on_tip(&repo, self.ledger.root(), &[(rel.clone(), text.into_bytes())])?
        };
        let prepared = crate::ledger::sealed::sign(&repo, tree, parent, &message, (&tag, &title), signer.as_ref())?;
        {
            let _lock = self.ledger.lock()?;
            crate::ledger::sealed::apply(&repo, self.ledger.root(), &prepared)?;
        }
        Ok(CompletionReply {
            id: id.to_string(),
            report: self.ledger.root().join(&rel).display().to_string(),
            commit: prepared.commit,
            tag,
            signed: signer.is_some(),
            unmet,
        })
    }
}

/// `R2` before `R10`.
fn natural(id: &str) -> (String, u64, String) {
    let digits: String = id.chars().skip_while(|c| !c.is_ascii_digit()).take_while(char::is_ascii_digit).collect();
    let prefix: String = id.chars().take_while(|c| !c.is_ascii_digit()).collect();
    (prefix, digits.parse().unwrap_or(0), id.to_string())
}
