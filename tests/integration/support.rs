//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}

/// The tprov binary under test, run from the repository root with no config file.
pub fn tprov() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tprov"));
    c.current_dir(root()).env("TPROV_CONFIG", root().join("tests/fixtures/empty.toml")).env("NO_COLOR", "1");
    c
}

/// A command from ansible-core; the conformance tests need the real thing, so its
/// absence is a failure that says how to install it, never a silent skip.
pub fn ansible(bin: &str) -> Command {
    let found = Command::new(bin).arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(found, "{bin} is missing: the conformance tests compare against ansible-core. Install it with `pip install 'ansible-core==2.19.*'` (.ci/run does).");
    let mut c = Command::new(bin);
    c.current_dir(root()).env("ANSIBLE_NOCOLOR", "1").env("ANSIBLE_DEPRECATION_WARNINGS", "0").env("ANSIBLE_CONFIG", root().join("tests/fixtures/ansible.cfg"));
    c
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn run_ok(c: &mut Command) -> String {
    let o = c.output().expect("command runs");
    assert!(o.status.success(), "{c:?} failed: {}\n{}", stderr(&o), stdout(&o));
    stdout(&o)
}

/// Asks ansible-core (through tests/oracle/ansible_oracle.py) the same questions.
pub fn oracle(request: &serde_json::Value) -> serde_json::Value {
    use std::io::Write;
    let _ = ansible("ansible-inventory");
    let mut child = Command::new("python3")
        .arg(root().join("tests/oracle/ansible_oracle.py"))
        .env("ANSIBLE_CONFIG", root().join("tests/fixtures/ansible.cfg"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().expect("stdin").write_all(request.to_string().as_bytes()).expect("write request");
    let out = child.wait_with_output().expect("oracle finishes");
    assert!(out.status.success(), "oracle failed: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("oracle answers JSON")
}

pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .filter(|l| !l.trim().is_empty())
        .collect()
}
