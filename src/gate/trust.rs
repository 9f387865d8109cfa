//! Which gate decisions count: signed (commit and tag) by a key that the policy in force allowed,
//! by the principal the record names, and unaltered since. The queue opens a milestone only on such
//! a decision, and `gate verify` reports every way a decision falls short.
//!
//! The policy is `allowed_signers` as the ledger's *committed history* has it, never as the folder
//! has it: the first committed policy is trusted on first use, and a later change counts only from a
//! commit signed by a key the policy before it allowed. A decision is judged by the policy in force
//! before its own commit, so adding yourself in the commit of your own decision does not work.
//!
//! File format: git's SSH allowed-signers lines (`email namespaces="git" ssh-ed25519 AAAA...`), plus
//! `email openpgp FINGERPRINT` lines for OpenPGP keys. Signatures are checked by git itself (`git
//! verify-tag` / `git verify-commit`, with the policy as `gpg.ssh.allowedSignersFile`), so abathur
//! accepts exactly what git accepts.
//!
//! Verdicts are cached (`cache/gate-verdicts.json`) by the tag object and the blob ids of the record
//! and report, which together fix everything a verdict depends on; only positive verdicts are
//! cached, so a key imported later or a fixed file is seen at once.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use git2::{ObjectType, Oid, Repository};

use crate::error::Result;
use crate::gate::record::GateRecord;
use crate::git::sign::git_error;
use crate::ledger::IN_TREE_DIR;

/// The policy file's name in the ledger.
pub const POLICY: &str = "allowed_signers";
const VERDICTS: &str = "cache/gate-verdicts.json";

/// What a decision that counts was sealed with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sealed {
    /// Signed by this principal of the policy in force (with the key, as git reports it).
    Signed(String),
    /// Recorded with `--unsigned`; counts only where `[gates] allow_unsigned` says so.
    Unsigned,
}

/// A policy found in the ledger's history.
#[derive(Clone, Debug)]
pub struct PolicyFact {
    /// The commit that brought it in.
    pub commit: Oid,
    /// Trusted on first use (the first policy of the history) rather than by a signed change.
    pub first_use: bool,
}

/// The judge of decisions for one repository, remembering the policy history it has walked.
pub struct Trust<'r> {
    repo: &'r Repository,
    git_dir: PathBuf,
    /// Per commit walked: the blob of the policy in force after it.
    in_force: HashMap<Oid, Option<Oid>>,
    /// Where each trusted policy blob came from.
    facts: HashMap<Oid, PolicyFact>,
    /// Policy changes that do not count, with why.
    ignored: BTreeMap<Oid, String>,
}

