//! `search` and `index` as `Service` methods: catching up, the two retrievers, and their fusion.
//!
//! A search first compares the ledger with the summary of what the index holds (folder times, and
//! the hand-written files one by one) while the model loads on another thread; only when something
//! changed does it read the rest, take the index lock and catch up. Then BM25 and the vector index each propose candidates, every candidate gets both scores
//! (the cosine of a text-only candidate is computed from its stored vector), and [`fuse`] ranks them.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tantivy::collector::{DocSetCollector, TopDocs};
use tantivy::query::{BooleanQuery, Occur, Query, QueryParser, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{DocAddress, Searcher, TantivyDocument, Term};

use crate::error::{Error, ErrorKind, Result};
use crate::id::Id;
use crate::search::api::*;
use crate::search::index::{CatchUpReport, Generation, IndexDir, VectorSource};
use crate::search::model::{self, Embedder};
use crate::search::source::{self, Kind};
use crate::service::Service;

/// Candidates each retriever proposes.
const CANDIDATES: usize = 100;
/// The most missing chunks a search embeds before answering (what an agent just wrote); more are
/// left to `abathur index` and the MCP server's background embedding, so a search never waits long.
pub const SEARCH_EMBED_LIMIT: usize = 32;
/// Longest query.
const MAX_QUERY_CHARS: usize = 1000;
/// How long a search waits for another process's catch-up before answering from the last index.
const LOCK_WAIT: Duration = Duration::from_secs(2);
/// How long a search waits when there is no complete index yet to answer from: the process holding
/// the lock is building the first one, so waiting for it is the only honest answer.
const FIRST_BUILD_WAIT: Duration = Duration::from_secs(600);

/// The fusion of word evidence and meaning into one rank score in 0..1.
///
/// Word evidence is `coverage`: the IDF-weighted share of the query's words that the chunk contains
/// (1.0 when it has every word, rare words counting most). Unlike BM25 normalised by the best score of
/// the query, coverage keeps its meaning across queries: a paraphrase whose best text hit shares only
/// "how" and "the" with the query gets little word credit. Meaning is the cosine similarity, rescaled so
/// that [`COS_FLOOR`] (unrelated text) is 0 and [`COS_CEIL`] (a near paraphrase) is 1. BM25 still orders
/// the text-mode results and selects text candidates. See docs/search.md for the measurements.
pub fn fuse(coverage: f32, cosine: Option<f32>) -> f32 {
    let s = cosine.map_or(0.0, |c| ((c - COS_FLOOR) / (COS_CEIL - COS_FLOOR)).clamp(0.0, 1.0));
    TEXT_WEIGHT * coverage + (1.0 - TEXT_WEIGHT) * s
}

/// Weight of word coverage in [`fuse`].
pub const TEXT_WEIGHT: f32 = 0.4;
/// Cosine similarity of unrelated texts under all-MiniLM-L6-v2.
pub const COS_FLOOR: f32 = 0.15;
/// Cosine similarity of a close paraphrase.
pub const COS_CEIL: f32 = 0.75;

/// What a process keeps of the engine between searches (held by `Service::engine_cache`).
#[derive(Default)]
pub(crate) struct EngineCache {
    /// The index, open: kept by long-lived processes only, since a one-shot search ends anyway.
    index: std::sync::Mutex<Option<OpenIndex>>,
    /// The embedding model once loaded, so that the MCP server loads it once.
    embedder: std::sync::Mutex<Option<Embedder>>,
}

/// An index opened for searching, kept by long-lived processes between searches.
pub(crate) struct OpenIndex {
    /// Which generation and state version it is (see [`IndexDir::current_stamp`]).
    stamp: Option<String>,
    generation: Generation,
    reader: tantivy::IndexReader,
    /// The vector file, mapped on the first semantic or hybrid search (a text search never needs it).
    vectors: std::cell::OnceCell<Option<usearch::Index>>,
}

impl std::fmt::Debug for OpenIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenIndex").field("stamp", &self.stamp).finish()
    }
}

