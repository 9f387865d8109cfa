//! The `abathur` binary: everything lives in the library; see `abathur::cli`.

fn main() -> std::process::ExitCode {
    abathur::cli::main()
}