impl<'r> Trust<'r> {
    /// A judge for `repo` (whose git directory is `git_dir`).
    pub fn new(repo: &'r Repository, git_dir: &Path) -> Trust<'r> {
        Trust {
            repo,
            git_dir: git_dir.to_path_buf(),
            in_force: HashMap::new(),
            facts: HashMap::new(),
            ignored: BTreeMap::new(),
        }
    }

    /// The policy in force after `commit` (its text, and where it came from), walking its history once.
    pub fn policy_after(&mut self, commit: Oid) -> Result<Option<(String, PolicyFact)>> {
        self.walk(commit)?;
        match self.in_force.get(&commit).copied().flatten() {
            None => Ok(None),
            Some(blob) => {
                let text = self.blob_text(blob)?;
                Ok(Some((text, self.facts[&blob].clone())))
            }
        }
    }

    /// Policy changes in the history walked so far that do not count, with why.
    pub fn ignored_changes(&self) -> &BTreeMap<Oid, String> {
        &self.ignored
    }

    fn blob_text(&self, blob: Oid) -> Result<String> {
        let blob = self.repo.find_blob(blob).map_err(|e| git_error("reading allowed_signers", e))?;
        Ok(String::from_utf8_lossy(blob.content()).into_owned())
    }

    /// Computes the policy in force after every ancestor of `tip`, parents before children.
    fn walk(&mut self, tip: Oid) -> Result<()> {
        if self.in_force.contains_key(&tip) {
            return Ok(());
        }
        let mut walk = self.repo.revwalk().map_err(|e| git_error("walking the ledger history", e))?;
        walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)
            .map_err(|e| git_error("walking the ledger history", e))?;
        walk.push(tip).map_err(|e| git_error("walking the ledger history", e))?;
        for known in self.in_force.keys() {
            let _ = walk.hide(*known);
        }
        for oid in walk {
            let oid = oid.map_err(|e| git_error("walking the ledger history", e))?;
            let commit = self.repo.find_commit(oid).map_err(|e| git_error("reading a ledger commit", e))?;
            let tree = commit.tree().map_err(|e| git_error("reading a ledger commit", e))?;
            let here = policy_blob(&tree);
            let parents: Vec<(Option<Oid>, Option<Oid>)> = commit
                .parents()
                .map(|p| (p.tree().ok().and_then(|t| policy_blob(&t)), self.in_force.get(&p.id()).copied().flatten()))
                .collect();
            let inherited = parents.iter().find_map(|(_, in_force)| *in_force);
            // A commit that leaves the file as a parent had it carries that parent's policy, whatever
            // its tree says: only a commit that changes the file can change the policy.
            let in_force = if let Some((_, in_force)) = parents.iter().find(|(blob, _)| *blob == here) {
                *in_force
            } else if inherited.is_none() {
                if let Some(blob) = here {
                    self.facts.entry(blob).or_insert(PolicyFact { commit: oid, first_use: true });
                }
                here
            } else {
                // A change counts only if a key the policy before it allowed signed its commit.
                let mut verdict = Err("its commit is not signed".to_string());
                for policy in parents.iter().filter_map(|(_, in_force)| *in_force) {
                    let text = self.blob_text(policy)?;
                    verdict = verify_object(&self.git_dir, "verify-commit", &oid.to_string(), &text).map(|_| ());
                    if verdict.is_ok() {
                        break;
                    }
                }
                match verdict {
                    Ok(()) => {
                        if let Some(blob) = here {
                            self.facts.entry(blob).or_insert(PolicyFact { commit: oid, first_use: false });
                        }
                        here
                    }
                    Err(why) => {
                        self.ignored.insert(
                            oid,
                            format!("allowed_signers as changed in commit {oid} does not count ({why} by a key the policy before it allowed)"),
                        );
                        inherited
                    }
                }
            };
            self.in_force.insert(oid, in_force);
        }
        Ok(())
    }