impl OpenIndex {
    fn open(generation: Generation, stamp: Option<String>) -> Result<OpenIndex> {
        let reader = generation
            .tantivy()
            .reader_builder()
            .reload_policy(tantivy::ReloadPolicy::Manual)
            .try_into()
            .map_err(|e: tantivy::TantivyError| internal(e))?;
        Ok(OpenIndex { stamp, generation, reader, vectors: std::cell::OnceCell::new() })
    }

    /// The vector index, mapped read-only the first time it is asked for; `None` without vectors.
    fn vectors(&self) -> Result<Option<&usearch::Index>> {
        if self.vectors.get().is_none() {
            let mapped = self.generation.vectors_view()?;
            let _ = self.vectors.set(mapped);
        }
        Ok(self.vectors.get().and_then(Option::as_ref))
    }
}

/// The embedding model: already loaded, or loading on another thread.
struct ModelLoad {
    ready: Option<Embedder>,
    loading: Option<std::thread::JoinHandle<Result<Embedder>>>,
    semantic_only: bool,
}

impl ModelLoad {
    /// Waits for the loader, if any; a failure becomes a notice.
    fn wait(&mut self, notices: &mut Vec<String>) {
        if let Some(handle) = self.loading.take() {
            match handle.join().unwrap_or_else(|_| Err(Error::new(ErrorKind::Internal, "model loader panicked"))) {
                Ok(e) => self.ready = Some(e),
                Err(e) if self.semantic_only => notices.push(format!("semantic search failed: {}", e.message)),
                Err(e) => notices.push(format!("semantic search is off: {}; searching text only", e.message)),
            }
        }
    }

    fn join(mut self, notices: &mut Vec<String>) -> Option<Embedder> {
        self.wait(notices);
        self.ready
    }
}

struct Candidate {
    address: DocAddress,
    text: Option<f32>,
    cosine: Option<f32>,
    coverage: f32,
    /// Stored fields, read once when first needed.
    doc: Option<TantivyDocument>,
}

impl Candidate {
    fn doc(&mut self, searcher: &Searcher) -> Result<&TantivyDocument> {
        if self.doc.is_none() {
            self.doc = Some(searcher.doc(self.address).map_err(internal)?);
        }
        Ok(self.doc.as_ref().expect("just read"))
    }
}

