//! The `abathur-full` binary: every command in one process, the search engine and the MCP server
//! included. `abathur` runs it for those commands (see `abathur::cli::engine`); it serves the others
//! too, the same way.

// Indexing and a long MCP session allocate and free a lot; mimalloc reuses that memory instead of
// mapping fresh pages each time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    abathur::cli::main()
}
