//! `stat`: a path's state, as Ansible's `stat` result keys.

use super::remote::{Kind, stat};
use super::{Cx, Outcome, Spec, TaskError, args};
use crate::value::{Map, Value};

pub const SPEC: Spec = Spec {
    name: "stat",
    args: &[
        "path",
        "dest",
        "name",
        "follow",
        "get_checksum",
        "checksum_algorithm",
        "get_mime",
        "get_attributes",
        "get_md5",
    ],
    required: &["path|dest|name"],
};

pub async fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let path = args::str_req(a, &["path", "dest", "name"], "stat")?;
    let follow = args::bool_opt(a, &["follow"])?.unwrap_or(false);
    let checksum = args::bool_opt(a, &["get_checksum"])?.unwrap_or(true);
    let st = stat(cx, &path, follow, checksum).await?;
    let mut m = Map::default();
    m.insert("exists".into(), Value::Bool(st.exists));
    if st.exists {
        m.insert("path".into(), Value::str(path.clone()));
        m.insert("mode".into(), Value::str(format!("{:04o}", st.mode)));
        m.insert("isdir".into(), Value::Bool(st.kind == Kind::Dir));
        m.insert("isreg".into(), Value::Bool(st.kind == Kind::File));
        m.insert("islnk".into(), Value::Bool(st.kind == Kind::Link));
        m.insert("uid".into(), Value::Int(i64::from(st.uid)));
        m.insert("gid".into(), Value::Int(i64::from(st.gid)));
        m.insert("pw_name".into(), Value::str(st.owner.clone()));
        m.insert("gr_name".into(), Value::str(st.group.clone()));
        m.insert("size".into(), Value::Int(st.size as i64));
        if let Some(t) = &st.link_target {
            m.insert("lnk_source".into(), Value::str(t.clone()));
            m.insert("lnk_target".into(), Value::str(t.clone()));
        }
        if let Some(s) = &st.sha1 {
            m.insert("checksum".into(), Value::str(s.clone()));
        }
    }
    Ok(Outcome::default().with("stat", Value::Map(m)))
}
