//! `uri`: an HTTP request made from the host (with its `curl`), with Ansible's result:
//! `status`, `url`, `msg`, the response headers as lower-case keys, `json` for a JSON
//! answer, `content` with `return_content`. A status outside `status_code` fails the
//! task (what health checks and `until:` loops rely on). Changes nothing; check mode
//! skips it, as Ansible does.

use super::{Cx, Outcome, Spec, TaskError, args, fail};
use crate::transport::sh_quote;
use crate::value::{Map, Value};
use base64::Engine as _;

pub(super) const SPEC: Spec = Spec {
    name: "uri",
    file_common: true,
    traits: &[],
    args: &[
        "url",
        "method",
        "body",
        "body_format",
        "headers",
        "status_code",
        "return_content",
        "timeout",
        "validate_certs",
        "follow_redirects",
        "url_username",
        "user",
        "url_password",
        "password",
        "force_basic_auth",
    ],
    required: &["url"],
};

/// The accepted statuses: an int, a list, or `200, 201`.
fn statuses(a: &Map) -> Result<Vec<i64>, TaskError> {
    let parse = |v: &Value| -> Result<i64, TaskError> {
        v.py_str()
            .trim()
            .parse()
            .map_err(|_| fail(format!("status_code: {} is not an int", v.py_str())))
    };
    match a.get("status_code") {
        None | Some(Value::Null) => Ok(vec![200]),
        Some(Value::List(l)) => l.iter().map(parse).collect(),
        Some(Value::Str(s)) => s.split(',').map(|p| parse(&Value::str(p.trim()))).collect(),
        Some(other) => Ok(vec![parse(other)?]),
    }
}

/// A request body and the content type it implies.
type Body = (Vec<u8>, Option<&'static str>);

/// The request body and the content type it implies.
fn body(a: &Map) -> Result<Option<Body>, TaskError> {
    let Some(b) = a.get("body").filter(|b| !matches!(b, Value::Null)) else {
        return Ok(None);
    };
    let format = args::str_opt(a, &["body_format"]).unwrap_or_else(|| "raw".into());
    Ok(Some(match format.as_str() {
        "json" => {
            let text = match b {
                Value::Str(s) => s.clone(),
                other => {
                    crate::value::pyjson::dumps(other, &crate::value::pyjson::JsonStyle::compact())
                        .map_err(fail)?
                }
            };
            (text.into_bytes(), Some("application/json"))
        }
        "form-urlencoded" => {
            let Value::Map(m) = b else {
                return Ok(Some((
                    b.py_str().into_bytes(),
                    Some("application/x-www-form-urlencoded"),
                )));
            };
            let enc = |s: &str| -> String {
                s.bytes()
                    .map(|c| match c {
                        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                            (c as char).to_string()
                        }
                        b' ' => "+".into(),
                        other => format!("%{other:02X}"),
                    })
                    .collect()
            };
            let text = m
                .iter()
                .map(|(k, v)| format!("{}={}", enc(k), enc(&v.py_str())))
                .collect::<Vec<_>>()
                .join("&");
            (text.into_bytes(), Some("application/x-www-form-urlencoded"))
        }
        "raw" => (b.py_str().into_bytes(), None),
        other => {
            return Err(fail(format!(
                "body_format {other} is not supported (raw, json, form-urlencoded)"
            )));
        }
    }))
}

