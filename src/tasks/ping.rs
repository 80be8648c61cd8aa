//! `ping`: the host answers; `data` comes back as `ping` (`crash` fails, as Ansible's
//! module raises on it).

use super::{Cx, Outcome, Spec, TaskError, args, fail};
use crate::value::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    name: "ping",
    file_common: false,
    traits: &[],
    args: &["data"],
    required: &[],
};

pub(super) async fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let data = args::str_opt(a, &["data"]).unwrap_or_else(|| "pong".into());
    if data == "crash" {
        return Err(fail("boom"));
    }
    super::remote::query(cx, "true", "reach the host").await?;
    Ok(Outcome::default().with("ping", Value::str(data)))
}
