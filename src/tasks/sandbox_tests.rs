//! Every module of the table against a sandbox host: a temporary directory on the
//! controller, reached through the local transport (modules speak `sh` to a host, so a
//! stand-in host has to run `sh`; see docs/decisions.md). Fast, no lab and no SSH.
//!
//! - The walk: each module in `MODULES` runs in check mode; the sandbox, and the
//!   machine's users and groups, must be byte for byte what they were (contents, modes,
//!   owners, mtimes, links). A module added to the table without a case here fails it.
//! - For the modules that change files (and users and groups when run as root): check
//!   mode predicts the run (same `changed`, same diffs), a second run changes nothing,
//!   and check mode then predicts nothing.

use super::{Cx, MODULES, Outcome, Sim, TaskError};
use crate::playbook::{Item, Task};
use crate::transport::Connection;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// One case: a module's task (YAML, `@D@` standing for the sandbox), and whether the
/// run itself is tried (only where it changes nothing outside the sandbox).
struct Case {
    module: &'static str,
    task: &'static str,
    run: bool,
}

const fn case(module: &'static str, task: &'static str, run: bool) -> Case {
    Case { module, task, run }
}

/// The user and group the root-only cases create, then remove.
const WALK_USER: &str = "tprov-walk-user";
const WALK_GROUP: &str = "tprov-walk-group";