pub(super) async fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let url = args::str_req(a, &["url"], "uri")?;
    let method = args::str_opt(a, &["method"])
        .unwrap_or_else(|| "GET".into())
        .to_uppercase();
    let wanted = statuses(a)?;
    let return_content = args::bool_opt(a, &["return_content"])?.unwrap_or(false);
    let body = body(a)?;
    let Some(w) = &cx.writer else {
        return Ok(Outcome {
            skipped: true,
            msg: Some("uri does not run in check mode".into()),
            ..Default::default()
        });
    };
    let timeout = args::str_opt(a, &["timeout"]).unwrap_or_else(|| "30".into());
    let timeout: u64 = timeout
        .parse()
        .map_err(|_| fail(format!("timeout {timeout:?} is not an int")))?;
    let mut curl = vec![
        "curl".to_string(),
        "-sS".into(),
        "-o".into(),
        "\"$b\"".into(),
        "-D".into(),
        "\"$h\"".into(),
        "-w".into(),
        "'%{http_code} %{url_effective}'".into(),
        "-X".into(),
        sh_quote(&method),
        "--max-time".into(),
        timeout.to_string(),
    ];
    if !args::bool_opt(a, &["validate_certs"])?.unwrap_or(true) {
        curl.push("-k".into());
    }
    let follow = args::str_opt(a, &["follow_redirects"]).unwrap_or_else(|| "safe".into());
    if matches!(follow.as_str(), "all" | "yes" | "urllib2")
        || follow == "safe" && matches!(method.as_str(), "GET" | "HEAD")
    {
        curl.push("-L".into());
    }
    if let Some(user) = args::str_opt(a, &["url_username", "user"]) {
        let password = args::str_opt(a, &["url_password", "password"]).unwrap_or_default();
        curl.push("-u".into());
        curl.push(sh_quote(&format!("{user}:{password}")));
    }
    let mut has_type = false;
    if let Some(Value::Map(h)) = a.get("headers") {
        for (k, v) in h {
            has_type |= k.eq_ignore_ascii_case("content-type");
            curl.push("-H".into());
            curl.push(sh_quote(&format!("{k}: {}", v.py_str())));
        }
    }
    let stdin = match &body {
        Some((data, ctype)) => {
            if let (Some(t), false) = (ctype, has_type) {
                curl.push("-H".into());
                curl.push(sh_quote(&format!("Content-Type: {t}")));
            }
            curl.push("--data-binary".into());
            curl.push("@-".into());
            Some(data.clone())
        }
        None => None,
    };
    curl.push("--".into());
    curl.push(sh_quote(&url));
    let script = format!(
        "b=$(mktemp) && h=$(mktemp) || exit 1; w=$({} 2>\"$b.err\"); rc=$?; printf '%s %s\\n' \"$rc\" \"$w\"; cat \"$b.err\"; echo; echo '::headers'; cat \"$h\"; echo '::body'; base64 -w0 \"$b\"; rm -f \"$b\" \"$h\" \"$b.err\"",
        curl.join(" ")
    );
    let started = std::time::Instant::now();
    let out = w.exec_with_stdin(&script, stdin.as_deref()).await?;
    let text = out.stdout_str();
    let (head, rest) = text.split_once("::headers\n").unwrap_or((&text, ""));
    let (headers_text, body_b64) = rest.split_once("::body\n").unwrap_or((rest, ""));
    let mut first = head.lines();
    let status_line = first.next().unwrap_or_default();
    let error: String = first.collect::<Vec<_>>().join(" ").trim().to_string();
    let mut parts = status_line.split_whitespace();
    let rc: i64 = parts.next().and_then(|r| r.parse().ok()).unwrap_or(-1);
    let code: i64 = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
    let effective = parts.next().unwrap_or(&url).to_string();
    let content = base64::engine::general_purpose::STANDARD
        .decode(body_b64.trim())
        .unwrap_or_default();
    let mut r = Map::default();
    // The last header block (after redirects), keys as Ansible shows them.
    let block = headers_text
        .split("\r\n\r\n")
        .filter(|b| !b.trim().is_empty())
        .last()
        .unwrap_or_default();
    for line in block.lines().skip(1) {
        if let Some((k, v)) = line.split_once(':') {
            r.insert(
                k.trim().to_lowercase().replace('-', "_"),
                Value::str(v.trim().to_string()),
            );
        }
    }
    let status = if rc == 0 && code > 0 { code } else { -1 };
    r.insert("status".into(), Value::Int(status));
    r.insert("url".into(), Value::str(effective.clone()));
    r.insert("redirected".into(), Value::Bool(effective != url));
    r.insert(
        "elapsed".into(),
        Value::Int(started.elapsed().as_secs() as i64),
    );
    r.insert("changed".into(), Value::Bool(false));
    let ctype = r
        .get("content_type")
        .map(Value::py_str)
        .unwrap_or_default()
        .to_lowercase();
    let text = String::from_utf8_lossy(&content).into_owned();
    if ctype.contains("json")
        && let Ok(j) = serde_json::from_str::<serde_json::Value>(&text)
    {
        r.insert("json".into(), crate::template::json_to_value(&j));
    }
    // The reason phrase of the final status line (`HTTP/1.1 404 File not found`).
    let reason = block
        .lines()
        .next()
        .and_then(|l| l.trim().splitn(3, ' ').nth(2))
        .unwrap_or_default()
        .to_string();
    let msg = if status == -1 {
        format!("Request failed: {error}")
    } else if status >= 400 {
        format!("HTTP Error {status}: {reason}")
    } else {
        let len = r
            .get("content_length")
            .map_or_else(|| "unknown".into(), Value::py_str);
        format!("OK ({len} bytes)")
    };
    if return_content || !wanted.contains(&status) {
        r.insert("content".into(), Value::str(text));
    }
    r.shift_remove("changed");
    let mut out = Outcome {
        result: r,
        ..Default::default()
    };
    if wanted.contains(&status) {
        out.msg = Some(msg);
    } else {
        // A failure that still carries the status and headers (for `until:` and rescue).
        let list = Value::List(wanted.iter().map(|s| Value::Int(*s)).collect()).py_repr();
        out.failed = true;
        out.msg = Some(format!("Status code was {status} and not {list}: {msg}"));
    }
    Ok(out)
}
