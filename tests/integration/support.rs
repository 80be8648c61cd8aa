//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}

/// The tprov binary under test, run from the repository root with no config file.
pub(crate) fn tprov() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tprov"));
    c.current_dir(root())
        .env("TPROV_CONFIG", root().join("tests/fixtures/empty.toml"))
        .env("NO_COLOR", "1");
    c
}

/// A command from ansible-core; the conformance tests need the real thing, so its
/// absence is a failure that says how to install it, never a silent skip.
pub(crate) fn ansible(bin: &str) -> Command {
    let found = Command::new(bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{bin} is missing: the conformance tests compare against ansible-core. Install it with `pip install 'ansible-core==2.19.*'` (.ci/run does)."
    );
    let mut c = Command::new(bin);
    c.current_dir(root())
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_DEPRECATION_WARNINGS", "0")
        .env("ANSIBLE_CONFIG", root().join("tests/fixtures/ansible.cfg"));
    c
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub(crate) fn run_ok(c: &mut Command) -> String {
    let o = c.output().expect("command runs");
    assert!(
        o.status.success(),
        "{c:?} failed: {}\n{}",
        stderr(&o),
        stdout(&o)
    );
    stdout(&o)
}

/// Where lab/install.sh keeps what it fetched for the tests (passlib, the collections
/// extracted from PyPI's `ansible`): `TPROV_TARGETS_CACHE`, else the XDG cache.
pub(crate) fn install_cache() -> PathBuf {
    std::env::var_os("TPROV_TARGETS_CACHE").map_or_else(
        || {
            std::env::var_os("XDG_CACHE_HOME")
                .map_or_else(
                    || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache"),
                    PathBuf::from,
                )
                .join("tprov-ansible-targets")
        },
        PathBuf::from,
    )
}

/// Asks ansible-core (through tests/oracle/ansible_oracle.py) the same questions.
pub(crate) fn oracle(request: &serde_json::Value) -> serde_json::Value {
    use std::io::Write;
    let _ = ansible("ansible-inventory");
    // passlib (for password_hash), where lab/install.sh put it beside the machine's Python.
    let cache = install_cache();
    let mut child = Command::new("python3")
        .arg(root().join("tests/oracle/ansible_oracle.py"))
        .env("ANSIBLE_CONFIG", root().join("tests/fixtures/ansible.cfg"))
        .env("PYTHONPATH", cache.join("pylib"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.to_string().as_bytes())
        .expect("write request");
    let out = child.wait_with_output().expect("oracle finishes");
    assert!(out.status.success(), "oracle failed: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("oracle answers JSON")
}

/// A field of `host`'s line in a run's PLAY RECAP (`changed`, `failed`...).
pub(crate) fn recap_field(out: &str, host: &str, field: &str) -> u32 {
    out.lines()
        .find(|l| l.starts_with(host) && l.contains(" : ok="))
        .and_then(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{field}=")))
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {field} for {host} in:\n{out}"))
}

pub(crate) fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .filter(|l| !l.trim().is_empty())
        .collect()
}

/// A lab fleet for one test; stopped (every trace removed) when dropped.
pub(crate) struct Lab {
    pub dir: PathBuf,
    pub inventory: PathBuf,
    pub lab: tprov::lab::Lab,
}

/// The lab needs root; without it the test fails and says why.
pub(crate) fn require_lab() {
    if let Err(e) = tprov::lab::preflight() {
        panic!("this test needs the lab fleet, which cannot run here: {e}");
    }
}

/// The lab's application repository (see `tprov::lab::ensure_repo`), made once.
pub(crate) fn lab_repo() {
    static ONCE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| tprov::lab::ensure_repo().unwrap_or_else(|e| panic!("lab repo: {e}")));
}

impl Lab {
    pub(crate) fn up(name: &str, hosts: &[&str]) -> Lab {
        Lab::up_with(name, hosts, tprov::lab::Net::Shared)
    }

    /// Hosts with their own network namespaces (see `tprov::lab::Net::Own`).
    pub(crate) fn up_own_network(name: &str, hosts: &[&str]) -> Lab {
        Lab::up_with(name, hosts, tprov::lab::Net::Own)
    }

    fn up_with(name: &str, hosts: &[&str], net: tprov::lab::Net) -> Lab {
        require_lab();
        lab_repo();
        let dir = std::env::temp_dir().join(format!("tprov-lab-{name}-{}", std::process::id()));
        let _ = tprov::lab::down(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        let names: Vec<(String, String)> = hosts
            .iter()
            .map(|h| {
                let group = tprov::lab::FLEET
                    .iter()
                    .find(|(n, _)| n.split('.').next() == Some(*h))
                    .map_or("tot20-sandbox", |(_, g)| g);
                (format!("{h}.tokenoftrust.com"), group.to_string())
            })
            .collect();
        let lab = tprov::lab::up(&dir, &names, 22, net).unwrap_or_else(|e| panic!("lab up: {e}"));
        let inventory = dir.join("inventory");
        std::fs::write(&inventory, tprov::lab::inventory_text(&lab)).expect("write inventory");
        Lab {
            dir,
            inventory,
            lab,
        }
    }

    pub(crate) fn host(&self, short: &str) -> &tprov::lab::LabHost {
        self.lab
            .hosts
            .iter()
            .find(|h| h.name.split('.').next() == Some(short))
            .unwrap_or_else(|| panic!("no lab host {short}"))
    }

    /// A transport target for a lab host, as root with the lab key.
    pub(crate) fn target(&self, short: &str) -> tprov::transport::Target {
        let h = self.host(short);
        let mut t = tprov::transport::Target::new(&h.name);
        t.host = h.addr.to_string();
        t.port = h.port;
        t.user = "root".into();
        t.identity_files = vec![self.dir.join("id_ed25519")];
        t.known_hosts = vec![self.dir.join("known_hosts")];
        t
    }

    /// The host's filesystem seen from outside.
    pub(crate) fn root(&self, short: &str) -> PathBuf {
        tprov::lab::host_root(self.host(short)).expect("host root")
    }

    /// Runs a shell command on a host as root (through tprov's own transport).
    pub(crate) fn sh(&self, short: &str, cmd: &str) -> tprov::transport::ExecOutput {
        let t = self.target(short);
        rt().block_on(async {
            let c = tprov::transport::Connection::open(&t)
                .await
                .expect("connect");
            let out = c.exec(cmd, None, None, None).await.expect("exec");
            c.close().await;
            out
        })
    }

    /// `tprov SUBCOMMAND -i <this lab's inventory> ARGS...`.
    pub(crate) fn tprov(&self, sub: &str) -> Command {
        let mut c = tprov();
        c.arg(sub).arg("-i").arg(&self.inventory);
        c
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = tprov::lab::down(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(crate) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A local ACME server: Debian's `pebble`, with `pebble-challtestsrv` answering every
/// DNS name with `answer` (the lab host that must pass HTTP-01). Both bind `bind`, an
/// address of the lab's own 127.42.<slot>.0/24, so labs in parallel do not collide.
/// certbot reaches it over TLS with a CA made here (`ca_pem`, to copy onto the host).
pub(crate) struct Pebble {
    procs: Vec<std::process::Child>,
    pub url: String,
    pub ca_pem: String,
}

impl Pebble {
    pub(crate) fn start(
        dir: &Path,
        bind: std::net::Ipv4Addr,
        answer: std::net::Ipv4Addr,
    ) -> Pebble {
        for bin in ["pebble", "pebble-challtestsrv", "openssl"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {bin}")])
                .output()
                .is_ok_and(|o| o.status.success());
            assert!(
                found,
                "{bin} is missing: apt-get install pebble openssl (see .ci/run)"
            );
        }
        let d = dir.join("pebble");
        std::fs::create_dir_all(&d).expect("pebble dir");
        let sh = |script: &str| {
            let out = Command::new("sh")
                .args(["-c", script])
                .current_dir(&d)
                .output()
                .expect("sh");
            assert!(
                out.status.success(),
                "{script}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        sh(&format!(
            "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=tprov lab ACME CA' && \
             openssl req -newkey rsa:2048 -nodes -keyout key.pem -out req.csr -subj '/CN={bind}' && \
             printf 'subjectAltName=IP:{bind}\\n' > ext.cnf && \
             openssl x509 -req -in req.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cert.pem -days 2 -extfile ext.cnf"
        ));
        let config = format!(
            r#"{{"pebble": {{"listenAddress": "{bind}:14000", "managementListenAddress": "{bind}:15000",
              "certificate": "{d}/cert.pem", "privateKey": "{d}/key.pem", "httpPort": 80, "tlsPort": 443,
              "ocspResponderURL": "", "externalAccountBindingRequired": false}}}}"#,
            d = d.display()
        );
        std::fs::write(d.join("pebble.json"), config).expect("pebble config");
        let log = |name: &str| std::fs::File::create(d.join(name)).expect("log");
        let chall = Command::new("pebble-challtestsrv")
            .args(["-defaultIPv4", &answer.to_string(), "-defaultIPv6", ""])
            .args([
                "-dns01",
                &format!("{bind}:8053"),
                "-http01",
                "",
                "-https01",
                "",
            ])
            .args(["-tlsalpn01", "", "-management", &format!("{bind}:8055")])
            .stdout(log("challtestsrv.log"))
            .stderr(log("challtestsrv.err"))
            .spawn()
            .expect("pebble-challtestsrv");
        let pebble = Command::new("pebble")
            .arg("-config")
            .arg(d.join("pebble.json"))
            .args(["-dnsserver", &format!("{bind}:8053")])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(log("pebble.log"))
            .stderr(log("pebble.err"))
            .spawn()
            .expect("pebble");
        let p = Pebble {
            procs: vec![chall, pebble],
            url: format!("https://{bind}:14000/dir"),
            ca_pem: std::fs::read_to_string(d.join("ca.pem")).expect("ca.pem"),
        };
        let up = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(100));
            std::net::TcpStream::connect((bind, 14000)).is_ok()
        });
        assert!(
            up,
            "pebble did not listen on {bind}:14000 (logs in {})",
            d.display()
        );
        p
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for p in &mut self.procs {
            let _ = p.kill();
            let _ = p.wait();
        }
    }
}

