//! `slurp`: a file's bytes from the host, base64-encoded, as Ansible returns them.

use super::{Cx, Outcome, Spec, TaskError, args, fail};
use crate::value::{Map, Value};
use base64::Engine as _;

pub(super) const SPEC: Spec = Spec {
    name: "slurp",
    file_common: false,
    args: &["src", "path"],
    required: &["src|path"],
};

pub(super) async fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let src = args::str_req(a, &["src", "path"], "slurp")?;
    let st = super::remote::stat(cx, &src, true, false).await?;
    if !st.exists {
        return Err(fail(format!("file not found: {src}")));
    }
    if st.kind == super::remote::Kind::Dir {
        return Err(fail(format!(
            "source is a directory and must be a file: {src}"
        )));
    }
    let data = super::remote::read(cx, &src)
        .await?
        .ok_or_else(|| fail(format!("file not found: {src}")))?;
    Ok(Outcome::default()
        .with(
            "content",
            Value::str(base64::engine::general_purpose::STANDARD.encode(data)),
        )
        .with("encoding", Value::str("base64"))
        .with("source", Value::str(src)))
}