impl Service {
    /// `search`: ranked hits over memory, decisions, reports and tasks.
    pub fn search(&self, req: SearchRequest) -> Result<SearchReply> {
        let query = req.query.trim().to_string();
        if query.is_empty() {
            return Err(Error::invalid("query", "is empty"));
        }
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(Error::invalid("query", format!("at most {MAX_QUERY_CHARS} characters")));
        }
        let limit = req.limit.unwrap_or(10);
        if !(1..=100).contains(&limit) {
            return Err(Error::invalid("limit", format!("{limit} is not between 1 and 100")));
        }
        let namespace = match req.namespace.as_deref() {
            Some(ns) => Some(crate::memory::entry::normalize_namespace(ns)?),
            None => None,
        };
        let requested = req.mode.unwrap_or_default();
        let mut notices = Vec::new();
        let installed = match requested {
            Mode::Text => None,
            _ => match model::locate(&self.model_home, &self.config.search.model) {
                Ok(installed) => Some(installed),
                Err(e) if requested == Mode::Semantic => return Err(e),
                Err(e) => {
                    notices.push(format!(
                        "semantic search is off: {}; searching text only ({})",
                        e.message,
                        e.hints.first().map(String::as_str).unwrap_or("")
                    ));
                    None
                }
            },
        };
        // The model loads while the index catches up, unless this process already has it.
        let cache: &EngineCache = self.engine_cache();
        let mut model_slot = cache.embedder.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let cached = installed
            .as_ref()
            .is_some_and(|m| model_slot.as_ref().is_some_and(|e| e.installed().vector_id() == m.vector_id()));
        let mut model = ModelLoad {
            ready: if cached { model_slot.take() } else { None },
            loading: if cached {
                None
            } else {
                installed.clone().map(|m| std::thread::spawn(move || Embedder::load(&m)))
            },
            semantic_only: requested == Mode::Semantic,
        };
        let vector_id = installed.as_ref().map(|m| m.vector_id());
        let mut index_slot = cache.index.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (open, stale) = self.current_index(index_slot.take(), vector_id.as_deref(), &mut model, &mut notices)?;
        let embedder = model.join(&mut notices);
        let (chunks_total, chunks_without_vectors) = open.generation.chunk_counts();
        if embedder.is_some() && chunks_without_vectors > 0 {
            notices.push(format!(
                "{chunks_without_vectors} of {chunks_total} chunks are not embedded yet, so only text search finds them; `abathur index` embeds them (the MCP server does so in the background)"
            ));
        }
        let mode = match (requested, &embedder) {
            (Mode::Hybrid, None) => Mode::Text,
            (Mode::Semantic, None) => {
                return Err(Error::new(ErrorKind::Internal, notices.pop().unwrap_or_else(|| "no model".into())));
            }
            (m, _) => m,
        };
        let filters =
            Filters { kinds: req.kinds.clone(), namespace, milestone: req.milestone.clone(), status: req.status };
        let mut embedder = embedder;
        let words = if req.syntax { query.clone() } else { as_words(&query) };
        let hits = self.rank(&open, &query, &words, mode, embedder.as_mut(), &filters, limit);
        if embedder.is_some() {
            *model_slot = embedder;
        }
        if self.long_lived {
            *index_slot = Some(open);
        }
        let hits = hits?;
        Ok(SearchReply { mode, hits, notices, index: IndexInfo { chunks_total, chunks_without_vectors, stale } })
    }

    /// The index to answer from, caught up with the files: the one this process already has open when
    /// nothing changed, else the live generation after a catch-up under the lock (or, when another
    /// process holds the lock for long, the last complete one: `stale`).
    fn current_index(
        &self,
        cached: Option<OpenIndex>,
        vector_id: Option<&str>,
        model: &mut ModelLoad,
        notices: &mut Vec<String>,
    ) -> Result<(OpenIndex, bool)> {
        let dir = IndexDir::of(&self.ledger);
        let live = dir.current_stamp();
        let up_to_date = |g: &Generation| -> Result<bool> {
            Ok(!wants_vectors(g, vector_id) && source::unchanged(&self.ledger, &g.known_files())?)
        };
        let mut generation = match cached {
            Some(open) if live.is_some() && live == open.stamp => {
                if up_to_date(&open.generation)? {
                    return Ok((open, false));
                }
                Some(open.generation)
            }
            _ => match dir.open_current() {
                Ok(g) if up_to_date(&g)? => return Ok((OpenIndex::open(g, live)?, false)),
                Ok(g) => Some(g),
                Err(_) => None,
            },
        };
        // Something changed: comparing with a scan needs the whole state (a damaged one is rebuilt).
        if generation.as_mut().is_some_and(|g| g.load_all().is_err()) {
            generation = None;
        }
        let scan = source::scan(&self.ledger, generation.as_ref().map(|g| g.known_files()).as_ref())?;
        let mut stale = false;
        let files_behind = generation.as_ref().is_none_or(|g| g.is_behind(&scan, None));
        if files_behind || generation.as_ref().is_some_and(|g| wants_vectors(g, vector_id)) {
            // A few vectors are not worth waiting for: whoever holds the lock is making them.
            let wait = match (&generation, files_behind) {
                (None, _) => FIRST_BUILD_WAIT,
                (Some(_), true) => LOCK_WAIT,
                (Some(_), false) => Duration::ZERO,
            };
            match dir.lock(wait)? {
                Some(lock) => {
                    let (mut g, _) = dir.open_or_rebuild(&lock)?;
                    if vector_id.is_some_and(|id| g.is_behind(&scan, Some(id))) {
                        model.wait(notices);
                    }
                    let source = model.ready.as_mut().map(|e| e as &mut dyn VectorSource);
                    let report = g.catch_up(&self.ledger, &scan, source, SEARCH_EMBED_LIMIT, false)?;
                    notices.extend(report.problems.iter().map(|p| format!("not searchable: {p}")));
                    generation = Some(g);
                }
                None if !files_behind => {}
                None if generation.is_some() => {
                    stale = true;
                    notices.push(
                        "another process is updating the search index; this answer comes from the last complete index"
                            .into(),
                    );
                }
                None => {
                    return Err(Error::new(
                        ErrorKind::Busy,
                        "another process has been building the first search index for 10 minutes",
                    )
                    .hint("wait for `abathur index` to finish, then search again"));
                }
            }
        }
        let generation = generation.expect("opened or built above");
        Ok((OpenIndex::open(generation, dir.current_stamp())?, stale))
    }

    /// `index`: catches the search index up with every file, embedding everything missing.
    pub fn index(&self, req: IndexRequest, show_progress: bool) -> Result<IndexReply> {
        let dir = IndexDir::of(&self.ledger);
        let mut notices = Vec::new();
        let mut embedder = if req.text_only {
            None
        } else {
            match model::locate(&self.model_home, &self.config.search.model).and_then(|m| Embedder::load(&m)) {
                Ok(e) => Some(e),
                Err(e) => {
                    notices.push(format!("no vectors made: {} ({})", e.message, e.hints.join("; ")));
                    None
                }
            }
        };
        let lock = dir.lock(Duration::from_secs(600))?.ok_or_else(|| {
            Error::new(ErrorKind::Busy, "another process held the search index lock for 10 minutes").hint("retry later")
        })?;
        let (mut generation, rebuilt) =
            if req.rebuild { (dir.create_generation()?, true) } else { dir.open_or_rebuild(&lock)? };
        let scan = source::scan(&self.ledger, None)?;
        let source = embedder.as_mut().map(|e| e as &mut dyn VectorSource);
        let mut report = generation.catch_up(&self.ledger, &scan, source, usize::MAX, show_progress)?;
        report.rebuilt = rebuilt;
        Ok(IndexReply { report, model: generation.vector_id().map(str::to_string), notices })
    }

    /// Catches the search index up and embeds every missing chunk, unless another process holds the
    /// index lock or nothing is missing: the MCP server runs it in the background, so agents' searches
    /// never wait for embedding. `None` when there was nothing to do (or no model to do it with).
    pub fn index_in_background(&self) -> Result<Option<CatchUpReport>> {
        let Ok(installed) = model::locate(&self.model_home, &self.config.search.model) else { return Ok(None) };
        let vector_id = installed.vector_id();
        let dir = IndexDir::of(&self.ledger);
        if let Ok(g) = dir.open_current() {
            let vectors_done = g.vector_id() == Some(vector_id.as_str()) && g.chunk_counts().1 == 0;
            if vectors_done && source::unchanged(&self.ledger, &g.known_files())? {
                return Ok(None);
            }
        }
        let Some(lock) = dir.lock(Duration::ZERO)? else { return Ok(None) };
        let (mut generation, _) = dir.open_or_rebuild(&lock)?;
        let scan = source::scan(&self.ledger, None)?;
        if !generation.is_behind(&scan, Some(&vector_id)) {
            return Ok(None);
        }
        let mut embedder = Embedder::load(&installed)?;
        generation.catch_up(&self.ledger, &scan, Some(&mut embedder), usize::MAX, false).map(Some)
    }

    /// Ranks the index for `query` (what is embedded), matching `words` (what the text index parses).
    #[allow(clippy::too_many_arguments)]
    fn rank(
        &self,
        open: &OpenIndex,
        query: &str,
        words: &str,
        mode: Mode,
        embedder: Option<&mut Embedder>,
        filters: &Filters,
        limit: usize,
    ) -> Result<Vec<Hit>> {
        let generation = &open.generation;
        let f = generation.fields;
        let index = generation.tantivy();
        let searcher = open.reader.searcher();
        let filter = filters.query(&f);
        let mut candidates: HashMap<DocAddress, Candidate> = HashMap::new();
        let mut parser = QueryParser::for_index(index, vec![f.title, f.heading, f.body]);
        parser.set_field_boost(f.title, 1.5);
        let (text_query, _) = parser.parse_query_lenient(words);
        if mode != Mode::Semantic {
            let q: Box<dyn Query> = match &filter {
                Some(filter) => Box::new(BooleanQuery::new(vec![
                    (Occur::Must, text_query.box_clone()),
                    (Occur::Must, filter.box_clone()),
                ])),
                None => text_query.box_clone(),
            };
            for (score, address) in
                searcher.search(&q, &TopDocs::with_limit(CANDIDATES).order_by_score()).map_err(internal)?
            {
                candidates
                    .insert(address, Candidate { address, text: Some(score), cosine: None, coverage: 0.0, doc: None });
            }
        }
        let vectors = match (mode, embedder) {
            (Mode::Text, _) | (_, None) => None,
            (_, Some(embedder)) if generation.vector_id() == Some(embedder.installed().vector_id().as_str()) => {
                match open.vectors()? {
                    Some(vectors) => Some((vectors, embedder.embed(&[query])?.pop().unwrap_or_default())),
                    None => None,
                }
            }
            _ => None,
        };
        if let Some((vectors, query_vector)) = &vectors {
            let allowed = match &filter {
                Some(filter) => Some(allowed_hashes(&searcher, filter.as_ref(), f.hash)?),
                None => None,
            };
            let matches = match &allowed {
                Some(allowed) => vectors.filtered_search(query_vector, CANDIDATES, |key| allowed.contains(&key)),
                None => vectors.search(query_vector, CANDIDATES),
            }
            .map_err(|e| Error::new(ErrorKind::Internal, format!("vector search: {e}")))?;
            for (key, distance) in matches.keys.iter().zip(&matches.distances) {
                let term = TermQuery::new(Term::from_field_u64(f.hash, *key), IndexRecordOption::Basic);
                let q: Box<dyn Query> = match &filter {
                    Some(filter) => Box::new(BooleanQuery::new(vec![
                        (Occur::Must, Box::new(term)),
                        (Occur::Must, filter.box_clone()),
                    ])),
                    None => Box::new(term),
                };
                for (_, address) in searcher.search(&q, &TopDocs::with_limit(8).order_by_score()).map_err(internal)? {
                    let entry = candidates.entry(address).or_insert(Candidate {
                        address,
                        text: None,
                        cosine: None,
                        coverage: 0.0,
                        doc: None,
                    });
                    entry.cosine = Some(1.0 - distance);
                }
            }
            // Text candidates the vector index did not propose still have a vector: score it.
            let mut buffer = vec![0.0_f32; vectors.dimensions()];
            let mut hashes = HashColumn::new(&searcher, f.hash);
            for candidate in candidates.values_mut().filter(|c| c.cosine.is_none()) {
                let hash = hashes.get(candidate.address)?.unwrap_or(0);
                if vectors.get(hash, &mut buffer).unwrap_or(0) > 0 {
                    candidate.cosine = Some(buffer.iter().zip(query_vector).map(|(a, b)| a * b).sum());
                }
            }
        }
        if mode == Mode::Hybrid {
            let weights = query_term_weights(index, &searcher, f.body, query)?;
            let total: f32 = weights.values().sum();
            let addresses: Vec<DocAddress> = candidates.keys().copied().collect();
            let got = weight_present(&searcher, [f.title, f.heading, f.body], &weights, &addresses)?;
            for (address, got) in addresses.iter().zip(got) {
                let candidate = candidates.get_mut(address).expect("a candidate's own address");
                candidate.coverage = if total > 0.0 { got / total } else { 0.0 };
            }
        }
        let score = |c: &Candidate| match mode {
            Mode::Text => c.text.unwrap_or(0.0),
            Mode::Semantic => c.cosine.unwrap_or(-1.0),
            Mode::Hybrid => fuse(c.coverage, c.cosine),
        };
        let mut ranked: Vec<(f32, Candidate)> = candidates
            .into_values()
            .filter(|c| mode != Mode::Semantic || c.cosine.is_some())
            .map(|c| (score(&c), c))
            // A hybrid score of 0 means no word matched and the meaning is unrelated: not a hit.
            .filter(|(s, _)| mode != Mode::Hybrid || *s > 0.0)
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.address.cmp(&b.1.address)));
        let now = self.clock.now().millis();
        let mut view = None;
        let snippets = tantivy::snippet::SnippetGenerator::create(&searcher, &*text_query, f.body).ok();
        let mut seen_paths = HashSet::new();
        let mut hits = Vec::new();
        for (score, mut candidate) in ranked {
            if hits.len() == limit {
                break;
            }
            let doc = candidate.doc(&searcher)?.clone();
            let get = |field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or("").to_string();
            let path = get(f.path);
            let expires = doc.get_first(f.expires).and_then(|v| v.as_i64()).unwrap_or(0);
            if (expires > 0 && expires <= now) || !seen_paths.insert(path.clone()) {
                continue;
            }
            let kind = Kind::parse(&get(f.kind)).unwrap_or(Kind::Decision);
            let task_id = get(f.task_id);
            let status = match Id::parse(&task_id) {
                Ok(id) if kind == Kind::Task => {
                    let view = match &mut view {
                        Some(view) => view,
                        None => view.insert(self.queue_view()?),
                    };
                    view.position(&id).map(|i| view.derived[i].status)
                }
                _ => None,
            };
            if filters.status.is_some() && status != filters.status {
                continue;
            }
            let id = match kind {
                Kind::Memory => get(f.title),
                Kind::Task => task_id,
                _ => format!(".abathur/{path}"),
            };
            let body = get(f.body);
            let snippet = snippets
                .as_ref()
                .map(|g| g.snippet(&body).fragment().to_string())
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| body.chars().take(160).collect());
            let milestone = Some(get(f.milestone)).filter(|m| !m.is_empty());
            hits.push(Hit {
                kind,
                id,
                path: format!(".abathur/{path}"),
                chunk: doc.get_first(f.chunk).and_then(|v| v.as_u64()).unwrap_or(0),
                score,
                text_score: candidate.text,
                semantic_score: candidate.cosine,
                title: get(f.title),
                heading: get(f.heading),
                snippet: snippet.split_whitespace().collect::<Vec<_>>().join(" "),
                milestone,
                status,
            });
        }
        Ok(hits)
    }
}

