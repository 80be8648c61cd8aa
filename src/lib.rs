//! tprov: converge Token of Trust's Node.js fleet over SSH, reading Ansible's files with
//! Ansible's meaning.

pub mod cli;
mod commands;
mod connect;
mod context;
mod dns;
mod error;
mod inventory;
pub mod lab;
mod output;
mod playbook;
mod report;
mod run;
mod schema;
mod settings;
mod source;
mod tasks;
mod template;
pub mod transport;
mod value;
mod vars;
mod yaml;

use cli::{Cli, Command};
use output::{Color, Printer};

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> u8 {
    use std::io::IsTerminal;
    let color = if std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        Color::Always
    } else {
        Color::Never
    };
    let printer = Printer::new(color, false);
    let result = settings::Settings::load().and_then(|settings| match &cli.command {
        Command::Inventory(cmd) => commands::inventory::run(cmd, &settings, &printer),
        Command::Validate(cmd) => commands::validate::run(cmd, &settings, &printer),
        Command::Eval(cmd) => commands::eval::run(cmd, &settings, &printer),
        Command::Lab(cmd) => commands::lab::run(cmd, &printer),
        Command::Run(cmd) => commands::run::run(cmd, &settings, &printer),
        Command::Apply(cmd) => commands::apply::run(cmd, false, &settings, &printer),
        Command::Diff(cmd) => commands::apply::run(cmd, true, &settings, &printer),
        Command::Dns(cmd) => commands::dns::run(cmd, &settings, &printer),
        Command::DrainWait(cmd) => commands::drain_wait::run(cmd, &settings, &printer),
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            printer.err(&format!("{e}\n"));
            e.code()
        }
    }
}
