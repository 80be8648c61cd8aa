//! `script`: a controller-side script copied to the host and run there with its
//! arguments (the rest of the free-form line, read by the host's shell), then removed.
//! `creates`/`removes` skip it as with `command`; check mode skips it.

use super::{Cx, Outcome, Spec, TaskError, Trait, args, fail};
use crate::transport::sh_quote;
use crate::value::Map;

pub(super) const SPEC: Spec = Spec {
    name: "script",
    file_common: false,
    traits: &[Trait::ActionPlugin],
    args: &[
        "_raw_params",
        "cmd",
        "creates",
        "removes",
        "chdir",
        "executable",
        "decrypt",
    ],
    required: &["_raw_params|cmd"],
};

pub(super) async fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let line = args::str_req(a, &["_raw_params", "cmd"], "script")?;
    let line = line.trim();
    let (name, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let path = cx.find_file("files", name)?;
    for (key, want) in [("creates", true), ("removes", false)] {
        if let Some(p) = args::str_opt(a, &[key]) {
            let exists = cx
                .probe
                .exec(&format!("[ -e {} ]", sh_quote(&p)), cx.read_become())
                .await?
                .ok();
            if exists == want {
                let why = if want { "exists" } else { "does not exist" };
                return Ok(Outcome {
                    skipped: true,
                    msg: Some(format!("{p} {why}, matching {key} option")),
                    ..Outcome::default()
                });
            }
        }
    }
    let Some(w) = &cx.writer else {
        return Ok(Outcome {
            skipped: true,
            msg: Some("Check mode is not supported for this task.".into()),
            ..Default::default()
        });
    };
    let data =
        std::fs::read(&path).map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
    let run = match args::str_opt(a, &["executable"]) {
        Some(exe) => format!("{exe} \"$f\""),
        None => "\"$f\"".to_string(),
    };
    let chdir = args::str_opt(a, &["chdir"])
        .map(|d| format!("cd {} && ", sh_quote(&d)))
        .unwrap_or_default();
    let script = format!(
        "f=$(mktemp \"${{TMPDIR:-/tmp}}/.tprov-script.XXXXXXXX\") || exit 1; trap 'rm -f \"$f\"' EXIT; cat > \"$f\" && chmod 0700 \"$f\" || exit 1; {env}({chdir}{run} {rest} </dev/null)",
        env = cx.env_prefix(),
    );
    let out = w.exec_with_stdin(&script, Some(&data)).await?;
    Ok(super::remote::ran(&out))
}
