//! `tprov eval`: render templates for one host, with the vars its tasks would see.

use super::{extra_vars, load_inventory, select_hosts, vars_query};
use crate::cli::EvalCmd;
use crate::context::Fleet;
use crate::error::Error;
use crate::output::Printer;
use crate::settings::Settings;
use crate::template::{engine, from_mj};
use crate::value::pyjson::{JsonStyle, dumps};
use crate::value::{Map, Value};
use std::sync::Arc;

pub(crate) fn run(cmd: &EvalCmd, settings: &Settings, printer: &Printer) -> Result<u8, Error> {
    let inv = load_inventory(&cmd.inv, settings, printer)?;
    let hosts = select_hosts(&inv, &cmd.host, None, printer)?;
    let [host] = hosts.as_slice() else {
        return Err(Error::Usage(format!(
            "'{}' selects {} hosts; name exactly one",
            cmd.host,
            hosts.len()
        )));
    };
    let q = vars_query(&inv, &cmd.inv);
    let extra = extra_vars(&cmd.inv)?;
    let fleet = Fleet::new(Arc::new(inv), q, extra);
    let scope = fleet.scope(*host)?;
    let mut failed = false;
    let mut answers = Map::default();
    let mut text = String::new();
    for t in &cmd.templates {
        let result = engine().render_native(t, &scope, None).and_then(|v| {
            from_mj(&v).map_err(|e| crate::template::TemplateError::new(e.to_string(), None))
        });
        let mut entry = Map::default();
        match result {
            Ok(v) => {
                text.push_str(&format!("{}\n", v.py_str()));
                entry.insert("value".into(), v);
            }
            Err(e) => {
                failed = true;
                text.push_str(&format!("error: {e}\n"));
                entry.insert("error".into(), Value::Str(e.to_string()));
            }
        }
        answers.insert(t.clone(), Value::Map(entry));
    }
    if cmd.json {
        printer.out(&format!(
            "{}\n",
            dumps(&Value::Map(answers), &JsonStyle::compact()).map_err(Error::Internal)?
        ));
    } else {
        printer.out(&text);
    }
    Ok(if failed {
        crate::error::exit::HOST_FAILED
    } else {
        0
    })
}
