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
    file_common: false,
    traits: &[],
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

/// What to wait for: a command per try that exits 0 when the wait is over (for a
/// search, one that prints the file), and the timeout message.
struct Wait {
    check: String,
    search: Option<fancy_regex::Regex>,
    timeout_msg: String,
}

fn wait(a: &crate::value::Map) -> Result<Option<Wait>, TaskError> {
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
    if !["started", "present", "stopped", "absent", "drained"].contains(&state.as_str()) {
        return Err(fail(format!(
            "value of state must be one of: absent, drained, present, started, stopped, got: {state}"
        )));
    }
    let search = regex
        .as_ref()
        .map(|r| {
            fancy_regex::Regex::new(&format!("(?m){r}"))
                .map_err(|e| fail(format!("Invalid regular expression: {e}")))
        })
        .transpose()?;
    if port.is_some() && path.is_some() {
        return Err(fail(
            "port and path parameter can not both be passed to wait_for",
        ));
    }
    if path.is_some() && state == "stopped" {
        return Err(fail(
            "state=stopped should only be used for checking a port in the wait_for module",
        ));
    }
    if path.is_some() && state == "drained" {
        return Err(fail(
            "state=drained should only be used for checking a port in the wait_for module",
        ));
    }
    if a.get("exclude_hosts")
        .is_some_and(|v| !matches!(v, Value::Null))
        && state != "drained"
    {
        return Err(fail("exclude_hosts should only be with state=drained"));
    }
    let reach = |p: u16| {
        format!(
            "timeout {connect} bash -c 'exec 3<>\"/dev/tcp/$0/$1\"' {} {p} 2>/dev/null",
            sh_quote(&host)
        )
    };
    let w = |check: String, search, timeout_msg: String| {
        Some(Wait {
            check,
            search,
            timeout_msg,
        })
    };
    Ok(match (state.as_str(), port, path) {
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
            w(
                format!("n=$({cmd} | wc -l); [ \"$n\" -eq 0 ]"),
                None,
                format!("Timeout when waiting for {host}:{p} to drain"),
            )
        }
        ("drained", None, None) => None,
        (_, None, None) => None,
        ("stopped" | "absent", Some(p), None) => w(
            format!("! {{ {}; }}", reach(p)),
            None,
            format!("Timeout when waiting for {host}:{p} to stop."),
        ),
        ("absent", None, Some(f)) => w(
            format!("! test -e {}", sh_quote(&f)),
            None,
            format!("Timeout when waiting for {f} to be absent."),
        ),
        (_, Some(p), None) => w(
            reach(p),
            None,
            format!("Timeout when waiting for {host}:{p}"),
        ),
        (_, None, Some(f)) => match (search, regex) {
            (Some(re), Some(r)) => w(
                format!("cat -- {} 2>/dev/null", sh_quote(&f)),
                Some(re),
                format!("Timeout when waiting for search string {r} in {f}"),
            ),
            _ => w(
                format!("test -e {}", sh_quote(&f)),
                None,
                format!("Timeout when waiting for file {f}"),
            ),
        },
        (_, Some(_), Some(_)) => None,
    })
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
    let wait = wait(a)?;
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
    let elapsed = || Value::Int(i64::try_from(start.elapsed().as_secs()).unwrap_or(i64::MAX));
    let mut groups = Vec::new();
    let mut named = crate::value::Map::default();
    match &wait {
        None => tokio::time::sleep(Duration::from_secs_f64(timeout)).await,
        Some(w) => {
            // As Ansible: the timeout counts from the start, the delay included.
            let deadline = start + Duration::from_secs_f64(timeout);
            loop {
                let res = cx.probe.exec(&w.check, cx.read_become()).await?;
                if res.ok() {
                    let Some(re) = &w.search else { break };
                    let text = String::from_utf8_lossy(&res.stdout);
                    if let Ok(Some(c)) = re.captures(text.as_ref()) {
                        groups = c
                            .iter()
                            .skip(1)
                            .map(|g| g.map_or(Value::Null, |m| Value::str(m.as_str())))
                            .collect();
                        for name in re.capture_names().flatten() {
                            if let Some(m) = c.name(name) {
                                named.insert(name.to_string(), Value::str(m.as_str()));
                            }
                        }
                        break;
                    }
                }
                if Instant::now() >= deadline {
                    out.failed = true;
                    out.msg =
                        Some(args::str_opt(a, &["msg"]).unwrap_or_else(|| w.timeout_msg.clone()));
                    out.result.insert("elapsed".into(), elapsed());
                    return Ok(out);
                }
                tokio::time::sleep(Duration::from_secs_f64(pause)).await;
            }
        }
    }
    let state = args::str_opt(a, &["state"]).unwrap_or_else(|| "started".into());
    let port = args::str_opt(a, &["port"])
        .and_then(|p| p.parse::<i64>().ok())
        .map_or(Value::Null, Value::Int);
    out.result.insert("state".into(), Value::str(state));
    out.result.insert("port".into(), port);
    for key in ["search_regex", "path"] {
        out.result
            .insert(key.into(), a.get(key).cloned().unwrap_or(Value::Null));
    }
    out.result
        .insert("match_groups".into(), Value::List(groups));
    out.result
        .insert("match_groupdict".into(), Value::Map(named));
    out.result.insert("elapsed".into(), elapsed());
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
    fn waits() {
        let check = |pairs: &[(&str, &str)]| wait(&map(pairs)).unwrap().map(|w| w.check);
        let c = check(&[("port", "443"), ("state", "drained")]).unwrap();
        assert!(c.contains("sport = :443"), "{c}");
        assert!(
            c.contains("state established") && c.contains("state fin-wait-1"),
            "{c}"
        );
        let w = wait(&map(&[("path", "/tmp/x"), ("search_regex", "ready")]))
            .unwrap()
            .unwrap();
        assert_eq!(w.check, "cat -- /tmp/x 2>/dev/null");
        assert!(w.search.is_some());
        assert!(wait(&map(&[("port", "x")])).is_err());
        assert_eq!(ss_state("SYN_SENT"), "syn-sent");
        assert_eq!(ss_state("FIN_WAIT2"), "fin-wait-2");
        assert!(wait(&map(&[("port", "1"), ("state", "up")])).is_err());
        let c = check(&[("port", "80"), ("state", "stopped")]).unwrap();
        assert!(c.starts_with("! {"), "{c}");
        assert!(check(&[("timeout", "2")]).is_none());
        assert!(wait(&map(&[("path", "/x"), ("port", "1")])).is_err());
    }
}