    /// Judges one decision: its record as read from the ledger folder (`record_bytes`) and its report
    /// (`report_bytes`, `None` when the file is missing). Returns how it was sealed, or every problem.
    pub fn judge(
        &mut self,
        record: &GateRecord,
        record_bytes: &[u8],
        report_bytes: Option<&[u8]>,
    ) -> std::result::Result<Sealed, Vec<String>> {
        let mut problems = Vec::new();
        let expected = GateRecord::tag_name(&record.milestone, &record.id);
        if record.tag != expected {
            problems.push(format!("its record names tag {}, not {expected}", record.tag));
            return Err(problems);
        }
        let Ok(reference) = self.repo.find_reference(&format!("refs/tags/{expected}")) else {
            problems.push(format!("its tag {expected} is missing"));
            return Err(problems);
        };
        let Some(tag) = reference.target().and_then(|t| self.repo.find_tag(t).ok()) else {
            problems.push(format!("{expected} is not an annotated tag"));
            return Err(problems);
        };
        let Ok(commit) = self.repo.find_commit(tag.target_id()) else {
            problems.push(format!("{expected} does not point at a commit"));
            return Err(problems);
        };
        let tree = match commit.tree() {
            Ok(tree) => tree,
            Err(e) => return Err(vec![format!("its commit cannot be read: {}", e.message())]),
        };
        // A decision made before the ledger moved out of the work tree sealed `.abathur/gates/...` on
        // a code branch (`abathur ledger migrate`).
        let prefix =
            if tree.get_path(Path::new(&format!("gates/{}.toml", record.id))).is_ok() { "" } else { IN_TREE_DIR };
        let in_commit = |name: &str| -> Option<Vec<u8>> {
            let path = Path::new(prefix).join("gates").join(name);
            let entry = tree.get_path(&path).ok()?;
            Some(self.repo.find_blob(entry.id()).ok()?.content().to_vec())
        };
        for (name, current) in
            [(format!("{}.toml", record.id), Some(record_bytes)), (format!("{}.md", record.id), report_bytes)]
        {
            match (in_commit(&name), current) {
                (None, _) => problems.push(format!("gates/{name} is not in the signed commit")),
                (Some(_), None) => problems.push(format!("gates/{name} was deleted")),
                (Some(a), Some(b)) if a != b => problems.push(format!("gates/{name} was altered after it was signed")),
                _ => {}
            }
        }
        problems.extend(self.foreign_changes(&commit, record, prefix));
        if !record.signed {
            if tag.message_bytes().unwrap_or_default().windows(10).any(|w| w == b"-----BEGIN") {
                problems.push("its record says unsigned, but its tag carries a signature".into());
            }
            return if problems.is_empty() { Ok(Sealed::Unsigned) } else { Err(problems) };
        }
        let parent = commit.parent_id(0).ok();
        let policy = match parent.map(|p| self.policy_after(p)).transpose() {
            Ok(policy) => policy.flatten(),
            Err(e) => {
                problems.push(e.message);
                return Err(problems);
            }
        };
        let Some((policy, _)) = policy else {
            problems
                .push("no allowed_signers was in force before its commit: commit the policy first, then decide".into());
            return Err(problems);
        };
        let mut principals = Vec::new();
        for (what, object) in [("verify-tag", tag.id()), ("verify-commit", commit.id())] {
            match verify_object(&self.git_dir, what, &object.to_string(), &policy) {
                Ok(who) => principals.push(who),
                Err(why) => problems.push(format!("{what}: {why}")),
            }
        }
        if let [tag_signer, commit_signer] = principals.as_slice() {
            if tag_signer.principal != commit_signer.principal {
                problems.push(format!(
                    "its tag was signed by {} but its commit by {}",
                    tag_signer.principal, commit_signer.principal
                ));
            } else if !names(&record.decided_by, &tag_signer.principal) {
                problems.push(format!(
                    "decided_by {} is not {}, whose key signed it",
                    record.decided_by, tag_signer.principal
                ));
            }
        }
        match (problems.is_empty(), principals.first()) {
            (true, Some(who)) => Ok(Sealed::Signed(who.to_string())),
            _ => Err(problems),
        }
    }

    /// Changes of a decision commit beyond its own files: its report and record, and the tasks it created.
    fn foreign_changes(&self, commit: &git2::Commit<'_>, record: &GateRecord, prefix: &str) -> Vec<String> {
        let Ok(tree) = commit.tree() else { return Vec::new() };
        let parent = commit.parent(0).ok().and_then(|p| p.tree().ok());
        let Ok(diff) = self.repo.diff_tree_to_tree(parent.as_ref(), Some(&tree), None) else {
            return vec!["its commit's changes cannot be read".into()];
        };
        let own: Vec<String> = [format!("gates/{}.toml", record.id), format!("gates/{}.md", record.id)]
            .into_iter()
            .chain(record.follow_up_task_ids.iter().map(|t| format!("tasks/{t}.toml")))
            .collect();
        let mut foreign = Vec::new();
        for delta in diff.deltas() {
            let Some(path) = delta.new_file().path().or(delta.old_file().path()) else { continue };
            let path = path.to_string_lossy();
            let rel = match prefix {
                "" => crate::ledger::history::disk_path(&path),
                p => match path.strip_prefix(&format!("{p}/")) {
                    Some(rest) => rest.to_string(),
                    None => continue, // code of the same commit, in the old layout
                },
            };
            let is_task = rel.starts_with("tasks/");
            let created = delta.status() == git2::Delta::Added;
            if !own.contains(&rel) || is_task && !created {
                foreign.push(format!("its signed commit also changes {rel}, which is not part of the decision"));
            }
        }
        foreign
    }
}

