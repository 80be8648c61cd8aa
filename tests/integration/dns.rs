//! `tprov dns` against moto in server mode, standing in for Route53 (the emulator is
//! the only Route53 reachable here; what it accepts and Route53 rejects is checked by
//! tprov before sending, see src/dns.rs).

use crate::support::tprov;
use std::process::{Child, Command, Stdio};

pub(crate) struct Moto {
    child: Child,
    pub(crate) url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn moto() -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server runs (lab/install.sh installs moto[server])");
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let zone = Command::new("python3")
        .args(["-c", "import boto3,sys; boto3.client('route53', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='x').create_hosted_zone(Name='tokenoftrust.com', CallerReference='t')", &url])
        .status()
        .expect("python3 runs");
    assert!(zone.success(), "creating the hosted zone in moto");
    Moto { child, url }
}

pub(crate) fn dns(m: &Moto, args: &[&str]) -> (i32, String, String) {
    against_moto(m, "dns", args, &[])
}

/// `tprov SUB ARGS` against moto: its endpoint, test credentials and no profile, with
/// `env` besides; the exit code, stdout and stderr.
pub(crate) fn against_moto(
    m: &Moto,
    sub: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (i32, String, String) {
    let out = tprov()
        .arg(sub)
        .args(args)
        .env("AWS_ENDPOINT_URL", &m.url)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .envs(env.iter().copied())
        .output()
        .expect("tprov runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub(crate) fn weights(m: &Moto) -> Vec<(String, i64)> {
    let (rc, out, err) = dns(m, &["list", "sandbox.tokenoftrust.com", "--json"]);
    assert_eq!(rc, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    v.as_array()
        .expect("list")
        .iter()
        .map(|r| {
            (
                r["identifier"].as_str().unwrap_or_default().to_string(),
                r["weight"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

#[test]
fn dns_weights_with_the_two_active_rule_against_moto_route53_emulator() {
    let m = moto();
    const N: &str = "sandbox.tokenoftrust.com";
    for (host, ip) in [
        ("sandbox1", "10.0.0.1"),
        ("sandbox3.tokenoftrust.com", "10.0.0.3"),
        ("sandbox4", "10.0.0.4"),
    ] {
        let (rc, out, err) = dns(&m, &["add", N, host, "--address", ip]);
        assert_eq!(rc, 0, "{out}{err}");
        assert!(out.contains("INSYNC"), "{out}");
    }
    let full = vec![
        ("sandbox1".to_string(), 100),
        ("sandbox3".to_string(), 100),
        ("sandbox4".to_string(), 100),
    ];
    assert_eq!(weights(&m), full);
    // A dry run sends nothing.
    let (rc, out, _) = dns(&m, &["drain", N, "sandbox3", "--dry-run"]);
    assert_eq!(rc, 0);
    assert!(
        out.contains(
            "would send: UPSERT sandbox.tokenoftrust.com sandbox3 A 10.0.0.3 weight 100 -> 0 ttl 60"
        ),
        "{out}"
    );
    assert_eq!(weights(&m), full);
    // Drain one: two stay active.
    let (rc, _, err) = dns(&m, &["drain", N, "10.0.0.3"]);
    assert_eq!(rc, 0, "{err}");
    assert_eq!(weights(&m)[1], ("sandbox3".to_string(), 0));
    // A second drain would leave one: refused, nothing changed.
    let (rc, _, err) = dns(&m, &["drain", N, "sandbox4"]);
    assert_eq!(rc, 5);
    assert!(err.contains("at least 2 must stay"), "{err}");
    assert_eq!(weights(&m)[2], ("sandbox4".to_string(), 100));
    // Forced it may leave one, never none.
    assert_eq!(dns(&m, &["drain", N, "sandbox4", "--force"]).0, 0);
    let (rc, _, err) = dns(&m, &["drain", N, "sandbox1", "--force"]);
    assert_eq!(rc, 5);
    assert!(err.contains("not even --force"), "{err}");
    let (rc, _, err) = dns(&m, &["remove", N, "sandbox1", "--force"]);
    assert_eq!(rc, 5, "{err}");
    // Restore, and restoring again changes nothing.
    assert_eq!(dns(&m, &["restore", N, "sandbox3"]).0, 0);
    assert_eq!(dns(&m, &["restore", N, "sandbox4"]).0, 0);
    let (rc, out, _) = dns(&m, &["restore", N, "sandbox4"]);
    assert_eq!((rc, out.contains("nothing to change")), (0, true), "{out}");
    assert_eq!(weights(&m), full);
    // Remove a drained server's record; bad input fails before anything is sent.
    assert_eq!(dns(&m, &["drain", N, "sandbox4"]).0, 0);
    assert_eq!(dns(&m, &["remove", N, "sandbox4"]).0, 0);
    assert_eq!(weights(&m).len(), 2);
    let (rc, _, err) = dns(
        &m,
        &[
            "add",
            N,
            "sandbox5",
            "--address",
            "10.0.0.5",
            "--weight",
            "300",
        ],
    );
    assert_eq!(rc, 5);
    assert!(err.contains("0..255"), "{err}");
    let (rc, _, err) = dns(&m, &["drain", N, "sandbox9"]);
    assert_eq!(rc, 5);
    assert!(
        err.contains("no record with SetIdentifier sandbox9"),
        "{err}"
    );
    let (rc, _, err) = dns(&m, &["list", "sandbox.example.org"]);
    assert_ne!(rc, 0);
    assert!(
        err.contains("no Route53 hosted zone holds sandbox.example.org."),
        "{err}"
    );
}
