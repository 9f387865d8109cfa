//! One offline search over memory, decisions, validation reports and tasks.
//!
//! Files are found and read by [`source`], cut into heading-aware chunks by [`chunk`], kept in a derived
//! index under `.abathur/cache/search/` by [`index`] (tantivy for words, usearch for vectors), and
//! ranked by [`query`], which fuses BM25 with cosine similarity of local embeddings made by [`model`].
//! Deleting the cache loses nothing: the next search or `abathur index` rebuilds it. See docs/search.md.

pub mod api;
pub mod chunk;
pub mod index;
pub mod int8;
pub mod model;
pub mod query;
pub mod source;
