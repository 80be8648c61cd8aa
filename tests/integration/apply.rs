//! `tprov apply` against ansible-playbook, side by side on two fresh lab hosts: the same
//! counts on the first and second run, the same end state, no churn when one tool runs
//! after the other, and `--check` predicting the real run exactly.

use crate::support::{Lab, root, stdout};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The recap counters of one host, from either tool's text output.
fn recap(out: &str, host: &str) -> String {
    let line = out
        .lines()
        .find(|l| l.starts_with(host) && l.contains(" : ok="))
        .unwrap_or_else(|| panic!("no recap for {host} in:\n{out}"));
    line.split(" : ")
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn changed(recap: &str) -> u32 {
    recap
        .split_whitespace()
        .find_map(|w| w.strip_prefix("changed="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(u32::MAX)
}

fn ansible_playbook(lab: &Lab, playbook: &Path, host: &str, extra: &[String]) -> String {
    let mut c = Command::new("ansible-playbook");
    c.current_dir(playbook.parent().unwrap_or(&root()))
        .env("ANSIBLE_CONFIG", root().join("tests/fixtures/ansible.cfg"))
        .env("ANSIBLE_NOCOLOR", "1")
        .arg("-i")
        .arg(&lab.inventory)
        .arg(playbook)
        .args(["--limit", &format!("{host}.tokenoftrust.com")]);
    for e in extra {
        c.args(["-e", e]);
    }
    let out = c
        .output()
        .expect("ansible-playbook runs (pip install ansible-core)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn tprov_apply(lab: &Lab, playbook: &Path, host: &str, extra: &[String], check: bool) -> String {
    let mut c = lab.tprov("apply");
    c.current_dir(playbook.parent().unwrap_or(&root()))
        .arg(playbook)
        .args(["--limit", host]);
    if check {
        c.arg("--check");
    }
    for e in extra {
        c.args(["-e", e]);
    }
    stdout(&c.output().expect("tprov runs"))
}

/// Type, mode, owner, content hash or link target of everything under `paths`.
fn snapshot(host_root: &Path, paths: &[&str]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack: Vec<PathBuf> = paths
        .iter()
        .map(|p| host_root.join(p.trim_start_matches('/')))
        .collect();
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let rel = p
            .strip_prefix(host_root)
            .map(|r| format!("/{}", r.display()))
            .unwrap_or_default();
        // Git's internals, and Ansible's own remote temp dir, are not part of the state.
        if rel.contains("/.git/") || rel.ends_with("/.git") || rel.contains("/.ansible") {
            continue;
        }
        let kind = if meta.file_type().is_symlink() {
            format!(
                "link -> {}",
                std::fs::read_link(&p)
                    .map(|t| t.display().to_string())
                    .unwrap_or_default()
            )
        } else if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&p) {
                stack.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
            }
            "dir".into()
        } else {
            use sha2::Digest;
            let data = std::fs::read(&p).unwrap_or_default();
            format!(
                "file {}",
                sha2::Sha256::digest(&data)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            )
        };
        let mode = if meta.file_type().is_symlink() {
            String::new()
        } else {
            format!("{:04o}", meta.mode() & 0o7777)
        };
        out.insert(rel, format!("{kind} {mode} {}:{}", meta.uid(), meta.gid()));
    }
    out
}

fn passwd(host_root: &Path, users: &[&str]) -> Vec<String> {
    let text = std::fs::read_to_string(host_root.join("etc/passwd")).unwrap_or_default();
    text.lines()
        .filter(|l| users.iter().any(|u| l.starts_with(&format!("{u}:"))))
        .map(str::to_string)
        .collect()
}

/// Runs `playbook` with tprov on sandbox3 and with ansible-playbook on sandbox4.
fn differential(name: &str, playbook: &Path, extra: &[String], paths: &[&str], users: &[&str]) {
    let lab = Lab::up(name, &["sandbox3", "sandbox4"]);
    let check = tprov_apply(&lab, playbook, "sandbox3", extra, true);
    let first = tprov_apply(&lab, playbook, "sandbox3", extra, false);
    let theirs = ansible_playbook(&lab, playbook, "sandbox4", extra);
    let (c, t1, a1) = (
        recap(&check, "sandbox3"),
        recap(&first, "sandbox3"),
        recap(&theirs, "sandbox4"),
    );
    assert_eq!(
        t1, a1,
        "first run: tprov vs ansible-playbook\n{first}\n{theirs}"
    );
    assert_eq!(
        changed(&c),
        changed(&t1),
        "--check predicts the real run: {c} vs {t1}\n{check}"
    );
    let second = tprov_apply(&lab, playbook, "sandbox3", extra, false);
    let theirs2 = ansible_playbook(&lab, playbook, "sandbox4", extra);
    assert_eq!(
        recap(&second, "sandbox3"),
        recap(&theirs2, "sandbox4"),
        "second run\n{second}\n{theirs2}"
    );
    let (r3, r4) = (lab.root("sandbox3"), lab.root("sandbox4"));
    assert_eq!(
        snapshot(&r3, paths),
        snapshot(&r4, paths),
        "end states differ"
    );
    assert_eq!(passwd(&r3, users), passwd(&r4, users));
    // Switching tools causes no churn: each converges the other's host with the same
    // changes as its own second run.
    let cross_t = tprov_apply(&lab, playbook, "sandbox4", extra, false);
    let cross_a = ansible_playbook(&lab, playbook, "sandbox3", extra);
    assert_eq!(
        changed(&recap(&cross_t, "sandbox4")),
        changed(&recap(&second, "sandbox3")),
        "tprov after ansible\n{cross_t}"
    );
    assert_eq!(
        changed(&recap(&cross_a, "sandbox3")),
        changed(&recap(&theirs2, "sandbox4")),
        "ansible after tprov\n{cross_a}"
    );
}

#[test]
fn bench_provisioning_playbook_matches_ansible() {
    let bench = root().join("../shared/bench/provision.yml");
    assert!(
        bench.exists(),
        "the reference workload ../shared/bench/provision.yml is missing"
    );
    let key = std::env::temp_dir().join(format!("tprov-deploy-key-{}", std::process::id()));
    if !key.exists() {
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .status()
            .expect("keygen");
    }
    let extra = vec![format!("deployKeySrc={}", key.display())];
    differential(
        "bench",
        &bench,
        &extra,
        &[
            "/home/tot20-sandbox",
            "/etc/nginx/sites-available",
            "/etc/nginx/sites-enabled",
        ],
        &["tot20-sandbox"],
    );
}

#[test]
fn files_and_templates_match_ansible() {
    differential(
        "files",
        &root().join("tests/fixtures/playbooks/files_and_templates.yml"),
        &[],
        &["/srv/corpus"],
        &[],
    );
}

#[test]
fn users_lines_loops_handlers_blocks_match_ansible() {
    differential(
        "users",
        &root().join("tests/fixtures/playbooks/users_lines_loops.yml"),
        &[],
        &["/srv"],
        &["alice", "bob", "carol"],
    );
}

#[test]
fn services_through_sysv_init_scripts_match_ansible() {
    differential(
        "services",
        &root().join("tests/fixtures/playbooks/services.yml"),
        &[],
        &[
            "/var/lib/tprov-demo",
            "/etc/init.d/tprov-demo",
            "/etc/rc2.d",
            "/etc/rc0.d",
        ],
        &[],
    );
}

/// Runs on the controller (`ansible_connection=local`): no lab needed.
#[test]
fn precedence_and_play_magic_vars_match_ansible_playbook() {
    let dir = root().join("tests/fixtures/local_play");
    let base = std::env::temp_dir().join(format!("tprov-local-play-{}", std::process::id()));
    let (ours, theirs) = (base.join("tprov"), base.join("ansible"));
    for d in [&ours, &theirs] {
        std::fs::create_dir_all(d).expect("out dir");
    }
    let mut a = crate::support::ansible("ansible-playbook");
    a.current_dir(&dir)
        .args(["-i", "hosts", "play.yml", "-e", "v_x=extra", "-e"])
        .arg(format!("out={}", theirs.display()));
    let a = a.output().expect("ansible-playbook runs");
    let mut t = crate::support::tprov();
    t.current_dir(&dir)
        .args(["apply", "-i", "hosts", "play.yml", "-e", "v_x=extra", "-e"])
        .arg(format!("out={}", ours.display()));
    let t = t.output().expect("tprov runs");
    for h in [
        "h1.json",
        "h2.json",
        "h1-roles.json",
        "h1-web.conf",
        "h1-t.conf",
        "h1-loops.json",
        "h1-a",
        "h1-b1",
        "h1-b2",
        "h1-b3",
        "h1-b4",
        "h1-c",
        "h1-f.txt",
        "h1-replace.json",
        "localhost.json",
        "h1-groups.json",
        "h2-groups.json",
        "h1-dynamic.json",
        "dyn1-dynamic.json",
        "h1-sshd",
        "h1-ifexpr",
        "h1-setfact.json",
        "h1-dyn.txt",
        "h1-targets.json",
        "h1-session17.json",
        "h1-imported.json",
        "h1-imported-skipped.txt",
        "h1-facts.json",
    ] {
        let mine = std::fs::read_to_string(ours.join(h)).ok();
        let other = std::fs::read_to_string(theirs.join(h)).ok();
        assert_eq!(
            mine,
            other,
            "{h}\ntprov:\n{}\nansible:\n{}",
            stdout(&t),
            String::from_utf8_lossy(&a.stdout)
        );
    }
    assert!(ours.join("h1.json").exists(), "{}", stdout(&t));
    let _ = std::fs::remove_dir_all(&base);
}

/// Runs DIR/play.yml with tprov on sandbox3 and ansible-playbook on sandbox4 (each
/// limited to its host, with `args`); both must succeed. Their outputs, tprov's first.
fn side_by_side(lab: &Lab, dir: &Path, args: &[String]) -> (String, String) {
    side_by_side_with(lab, dir, "play.yml", args, &[])
}

/// `side_by_side` for the playbook `play` of `dir`, both tools run with `env`.
fn side_by_side_with(
    lab: &Lab,
    dir: &Path,
    play: &str,
    args: &[String],
    env: &[(&str, &Path)],
) -> (String, String) {
    let with_args = |c: &mut Command, host: &str| {
        c.current_dir(dir)
            .arg("-i")
            .arg(&lab.inventory)
            .args([play, "--limit", host])
            .args(args)
            .envs(env.iter().copied());
    };
    let mut a = Command::new("ansible-playbook");
    a.env("ANSIBLE_CONFIG", root().join("tests/fixtures/ansible.cfg"))
        .env("ANSIBLE_NOCOLOR", "1");
    with_args(&mut a, "sandbox4.tokenoftrust.com");
    let a = a.output().expect("ansible-playbook runs");
    let mut t = crate::support::tprov();
    t.arg("apply");
    with_args(&mut t, "sandbox3.tokenoftrust.com");
    let t = t.output().expect("tprov runs");
    let (tt, ta) = (stdout(&t), stdout(&a));
    assert!(a.status.success(), "ansible-playbook:\n{ta}");
    assert!(t.status.success(), "tprov:\n{tt}");
    (tt, ta)
}

/// The output of each task of `module`, from its banner on, `host` named HOST.
fn task_output(text: &str, module: &str, host: &str) -> Vec<String> {
    text.split("TASK [")
        .filter(|b| b.starts_with(&format!("{module}]")))
        .map(|b| b.replace(host, "HOST"))
        .collect()
}

/// The cron module beside ansible-playbook, tprov on sandbox3 and ansible-playbook on
/// sandbox4: every registered result (with `--diff`), the files left and the printed
/// output of every cron task are Ansible's.
#[test]
fn cron_matches_ansible_playbook() {
    let lab = Lab::up("cron", &["sandbox3", "sandbox4"]);
    let out = "/tmp/tprov-cron-out";
    let (tt, ta) = side_by_side(
        &lab,
        &root().join("tests/fixtures/cron"),
        &["--diff".into(), "-e".into(), format!("out={out}")],
    );
    for f in ["results.json", "cron.d/adopt", "cron.d/bad.name"] {
        let read =
            |host: &str| std::fs::read_to_string(lab.root(host).join(&out[1..]).join(f)).ok();
        let mine = read("sandbox3");
        assert!(mine.is_some(), "{f}\n{tt}");
        assert_eq!(mine, read("sandbox4"), "{f}\ntprov:\n{tt}");
    }
    assert_eq!(
        task_output(&tt, "cron", "sandbox3.tokenoftrust.com"),
        task_output(&ta, "cron", "sandbox4.tokenoftrust.com")
    );
}

/// Custom modules in the playbook's `library/` beside ansible-playbook (tprov on
/// sandbox3, ansible-playbook on sandbox4, over SSH): a new-style Python module with the
/// playbook's own module_utils, a WANT_JSON and an old-style one, and one whose reply is
/// not JSON; the same registered results, facts and files, the same output, in a run and
/// in `--check`.
#[test]
fn custom_modules_match_ansible_playbook() {
    let lab = Lab::up("library", &["sandbox3", "sandbox4"]);
    let out = "/tmp/tprov-library-out";
    let dir = root().join("tests/fixtures/library");
    for check in [true, false] {
        let mut args = vec!["--diff".to_string(), "-e".into(), format!("out={out}")];
        if check {
            args.push("--check".into());
        }
        let (tt, ta) = side_by_side(&lab, &dir, &args);
        let body = |text: &str, host: &str| {
            text.split_once("TASK [")
                .map(|(_, rest)| rest.replace(host, "HOST"))
                .unwrap_or_default()
        };
        assert_eq!(
            body(&tt, "sandbox3.tokenoftrust.com"),
            body(&ta, "sandbox4.tokenoftrust.com"),
            "check: {check}"
        );
    }
    for f in [
        "results.json",
        "counters/a.count",
        "counters/b.count",
        "nocheck",
    ] {
        let read =
            |host: &str| std::fs::read_to_string(lab.root(host).join(&out[1..]).join(f)).ok();
        let mine = read("sandbox3");
        assert!(mine.is_some(), "{f}");
        assert_eq!(mine, read("sandbox4"), "{f}");
    }
}

/// A run's output from its first task banner on, `host` named HOST and the module temp
/// paths (tprov's and Ansible's differ) named TMP.
fn module_run_output(text: &str, host: &str) -> String {
    let text = text
        .split_once("TASK [")
        .map(|(_, rest)| rest.replace(host, "HOST"))
        .unwrap_or_default();
    module_temp().replace_all(&text, "TMP").into_owned()
}

fn module_temp() -> regex::Regex {
    regex::Regex::new(r#"/[^ "']*/(ansible-tmp-|ansible-tprov-)[^ "']*"#).expect("regex")
}

/// Ansible's own modules tprov does not implement (get_url, known_hosts) run on the host
/// from the controller's ansible-core, as Ansible runs them: tprov on sandbox3,
/// ansible-playbook on sandbox4, the same output (temp paths aside), results and files,
/// in `--check` and for real.
#[test]
fn core_modules_run_as_ansible_runs_them() {
    let lab = Lab::up("coremods", &["sandbox3", "sandbox4"]);
    let www = lab.dir.join("www");
    std::fs::create_dir_all(&www).expect("www");
    std::fs::write(www.join("a.txt"), "hello get_url\n").expect("a.txt");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("port").port();
    drop(listener);
    let mut server = Command::new("python3")
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .current_dir(&www)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("http.server");
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "no http.server"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = "/tmp/tprov-coremods-out";
    for h in ["sandbox3", "sandbox4"] {
        std::fs::create_dir_all(lab.root(h).join(&out[1..])).expect("out");
    }
    let temp = module_temp();
    let dir = root().join("tests/fixtures/core_modules");
    for check in [true, false] {
        let mut args = vec![
            "--diff".to_string(),
            "-e".into(),
            format!("out={out}"),
            "-e".into(),
            format!("url=http://127.0.0.1:{port}"),
        ];
        if check {
            args.push("--check".into());
        }
        let (tt, ta) = side_by_side(&lab, &dir, &args);
        assert_eq!(
            module_run_output(&tt, "sandbox3.tokenoftrust.com"),
            module_run_output(&ta, "sandbox4.tokenoftrust.com"),
            "check: {check}"
        );
    }
    let _ = server.kill();
    let _ = server.wait();
    for f in ["results.json", "a.txt", "known_hosts"] {
        let read = |host: &str| {
            std::fs::read_to_string(lab.root(host).join(&out[1..]).join(f))
                .ok()
                .map(|t| temp.replace_all(&t, "TMP").into_owned())
        };
        let mine = read("sandbox3");
        assert!(mine.is_some(), "{f}");
        assert_eq!(mine, read("sandbox4"), "{f}");
    }
}

/// Modules of Ansible collections run as Ansible runs them, tprov on sandbox3 and
/// ansible-playbook on sandbox4 (hosts with their own network namespaces: the sysctl is
/// theirs): a collection beside the playbook whose module imports its module_utils
/// relatively and absolutely, found by full name, through the play's `collections:` and
/// through the collection's routing; then community.general's timezone and
/// ansible.posix's sysctl (from the collections lab/install.sh takes from PyPI's
/// `ansible`), by full name and by the short names ansible-core routes to them. The same
/// output in `--check` and for real, the same results and files, and a second run
/// changes nothing.
#[test]
fn collection_modules_run_as_ansible_runs_them() {
    let lab = Lab::up_own_network("colls", &["sandbox3", "sandbox4"]);
    let out = "/tmp/tprov-colls-out";
    for h in ["sandbox3", "sandbox4"] {
        std::fs::create_dir_all(lab.root(h).join(&out[1..])).expect("out");
    }
    let collections = crate::support::install_cache().join("collections");
    assert!(
        collections
            .join("ansible_collections/ansible/posix")
            .is_dir(),
        "lab/install.sh puts community.general and ansible.posix in {}",
        collections.display()
    );
    let env = [("ANSIBLE_COLLECTIONS_PATH", collections.as_path())];
    let dir = root().join("tests/fixtures/collection_modules");
    for play in ["play.yml", "server_basics.yml"] {
        for check in [true, false, false] {
            let mut args = vec!["--diff".to_string(), "-e".into(), format!("out={out}")];
            if check {
                args.push("--check".into());
            }
            let (tt, ta) = side_by_side_with(&lab, &dir, play, &args, &env);
            assert_eq!(
                module_run_output(&tt, "sandbox3.tokenoftrust.com"),
                module_run_output(&ta, "sandbox4.tokenoftrust.com"),
                "{play}, check: {check}"
            );
            let read = |host: &str| {
                std::fs::read_to_string(lab.root(host).join(&out[1..]).join("results.json")).ok()
            };
            if !check {
                let mine = read("sandbox3");
                assert!(mine.is_some(), "{play}:\n{tt}");
                assert_eq!(mine, read("sandbox4"), "{play}");
            }
        }
    }
    for (file, want) in [
        ("etc/timezone", "Europe/Berlin\n"),
        (
            "etc/sysctl.d/99-tprov-forward.conf",
            "net.ipv4.ip_forward=1\n",
        ),
    ] {
        let got = std::fs::read_to_string(lab.root("sandbox3").join(file)).unwrap_or_default();
        assert_eq!(got, want, "{file}");
    }
}

/// The fleet's playbooks/server-basics.yml (seed 002) beside ansible-playbook, tprov on
/// sandbox3 and ansible-playbook on sandbox4, hosts with their own network namespaces
/// (ufw's rules are the host's): apt against a local repository that is each host's only
/// source, packages, unattended updates, a deploy group, ufw, PM2 log rotation, the backup
/// cron job and certbot's deploy hook. `--check --diff`, then two real runs: the same
/// output each time, nothing changed by the second, and what the files and ufw hold.
#[test]
fn server_basics_playbook_matches_ansible_playbook() {
    let repo = std::env::temp_dir().join(format!("tprov-basics-repo-{}", std::process::id()));
    let made = Command::new(root().join("tests/fixtures/apt/make-repo.sh"))
        .arg(&repo)
        .output()
        .expect("make-repo.sh runs");
    assert!(made.status.success(), "{}", crate::support::stderr(&made));
    let lab = Lab::up_own_network("basics", &["sandbox3", "sandbox4"]);
    for h in ["sandbox3", "sandbox4"] {
        let etc = lab.root(h).join("etc/apt");
        std::fs::write(
            etc.join("sources.list"),
            format!("deb [trusted=yes] file:{} ./\n", repo.display()),
        )
        .expect("sources.list");
        let _ = std::fs::remove_dir_all(etc.join("sources.list.d"));
        std::fs::create_dir_all(etc.join("sources.list.d")).expect("sources.list.d");
    }
    let collections = crate::support::install_cache().join("collections");
    let env = [("ANSIBLE_COLLECTIONS_PATH", collections.as_path())];
    let time = regex::Regex::new(r#""cache_update_time": \d+"#).expect("regex");
    let output = |text: &str, host: &str| {
        time.replace_all(&module_run_output(text, host), "TIME")
            .into_owned()
    };
    for (run, check) in [("check", true), ("first", false), ("second", false)] {
        let mut args: Vec<String> = [
            "--diff",
            "-e",
            "hostGroup=sandbox",
            "-e",
            "totUser=tot20-sandbox",
        ]
        .map(String::from)
        .to_vec();
        if check {
            args.push("--check".into());
        }
        let (tt, ta) = side_by_side_with(
            &lab,
            &root().join("playbooks"),
            "server-basics.yml",
            &args,
            &env,
        );
        assert_eq!(
            output(&tt, "sandbox3.tokenoftrust.com"),
            output(&ta, "sandbox4.tokenoftrust.com"),
            "{run} run"
        );
        if run == "second" {
            assert_eq!(
                crate::support::recap_field(&tt, "sandbox3.tokenoftrust.com", "changed"),
                0,
                "{tt}"
            );
        }
    }
    let host = lab.root("sandbox3");
    let read = |f: &str| std::fs::read_to_string(host.join(f)).unwrap_or_default();
    assert!(
        read("etc/logrotate.d/pm2-tot20-sandbox")
            .starts_with("/home/tot20-sandbox/.pm2/logs/*.log {")
    );
    assert!(read("etc/cron.d/tot-backup").contains(
        "#Ansible: backup tot20-sandbox config\n17 3 * * * root tar -czf /var/backups/tot/"
    ));
    assert!(read("etc/group").contains("\ndeploy:x:"));
    let live = lab.sh(
        "sandbox3",
        "logrotate -d /etc/logrotate.d/pm2-tot20-sandbox >/dev/null 2>&1 && ufw status verbose",
    );
    let live = String::from_utf8_lossy(&live.stdout).into_owned();
    assert!(live.contains("Status: active"), "{live}");
    assert!(live.contains("Default: deny (incoming)"), "{live}");
    for port in ["22/tcp", "80/tcp", "443/tcp"] {
        let allowed = live.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.starts_with(&[port, "ALLOW", "IN"])
        });
        assert!(allowed, "{port}: {live}");
    }
    let _ = std::fs::remove_dir_all(&repo);
}

/// `fact_caching = jsonfile` read and written as Ansible does: a cacheable set_fact one
/// tool writes is read by the other in a later run, its non-cacheable one is not, and
/// `--flush-cache` forgets it.
#[test]
fn fact_cache_is_shared_with_ansible_playbook() {
    let dir = root().join("tests/fixtures/fact_cache");
    let cache = std::env::temp_dir().join(format!("tprov-fact-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let run = |tool: &str, play: &str, extra: &[&str]| {
        let mut c = if tool == "tprov" {
            let mut t = crate::support::tprov();
            t.arg("apply");
            t
        } else {
            let mut a = Command::new("ansible-playbook");
            a.env("ANSIBLE_CONFIG", root().join("tests/fixtures/ansible.cfg"));
            a
        };
        let o = c
            .current_dir(&dir)
            .args(["-i", "inventory", play])
            .args(extra)
            .env("ANSIBLE_CACHE_PLUGIN", "jsonfile")
            .env("ANSIBLE_CACHE_PLUGIN_CONNECTION", &cache)
            .env("ANSIBLE_CACHE_PLUGIN_PREFIX", "facts_")
            .output()
            .expect("runs");
        assert!(
            o.status.success(),
            "{tool} {play} {extra:?}:\n{}",
            stdout(&o)
        );
    };
    for (writer, reader) in [("tprov", "ansible"), ("ansible", "tprov")] {
        let w = format!("writer={writer}");
        run(writer, "write.yml", &["-e", &w]);
        assert!(cache.join("facts_s1_localhost").is_file());
        run(reader, "read.yml", &["-e", &w, "-e", "flushed=false"]);
    }
    run(
        "tprov",
        "read.yml",
        &["--flush-cache", "-e", "writer=x", "-e", "flushed=true"],
    );
    assert!(!cache.join("facts_s1_localhost").exists());
    let _ = std::fs::remove_dir_all(&cache);
}

/// The apt module beside ansible-playbook, tprov on sandbox3 and ansible-playbook on
/// sandbox4, against a local repository of test packages that is each host's only
/// source: the same decisions, results, messages and `--diff`, the same packages left.
#[test]
fn apt_matches_ansible_playbook() {
    let fixture = root().join("tests/fixtures/apt");
    let repo = std::env::temp_dir().join(format!("tprov-apt-repo-{}", std::process::id()));
    let made = Command::new(fixture.join("make-repo.sh"))
        .arg(&repo)
        .output()
        .expect("make-repo.sh runs");
    assert!(made.status.success(), "{}", crate::support::stderr(&made));
    let lab = Lab::up("apt", &["sandbox3", "sandbox4"]);
    let out = "/tmp/tprov-apt-out";
    let (tt, ta) = side_by_side(
        &lab,
        &fixture,
        &[
            "--diff".into(),
            "-e".into(),
            format!("out={out}"),
            "-e".into(),
            format!("repo={}", repo.display()),
        ],
    );
    let read = |host: &str| {
        std::fs::read_to_string(lab.root(host).join(&out[1..]).join("results.json")).ok()
    };
    let mine = read("sandbox3");
    assert!(mine.is_some(), "{tt}");
    assert_eq!(mine, read("sandbox4"), "tprov:\n{tt}");
    // What --diff shows of each apt task (apt-get's plan), the cache's timestamp aside.
    let time = regex::Regex::new(r#""cache_update_time": \d+"#).expect("regex");
    let apt = |text: &str, host: &str| -> Vec<String> {
        task_output(text, "apt", host)
            .iter()
            .map(|b| time.replace_all(b, "TIME").into_owned())
            .collect()
    };
    assert_eq!(
        apt(&tt, "sandbox3.tokenoftrust.com"),
        apt(&ta, "sandbox4.tokenoftrust.com")
    );
    let _ = std::fs::remove_dir_all(&repo);
}

/// fetch beside ansible-playbook: tprov from sandbox3, ansible-playbook from sandbox4,
/// each into its own directory on the controller; the same results and the same files.
#[test]
fn fetch_matches_ansible_playbook() {
    let lab = Lab::up("fetch", &["sandbox3", "sandbox4"]);
    let dir = root().join("tests/fixtures/fetch");
    let base = std::env::temp_dir().join(format!("tprov-fetch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let run = |mut c: Command, host: &str, out: &Path| {
        std::fs::create_dir_all(out).expect("out dir");
        c.current_dir(&dir)
            .arg("-i")
            .arg(&lab.inventory)
            .args(["play.yml", "--limit", host, "-e"])
            .arg(format!("out={}", out.display()));
        let o = c.output().expect("runs");
        assert!(o.status.success(), "{}", stdout(&o));
        stdout(&o)
    };
    let mut a = Command::new("ansible-playbook");
    a.env("ANSIBLE_CONFIG", root().join("tests/fixtures/ansible.cfg"));
    let (ours, theirs) = (base.join("tprov"), base.join("ansible"));
    run(a, "sandbox4.tokenoftrust.com", &theirs);
    let mut t = crate::support::tprov();
    t.arg("apply");
    let tt = run(t, "sandbox3.tokenoftrust.com", &ours);
    // Every file fetched under a tool's directory, its host named alike.
    let tree = |d: &Path, host: &str| -> BTreeMap<String, String> {
        snapshot(d, &["/"])
            .into_iter()
            .filter(|(k, _)| k != "/results.json")
            .map(|(k, v)| (k.replace(host, "HOST"), v))
            .collect()
    };
    let results = |d: &Path, host: &str| {
        std::fs::read_to_string(d.join("results.json"))
            .map(|s| {
                s.replace(&d.display().to_string(), "OUT")
                    .replace(host, "HOST")
            })
            .ok()
    };
    let mine = results(&ours, "sandbox3.tokenoftrust.com");
    assert!(mine.is_some(), "{tt}");
    assert_eq!(mine, results(&theirs, "sandbox4.tokenoftrust.com"), "{tt}");
    assert_eq!(
        tree(&ours, "sandbox3.tokenoftrust.com"),
        tree(&theirs, "sandbox4.tokenoftrust.com")
    );
    let _ = std::fs::remove_dir_all(&base);
}

/// hostname beside ansible-playbook, each tool on its own lab host: results, facts,
/// /etc/hostname and `--diff` alike (the hosts' own names aside).
#[test]
fn hostname_matches_ansible_playbook() {
    // With systemd running, both tools would rename the machine itself (hostnamectl
    // reaches its hostnamed over D-Bus, outside the lab host's UTS namespace).
    if ["/run/systemd/system", "/dev/.run/systemd", "/dev/.systemd"]
        .iter()
        .any(|p| Path::new(p).exists())
    {
        return;
    }
    let lab = Lab::up("hostname", &["sandbox3", "sandbox4"]);
    let out = "/tmp/tprov-hostname-out";
    let (tt, ta) = side_by_side(
        &lab,
        &root().join("tests/fixtures/hostname"),
        &["--diff".into(), "-e".into(), format!("out={out}")],
    );
    let read = |host: &str| {
        std::fs::read_to_string(lab.root(host).join(&out[1..]).join("results.json"))
            .ok()
            .map(|s| s.replace(host, "HOST"))
    };
    let mine = read("sandbox3");
    assert!(mine.is_some(), "{tt}");
    assert_eq!(mine, read("sandbox4"), "tprov:\n{tt}");
    // The lab names each host's kernel by its short name.
    assert_eq!(
        task_output(&tt, "hostname", "sandbox3"),
        task_output(&ta, "hostname", "sandbox4")
    );
}

/// `wait_for: state=drained` on the controller itself (`ansible_connection=local`): it
/// times out while a connection to the port is open and returns once it closes.
#[test]
fn wait_for_drained_waits_until_connections_close() {
    use std::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("addr").port();
    let client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    let dir = std::env::temp_dir().join(format!("tprov-wait-for-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("hosts"), "ctl ansible_connection=local\n").expect("inventory");
    let book = |timeout: u32| {
        format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - wait_for: port={port} state=drained timeout={timeout} sleep=0.2\n"
        )
    };
    std::fs::write(dir.join("short.yml"), book(1)).expect("playbook");
    std::fs::write(dir.join("long.yml"), book(30)).expect("playbook");
    let apply = |name: &str| {
        let mut c = crate::support::tprov();
        c.current_dir(&dir).args(["apply", "-i", "hosts", name]);
        stdout(&c.output().expect("tprov runs"))
    };
    let open = apply("short.yml");
    assert!(
        open.contains(&format!(
            "Timeout when waiting for 127.0.0.1:{port} to drain"
        )),
        "{open}"
    );
    let closer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(500));
        drop(client);
        drop(server);
    });
    let drained = apply("long.yml");
    closer.join().expect("closer");
    assert!(drained.contains("ok: [ctl]"), "{drained}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A small HTTP server for `uri`: `/health.json` (JSON), `/index.html` (text), else 404.
fn http_server() -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let path = req.split_whitespace().nth(1).unwrap_or("/").to_string();
            let (status, ctype, body) = match path.as_str() {
                "/health.json" => ("200 OK", "application/json", "{\"ok\": true, \"n\": 1}"),
                "/index.html" => ("200 OK", "text/html", "hello"),
                _ => ("404 Not Found", "text/plain", "nope"),
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// `uri` from the controller (`ansible_connection=local`) against a local server: the
/// same statuses, JSON, content and failure messages as Ansible's.
#[test]
fn uri_results_match_ansible() {
    let port = http_server();
    let dir = std::env::temp_dir().join(format!("tprov-uri-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("hosts"),
        "h1 ansible_connection=local ansible_python_interpreter=\"{{ ansible_playbook_python }}\"\n",
    )
    .expect("inventory");
    let base = format!("http://127.0.0.1:{port}");
    std::fs::write(
        dir.join("uri.yml"),
        format!(
            "- hosts: h1\n  gather_facts: false\n  tasks:\n    - uri: {{url: \"{base}/health.json\"}}\n      register: j\n    - uri: {{url: \"{base}/index.html\", return_content: true}}\n      register: c\n    - uri: {{url: \"{base}/missing\", status_code: [200, 404]}}\n      register: m\n    - uri: {{url: \"{base}/missing\"}}\n      register: f\n      ignore_errors: true\n    - copy:\n        dest: \"{{{{ out }}}}\"\n        content: \"{{{{ [j.status, j.json, j.msg, j.content_type, c.content, m.status, f.status, f.failed, f.msg, j.url, j.redirected] | to_nice_json }}}}\"\n"
        ),
    )
    .expect("playbook");
    let mut a = crate::support::ansible("ansible-playbook");
    a.current_dir(&dir)
        .args(["-i", "hosts", "uri.yml", "-e"])
        .arg(format!("out={}", dir.join("ansible.json").display()));
    let a = a.output().expect("ansible-playbook runs");
    let mut t = crate::support::tprov();
    t.current_dir(&dir)
        .args(["apply", "-i", "hosts", "uri.yml", "-e"])
        .arg(format!("out={}", dir.join("tprov.json").display()));
    let t = t.output().expect("tprov runs");
    let theirs = std::fs::read_to_string(dir.join("ansible.json")).ok();
    let ours = std::fs::read_to_string(dir.join("tprov.json")).ok();
    assert!(ours.is_some(), "{}", stdout(&t));
    assert_eq!(
        ours,
        theirs,
        "tprov:\n{}\nansible:\n{}",
        stdout(&t),
        String::from_utf8_lossy(&a.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A temp file a killed run left beside a destination (tprov's own name, untouched for
/// minutes) goes with the next write to it; a fresh one (a write in flight) stays.
#[test]
fn the_next_write_removes_stale_temp_files_beside_its_destination() {
    let dir = std::env::temp_dir().join(format!("tprov-stale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let stale = dir.join(".conf.tprov-0123456789abcdef.tmp");
    let fresh = dir.join(".conf.tprov-fedcba9876543210.tmp");
    std::fs::write(&stale, "left by a killed run").expect("stale");
    std::fs::write(&fresh, "a write in flight").expect("fresh");
    let old = std::time::SystemTime::now() - std::time::Duration::from_mins(10);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .and_then(|f| f.set_modified(old))
        .expect("age the stale file");
    std::fs::write(dir.join("hosts"), "ctl ansible_connection=local\n").expect("inventory");
    std::fs::write(
        dir.join("play.yml"),
        format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - copy: {{content: new, dest: {}}}\n",
            dir.join("conf").display()
        ),
    )
    .expect("playbook");
    let mut c = crate::support::tprov();
    c.current_dir(&dir)
        .args(["apply", "-i", "hosts", "play.yml"]);
    let out = stdout(&c.output().expect("tprov runs"));
    assert_eq!(
        std::fs::read_to_string(dir.join("conf")).ok().as_deref(),
        Some("new"),
        "{out}"
    );
    assert!(!stale.exists(), "the stale temp file is still there");
    assert!(fresh.exists(), "a fresh temp file was removed");
    let _ = std::fs::remove_dir_all(&dir);
}

/// What a run prints, against ansible-playbook's own output for the same play: role
/// tasks' banners (`role : task`), include_role as a dynamic include (its banner and
/// `included:` line, its `when` and `tags` its own), `ansible_parent_role_names`,
/// debug's 2.19 placeholder and warning for an undefined `var`; and failures
/// (errors.yml): the `[ERROR]` text with the task's source and each cause's,
/// `...ignoring`, a play's ignore_errors.
#[test]
fn role_banners_include_role_and_failures_print_as_ansible_playbook() {
    let dir = root().join("tests/fixtures/role_output");
    for (book, extra) in [
        ("play.yml", &[][..]),
        ("play.yml", &["--tags", "x"][..]),
        ("errors.yml", &[][..]),
    ] {
        let mut a = crate::support::ansible("ansible-playbook");
        a.current_dir(&dir).args(["-i", "hosts", book]).args(extra);
        let a = a.output().expect("ansible-playbook runs");
        let mut t = crate::support::tprov();
        t.current_dir(&dir)
            .args(["apply", "-i", "hosts", book])
            .args(extra);
        let t = t.output().expect("tprov runs");
        assert_eq!(stdout(&t), stdout(&a), "stdout of {book} {extra:?}");
        assert_eq!(
            crate::support::stderr(&t),
            crate::support::stderr(&a),
            "stderr of {book} {extra:?}"
        );
        assert_eq!(t.status.code(), a.status.code());
    }
}
