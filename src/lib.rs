//! tprov: converge Token of Trust's Node.js fleet over SSH, reading Ansible's files with
//! Ansible's meaning.

mod aws;
pub mod cli;
mod commands;
mod connect;
mod context;
mod dns;
mod eip;
mod error;
mod inventory;
pub mod lab;
mod output;
mod playbook;
mod python;
mod report;
mod run;
mod schema;
mod settings;
mod source;
mod tasks;
mod template;
pub mod transport;
mod trust;
mod value;
mod vars;
mod vault;
mod yaml;

use cli::Cli;
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
    let result = settings::Settings::load().and_then(|settings| {
        let sources = settings.vault_sources(&cli.vault);
        let secrets = vault::load(&sources, &mut |w| printer.warn(&w))?;
        vault::install(secrets);
        commands::dispatch(&cli.command, &settings, &printer)
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            printer.err(&format!("{e}\n"));
            e.code()
        }
    }
}
