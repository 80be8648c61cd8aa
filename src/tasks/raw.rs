//! `raw`: a command line run by the host's shell as it is, Ansible's way to reach a host
//! without Python. Always changed; check mode skips it (it cannot say what it would do).

use super::{Cx, Outcome, Spec, TaskError, Trait, args};
use crate::value::Map;

pub(super) const SPEC: Spec = Spec {
    name: "raw",
    file_common: false,
    traits: &[Trait::ActionPlugin],
    args: &["_raw_params", "executable"],
    required: &["_raw_params"],
};

pub(super) async fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let cmd = args::str_req(a, &["_raw_params"], "raw")?;
    let Some(w) = &cx.writer else {
        return Ok(Outcome {
            skipped: true,
            msg: Some("check mode not supported for raw".into()),
            ..Default::default()
        });
    };
    let script = match args::str_opt(a, &["executable"]) {
        Some(exe) => format!("{exe} -c {}", crate::transport::sh_quote(&cmd)),
        None => cmd,
    };
    let out = w
        .exec(&format!("{}{script}", cx.env_prefix()))
        .await
        .map_err(TaskError::from)?;
    Ok(super::remote::ran(&out))
}
