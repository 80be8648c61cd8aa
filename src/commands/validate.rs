//! `tprov validate`: placeholder, filled in below.
use crate::cli::ValidateCmd;
use crate::error::Error;
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(_cmd: &ValidateCmd, _settings: &Settings, _printer: &Printer) -> Result<u8, Error> {
    Ok(0)
}
