use clap::Parser;
use std::process::ExitCode;

// mimalloc: tprov allocates many small strings (vars of thousands of hosts); it is
// markedly faster here than glibc's malloc (see docs/bench-inventory.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    ExitCode::from(tprov::run(tprov::cli::Cli::parse()))
}