/// Whether a search should embed before answering: vectors of the installed model are missing, but
/// few enough ([`SEARCH_EMBED_LIMIT`]) not to make the search wait long.
fn wants_vectors(g: &Generation, vector_id: Option<&str>) -> bool {
    let Some(id) = vector_id else { return false };
    let (total, without) = g.chunk_counts();
    let missing = if g.vector_id() == Some(id) { without } else { total };
    (1..=SEARCH_EMBED_LIMIT).contains(&missing)
}

struct Filters {
    kinds: Vec<Kind>,
    namespace: Option<String>,
    milestone: Option<String>,
    status: Option<crate::queue::task::Status>,
}

impl Filters {
    /// The filters as one tantivy query, or `None` when nothing is filtered.
    fn query(&self, f: &crate::search::index::Fields) -> Option<Box<dyn Query>> {
        let term = |field, text: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(Term::from_field_text(field, text), IndexRecordOption::Basic))
        };
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut kinds = self.kinds.clone();
        if self.status.is_some() {
            kinds = vec![Kind::Task];
        }
        if !kinds.is_empty() {
            let any: Vec<(Occur, Box<dyn Query>)> =
                kinds.iter().map(|k| (Occur::Should, term(f.kind, k.as_str()))).collect();
            must.push((Occur::Must, Box::new(BooleanQuery::new(any))));
        }
        if let Some(ns) = &self.namespace {
            must.push((Occur::Must, term(f.ns_prefix, ns)));
        }
        if let Some(m) = &self.milestone {
            must.push((Occur::Must, term(f.milestone, m)));
        }
        (!must.is_empty()).then(|| Box::new(BooleanQuery::new(must)) as Box<dyn Query>)
    }
}

