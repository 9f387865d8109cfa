//! Signing as git itself would: `gpg.format` (openpgp or ssh), `user.signingkey`, `gpg.program`,
//! `gpg.ssh.program`. The signer never prompts: it runs detached from any terminal (`setsid`), with
//! no stdin but the payload, under a timeout, so a missing passphrase or a hung agent fails fast with
//! the reason instead of hanging a hook or an agent.
//!
//! fs: `ssh-keygen -Y sign` reads the payload and key from files and writes the signature beside
//! them, in a temporary folder of its own.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};

/// How git is configured to sign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signer {
    /// `gpg.format = openpgp` (the default): `gpg -bsau KEY`.
    OpenPgp {
        /// `gpg.program`.
        program: String,
        /// `user.signingkey` (a key id or fingerprint; empty means gpg's default key).
        key: String,
    },
    /// `gpg.format = ssh`: `ssh-keygen -Y sign -n git -f KEY`.
    Ssh {
        /// `gpg.ssh.program`.
        program: String,
        /// `user.signingkey`: a key file, or `key::<public key>` for a key held by ssh-agent.
        key: String,
    },
}

impl Signer {
    /// Reads the signing configuration of `repo`; `None` when no signing key is configured.
    pub fn from_git(repo: &git2::Repository) -> Result<Option<Signer>> {
        let config = repo.config().map_err(|e| git_error("reading git config", e))?;
        let get = |name: &str| config.get_string(name).ok().filter(|v| !v.is_empty());
        let format = get("gpg.format").unwrap_or_else(|| "openpgp".into());
        let key = get("user.signingkey");
        match format.as_str() {
            "ssh" => Ok(key.map(|key| Signer::Ssh {
                program: get("gpg.ssh.program").unwrap_or_else(|| "ssh-keygen".into()),
                key: expand_home(&key),
            })),
            "openpgp" => {
                Ok(key.map(|key| Signer::OpenPgp { program: get("gpg.program").unwrap_or_else(|| "gpg".into()), key }))
            }
            other => {
                Err(Error::new(ErrorKind::Validation, format!("gpg.format = {other} is not supported by abathur"))
                    .hint("use gpg.format = ssh or openpgp"))
            }
        }
    }

    /// An armored detached signature of `payload`.
    pub fn sign(&self, payload: &[u8]) -> Result<String> {
        let timeout = std::env::var("ABATHUR_SIGN_TIMEOUT_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_millis)
            .unwrap_or(Duration::from_secs(10));
        match self {
            Signer::OpenPgp { program, key } => {
                let mut args: Vec<String> =
                    vec!["--batch".into(), "--no-tty".into(), "--status-fd=2".into(), "-bsa".into()];
                if !key.is_empty() {
                    args.extend(["-u".into(), key.clone()]);
                }
                let out = run_detached(program, &args, Some(payload), timeout)?;
                String::from_utf8(out).map_err(|_| {
                    Error::new(ErrorKind::Internal, format!("{program} wrote a signature that is not text"))
                })
            }
            Signer::Ssh { program, key } => {
                let dir = tempfile::tempdir().map_err(|e| Error::io(std::path::Path::new("<tempdir>"), e))?;
                let file = dir.path().join("payload");
                std::fs::write(&file, payload).map_err(|e| Error::io(&file, e))?;
                let mut args: Vec<String> = vec!["-Y".into(), "sign".into(), "-n".into(), "git".into()];
                if let Some(public) = key.strip_prefix("key::") {
                    let pubfile = dir.path().join("key.pub");
                    std::fs::write(&pubfile, public).map_err(|e| Error::io(&pubfile, e))?;
                    args.extend(["-U".into(), "-f".into(), pubfile.display().to_string()]);
                } else {
                    args.extend(["-f".into(), key.clone()]);
                }
                args.push(file.display().to_string());
                run_detached(program, &args, None, timeout)?;
                let sig = file.with_extension("sig");
                std::fs::read_to_string(&sig).map_err(|e| Error::io(&sig, e))
            }
        }
    }
}

/// Runs a signer with no terminal, its stdin fed `input` (or empty), killed after `timeout`.
fn run_detached(program: &str, args: &[String], input: Option<&[u8]>, timeout: Duration) -> Result<Vec<u8>> {
    // `setsid` (util-linux) starts it in a new session without a controlling terminal, so nothing can
    // open /dev/tty to ask for a passphrase.
    let mut cmd = if on_path("setsid").is_some() {
        let mut c = Command::new("setsid");
        c.arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("SSH_ASKPASS_REQUIRE", "never")
        .env_remove("GPG_TTY")
        .env_remove("DISPLAY");
    let mut child = cmd.spawn().map_err(|e| {
        Error::new(ErrorKind::Validation, format!("cannot run the signer `{program}`: {e}"))
            .hint("install it, or point gpg.program / gpg.ssh.program at it")
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.unwrap_or_default());
    }
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| Error::io(std::path::Path::new(program), e))? {
            break status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::new(
                ErrorKind::Validation,
                format!("the signer `{program}` did not finish within {timeout:?}; it may be waiting for a passphrase or an agent"),
            )
            .hint("use a key without a passphrase, load it into ssh-agent / gpg-agent first, or record the decision with --unsigned"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let out = out_reader.join().unwrap_or_default();
    let err = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).trim().to_string();
    if !status.success() {
        let detail = err.lines().filter(|l| !l.starts_with("[GNUPG:]")).collect::<Vec<_>>().join("; ");
        return Err(Error::new(ErrorKind::Validation, format!("the signer `{program}` failed: {detail}"))
            .hint("check user.signingkey and gpg.format in git config, or record the decision with --unsigned"));
    }
    Ok(out)
}

/// The first `program` on `PATH`, as a shell would find it.
pub fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(program)).find(|p| p.is_file())
}

fn expand_home(path: &str) -> String {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest).display().to_string(),
        _ => path.to_string(),
    }
}

/// A git2 failure, with what abathur was doing.
pub fn git_error(doing: &str, e: git2::Error) -> Error {
    Error::new(ErrorKind::Internal, format!("git: {doing}: {}", e.message()))
}
