//! The `weft` binary.

fn main() -> std::process::ExitCode {
    weft_host::cli::main()
}