const CASES: &[Case] = &[
    case(
        "file",
        "file: {path: '@D@/new-dir/sub', state: directory, mode: '0750'}",
        true,
    ),
    case("file", "file: {path: '@D@/conf', mode: '0600'}", true),
    case(
        "file",
        "file: {src: '@D@/conf', dest: '@D@/conf-link', state: link}",
        true,
    ),
    case("file", "file: {path: '@D@/gone', state: absent}", true),
    case("file", "file: {path: '@D@/dir', state: absent}", true),
    case("file", "file: {path: '@D@/conf', state: touch}", false),
    case(
        "copy",
        "copy: {content: \"new\\n\", dest: '@D@/conf', mode: '0640'}",
        true,
    ),
    case(
        "copy",
        "copy: {src: '@D@/src.txt', dest: '@D@/dir/', backup: true}",
        true,
    ),
    case(
        "copy",
        "copy: {src: '@D@/tree/', dest: '@D@/tree-copy'}",
        true,
    ),
    case(
        "template",
        "template: {src: '@D@/t.j2', dest: '@D@/rendered'}",
        true,
    ),
    case(
        "lineinfile",
        "lineinfile: {path: '@D@/conf', regexp: '^b=', line: 'b=3'}",
        true,
    ),
    case(
        "lineinfile",
        "lineinfile: {path: '@D@/conf', line: 'c=4', insertafter: '^a='}",
        true,
    ),
    case(
        "lineinfile",
        "lineinfile: {path: '@D@/conf', regexp: '^a=', state: absent}",
        true,
    ),
    case(
        "lineinfile",
        "lineinfile: {path: '@D@/fresh', line: 'x', create: true}",
        true,
    ),
    case(
        "blockinfile",
        "blockinfile: {path: '@D@/conf', block: \"k=v\\nl=w\"}",
        true,
    ),
    case(
        "replace",
        "replace: {path: '@D@/conf', regexp: '=(\\d)', replace: ': \\1'}",
        true,
    ),
    case("git", "git: {repo: '@D@/repo', dest: '@D@/checkout'}", true),
    case(
        "git",
        "git: {repo: '@D@/repo', dest: '@D@/repo-clone', version: HEAD}",
        true,
    ),
    case(
        "authorized_key",
        "authorized_key: {user: root, path: '@D@/ssh/authorized_keys', key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvZ4q8tVdqJUh1tH4e5r2Bq9mz2kqg2w4h3VJcS8bNf walk'}",
        true,
    ),
    case(
        "user",
        "user: {name: tprov-walk-user, system: true, create_home: false, shell: /bin/false}",
        true,
    ),
    case(
        "group",
        "group: {name: tprov-walk-group, system: true}",
        true,
    ),
    case(
        "command",
        "command: {cmd: 'touch @D@/by-command', creates: '@D@/by-command'}",
        false,
    ),
    case("command", "command: touch @D@/by-command", false),
    case("shell", "shell: echo x > @D@/by-shell", false),
    case("script", "script: '@D@/script.sh'", false),
    case("raw", "raw: touch @D@/by-raw", false),
    case(
        "stat",
        "stat: {path: '@D@/conf', checksum_algorithm: sha256}",
        true,
    ),
    case("find", "find: {paths: '@D@', recurse: true}", true),
    case("slurp", "slurp: {src: '@D@/conf'}", true),
    case("tempfile", "tempfile: {path: '@D@', suffix: walk}", false),
    case("getent", "getent: {database: passwd, key: root}", true),
    case("ping", "ping:", true),
    case("async_status", "async_status: {jid: '1.1'}", false),
    case("debug", "debug: {msg: hello}", true),
    case("set_fact", "set_fact: {a: 1}", true),
    case("assert", "assert: {that: ['1 == 1']}", true),
    case("fail", "fail: {msg: walk}", false),
    case("pause", "pause: {seconds: 0}", false),
    case("meta", "meta: noop", false),
    case("include_tasks", "include_tasks: '@D@/tasks.yml'", false),
    case("include_vars", "include_vars: {file: '@D@/vars.yml'}", true),
    case("group_by", "group_by: {key: walk}", true),
    case("add_host", "add_host: {name: walk-host}", true),
    case(
        "node",
        "node: {version: 20.17.0, nvm_dir: '@D@/nvm'}",
        false,
    ),
    case("npm", "npm: {name: left-pad, path: '@D@/app'}", false),
    case(
        "pm2",
        "pm2: {ecosystem: '@D@/app/ecosystem.json', state: started, nvm_dir: '@D@/nvm'}",
        false,
    ),
    case(
        "set_color",
        "set_color: {path: '@D@/app', color: blue, ecosystem: '@D@/app/ecosystem.json'}",
        false,
    ),
    case(
        "release",
        "release: {path: '@D@/releases-app', src: '@D@/repo', build: 'touch built'}",
        false,
    ),
    case(
        "release",
        "release: {path: '@D@/releases-app', state: rollback}",
        false,
    ),
    case(
        "socket_switch",
        "socket_switch: {live: '@D@/live.sock', new: '@D@/new.sock'}",
        false,
    ),
    case(
        "certbot",
        "certbot: {domains: [walk.example], webroot: '@D@/www', email: a@b.c}",
        false,
    ),
    case(
        "service",
        "service: {name: tprov-walk-none, state: started}",
        false,
    ),
    case(
        "systemd",
        "systemd: {name: tprov-walk-none, state: restarted, enabled: true}",
        false,
    ),
    case("wait_for", "wait_for: {path: '@D@/conf', timeout: 2}", true),
    case(
        "cron",
        "cron: {name: walk, job: 'echo hi', user: root, cron_file: '@D@/crond/walk', minute: '5'}",
        true,
    ),
    case(
        "cron",
        "cron: {name: WALK_VAR, env: true, job: x, user: root, cron_file: '@D@/crond/vars'}",
        true,
    ),
    case(
        "cron",
        "cron: {name: walk, job: 'echo hi', special_time: daily}",
        false,
    ),
    case(
        "apt",
        "apt: {name: [tprov-walk-none, dpkg], state: latest}",
        false,
    ),
    case("apt", "apt: {name: dpkg, state: absent}", false),
    case("package", "package: {name: dpkg, state: latest}", false),
    case(
        "fetch",
        "fetch: {src: '@D@/conf', dest: '@D@/fetched/'}",
        false,
    ),
    case("hostname", "hostname: {name: tprov-walk-host}", false),
    case(
        "uri",
        "uri: {url: 'http://127.0.0.1:9/', method: POST, timeout: 1}",
        false,
    ),
];

/// Modules that only read (or only touch the run's own state).
const READ_ONLY: &[&str] = &[
    "stat",
    "find",
    "slurp",
    "getent",
    "ping",
    "debug",
    "set_fact",
    "assert",
    "include_vars",
    "group_by",
    "add_host",
    "wait_for",
];

/// What a path is: kind, mode, owner, mtime, and its bytes or link target.
type Snapshot = BTreeMap<PathBuf, (u32, u32, u32, i64, i64, Vec<u8>)>;

