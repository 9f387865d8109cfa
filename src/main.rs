//! The `abathur` binary: everything lives in the library; see `abathur::cli`. It links all but the
//! search engine and the MCP server, and runs `abathur-full` for those (see `cli::engine`).
//!
//! It keeps the system allocator: for these short commands mimalloc's first allocation costs more
//! (it zeroes a 2 MB huge page) than it saves; 64 one-shot claims at once ran about 10 % faster
//! without it (docs/benchmarks.md). `abathur-full`, which serves long sessions, uses mimalloc.

fn main() -> std::process::ExitCode {
    abathur::cli::main_without_engine()
}