/// Whether `decided_by` (`Name <email>`, or a bare principal) names `principal`.
fn names(decided_by: &str, principal: &str) -> bool {
    let email = decided_by.rsplit_once('<').and_then(|(_, rest)| rest.strip_suffix('>')).unwrap_or(decided_by);
    email.trim().eq_ignore_ascii_case(principal) || decided_by.trim() == principal
}

/// The policy blob of a commit's tree: the ledger's own, or the in-tree layout's of old code commits.
fn policy_blob(tree: &git2::Tree<'_>) -> Option<Oid> {
    tree.get_name(POLICY)
        .filter(|e| e.kind() == Some(ObjectType::Blob))
        .map(|e| e.id())
        .or_else(|| tree.get_path(&Path::new(IN_TREE_DIR).join(POLICY)).ok().map(|e| e.id()))
}

/// Who signed an object, as git and the policy say.
#[derive(Clone, Debug)]
pub struct SignedBy {
    /// The policy's principal.
    pub principal: String,
    /// The key, as git reports it.
    pub key: String,
}

impl std::fmt::Display for SignedBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.principal, self.key)
    }
}

/// Runs `git verify-tag|verify-commit --raw OBJECT` under `policy`; who signed, or why it fails.
pub fn verify_object(git_dir: &Path, what: &str, object: &str, policy: &str) -> std::result::Result<SignedBy, String> {
    let openpgp: Vec<(String, String)> = policy
        .lines()
        .filter_map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            (parts.len() >= 3 && parts[1] == "openpgp").then(|| (parts[0].to_string(), parts[2].to_uppercase()))
        })
        .collect();
    // git reads only SSH lines from an allowed-signers file; give it those.
    let ssh_lines: String = policy
        .lines()
        .filter(|l| l.split_whitespace().nth(1).is_none_or(|w| w != "openpgp"))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut file = tempfile::NamedTempFile::new().map_err(|e| format!("cannot write a temporary file: {e}"))?;
    std::io::Write::write_all(&mut file, ssh_lines.as_bytes())
        .map_err(|e| format!("cannot write a temporary file: {e}"))?;
    let out = Command::new("git")
        .arg("-c")
        .arg(format!("gpg.ssh.allowedSignersFile={}", file.path().display()))
        .arg(format!("--git-dir={}", git_dir.display()))
        .args([what, "--raw", object])
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    let text = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    if let Some(line) = text.lines().find(|l| l.starts_with("[GNUPG:] VALIDSIG ")) {
        // OpenPGP: git checked the signature against the keyring; the policy decides who may sign.
        let fpr = line.split_whitespace().nth(2).unwrap_or("").to_uppercase();
        return match openpgp.iter().find(|(_, f)| *f == fpr) {
            Some((who, _)) if out.status.success() => {
                Ok(SignedBy { principal: who.clone(), key: format!("openpgp {fpr}") })
            }
            Some(_) => Err("bad signature".into()),
            None => Err(format!("signed by OpenPGP key {fpr}, which the policy in force does not list")),
        };
    }
    if out.status.success() {
        // `Good "git" signature for lead@example.com with ED25519 key SHA256:...`
        let line = text.lines().find_map(|l| l.split("signature for ").nth(1)).unwrap_or("");
        let (principal, key) = line.split_once(" with ").unwrap_or((line, ""));
        return Ok(SignedBy { principal: principal.trim().to_string(), key: key.trim().to_string() });
    }
    if text.contains("no signature found") || text.contains("error: no signature") {
        return Err("not signed".into());
    }
    let reason =
        text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with("[GNUPG:]")).collect::<Vec<_>>().join("; ");
    Err(if reason.is_empty() {
        "signature rejected".into()
    } else {
        format!("rejected by the policy in force: {reason}")
    })
}

