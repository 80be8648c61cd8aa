//! The real service end to end on a lab host: nvm (from a local stub repository: nvm
//! itself is on no registry here), real Node 20.17.0 from a nodejs.org-style mirror,
//! real pm2 from npm, real nginx; then blue/green deploys under load, and a rollback.

use crate::support::{Lab, Pebble, recap_field, root, service_port, stdout};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// The DNS names of a certificate, in its order.
fn sans(cert: &std::path::Path) -> Vec<String> {
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(cert)
        .output()
        .expect("openssl");
    String::from_utf8_lossy(&out.stdout)
        .split([',', '\n'])
        .filter_map(|p| p.trim().strip_prefix("DNS:").map(str::to_string))
        .collect()
}

/// One HTTP request through nginx; the body on 200.
fn get(addr: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: sandbox.tokenoftrust.com\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.starts_with("HTTP/1.1 200")
        .then(|| buf.split("\r\n\r\n").nth(1).unwrap_or_default().to_string())
}

/// The body at `addr` once it contains `needle`, or the last answer after ten seconds.
fn get_until(addr: &str, needle: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        last = get(addr).unwrap_or_default();
        if last.contains(needle) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    last
}

/// A private copy of the app repository inside the host (`/srv/tot-app.git`), and a work
/// tree beside it, so this test can push releases; made on the host itself (over SSH),
/// never by changing the lower layer of its overlay under it.
fn app_repo(lab: &Lab) {
    let out = lab.sh("sandbox3", &format!("git clone -q --no-local --bare {} /srv/tot-app.git && git clone -q --no-local /srv/tot-app.git /srv/work", tprov::lab::REPO));
    assert!(out.ok(), "{}", out.stderr_str());
}

fn release(lab: &Lab, version: &str) -> String {
    let pkg =
        format!("{{\"name\": \"tot-app\", \"version\": \"{version}\", \"main\": \"server.js\"}}");
    let script = format!(
        "cd /srv/work && printf '%s\\n' '{pkg}' > package.json && git -c user.email=t@t -c user.name=t commit -qam 'release {version}' && git push -q origin HEAD:main && git rev-parse HEAD"
    );
    let out = lab.sh("sandbox3", &script);
    assert!(out.ok(), "{}", out.stderr_str());
    out.stdout_str().trim().to_string()
}

