//! `tempfile`: a new temporary file or directory on the host (`mktemp`), named as
//! Ansible names them (`ansible.` prefix). Always changed; check mode creates nothing.

use super::{Cx, Outcome, Spec, TaskError, args, fail};
use crate::transport::sh_quote;
use crate::value::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    name: "tempfile",
    file_common: false,
    traits: &[],
    args: &["state", "path", "prefix", "suffix"],
    required: &[],
};

pub(super) async fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let state = args::str_opt(a, &["state"]).unwrap_or_else(|| "file".into());
    if state != "file" && state != "directory" {
        return Err(fail(format!(
            "value of state must be one of: directory, file, got: {state}"
        )));
    }
    let prefix = args::str_opt(a, &["prefix"]).unwrap_or_else(|| "ansible.".into());
    let suffix = args::str_opt(a, &["suffix"]).unwrap_or_default();
    let dir = args::str_opt(a, &["path"]);
    let Some(w) = &cx.writer else {
        return Ok(Outcome::changed(true).with("state", Value::str(state)));
    };
    let template = format!("{prefix}XXXXXXXXXX{suffix}");
    let script = format!(
        "mktemp {d} {tdir} {t}",
        d = if state == "directory" { "-d" } else { "" },
        tdir = match &dir {
            Some(d) => format!("--tmpdir={}", sh_quote(d)),
            None => "--tmpdir".into(),
        },
        t = sh_quote(&template),
    );
    let out = super::remote::change(w, &script).await?;
    let path = out.stdout_str().trim().to_string();
    let mut o = Outcome::changed(true).with("path", Value::str(path.clone()));
    for (k, v) in super::remote::final_keys(cx, &path, &state, false, None).await? {
        o.result.insert(k, v);
    }
    Ok(o)
}