fn snapshot(root: &Path) -> Snapshot {
    fn walk(p: &Path, out: &mut Snapshot) {
        let Ok(md) = std::fs::symlink_metadata(p) else {
            return;
        };
        let body = if md.file_type().is_symlink() {
            std::fs::read_link(p)
                .map(|t| t.into_os_string().into_encoded_bytes())
                .unwrap_or_default()
        } else if md.is_file() {
            std::fs::read(p).unwrap_or_default()
        } else {
            Vec::new()
        };
        out.insert(
            p.to_path_buf(),
            (
                md.mode(),
                md.uid(),
                md.gid(),
                md.mtime(),
                md.mtime_nsec(),
                body,
            ),
        );
        if md.is_dir() {
            let mut names: Vec<PathBuf> = std::fs::read_dir(p)
                .map(|r| r.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default();
            names.sort();
            for n in names {
                walk(&n, out);
            }
        }
    }
    let mut out = Snapshot::new();
    walk(root, &mut out);
    for f in [
        "/etc/passwd",
        "/etc/group",
        "/etc/shadow",
        "/etc/gshadow",
        "/var/spool/cron/crontabs",
    ] {
        walk(Path::new(f), &mut out);
    }
    out
}

fn sh(script: &str) {
    let ok = std::process::Command::new("sh")
        .args(["-c", script])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "setup failed: {script}");
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// A fresh sandbox with the files the cases read.
fn sandbox(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tprov-sandbox-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    let q = crate::transport::sh_quote(&d.display().to_string());
    sh(&format!(
        "set -e; mkdir -p {q}/dir {q}/tree/a {q}/app {q}/www {q}/crond; cd {q}
printf 'a=1\\nb=2\\n' > conf; chmod 0644 conf; echo gone > gone
echo src > src.txt; echo leaf > tree/a/leaf; printf '{{{{ 1 + 1 }}}}\\n' > t.j2
printf '#!/bin/sh\\ntouch {q}/by-script\\n' > script.sh; chmod +x script.sh
printf -- '- debug: {{msg: x}}\\n' > tasks.yml; printf 'walk_var: 1\\n' > vars.yml
printf '{{\"apps\": [{{\"name\": \"walk\", \"script\": \"app.js\"}}]}}\\n' > app/ecosystem.json
git init -q repo; cd repo; echo one > f; git add f
git -c user.name=w -c user.email=w@w commit -qm one",
    ));
    d
}

fn task(dir: &Path, text: &str) -> Task {
    // Beside the sandbox, not in it: the walk compares the sandbox's mtimes too.
    let file = dir.with_extension("case.yml");
    let body = format!("- {}\n", text.replace("@D@", &dir.display().to_string()));
    std::fs::write(&file, body).expect("case file");
    let items = crate::playbook::load_tasks_file(&file, None, &[], false)
        .unwrap_or_else(|e| panic!("{text}: {e:?}"));
    let _ = std::fs::remove_file(&file);
    match items.into_iter().next() {
        Some(Item::Task(t)) => *t,
        _ => panic!("{text}: not a task"),
    }
}

/// What the walk compares between check mode and the run.
#[derive(Debug, PartialEq)]
struct Seen {
    changed: bool,
    failed: bool,
    diffs: Vec<super::Diff>,
}

fn seen(r: &Result<Outcome, TaskError>) -> Result<Seen, TaskError> {
    r.as_ref()
        .map(|o| Seen {
            changed: o.changed,
            failed: o.failed,
            diffs: o.diffs.clone(),
        })
        .map_err(Clone::clone)
}

async fn run_one(
    conn: &Connection,
    dir: &Path,
    t: &Task,
    check: bool,
    sim: &mut Sim,
) -> Result<Outcome, TaskError> {
    let (probe, writer) = Cx::access(conn, None, check);
    let scope = crate::template::Scope::new(crate::template::engine(), Vec::new(), None);
    let mut cx = Cx {
        probe,
        writer,
        escalate: None,
        diff: true,
        sim,
        search: vec![dir.to_path_buf()],
        play_dir: dir.to_path_buf(),
        task_dir: dir.to_path_buf(),
        role_dir: None,
        scope,
        host: "sandbox".into(),
        env: Vec::new(),
        task: t,
        background: None,
    };
    super::run(&t.module, &t.args, &mut cx).await
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn cleanup_accounts() {
    if is_root() {
        let _ = std::process::Command::new("sh")
            .args([
                "-c",
                &format!(
                    "userdel {WALK_USER} 2>/dev/null; groupdel {WALK_GROUP} 2>/dev/null; true"
                ),
            ])
            .status();
    }
}

#[test]
fn every_module_has_a_case() {
    let missing: Vec<&str> = MODULES
        .iter()
        .map(|m| m.spec.name)
        .filter(|n| !CASES.iter().any(|c| c.module == *n))
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a sandbox case: {missing:?}"
    );
    for c in CASES {
        let t = task(&std::env::temp_dir(), c.task);
        assert_eq!(t.module, c.module, "{}", c.task);
        assert!(t.arg_errors.is_empty(), "{}: {:?}", c.task, t.arg_errors);
    }
}

/// Check mode writes nothing, whatever the module, wherever it gets to.
#[test]
fn check_mode_writes_nothing() {
    let _guard = ACCOUNTS.lock();
    cleanup_accounts();
    let dir = sandbox("check");
    let before = snapshot(&dir);
    let conn = Connection::Local(crate::transport::local_connection());
    let rt = runtime();
    for c in CASES {
        let t = task(&dir, c.task);
        let mut sim = Sim::default();
        let _ = rt.block_on(run_one(&conn, &dir, &t, true, &mut sim));
        let after = snapshot(&dir);
        let changed: Vec<&PathBuf> = before
            .keys()
            .chain(after.keys())
            .filter(|p| before.get(*p) != after.get(*p))
            .collect();
        assert!(
            changed.is_empty(),
            "{} wrote in check mode: {changed:?}",
            c.task
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Check mode predicts the run; the run is idempotent.
#[test]
fn check_predicts_the_run_and_the_second_run_changes_nothing() {
    let _guard = ACCOUNTS.lock();
    let rt = runtime();
    let conn = Connection::Local(crate::transport::local_connection());
    let root = is_root();
    let mut failures = Vec::new();
    for (i, c) in CASES.iter().enumerate().filter(|(_, c)| c.run) {
        if !root && matches!(c.module, "user" | "group") {
            continue;
        }
        cleanup_accounts();
        let dir = sandbox(&format!("run{i}"));
        let t = task(&dir, c.task);
        let mut sim = Sim::default();
        let predicted = seen(&rt.block_on(run_one(&conn, &dir, &t, true, &mut sim)));
        let mut sim = Sim::default();
        let first = seen(&rt.block_on(run_one(&conn, &dir, &t, false, &mut sim)));
        let second = seen(&rt.block_on(run_one(&conn, &dir, &t, false, &mut sim)));
        let mut sim = Sim::default();
        let after = seen(&rt.block_on(run_one(&conn, &dir, &t, true, &mut sim)));
        let _ = std::fs::remove_dir_all(&dir);
        // A case of a module that changes things has to change something, or the
        // sandbox proves nothing.
        let changes = !READ_ONLY.contains(&c.module);
        if !matches!(&first, Ok(f) if f.changed == changes && !f.failed) {
            failures.push(format!("{}\n  the run: {first:?}", c.task));
        }
        match (&predicted, &first) {
            (Ok(p), Ok(f)) if p == f => {}
            // Ansible's check mode returns before the attributes are set, so its diff is
            // shorter than the run's: the same decision is what is predicted.
            (Ok(p), Ok(f))
                if CHECK_DIFF_SHORTER.contains(&c.task)
                    && (p.changed, p.failed) == (f.changed, f.failed) => {}
            _ => failures.push(format!(
                "{}\n  check mode: {predicted:?}\n  the run:    {first:?}",
                c.task
            )),
        }
        for (what, r) in [("second run", &second), ("check after", &after)] {
            if !matches!(r, Ok(s) if !s.changed && !s.failed) {
                failures.push(format!("{}\n  {what}: {r:?}", c.task));
            }
        }
    }
    cleanup_accounts();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Cases whose check-mode diff Ansible itself makes shorter than the run's: `file`
/// creating a directory returns from check mode with the state alone
/// (modules/file.py ensure_directory), the run adds the mode it set.
const CHECK_DIFF_SHORTER: &[&str] =
    &["file: {path: '@D@/new-dir/sub', state: directory, mode: '0750'}"];

/// The two tests that touch the machine's users and groups run one at a time.
static ACCOUNTS: std::sync::Mutex<()> = std::sync::Mutex::new(());
