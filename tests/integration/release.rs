//! Timestamped releases behind `current` (seed 004) on a lab host: real git, real pm2 from
//! npm in cluster mode (4 workers, wait_ready), real nginx in front; a deploy, a rollback
//! and a crashing release rolled back by itself, all under load through nginx with a
//! count of failed requests that must be 0; keep-N cleanup, debris, check mode.

use crate::load::{Load, get};
use crate::support::{Lab, fixture, stdout};
use std::time::Duration;

fn recap(out: &str, field: &str) -> u32 {
    crate::support::recap_field(out, "sandbox3", field)
}

/// A commit of the app at `version` pushed to the host's repository; its hash.
fn push(lab: &Lab, version: &str, server: &str) -> String {
    let pkg =
        format!("{{\"name\": \"rel-app\", \"version\": \"{version}\", \"main\": \"server.js\"}}");
    let script = format!(
        "cd /srv/rel-work && printf '%s\\n' '{pkg}' > package.json && cat > server.js <<'JS'\n{server}JS\n git add -A && git -c user.email=t@t -c user.name=t commit -qm 'release {version}' && git push -q origin HEAD:main && git rev-parse HEAD"
    );
    let out = lab.sh("sandbox3", &script);
    assert!(out.ok(), "{}", out.stderr_str());
    out.stdout_str().trim().to_string()
}

