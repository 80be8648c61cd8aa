//! `tprov validate` finds every problem in one run, each with file:line:col, and never
//! crashes or hangs on hostile input.

use crate::support::{root, stdout, tprov};
use std::path::{Path, PathBuf};

/// A copy of the fleet's files in a temp dir, to break on purpose.
fn fleet_copy(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tprov-validate-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    for sub in ["inventory", "group_vars", "templates", "schema"] {
        copy_dir(&root().join(sub), &d.join(sub));
    }
    d
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let meta = std::fs::symlink_metadata(&src).expect("stat");
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).expect("readlink"), &dst)
                .expect("symlink");
        } else if meta.is_dir() {
            copy_dir(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
}

fn validate(dir: &Path) -> (bool, String) {
    // The fleet's collections (collections/requirements.yml), as a user has them
    // installed: the copy lab/install.sh extracts.
    let collections = crate::support::install_cache().join("collections");
    let out = tprov()
        .current_dir(dir)
        .env("ANSIBLE_COLLECTIONS_PATH", collections)
        .args(["validate", "-i", "inventory/tot"])
        .output()
        .expect("runs");
    (out.status.success(), stdout(&out))
}

#[test]
fn the_fleet_is_clean() {
    let (ok, out) = validate(&root());
    assert!(ok, "{out}");
    assert!(out.ends_with("0 error(s), 0 warning(s)\n"), "{out}");
}

#[test]
fn every_problem_is_reported_with_its_position() {
    let d = fleet_copy("broken");
    let append = |rel: &str, text: &str| {
        let p = d.join(rel);
        let old = std::fs::read_to_string(&p).unwrap_or_default();
        std::fs::write(&p, format!("{old}{text}")).expect("write");
    };
    append(
        "inventory/tot",
        "\n[tot20-sandbox]\nsandbox3.tokenoftrust.com\n",
    );
    // The appended lines are numbered from the end of the file as it is.
    let base = std::fs::read_to_string(d.join("group_vars/production.yaml"))
        .expect("read")
        .lines()
        .count();
    append(
        "group_vars/production.yaml",
        "totUsr: x\nmode: 0644\nloopa: \"{{ loopb }}\"\nloopb: \"{{ loopa }}\"\nbad: \"{{ nope }}\"\n",
    );
    let tv = std::fs::read_to_string(d.join("group_vars/tot-sandbox.yaml"))
        .expect("read")
        .replace("port: 31080", "port: 70000");
    std::fs::write(d.join("group_vars/tot-sandbox.yaml"), tv).expect("write");
    std::fs::write(d.join("group_vars/tot-sandbx.yaml"), "x: 1\n").expect("write");
    std::fs::write(d.join("templates/broken.j2"), "ok\n{{ y }\n").expect("write");
    let (ok, out) = validate(&d);
    assert!(!ok, "{out}");
    assert!(
        !out.contains("inventory/group_vars"),
        "one directory reached two ways is reported once:\n{out}"
    );
    for want in [
        format!("group_vars/production.yaml:{}:1: error: unknown var `totUsr`; did you mean `totUser`?", base + 1),
        format!("group_vars/production.yaml:{}:7: warning: unquoted `0644` is the octal number 420", base + 2),
        format!("group_vars/production.yaml:{}:1: error: recursive loop detected in template: loopa -> loopb -> loopa", base + 3),
        format!("group_vars/production.yaml:{}:1: error: 'nope' is undefined", base + 5),
        "group_vars/tot-sandbox.yaml:7:1: error: `totService.port` is 70000, outside 1024..=65535".to_string(),
        "group_vars/tot-sandbx.yaml: warning: no group named `tot-sandbx` in the inventory, so these vars apply to nothing; did you mean `tot-sandbox`?".to_string(),
        "inventory/tot:9:1: error: sandbox3.tokenoftrust.com is in both tot-sandbox and tot20-sandbox".to_string(),
        "templates/broken.j2:2:1: error: template syntax error".to_string(),
    ] {
        assert!(out.contains(want.as_str()), "missing {want:?} in:\n{out}");
    }
}

#[test]
fn json_output_for_machines() {
    let d = fleet_copy("json");
    std::fs::write(d.join("group_vars/all.yaml"), "nodeVersion16: [\n").expect("write");
    let out = tprov()
        .current_dir(&d)
        .args(["validate", "-i", "inventory/tot", "--format", "json"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let first = &v["problems"][0];
    assert_eq!(first["file"], "group_vars/all.yaml");
    assert_eq!(first["severity"], "error");
    assert!(
        first["message"]
            .as_str()
            .unwrap_or_default()
            .contains("YAML syntax error"),
        "{first}"
    );
}

#[test]
fn hostile_input_is_refused_quickly() {
    let d = fleet_copy("hostile");
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        bomb.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            vec![format!("*a{}", i - 1); 10].join(", ")
        ));
    }
    let cases: Vec<(&str, String, &str)> = vec![
        ("group_vars/all.yaml", bomb, "alias bomb"),
        (
            "group_vars/all.yaml",
            format!("x: {}\n", "[".repeat(100_000)),
            "recursion limit",
        ),
        (
            "group_vars/all.yaml",
            (0..3000)
                .map(|i| format!("{}k:\n", " ".repeat(i)))
                .collect(),
            "nesting",
        ),
        (
            "inventory/tot",
            "[web]\nbig[0:500000000]\n".into(),
            "more than the limit",
        ),
    ];
    for (file, text, want) in cases {
        let original = std::fs::read(d.join(file)).expect("read");
        std::fs::write(d.join(file), &text).expect("write");
        let (ok, out) = validate(&d);
        assert!(!ok, "{file} with hostile input passed");
        assert!(out.contains(want), "{file}: expected {want:?} in {out}");
        std::fs::write(d.join(file), original).expect("restore");
    }
    std::fs::write(
        d.join("inventory/tot"),
        [0x7f, b'E', b'L', b'F', 0, 0, 1, 2, 0xff, 0xfe],
    )
    .expect("write");
    let (ok, out) = validate(&d);
    assert!(!ok);
    assert!(out.contains("binary"), "{out}");
}

/// A var named like a playbook keyword is a warning, as Ansible warns about it.
#[test]
fn reserved_var_names_are_warned_about() {
    let dir = std::env::temp_dir().join(format!("tprov-reserved-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("group_vars")).expect("dir");
    std::fs::write(dir.join("hosts"), "[g]\nh1\n").expect("inventory");
    std::fs::write(dir.join("group_vars/g.yml"), "port: 5432\nfine: 1\n").expect("vars");
    let out = crate::support::tprov()
        .current_dir(&dir)
        .args([
            "validate",
            "-i",
            "hosts",
            "--schema",
            "none",
            "--templates",
            "none",
        ])
        .output()
        .expect("runs");
    let text = crate::support::stdout(&out);
    assert!(
        text.contains("group_vars/g.yml:1:1: warning: `port` is a reserved name"),
        "{text}"
    );
    assert!(!text.contains("`fine`"), "{text}");
    assert!(out.status.success(), "warnings alone pass: {text}");
    let _ = std::fs::remove_dir_all(&dir);
}
