//! `slurp`: a file's bytes from the host, base64-encoded, as Ansible returns them.

use super::{Cx, Outcome, Spec, TaskError, args};
use crate::value::{Map, Value};
use base64::Engine as _;

pub(super) const SPEC: Spec = Spec {
    name: "slurp",
    file_common: false,
    traits: &[],
    args: &["src", "path"],
    required: &["src|path"],
};

pub(super) async fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let src = args::str_req(a, &["src", "path"], "slurp")?;
    let st = super::remote::stat(cx, &src, true, false).await?;
    // Ansible's messages, and the exception its [ERROR] line adds to them.
    let failed = |msg: String, errno: u8, why: &str| {
        let detail = format!(
            "{msg}: [Errno {errno}] {why}: {}",
            Value::str(src.clone()).py_repr()
        );
        Ok(Outcome::failure(msg).with(super::ERROR_DETAIL, Value::str(detail)))
    };
    if !st.exists {
        return failed(
            format!("File not found: {src}"),
            2,
            "No such file or directory",
        );
    }
    if st.kind == super::remote::Kind::Dir {
        return failed(
            format!("Source is a directory and must be a file: {src}"),
            21,
            "Is a directory",
        );
    }
    let Some(data) = super::remote::read(cx, &src).await? else {
        return failed(
            format!("File not found: {src}"),
            2,
            "No such file or directory",
        );
    };
    Ok(Outcome::default()
        .with(
            "content",
            Value::str(base64::engine::general_purpose::STANDARD.encode(data)),
        )
        .with("encoding", Value::str("base64"))
        .with("source", Value::str(src)))
}
