//! `wait_for`: waits on the host until a port answers or is closed, a path exists (and
//! holds a pattern) or is gone, or a port has no connections left (`drained`, what a
//! rolling deploy waits for before stopping a server). The controller polls with one
//! short command per try over the open connection; nothing changes, so it never reports
//! changed. Check mode skips it, as Ansible does.

use super::{Cx, Outcome, Spec, TaskError, args, fail};
use crate::transport::sh_quote;
use crate::value::Value;
use std::time::{Duration, Instant};

pub(super) const SPEC: Spec = Spec {
    name: "wait_for",
    args: &[
        "host",
        "port",
        "path",
        "state",
        "timeout",
        "delay",
        "sleep",
        "connect_timeout",
        "search_regex",
        "exclude_hosts",
        "active_connection_states",
        "msg",
    ],
    required: &[],
};

/// What one try asks the host: a command that exits 0 when the wait is over.
fn probe(a: &crate::value::Map) -> Result<(String, String), TaskError> {
    let state = args::str_opt(a, &["state"]).unwrap_or_else(|| "started".into());
    let host = args::str_opt(a, &["host"]).unwrap_or_else(|| "127.0.0.1".into());
    let port = args::str_opt(a, &["port"])
        .map(|p| {
            p.parse::<u16>()
                .map_err(|_| fail(format!("wait_for: port {p:?} is not a port number")))
        })
        .transpose()?;
    let connect = args::str_opt(a, &["connect_timeout"]).unwrap_or_else(|| "5".into());
    let connect: u64 = connect
        .parse()
        .map_err(|_| fail(format!("connect_timeout {connect:?} is not an int")))?;
    let path = args::str_opt(a, &["path"]);
    let regex = args::str_opt(a, &["search_regex"]);
    let reach = |p: u16| {
        format!(
            "timeout {connect} bash -c 'exec 3<>\"/dev/tcp/$0/$1\"' {} {p} 2>/dev/null",
            sh_quote(&host)
        )
    };
    match (state.as_str(), port, path) {
        ("started" | "present", Some(p), None) => Ok((reach(p), format!("port {p}"))),
        ("stopped" | "absent", Some(p), None) => {
            Ok((format!("! {{ {}; }}", reach(p)), format!("port {p}")))
        }
        ("drained", Some(p), None) => {
            let states = args::list_opt(a, &["active_connection_states"]).unwrap_or_else(|| {
                [
                    "ESTABLISHED",
                    "FIN_WAIT1",
                    "FIN_WAIT2",
                    "SYN_RECV",
                    "LAST_ACK",
                    "CLOSING",
                ]
                .iter()
                .map(std::string::ToString::to_string)
                .collect()
            });
            let filter: Vec<String> = states
                .iter()
                .map(|s| format!("state {}", ss_state(s)))
                .collect();
            let exclude = args::list_opt(a, &["exclude_hosts"]).unwrap_or_default();
            let mut cmd = format!("ss -Htn {} '( sport = :{p} )'", filter.join(" "));
            for h in &exclude {
                cmd.push_str(&format!(" | grep -vF -- {}", sh_quote(&format!(" {h}:"))));
            }
            Ok((
                format!("n=$({cmd} | wc -l); [ \"$n\" -eq 0 ]"),
                format!("connections on port {p} to drain"),
            ))
        }
        ("started" | "present", None, Some(f)) => match regex {
            Some(r) => Ok((
                format!("grep -Eq -- {} {} 2>/dev/null", sh_quote(&r), sh_quote(&f)),
                format!("{r} in {f}"),
            )),
            None => Ok((format!("test -e {}", sh_quote(&f)), f)),
        },
        ("stopped" | "absent", None, Some(f)) => Ok((format!("! test -e {}", sh_quote(&f)), f)),
        (s, None, None) if ["started", "present", "stopped", "absent", "drained"].contains(&s) => {
            Ok((String::new(), "the delay".into()))
        }
        (s, Some(_), Some(_)) if !s.is_empty() => {
            Err(fail("wait_for: port and path are exclusive"))
        }
        (other, _, _) => Err(fail(format!(
            "value of state must be one of: absent, drained, present, started, stopped, got: {other}"
        ))),
    }
}

/// Ansible's TCP state names as `ss` spells them: `FIN_WAIT1` is `fin-wait-1`.
fn ss_state(s: &str) -> String {
    let mut out = s.to_lowercase().replace('_', "-");
    if out.ends_with(|c: char| c.is_ascii_digit()) {
        let digit = out.split_off(out.len() - 1);
        out = format!("{out}-{digit}");
    }
    out
}

fn seconds(a: &crate::value::Map, key: &str, default: f64) -> Result<f64, TaskError> {
    match args::str_opt(a, &[key]) {
        Some(s) => s
            .parse::<f64>()
            .map(|f| f.max(0.0))
            .map_err(|_| fail(format!("wait_for: {key} {s:?} is not a number"))),
        None => Ok(default),
    }
}

pub(super) async fn run(a: &crate::value::Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let (check, what) = probe(a)?;
    let mut out = Outcome::default();
    if cx.check() {
        out.skipped = true;
        out.msg = Some("wait_for does not run in check mode".into());
        return Ok(out);
    }
    let timeout = seconds(a, "timeout", 300.0)?;
    let delay = seconds(a, "delay", 0.0)?;
    let pause = seconds(a, "sleep", 1.0)?.max(0.05);
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(delay)).await;
    if !check.is_empty() {
        let deadline = start + Duration::from_secs_f64(delay + timeout);
        loop {
            if cx.probe.exec(&check, cx.read_become()).await?.ok() {
                break;
            }
            if Instant::now() >= deadline {
                let msg = args::str_opt(a, &["msg"])
                    .unwrap_or_else(|| format!("Timeout when waiting for {what}"));
                return Err(fail(msg));
            }
            tokio::time::sleep(Duration::from_secs_f64(pause)).await;
        }
    }
    out.result.insert(
        "elapsed".into(),
        Value::Int(start.elapsed().as_secs() as i64),
    );
    for key in ["port", "path", "state", "search_regex"] {
        if let Some(v) = a.get(key) {
            out.result.insert(key.into(), v.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> crate::value::Map {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), Value::str(*v)))
            .collect()
    }

    #[test]
    fn probes() {
        let (c, _) = probe(&map(&[("port", "443"), ("state", "drained")])).unwrap();
        assert!(c.contains("sport = :443"), "{c}");
        assert!(
            c.contains("state established") && c.contains("state fin-wait-1"),
            "{c}"
        );
        let (c, _) = probe(&map(&[("path", "/tmp/x"), ("search_regex", "ready")])).unwrap();
        assert_eq!(c, "grep -Eq -- ready /tmp/x 2>/dev/null");
        assert!(probe(&map(&[("port", "x")])).is_err());
        assert_eq!(ss_state("SYN_SENT"), "syn-sent");
        assert_eq!(ss_state("FIN_WAIT2"), "fin-wait-2");
        assert!(probe(&map(&[("port", "1"), ("state", "up")])).is_err());
        let (c, _) = probe(&map(&[("port", "80"), ("state", "stopped")])).unwrap();
        assert!(c.starts_with("! {"), "{c}");
    }
}
