use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(tprov::run(tprov::cli::Cli::parse()))
}
