//! nginx's upstream moved between two versions by renaming UNIX sockets (seed 003) on a
//! lab host, real nginx and Node, under load through nginx: 0 failed requests, the old
//! version's slow requests finished before it stops; a new version that does not answer
//! is refused before anything is switched.

use crate::load::{Load, get, requests};
use crate::support::{Lab, fixture, stdout};
use std::time::Duration;

fn recap(out: &str, field: &str) -> u32 {
    crate::support::recap_field(out, "sandbox4", field)
}

#[test]
fn socket_switch_moves_nginx_to_the_new_version_under_load_with_zero_failed_requests() {
    let lab = Lab::up("socket", &["sandbox4"]);
    let web = format!("{}:80", lab.host("sandbox4").addr);
    let server = std::fs::read_to_string(fixture("socket/server.js")).expect("server.js");
    let nginx = std::fs::read_to_string(fixture("socket/nginx.conf"))
        .expect("nginx.conf")
        .replace("LISTEN", &web);
    let setup = format!(
        "set -e; mkdir -p /srv/sock; cat > /srv/sock/server.js <<'JS'\n{server}JS\n\
         cat > /srv/sock/nginx.conf <<'CONF'\n{nginx}CONF\n nginx -c /srv/sock/nginx.conf"
    );
    let out = lab.sh("sandbox4", &setup);
    assert!(out.ok(), "setup: {}{}", out.stdout_str(), out.stderr_str());
    let switch = |extra: &[&str]| {
        let mut c = lab.tprov("apply");
        c.arg(fixture("socket/switch.yml"));
        for e in extra {
            c.args(["-e", e]);
        }
        stdout(&c.output().expect("tprov runs"))
    };
    let sock = lab.root("sandbox4").join("srv/sock");

    // The first version takes the live name (there was none).
    let out = switch(&["version=v1"]);
    assert_eq!(recap(&out, "failed"), 0, "{out}");
    assert!(get(&web).contains("\"version\":\"v1\""), "{out}");
    let again = switch(&["version=v1"]);
    assert_eq!(recap(&again, "changed"), 0, "{again}");

    // v2 under load, with slow requests in flight on v1 when it is told to stop.
    let load = Load::start(&web);
    std::thread::sleep(Duration::from_millis(500));
    let slow = {
        let web = web.clone();
        std::thread::spawn(move || requests(&web, "/slow", 1))
    };
    std::thread::sleep(Duration::from_millis(200));
    let out = switch(&["version=v2", "previous=v1"]);
    assert_eq!(recap(&out, "failed"), 0, "{out}");
    assert_eq!(recap(&out, "changed"), 2, "{out}");
    let slow = slow.join().expect("slow request");
    assert!(
        matches!(slow.first(), Some(Some((200, b))) if b.contains("\"version\":\"v1\"")),
        "the request in flight on v1 finished there: {slow:?}"
    );
    assert!(get(&web).contains("\"version\":\"v2\""));
    // The host has its own PID namespace: ask it.
    let alive = lab.sh(
        "sandbox4",
        "kill -0 \"$(cat /srv/sock/v1.pid)\" 2>/dev/null",
    );
    assert!(!alive.ok(), "v1 stopped");
    assert!(!sock.join("old.sock").exists() && !sock.join("app-v2.sock").exists());

    // A version that answers 500 is refused, and v2 keeps serving.
    let out = switch(&["version=bad3", "previous=v2"]);
    assert_eq!(recap(&out, "failed"), 1, "{out}");
    assert!(out.contains("nothing was switched"), "{out}");
    std::thread::sleep(Duration::from_millis(500));
    let (sent, failed, p99) = load.finish();
    let _ = std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("socket-load.txt"),
        format!("{sent} requests, {} failed, p99 {p99:?}\n", failed.len()),
    );
    assert!(sent > 50, "the load ran ({sent} requests)");
    assert!(
        failed.is_empty(),
        "{} of {sent} requests failed: {:?}",
        failed.len(),
        &failed[..failed.len().min(10)]
    );
    assert!(get(&web).contains("\"version\":\"v2\""));
    // --check --diff names the switch and makes none.
    let dry = stdout(
        &lab.tprov("diff")
            .arg(fixture("socket/switch.yml"))
            .args(["-e", "version=bad3", "-e", "previous=v2"])
            .output()
            .expect("runs"),
    );
    assert!(dry.contains("nothing was switched"), "{dry}");
}