/// The query's distinct analysed terms, each weighted by its BM25 IDF in the body field; a word
/// the corpus never uses gets the highest weight (it is evidence the chunk lacks).
fn query_term_weights(
    index: &tantivy::Index,
    searcher: &Searcher,
    body: tantivy::schema::Field,
    query: &str,
) -> Result<HashMap<String, f32>> {
    let mut analyzer = index.tokenizer_for_field(body).map_err(internal)?;
    let docs = searcher.num_docs() as f32;
    let mut weights = HashMap::new();
    let mut stream = analyzer.token_stream(query);
    while let Some(token) = stream.next() {
        let df = searcher.doc_freq(&Term::from_field_text(body, &token.text)).map_err(internal)? as f32;
        let idf = (1.0 + (docs - df + 0.5) / (df + 0.5)).ln();
        weights.insert(token.text.clone(), idf);
    }
    Ok(weights)
}

/// Vector keys of every chunk that passes `filter`, read from the hash fast field.
fn allowed_hashes(searcher: &Searcher, filter: &dyn Query, hash: tantivy::schema::Field) -> Result<HashSet<u64>> {
    let docs = searcher.search(filter, &DocSetCollector).map_err(internal)?;
    let mut hashes = HashColumn::new(searcher, hash);
    let mut allowed = HashSet::with_capacity(docs.len());
    for address in docs {
        if let Some(value) = hashes.get(address)? {
            allowed.insert(value);
        }
    }
    Ok(allowed)
}

