//! The git operations abathur performs itself beyond committing the ledger (`ledger::history`):
//! signed annotated tags that plain `git verify-tag` accepts (see `sign`), commit messages, the
//! field-wise merge of ledger files, and reviews.

pub mod ledger_message;
pub mod merge;
pub mod review;
pub mod sign;

use crate::error::{Error, ErrorKind, Result};
use sign::{Signer, git_error};

/// The identity git would commit as (`user.name`, `user.email`).
pub fn identity(repo: &git2::Repository) -> Result<git2::Signature<'static>> {
    repo.signature().map_err(|_| {
        Error::new(ErrorKind::Validation, "git has no identity to commit as")
            .hint("set it: git config user.name \"Your Name\" && git config user.email you@example.com")
    })
}

/// The signer for a signed operation, or a clear error when none is configured.
pub fn signer(repo: &git2::Repository) -> Result<Signer> {
    Signer::from_git(repo)?.ok_or_else(|| {
        Error::new(ErrorKind::Validation, "no signing key is configured, so the decision cannot be signed")
            .hint("configure git signing (git config gpg.format ssh; git config user.signingkey ~/.ssh/id_ed25519), or pass --unsigned to record it marked as unsigned")
    })
}

/// Writes the annotated tag object `name` on `commit` with `message`, signed when asked; the ref
/// is made by whoever applies it (see `ledger::sealed`).
pub fn tag_object(
    repo: &git2::Repository,
    name: &str,
    oid: git2::Oid,
    message: &str,
    signer: Option<&Signer>,
) -> Result<git2::Oid> {
    let who = identity(repo)?;
    let when = who.when();
    let sign_char = if when.offset_minutes() < 0 { '-' } else { '+' };
    let offset = when.offset_minutes().abs();
    let tagger = format!(
        "{} <{}> {} {sign_char}{:02}{:02}",
        who.name().unwrap_or(""),
        who.email().unwrap_or(""),
        when.seconds(),
        offset / 60,
        offset % 60
    );
    let body = format!("object {oid}\ntype commit\ntag {name}\ntagger {tagger}\n\n{}\n", message.trim_end());
    let object = if let Some(signer) = signer {
        // A tag's signature is the armored block appended to the tag object, as git writes it.
        let signature = signer.sign(body.as_bytes())?;
        format!("{body}{signature}")
    } else {
        body
    };
    let odb = repo.odb().map_err(|e| git_error("opening the object database", e))?;
    odb.write(git2::ObjectType::Tag, object.as_bytes()).map_err(|e| git_error("writing the tag", e))
}