/// The cache key of a verdict: everything it depends on.
fn verdict_key(
    repo: &Repository,
    record: &GateRecord,
    record_bytes: &[u8],
    report_bytes: Option<&[u8]>,
) -> Option<String> {
    let tag = repo.refname_to_id(&format!("refs/tags/{}", record.tag)).ok()?;
    let hash = |b: &[u8]| Oid::hash_object(ObjectType::Blob, b).map(|o| o.to_string()).unwrap_or_default();
    Some(format!("{tag}:{}:{}", hash(record_bytes), report_bytes.map(hash).unwrap_or_default()))
}

/// A decision's verdict: how it was sealed, or everything wrong with it.
pub type Verdict = std::result::Result<Sealed, Vec<String>>;

impl crate::service::Service {
    /// The verdict on each of `records`, judged once and remembered by what it depends on.
    pub fn judge_decisions(&self, records: &[&GateRecord]) -> HashMap<crate::id::Id, Verdict> {
        let mut verdicts = HashMap::new();
        if records.is_empty() {
            return verdicts;
        }
        let repo = match self.ledger.repo() {
            Ok(repo) => repo,
            Err(e) => {
                for r in records {
                    verdicts.insert(r.id, Err(vec![e.message.clone()]));
                }
                return verdicts;
            }
        };
        let cache_path = self.ledger.root().join(VERDICTS);
        let mut cache: BTreeMap<String, String> = crate::ledger::codec::read_bytes_optional(&cache_path)
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let mut trust = Trust::new(&repo, self.ledger.git_dir());
        let mut learned = false;
        let dir = self.ledger.root().join("gates");
        for record in records {
            // Unreadable bytes verify as nothing: the decision fails, never passes unread.
            let record_bytes =
                crate::ledger::codec::read_bytes(&dir.join(format!("{}.toml", record.id))).unwrap_or_default();
            let report_bytes = crate::ledger::codec::read_bytes(&dir.join(format!("{}.md", record.id))).ok();
            let key = verdict_key(&repo, record, &record_bytes, report_bytes.as_deref());
            let verdict = match key.as_ref().and_then(|k| cache.get(k)) {
                Some(v) if v == "unsigned" => Ok(Sealed::Unsigned),
                Some(v) => Ok(Sealed::Signed(v.clone())),
                None => {
                    let verdict = trust.judge(record, &record_bytes, report_bytes.as_deref());
                    if let (Ok(sealed), Some(key)) = (&verdict, &key) {
                        let text = match sealed {
                            Sealed::Signed(who) => who.clone(),
                            Sealed::Unsigned => "unsigned".into(),
                        };
                        cache.insert(key.clone(), text);
                        learned = true;
                    }
                    verdict
                }
            };
            verdicts.insert(record.id, verdict);
        }
        if learned && let Ok(bytes) = serde_json::to_vec(&cache) {
            let _ = crate::ledger::atomic::write_with(&cache_path, &bytes, false);
        }
        verdicts
    }

    /// The latest decision of each milestone that does not count, with why: not verified, or
    /// unsigned where unsigned decisions do not open gates. What the queue keeps shut.
    pub fn untrusted_decisions(&self, records: &[GateRecord]) -> HashMap<crate::id::Id, String> {
        let latest: Vec<&GateRecord> = crate::gate::state::latest(records).into_values().collect();
        self.judge_decisions(&latest)
            .into_iter()
            .filter_map(|(id, verdict)| match verdict {
                Ok(Sealed::Signed(_)) => None,
                Ok(Sealed::Unsigned) if self.config.gates.allow_unsigned => None,
                Ok(Sealed::Unsigned) => Some((
                    id,
                    "unsigned, so pending a signature (decide again with a signing key, or allow unsigned decisions with [gates] allow_unsigned = true)".to_string(),
                )),
                Err(problems) => Some((id, format!("not verified: {}", problems.join("; ")))),
            })
            .collect()
    }
}