/// Lab hosts share the machine's network namespace, and the fleet's app listens on one
/// port (31080) on every host: the tests that run the service hold this while they do.
pub(crate) fn service_port() -> std::sync::MutexGuard<'static, ()> {
    static PORT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    PORT.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Every process under `pid` (the lab host's namespace holder), children first found.
pub(crate) fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut queue = vec![pid];
    while let Some(p) = queue.pop() {
        let children =
            std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")).unwrap_or_default();
        for c in children.split_whitespace().filter_map(|c| c.parse().ok()) {
            out.push(c);
            queue.push(c);
        }
    }
    out
}

/// The child's exit status, or None if it still runs after `bound` (the harness's own
/// limit, so a hang fails the test instead of stalling it).
pub(crate) fn wait_at_most(
    child: &mut std::process::Child,
    bound: Duration,
) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return Some(s);
        }
        if started.elapsed() > bound {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub(crate) fn signal(pids: &[u32], sig: &str) {
    for p in pids {
        let _ = std::process::Command::new("kill")
            .args([sig, &p.to_string()])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// A file's sha256 (hex), or "" when it cannot be read.
pub(crate) fn sha(path: &std::path::Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// `mb` MiB that compress badly and differ block to block (a big file to upload).
pub(crate) fn patterned(mb: u8) -> Vec<u8> {
    let block: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
    let mut data = Vec::with_capacity(usize::from(mb) << 20);
    for i in 0..mb {
        data.extend(block.iter().map(|b| b ^ i));
    }
    data
}