fn releases(lab: &Lab) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(lab.root("sandbox3").join("srv/rel-app/releases"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
    names.sort();
    names
}

fn current(lab: &Lab) -> String {
    std::fs::read_link(lab.root("sandbox3").join("srv/rel-app/current"))
        .map(|l| {
            l.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .unwrap_or_default()
}

#[test]
fn releases_switch_roll_back_and_clean_up_under_load_with_zero_failed_requests() {
    let lab = Lab::up("release", &["sandbox3"]);
    let web = format!("{}:80", lab.host("sandbox3").addr);
    let server = std::fs::read_to_string(fixture("release/server.js")).expect("server.js");
    let nginx = std::fs::read_to_string(fixture("release/nginx.conf"))
        .expect("nginx.conf")
        .replace("LISTEN", &web);
    // pm2 from npm (the registry is reachable), the app's repository, nginx in front.
    let setup = format!(
        "set -e; npm install -g -s pm2@5.4.3 >/dev/null 2>&1; git init -q --bare -b main /srv/rel-app.git; \
         git clone -q /srv/rel-app.git /srv/rel-work 2>/dev/null; \
         cat > /srv/rel-nginx.conf <<'CONF'\n{nginx}CONF\n nginx -c /srv/rel-nginx.conf"
    );
    let out = lab.sh("sandbox3", &setup);
    assert!(out.ok(), "setup: {}{}", out.stdout_str(), out.stderr_str());
    let first = push(&lab, "1.0.0", &server);
    let apply = |book: &str, extra: &[&str]| {
        let mut c = lab.tprov("apply");
        c.arg(fixture(&format!("release/{book}")));
        for e in extra {
            c.args(["-e", e]);
        }
        stdout(&c.output().expect("tprov runs"))
    };

    // The first release: built, linked, switched to, PM2 started from the ecosystem.
    let out = apply("deploy.yml", &[]);
    assert_eq!(recap(&out, "failed"), 0, "{out}");
    let one = current(&lab);
    assert!(one.ends_with(&format!("-{}", &first[..7])), "{one}\n{out}");
    let body = get(&web);
    assert!(
        body.contains("\"version\":\"1.0.0\"") && body.contains(&one),
        "{body}"
    );
    let rel = lab.root("sandbox3").join("srv/rel-app/releases").join(&one);
    assert_eq!(
        std::fs::read_link(rel.join("config.json")).expect("shared file link"),
        std::path::Path::new("/srv/rel-app/shared/config.json")
    );
    assert!(rel.join("logs").is_symlink() && rel.join("build/package.json").exists());
    assert_eq!(
        std::fs::read_to_string(rel.join("REVISION"))
            .expect("REVISION")
            .trim(),
        first
    );
    assert!(!rel.join(".tprov-building").exists());
    // A second run changes nothing.
    let again = apply("deploy.yml", &[]);
    assert_eq!(recap(&again, "changed"), 0, "{again}");

    // A new commit: --check --diff shows the switch and writes nothing.
    let second = push(&lab, "1.1.0", &server);
    let dry = stdout(
        &lab.tprov("diff")
            .arg(fixture("release/deploy.yml"))
            .args(["-e", &format!("version={second}")])
            .output()
            .expect("runs"),
    );
    assert!(
        dry.contains("+current -> releases/") && dry.contains(&second[..7]),
        "{dry}"
    );
    assert_eq!(
        releases(&lab),
        std::slice::from_ref(&one),
        "check mode built nothing"
    );

    // Under load: the deploy, a rollback, and a release that crashes at start.
    let load = Load::start(&web);
    std::thread::sleep(Duration::from_millis(500));
    let out = apply("deploy.yml", &[&format!("version={second}")]);
    assert_eq!(recap(&out, "failed"), 0, "{out}");
    let two = current(&lab);
    assert!(two.ends_with(&second[..7]), "{two}");
    let body = get(&web);
    assert!(
        body.contains("\"version\":\"1.1.0\"") && body.contains(&two),
        "{body}"
    );
    // `tprov release rollback PATH`: what the deploy remembered reloads the app.
    let o = lab
        .tprov("release")
        .args(["rollback", "/srv/rel-app"])
        .output()
        .expect("runs");
    let out = format!("{}{}", stdout(&o), crate::support::stderr(&o));
    assert!(out.contains(&format!("current: {two} -> {one}")), "{out}");
    assert!(
        out.contains(&format!("  * {one}\n")) && out.contains(&format!("    {two}  (bad)\n")),
        "{out}"
    );
    assert_eq!(current(&lab), one, "{out}");
    assert!(get(&web).contains("\"version\":\"1.0.0\""));
    let broken = push(&lab, "2.0.0", "throw new Error('broken release');\n");
    let out = apply(
        "deploy.yml",
        &[&format!("version={broken}"), "health_timeout=4"],
    );
    assert_eq!(recap(&out, "failed"), 1, "{out}");
    assert!(
        out.contains("did not start") && out.contains("nothing was switched"),
        "{out}"
    );
    assert_eq!(current(&lab), one);
    std::thread::sleep(Duration::from_millis(500));
    let (sent, failed, p99) = load.finish();
    // The numbers, for docs/releases.md (a test prints nothing).
    let _ = std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("release-load.txt"),
        format!("{sent} requests, {} failed, p99 {p99:?}\n", failed.len()),
    );
    assert!(sent > 100, "the load ran ({sent} requests)");
    assert!(
        failed.is_empty(),
        "{} of {sent} requests failed: {:?}",
        failed.len(),
        &failed[..failed.len().min(10)]
    );
    assert!(get(&web).contains("\"version\":\"1.0.0\""));

    // A release that starts but answers 500: switched, found not serving, switched back.
    let erring = server.replace("res.end(body)", "(res.statusCode = 500, res.end(body))");
    let c = push(&lab, "2.1.0", &erring);
    let out = apply("deploy.yml", &[&format!("version={c}"), "health_timeout=3"]);
    assert_eq!(recap(&out, "failed"), 1, "{out}");
    assert!(out.contains(&format!("rolled back to {one}")), "{out}");
    assert_eq!(current(&lab), one);
    assert!(get(&web).contains("\"version\":\"1.0.0\""));

    // The bad releases are skipped by a rollback: none left before 1.0.0.
    let out = apply("rollback.yml", &[]);
    assert_eq!(recap(&out, "failed"), 1, "{out}");
    assert!(out.contains("no good release before"), "{out}");

    // Keep 3: new releases push the old ones out, never current or the previous good one;
    // a dead run's unfinished directory goes too.
    let debris = lab
        .root("sandbox3")
        .join("srv/rel-app/releases/20000101000000-dead000");
    std::fs::create_dir_all(&debris).expect("debris");
    std::fs::write(debris.join(".tprov-building"), "").expect("marker");
    for v in ["3.0.0", "3.1.0"] {
        let c = push(&lab, v, &server);
        let out = apply("deploy.yml", &[&format!("version={c}")]);
        assert_eq!(recap(&out, "failed"), 0, "{out}");
    }
    let left = releases(&lab);
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(!left.iter().any(|r| r.contains("dead")), "{left:?}");
    assert_eq!(left.last(), Some(&current(&lab)));
    assert!(get(&web).contains("\"version\":\"3.1.0\""));
    let list = stdout(
        &lab.tprov("release")
            .args(["list", "/srv/rel-app"])
            .output()
            .expect("runs"),
    );
    assert!(list.contains(&format!("  * {}\n", current(&lab))), "{list}");
    assert!(
        list.contains(&format!("    {}  (bad)\n", left[0])),
        "{list}"
    );
}