/// A chunk's vector key, read from the hash fast field: no stored document is decompressed.
struct HashColumn<'a> {
    searcher: &'a Searcher,
    name: String,
    segments: HashMap<u32, tantivy::columnar::Column<u64>>,
}

impl<'a> HashColumn<'a> {
    fn new(searcher: &'a Searcher, hash: tantivy::schema::Field) -> HashColumn<'a> {
        HashColumn { searcher, name: searcher.schema().get_field_name(hash).to_string(), segments: HashMap::new() }
    }

    fn get(&mut self, address: DocAddress) -> Result<Option<u64>> {
        let column = match self.segments.entry(address.segment_ord) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let reader = self.searcher.segment_reader(address.segment_ord);
                e.insert(reader.fast_fields().u64(&self.name).map_err(internal)?)
            }
        };
        Ok(column.first(address.doc_id))
    }
}

/// For each of `addresses`, the summed weight of the `weights` terms indexed in any of its `fields`.
/// It walks each term's postings with skips to just those documents, so coverage needs neither
/// their stored text nor a second pass of the analyzer over it.
fn weight_present(
    searcher: &Searcher,
    fields: [tantivy::schema::Field; 3],
    weights: &HashMap<String, f32>,
    addresses: &[DocAddress],
) -> Result<Vec<f32>> {
    use tantivy::DocSet;
    let mut by_segment: HashMap<u32, Vec<(tantivy::DocId, usize)>> = HashMap::new();
    for (i, address) in addresses.iter().enumerate() {
        by_segment.entry(address.segment_ord).or_default().push((address.doc_id, i));
    }
    let mut got = vec![0.0_f32; addresses.len()];
    let mut found = vec![false; addresses.len()];
    for (segment, mut docs) in by_segment {
        docs.sort_unstable();
        let reader = searcher.segment_reader(segment);
        let inverted: Vec<_> =
            fields.iter().map(|&f| reader.inverted_index(f)).collect::<tantivy::Result<_>>().map_err(internal)?;
        for (term, weight) in weights {
            // A term counts once per document, however many fields hold it.
            for (field, inverted) in fields.iter().zip(&inverted) {
                let Some(mut postings) = inverted
                    .read_postings(&Term::from_field_text(*field, term), IndexRecordOption::Basic)
                    .map_err(internal)?
                else {
                    continue;
                };
                for &(doc, i) in &docs {
                    if postings.doc() <= doc && postings.seek(doc) == doc {
                        found[i] = true;
                    }
                }
            }
            for &(_, i) in &docs {
                if std::mem::take(&mut found[i]) {
                    got[i] += weight;
                }
            }
        }
    }
    Ok(got)
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Internal, format!("search index: {e}"))
        .hint("run `abathur index --rebuild` (the index is derived; nothing is lost)")
}

/// A query as plain words for tantivy's parser: every character its query language gives a meaning
/// (`+ - : " ( ) [ ] ^ ~ * ! \\ /`...) becomes a space, and the text is lowercased so that AND, OR and
/// NOT are words too. The tokenizer splits on the same characters, so nothing searchable is lost.
pub fn as_words(query: &str) -> String {
    query
        .chars()
        .map(|c| if c.is_alphanumeric() || c == '_' || c.is_whitespace() { c } else { ' ' })
        .collect::<String>()
        .to_lowercase()
}
