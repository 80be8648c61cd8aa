//! `tprov drain-wait HOST [TIMEOUT] [THRESHOLD]`: seed 000's check-nginx-drain.sh. Over
//! one SSH connection, polls nginx's stub_status (the fleet's site serves it on a
//! local-only `/nginx_status`) until the requests in flight are at most THRESHOLD.
//!
//! In flight = Reading + Writing, less the status request itself. Idle keep-alive
//! connections (nginx's "Waiting") carry no request, so they are shown but not counted:
//! a drained server may keep them until the client or `keepalive_timeout` closes them.

use super::{become_args, extra_vars, load_inventory, runtime, select_hosts, vars_query};
use crate::cli::DrainWaitCmd;
use crate::connect::{become_for, target};
use crate::context::Fleet;
use crate::error::{Error, exit};
use crate::output::Printer;
use crate::settings::Settings;
use crate::transport::{Connection, sh_quote};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What stub_status says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Status {
    pub active: u64,
    pub reading: u64,
    pub writing: u64,
    pub waiting: u64,
}

impl Status {
    /// Requests being read or answered, not counting the status request itself.
    pub(crate) fn in_flight(&self) -> u64 {
        (self.reading + self.writing).saturating_sub(1)
    }
}

/// Parses stub_status's text.
pub(crate) fn parse(text: &str) -> Option<Status> {
    let num = |key: &str| {
        let at = text.find(key)? + key.len();
        text[at..].split_whitespace().next()?.parse::<u64>().ok()
    };
    Some(Status {
        active: num("Active connections:")?,
        reading: num("Reading:")?,
        writing: num("Writing:")?,
        waiting: num("Waiting:")?,
    })
}

/// The curl command that asks the host's nginx, from its `nginxListen` (a port, an
/// `address:port`, `unix:PATH`, with `ssl`) and the site's name.
pub(crate) fn status_command(listen: &str, server_name: Option<&str>) -> String {
    let first = listen.split_whitespace().next().unwrap_or("80");
    let scheme = if listen.split_whitespace().any(|w| w == "ssl") {
        "https"
    } else {
        "http"
    };
    let host = server_name.map_or(String::new(), |h| {
        format!(" -H {}", sh_quote(&format!("Host: {h}")))
    });
    let base = format!("curl -sS -k -m 5{host}");
    if let Some(path) = first.strip_prefix("unix:") {
        return format!(
            "{base} --unix-socket {} {scheme}://localhost/nginx_status",
            sh_quote(path)
        );
    }
    let (addr, port) = match first.rsplit_once(':') {
        Some((a, p)) => (a.trim_matches(['[', ']']).to_string(), p.to_string()),
        None => ("127.0.0.1".to_string(), first.to_string()),
    };
    let addr = if addr == "*" || addr == "0.0.0.0" || addr.is_empty() {
        "127.0.0.1".to_string()
    } else {
        addr
    };
    // The site allows 127.0.0.1 only: ask from it, whichever local address nginx uses.
    let iface = if addr.starts_with("127.") {
        " --interface 127.0.0.1"
    } else {
        ""
    };
    format!("{base}{iface} {scheme}://{addr}:{port}/nginx_status")
}

pub(crate) fn run(cmd: &DrainWaitCmd, settings: &Settings, printer: &Printer) -> Result<u8, Error> {
    let inv = load_inventory(&cmd.inv, settings, printer)?;
    let hosts = select_hosts(&inv, &cmd.host, None, printer)?;
    let [h] = hosts.as_slice() else {
        return Err(Error::Usage(format!(
            "{} selects {} hosts: name one",
            cmd.host,
            hosts.len()
        )));
    };
    let h = *h;
    let q = vars_query(&inv, &cmd.inv);
    let fleet = Fleet::new(Arc::new(inv), q, extra_vars(&cmd.inv)?);
    let name = fleet.inventory.host(h).name.clone();
    let scope = fleet.scope(h).map_err(|d| Error::User(vec![d]))?;
    let render = |t: &str| {
        crate::template::engine()
            .render_str(t, &scope, None)
            .ok()
            .filter(|s| !s.is_empty())
    };
    let listen = render("{{ nginxListen | default('80') }}").unwrap_or_else(|| "80".into());
    let server = render("{{ totService.hostname | default('') }}");
    let command = status_command(&listen, server.as_deref());
    let escalate = become_args(&cmd.connect)?;
    let t = target(&fleet, h, settings).map_err(Error::Usage)?;
    let b = become_for(&fleet, h, &escalate).map_err(Error::Usage)?;
    let rt = runtime()?;
    rt.block_on(async {
        let conn = Connection::open(&t)
            .await
            .map_err(|e| Error::Internal(format!("{name}: UNREACHABLE: {e}")))?;
        let start = Instant::now();
        let deadline = start + Duration::from_secs(cmd.timeout);
        let interval = Duration::from_secs_f64(cmd.interval.clamp(0.05, 60.0));
        let mut last: Option<Status> = None;
        let code = loop {
            let out = conn
                .exec(&command, None, b.as_ref(), Some(Duration::from_secs(10)))
                .await
                .map_err(|e| Error::Internal(format!("{name}: {e}")))?;
            let status = parse(&out.stdout_str()).ok_or_else(|| {
                Error::Internal(format!(
                    "{name}: no nginx stub_status from `{command}` (rc {}): {}{}",
                    out.rc(),
                    out.stdout_str().trim(),
                    out.stderr_str().trim()
                ))
            })?;
            let secs = start.elapsed().as_secs();
            if last != Some(status) {
                printer.out(&format!(
                    "{name}: {} in flight (reading {}, writing {} less this request; {} idle keep-alive not counted) at {secs} s\n",
                    status.in_flight(),
                    status.reading,
                    status.writing,
                    status.waiting
                ));
            }
            last = Some(status);
            if status.in_flight() <= cmd.threshold {
                printer.out(&format!("{name}: drained (threshold {}) after {secs} s\n", cmd.threshold));
                break exit::OK;
            }
            if Instant::now() + interval > deadline {
                printer.err(&format!(
                    "{name}: still {} requests in flight after {} s (threshold {})\n",
                    status.in_flight(),
                    cmd.timeout,
                    cmd.threshold
                ));
                break exit::ERROR;
            }
            tokio::time::sleep(interval).await;
        };
        conn.close().await;
        Ok(code)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stub_status_and_builds_the_url() {
        let s = parse("Active connections: 5 \nserver accepts handled requests\n 10 10 12 \nReading: 0 Writing: 3 Waiting: 2 \n").unwrap();
        assert_eq!((s.active, s.in_flight(), s.waiting), (5, 2, 2));
        assert_eq!(parse("<html>404</html>"), None);
        assert_eq!(
            status_command("80", None),
            "curl -sS -k -m 5 --interface 127.0.0.1 http://127.0.0.1:80/nginx_status"
        );
        assert_eq!(
            status_command("127.42.1.2:80", Some("sandbox3.tokenoftrust.com")),
            "curl -sS -k -m 5 -H 'Host: sandbox3.tokenoftrust.com' --interface 127.0.0.1 http://127.42.1.2:80/nginx_status"
        );
        assert!(
            status_command("unix:/run/nginx/tot.sock", None)
                .contains("--unix-socket /run/nginx/tot.sock http://localhost/nginx_status")
        );
        assert!(status_command("443 ssl", None).contains("https://127.0.0.1:443/"));
    }
}
