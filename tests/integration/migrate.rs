//! `tprov migrate`: seed 000's migration of one server, against moto (Route53), a real
//! nginx (stub_status for the drain wait) and the inventory file, with the servers on
//! the controller (`ansible_connection=local`) and their "PM2" and "deploy" as commands
//! that leave a log, so every step's effect is checked.

use crate::dns::{Moto, moto, weights};
use crate::drain_wait::{Nginx, free_port};
use crate::support::tprov;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Setup {
    dir: PathBuf,
    m: Moto,
    _nginx: Nginx,
}

fn setup() -> Setup {
    let dir = std::env::temp_dir().join(format!("tprov-migrate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("tmp")).expect("dir");
    let port = free_port();
    let d = dir.display();
    std::fs::write(
        dir.join("nginx.conf"),
        format!(
            "daemon off; pid {d}/nginx.pid; error_log {d}/error.log;\nevents {{}}\nhttp {{\n access_log off;\n client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp; uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;\n server {{\n  listen 127.0.0.1:{port};\n  location /nginx_status {{ stub_status; allow 127.0.0.1; deny all; }}\n }}\n}}\n"
        ),
    )
    .expect("nginx.conf");
    let nginx = Nginx(
        Command::new("nginx")
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-p")
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nginx runs"),
    );
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let host = |n: &str| {
        format!("{n}.tokenoftrust.com ansible_connection=local nginxListen=127.0.0.1:{port}\n")
    };
    // The leader's record is made from its inventory address.
    std::fs::write(
        dir.join("hosts"),
        format!(
            "[tot-sandbox]\n{}{}\n[tot20-sandbox]\n{}",
            host("sandbox3"),
            host("sandbox4"),
            host("sandbox1").replace('\n', " ansible_host=10.0.0.1\n")
        ),
    )
    .expect("inventory");
    std::fs::write(
        dir.join("deploy.yml"),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: echo deployed {{ inventory_hostname }} {{ hostGroup }} >> log\n",
    )
    .expect("deploy.yml");
    std::fs::write(
        dir.join("broken.yml"),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - fail: msg=the new release does not start\n",
    )
    .expect("broken.yml");
    let env = |name: &str, book: &str| {
        format!(
            "[{name}]\ndns = \"sandbox.tokenoftrust.com\"\nfrom = \"tot-sandbox\"\nto = \"tot20-sandbox\"\nleader = \"sandbox1\"\nstop_old = \"echo stopped old service >> log\"\nstart_old = \"echo started again >> log\"\nplaybooks = [\"{book}\"]\ncheck = \"grep -q deployed log\"\ndrain_timeout = 10\n\n"
        )
    };
    std::fs::write(
        dir.join("migrate.toml"),
        env("sandbox", "deploy.yml") + &env("broken", "broken.yml"),
    )
    .expect("migrate.toml");
    let m = moto();
    Setup {
        dir,
        m,
        _nginx: nginx,
    }
}

impl Setup {
    fn tprov(&self, args: &[&str]) -> (i32, String) {
        let out = tprov()
            .current_dir(&self.dir)
            .args(args)
            .env("AWS_ENDPOINT_URL", &self.m.url)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env_remove("AWS_PROFILE")
            .output()
            .expect("tprov runs");
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }
}

fn weight(m: &Moto, id: &str) -> i64 {
    weights(m)
        .into_iter()
        .find(|(i, _)| i == id)
        .map_or(-1, |(_, w)| w)
}

#[test]
fn migrate_moves_a_server_with_dns_drain_resume_and_rollback() {
    let s = setup();
    let dir: &Path = &s.dir;
    // The old servers take traffic; the leader has no record yet.
    for (h, a) in [("sandbox3", "10.0.0.3"), ("sandbox4", "10.0.0.4")] {
        let (rc, out) = s.tprov(&["dns", "add", "sandbox.tokenoftrust.com", h, "--address", a]);
        assert_eq!(rc, 0, "{out}");
    }
    let (rc, out) = s.tprov(&[
        "dns",
        "add",
        "sandbox.tokenoftrust.com",
        "sandbox1",
        "--address",
        "10.0.0.1",
        "--dry-run",
    ]);
    assert_eq!(rc, 0, "{out}");
    let inventory = s.read("hosts");

    // --dry-run: the plan, in order, from live state; nothing changes.
    let (rc, plan) = s.tprov(&[
        "migrate",
        "-i",
        "hosts",
        "sandbox3",
        "--env",
        "sandbox",
        "--dry-run",
    ]);
    assert_eq!(rc, 0, "{plan}");
    let order = [
        "leader ",
        "drain ",
        "drain-wait ",
        "stop-old ",
        "deploy ",
        "move ",
        "restore ",
        "check ",
    ];
    let mut at = 0;
    for step in order {
        let i = plan[at..]
            .find(&format!("  {step}"))
            .unwrap_or_else(|| panic!("no step {step} after offset {at}:\n{plan}"));
        at += i + 1;
    }
    assert!(
        plan.contains("tprov apply deploy.yml -g tot20-sandbox --limit sandbox3 --adopt -i hosts"),
        "{plan}"
    );
    assert_eq!(s.read("hosts"), inventory, "dry run wrote the inventory");
    assert!(!dir.join("log").exists() && !dir.join(".tprov").exists());
    assert_eq!(weight(&s.m, "sandbox1"), -1);

    // The migration of sandbox3: every step's effect.
    let (rc, out) = s.tprov(&["migrate", "-i", "hosts", "sandbox3", "--env", "sandbox"]);
    assert_eq!(rc, 0, "{out}");
    assert_eq!(weight(&s.m, "sandbox1"), 100, "the leader was added");
    assert_eq!(weight(&s.m, "sandbox3"), 100, "the weight was restored");
    let log = s.read("log");
    assert!(log.contains("stopped old service"), "{log}");
    assert!(
        log.contains("deployed sandbox3.tokenoftrust.com tot20-sandbox"),
        "{log}"
    );
    let moved = s.read("hosts");
    assert!(
        moved.contains("# sandbox3.tokenoftrust.com")
            && moved.contains("migrated to tot20-sandbox"),
        "{moved}"
    );
    let journal = s.read(".tprov/migrate-sandbox.jsonl");
    assert_eq!(
        journal.matches("\"state\":\"done\"").count(),
        8,
        "{journal}"
    );

    // Run again: every step is done (the leader, in DNS now, is no step); nothing runs
    // twice.
    let (rc, out) = s.tprov(&["migrate", "-i", "hosts", "sandbox3", "--env", "sandbox"]);
    assert_eq!(rc, 0, "{out}");
    assert_eq!(out.matches("done in an earlier run").count(), 7, "{out}");
    assert_eq!(s.read("log").matches("stopped").count(), 1);

    // --status: each server, its group and weight, and its last step.
    let (rc, out) = s.tprov(&["migrate", "-i", "hosts", "--env", "sandbox", "--status"]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("check done"), "{out}");

    // The two-active rule, from live DNS, before any change: with the leader drained,
    // sandbox4 cannot go.
    let (rc, out) = s.tprov(&["dns", "drain", "sandbox.tokenoftrust.com", "sandbox1"]);
    assert_eq!(rc, 0, "{out}");
    let before = s.read("log");
    let (rc, out) = s.tprov(&["migrate", "-i", "hosts", "sandbox4", "--env", "sandbox"]);
    assert_ne!(rc, 0, "{out}");
    assert!(out.contains("would leave 1 active server"), "{out}");
    assert_eq!(s.read("log"), before, "a refused migration ran something");
    assert_eq!(weight(&s.m, "sandbox4"), 100);

    // A deploy that fails: the old service back, the weight restored, the journal
    // says so; the server is still in the old group.
    let (rc, out) = s.tprov(&["dns", "restore", "sandbox.tokenoftrust.com", "sandbox1"]);
    assert_eq!(rc, 0, "{out}");
    let (rc, out) = s.tprov(&["migrate", "-i", "hosts", "sandbox4", "--env", "broken"]);
    assert_ne!(rc, 0, "{out}");
    assert!(out.contains("step deploy failed"), "{out}");
    assert!(s.read("log").contains("started again"), "{}", s.read("log"));
    assert_eq!(weight(&s.m, "sandbox4"), 100, "the weight came back");
    let hosts = s.read("hosts");
    assert!(
        hosts.contains("\nsandbox4.tokenoftrust.com ansible_connection")
            && !hosts.contains("# sandbox4"),
        "sandbox4 left its group:\n{hosts}"
    );
    let journal = s.read(".tprov/migrate-broken.jsonl");
    assert!(
        journal.contains("\"step\":\"deploy\",\"state\":\"failed\""),
        "{journal}"
    );
    assert!(journal.contains("\"state\":\"reset\""), "{journal}");

    // A run that died after stopping the old service (its journal says so, DNS has the
    // server drained) resumes at the deploy, checking live state first.
    let (rc, out) = s.tprov(&["dns", "drain", "sandbox.tokenoftrust.com", "sandbox4"]);
    assert_eq!(rc, 0, "{out}");
    let mut journal = s.read(".tprov/migrate-sandbox.jsonl");
    for step in ["drain", "drain-wait", "stop-old"] {
        journal.push_str(&format!(
            "{{\"host\":\"sandbox4\",\"step\":\"{step}\",\"state\":\"done\",\"command\":\"\",\"at\":\"\"}}\n"
        ));
    }
    std::fs::write(dir.join(".tprov/migrate-sandbox.jsonl"), journal).expect("journal");
    let stops = s.read("log").matches("stopped").count();
    let (rc, out) = s.tprov(&["migrate", "-i", "hosts", "sandbox4", "--env", "sandbox"]);
    assert_eq!(rc, 0, "{out}");
    assert_eq!(out.matches("done in an earlier run").count(), 3, "{out}");
    assert_eq!(
        s.read("log").matches("stopped").count(),
        stops,
        "stop-old ran again"
    );
    assert!(
        s.read("log")
            .contains("deployed sandbox4.tokenoftrust.com tot20-sandbox")
    );
    assert_eq!(weight(&s.m, "sandbox4"), 100);
    assert!(
        s.read("hosts").contains("# sandbox4"),
        "{}",
        s.read("hosts")
    );

    // Unknown environment: a clear error, nothing done.
    let (rc, out) = s.tprov(&["migrate", "-i", "hosts", "sandbox4", "--env", "nowhere"]);
    assert_ne!(rc, 0);
    assert!(out.contains("no environment `nowhere`"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}