#[test]
fn tot20_end_to_end_real_node_pm2_nginx_with_nvm_from_local_stub_repo() {
    let _port = service_port();
    let mut lab = Lab::up("deploy", &["sandbox3"]);
    tprov::lab::serve_node_mirror(&mut lab.lab).unwrap_or_else(|e| panic!("node mirror: {e}"));
    std::fs::write(&lab.inventory, tprov::lab::inventory_text(&lab.lab)).expect("inventory");
    let _ = std::os::unix::fs::symlink(root().join("group_vars"), lab.dir.join("group_vars"));
    app_repo(&lab);
    release(&lab, "1.0.1");
    // A local ACME server for certbot, on an address of this lab's own /24.
    let addr = lab.host("sandbox3").addr;
    let [a, b, c, _] = addr.octets();
    let pebble = Pebble::start(&lab.dir, std::net::Ipv4Addr::new(a, b, c, 250), addr);
    let ca = "/usr/local/share/lab-acme-ca.pem";
    let out = lab.sh(
        "sandbox3",
        &format!("cat > {ca} <<'PEM'\n{}PEM\n", pebble.ca_pem),
    );
    assert!(out.ok(), "{}", out.stderr_str());
    // Every run of this test's playbooks gets these extra vars.
    let vars_file = lab.dir.join("extra-vars.json");
    std::fs::write(
        &vars_file,
        format!(
            r#"{{"totRepo": "file:///srv/tot-app.git", "certbotRequest": true, "certbotServer": "{}", "certbotCaBundle": "{ca}"}}"#,
            pebble.url
        ),
    )
    .expect("extra vars");
    let repo_var = format!("@{}", vars_file.display());
    let apply = |book: &str, extra: &[&str]| {
        let mut c = lab.tprov("apply");
        c.arg(root().join("playbooks").join(book)).args([
            "-g",
            "tot20-sandbox",
            "--limit",
            "sandbox3",
            "-e",
            &repo_var,
        ]);
        for e in extra {
            c.args(["-e", e]);
        }
        stdout(&c.output().expect("tprov runs"))
    };
    let out = apply("site.yml", &[]);
    assert_eq!(recap_field(&out, "sandbox3", "failed"), 0, "{out}");
    let web = format!("{}:80", lab.host("sandbox3").addr);
    let body = get(&web).unwrap_or_else(|| panic!("no answer through nginx at {web}\n{out}"));
    assert!(
        body.contains("\"node\":\"v20.17.0\"") && body.contains("\"version\":\"1.0.1\""),
        "{body}"
    );
    let live = lab
        .root("sandbox3")
        .join("etc/letsencrypt/live/sandbox.tokenoftrust.com/cert.pem");
    assert_eq!(
        sans(&live),
        [
            "sandbox.tokenoftrust.com",
            "sandbox1.tokenoftrust.com",
            "sandbox3.tokenoftrust.com",
            "sandbox4.tokenoftrust.com"
        ],
        "certificate from pebble\n{out}"
    );
    let again = apply("site.yml", &[]);
    assert_eq!(
        recap_field(&again, "sandbox3", "changed"),
        0,
        "site.yml is idempotent:\n{again}"
    );
    // The README's last step: `tprov diff` shows nothing left to change.
    let diff = stdout(
        &lab.tprov("diff")
            .arg(root().join("playbooks/site.yml"))
            .args([
                "-g",
                "tot20-sandbox",
                "--limit",
                "sandbox3",
                "-e",
                &repo_var,
            ])
            .output()
            .expect("runs"),
    );
    assert_eq!(recap_field(&diff, "sandbox3", "changed"), 0, "{diff}");
    assert!(!diff.contains("\n--- before"), "no diff left:\n{diff}");

    // Deploy a new release to green, then roll back to blue, under load: no failed request.
    let second = release(&lab, "1.1.0");
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load = {
        let (stop, ok, failed, web) = (stop.clone(), ok.clone(), failed.clone(), web.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match get(&web) {
                    Some(_) => ok.fetch_add(1, Ordering::Relaxed),
                    None => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
    };
    let deploy = apply("deployService.yml", &[&format!("deployVersion={second}")]);
    assert_eq!(recap_field(&deploy, "sandbox3", "failed"), 0, "{deploy}");
    let body = get(&web).expect("answers after deploy");
    assert!(body.contains("\"version\":\"1.1.0\""), "{body}");
    let link = std::fs::read_link(
        lab.root("sandbox3")
            .join("home/tot20-sandbox/services/tot-app/app"),
    )
    .expect("link");
    assert_eq!(link.display().to_string(), "green");
    // Rollback is setColor back to blue (still on 1.0.1).
    let rollback = apply("setColor.yml", &["color=blue"]);
    assert_eq!(
        recap_field(&rollback, "sandbox3", "failed"),
        0,
        "{rollback}"
    );
    assert_eq!(
        recap_field(&rollback, "sandbox3", "changed"),
        1,
        "{rollback}"
    );
    let again = apply("setColor.yml", &["color=blue"]);
    assert_eq!(
        recap_field(&again, "sandbox3", "changed"),
        0,
        "already on blue: nothing to do\n{again}"
    );
    // --check --diff says what the switch would do, and does nothing.
    let dry = stdout(
        &lab.tprov("diff")
            .arg(root().join("playbooks/setColor.yml"))
            .args(["-g", "tot20-sandbox", "--limit", "sandbox3"])
            .args(["-e", &repo_var, "-e", "color=green"])
            .output()
            .expect("runs"),
    );
    assert!(dry.contains("+    \"src\": \"green\""), "{dry}");
    assert!(dry.contains("pm2 tot-app"), "{dry}");
    let link = std::fs::read_link(
        lab.root("sandbox3")
            .join("home/tot20-sandbox/services/tot-app/app"),
    )
    .expect("link");
    assert_eq!(
        link.display().to_string(),
        "blue",
        "check mode changed nothing"
    );
    stop.store(true, Ordering::Relaxed);
    load.join().expect("load thread");
    let body = get(&web).expect("answers after rollback");
    assert!(body.contains("\"version\":\"1.0.1\""), "{body}");
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert!(ok > 50, "the load generator ran ({ok} requests)");
    assert_eq!(
        failed,
        0,
        "{failed} of {} requests failed during deploy and rollback",
        ok + failed
    );

    // A release that crashes at start: set_color switches back to blue and says so.
    let out = lab.sh(
        "sandbox3",
        "cd /srv/work && printf 'throw new Error(\"broken release\");\\n' > server.js && git -c user.email=t@t -c user.name=t commit -qam broken && git push -q origin HEAD:main && git rev-parse HEAD",
    );
    assert!(out.ok(), "{}", out.stderr_str());
    let broken = out.stdout_str().trim().to_string();
    let bad = apply(
        "deployService.yml",
        &[&format!("deployVersion={broken}"), "deployHealthTimeout=5"],
    );
    assert_eq!(recap_field(&bad, "sandbox3", "failed"), 1, "{bad}");
    assert!(bad.contains("rolled back to blue"), "{bad}");
    let link = std::fs::read_link(
        lab.root("sandbox3")
            .join("home/tot20-sandbox/services/tot-app/app"),
    )
    .expect("link");
    assert_eq!(link.display().to_string(), "blue");
    let body = get(&web).expect("answers after the automatic rollback");
    assert!(body.contains("\"version\":\"1.0.1\""), "{body}");

    // A release on Node 16 while the PM2 daemon runs Node 20: fork mode on Node 16.
    let out = lab.sh(
        "sandbox3",
        "cd /srv/work && git checkout -q HEAD~1 -- server.js && printf '16.14.2\\n' > .nvmrc && printf '%s\\n' '{\"name\": \"tot-app\", \"version\": \"1.2.0\", \"main\": \"server.js\"}' > package.json && git -c user.email=t@t -c user.name=t commit -qam node16 && git push -q origin HEAD:main && git rev-parse HEAD",
    );
    assert!(out.ok(), "{}", out.stderr_str());
    let node16 = out.stdout_str().trim().to_string();
    let deploy = apply("deployService.yml", &[&format!("deployVersion={node16}")]);
    assert_eq!(recap_field(&deploy, "sandbox3", "failed"), 0, "{deploy}");
    let body = get(&web).expect("answers on Node 16");
    assert!(
        body.contains("\"node\":\"v16.14.2\"") && body.contains("\"version\":\"1.2.0\""),
        "{body}"
    );
    let jlist = lab.sh(
        "sandbox3",
        "su - tot20-sandbox -c 'PATH=$HOME/.nvm/versions/node/v20.17.0/bin:$PATH pm2 jlist'",
    );
    assert!(
        jlist.stdout_str().contains("\"exec_mode\":\"fork_mode\""),
        "fork mode: {}",
        jlist.stdout_str()
    );
    // Back to blue (Node 20): the ecosystem's cluster mode again.
    let back = apply("setColor.yml", &["color=blue"]);
    assert_eq!(recap_field(&back, "sandbox3", "failed"), 0, "{back}");
    let body = get(&web).expect("answers on Node 20 again");
    assert!(body.contains("\"node\":\"v20.17.0\""), "{body}");
    let site = apply("site.yml", &[]);
    assert_eq!(
        recap_field(&site, "sandbox3", "changed"),
        0,
        "back where site.yml wants it:\n{site}"
    );

    // A domain added to the list: the certificate is expanded, and only then.
    let domains = r#"{"certbotDomains": ["sandbox.tokenoftrust.com", "sandbox1.tokenoftrust.com", "sandbox3.tokenoftrust.com", "sandbox4.tokenoftrust.com", "status.tokenoftrust.com"]}"#;
    let expand = apply("configure.yml", &[domains]);
    assert_eq!(recap_field(&expand, "sandbox3", "failed"), 0, "{expand}");
    assert!(
        sans(&live).contains(&"status.tokenoftrust.com".to_string()),
        "{expand}"
    );
    let same = apply("configure.yml", &[domains]);
    assert_eq!(recap_field(&same, "sandbox3", "changed"), 0, "{same}");

    // The old user beside the new one: tot-sandbox on Node 16 (an inventory from before
    // the move, and port 31081, since lab hosts share one network namespace), then
    // nginx back on tot20-sandbox, the old app still running until it is disabled.
    let text = std::fs::read_to_string(&lab.inventory).expect("inventory");
    let line = text
        .lines()
        .find(|l| l.starts_with("sandbox3."))
        .expect("sandbox3 line")
        .to_string();
    let old_inventory = lab.dir.join("inventory-before-move");
    std::fs::write(
        &old_inventory,
        text.replace(&format!("{line}\n"), "")
            .replace("[tot-sandbox]\n", &format!("[tot-sandbox]\n{line}\n")),
    )
    .expect("old inventory");
    let old_service = r#"{"totService": {"name": "tot-app", "node_version": "{{ nodeVersion16 }}", "script": "server.js", "exec_mode": "cluster", "instances": 2, "port": 31081, "node_env": "production", "hostname": "{{ totDomain }}", "repo": "{{ totRepo }}", "branch": "{{ totBranch }}", "colors": ["blue", "green"], "active_color": "blue", "listen_timeout": 8000, "kill_timeout": 5000}}"#;
    let old_apply = |book: &str, extra: &[&str]| {
        let mut c = crate::support::tprov();
        c.arg("apply")
            .arg(root().join("playbooks").join(book))
            .arg("-i")
            .arg(&old_inventory)
            .args(["-g", "tot-sandbox", "--limit", "sandbox3", "-e", &repo_var])
            .args(["-e", old_service]);
        for e in extra {
            c.args(["-e", e]);
        }
        stdout(&c.output().expect("tprov runs"))
    };
    let old = old_apply("site.yml", &[]);
    assert_eq!(recap_field(&old, "sandbox3", "failed"), 0, "{old}");
    let body = get("127.0.0.1:31081").expect("the old user's app answers");
    assert!(body.contains("\"node\":\"v16.14.2\""), "{body}");
    let new = apply("site.yml", &[]);
    assert_eq!(recap_field(&new, "sandbox3", "failed"), 0, "{new}");
    // `nginx -s reload` returns before the new workers take over: wait for them.
    let body = get_until(&web, "\"node\":\"v20.17.0\"");
    assert!(body.contains("\"node\":\"v20.17.0\""), "{body}\n{new}");
    assert!(
        get("127.0.0.1:31081").is_some_and(|b| b.contains("v16.14.2")),
        "the old user's app still runs beside the new one"
    );

    // It stops only when told: a dry run by default.
    let dry = old_apply("disable-pm2-services.yml", &[]);
    assert!(
        dry.contains("dry run: would stop and delete tot-app under tot-sandbox"),
        "{dry}"
    );
    assert!(
        get("127.0.0.1:31081").is_some(),
        "still running after the dry run"
    );
    let stop = old_apply("disable-pm2-services.yml", &["dry_run=false"]);
    assert_eq!(recap_field(&stop, "sandbox3", "changed"), 1, "{stop}");
    assert!(get("127.0.0.1:31081").is_none(), "the old app is stopped");
    let body = get(&web).expect("the new user keeps serving");
    assert!(body.contains("\"node\":\"v20.17.0\""), "{body}");
}
