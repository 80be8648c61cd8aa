//! tprov against ansible-core on the same files: `inventory --list`/`--graph` must be
//! byte for byte `ansible-inventory`'s, limits must select the same hosts, and templated
//! values must equal what Ansible's templar gives.

use crate::support::{ansible, fixture, lines, oracle, root, run_ok, stdout, tprov};
use std::path::PathBuf;

/// Every inventory source in the corpus, plus the fleet's own.
fn sources() -> Vec<PathBuf> {
    let inv = fixture("inventories");
    vec![
        inv.join("ini_values/hosts"),
        inv.join("ranges/hosts"),
        inv.join("children_later/hosts"),
        inv.join("precedence/hosts"),
        inv.join("yaml_inv/hosts.yml"),
        inv.join("dir_sources/inv"),
        inv.join("patterns/hosts"),
        inv.join("yaml_scalars/hosts"),
        inv.join("ungrouped_edges/hosts"),
        root().join("inventory/tot"),
    ]
}

#[test]
fn list_is_byte_identical_to_ansible_inventory() {
    for src in sources() {
        let theirs = run_ok(
            ansible("ansible-inventory")
                .arg("-i")
                .arg(&src)
                .arg("--list"),
        );
        let ours = run_ok(tprov().args(["inventory", "--list", "-i"]).arg(&src));
        assert_eq!(ours, theirs, "--list differs for {}", src.display());
    }
}

#[test]
fn graph_is_identical_to_ansible_inventory() {
    for src in sources() {
        let theirs = run_ok(
            ansible("ansible-inventory")
                .arg("-i")
                .arg(&src)
                .arg("--graph"),
        );
        let ours = run_ok(tprov().args(["inventory", "--graph", "-i"]).arg(&src));
        assert_eq!(ours, theirs, "--graph differs for {}", src.display());
        let theirs = run_ok(
            ansible("ansible-inventory")
                .arg("-i")
                .arg(&src)
                .args(["--graph", "--vars"]),
        );
        let ours = run_ok(
            tprov()
                .args(["inventory", "--graph", "--vars", "-i"])
                .arg(&src),
        );
        assert_eq!(ours, theirs, "--graph --vars differs for {}", src.display());
    }
}

#[test]
fn host_vars_match_ansible_inventory_host() {
    for src in sources() {
        let hosts = run_ok(tprov().args(["inventory", "--list-hosts", "-i"]).arg(&src));
        for h in hosts.lines().take(4) {
            let theirs = run_ok(
                ansible("ansible-inventory")
                    .arg("-i")
                    .arg(&src)
                    .args(["--host", h]),
            );
            let ours = run_ok(tprov().args(["inventory", "--host", h, "-i"]).arg(&src));
            assert_eq!(ours, theirs, "--host {h} differs for {}", src.display());
        }
    }
}

#[test]
fn limits_select_what_ansible_selects() {
    let src = fixture("inventories/patterns/hosts");
    let patterns = lines(&fixture("inventories/patterns/limits"));
    let answer = oracle(&serde_json::json!({"inventory": src, "limits": patterns}));
    for p in &patterns {
        let theirs = &answer["limits"][p.as_str()];
        let out = tprov()
            .args(["inventory", "--list-hosts", "--limit", p, "-i"])
            .arg(&src)
            .output()
            .expect("runs");
        let ours: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
        match theirs {
            serde_json::Value::Array(hosts) if hosts.is_empty() => {
                // Ansible warns and selects nothing; tprov makes that an error.
                assert!(
                    !out.status.success(),
                    "limit {p:?}: Ansible selects nothing, tprov selected {ours:?}"
                );
            }
            serde_json::Value::Array(hosts) => {
                let theirs: Vec<String> = hosts
                    .iter()
                    .map(|h| h.as_str().unwrap_or_default().to_string())
                    .collect();
                assert!(
                    out.status.success(),
                    "limit {p:?} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                assert_eq!(ours, theirs, "limit {p:?}");
            }
            other => assert!(
                !out.status.success(),
                "limit {p:?}: Ansible fails ({other}), tprov selected {ours:?}"
            ),
        }
    }
}

#[test]
fn short_alias_is_an_extension_that_never_conflicts() {
    // Ansible matches nothing for a bare short name; tprov picks the one host.
    let src = fixture("inventories/patterns/hosts");
    let ours = run_ok(
        tprov()
            .args(["inventory", "--list-hosts", "--limit", "sandbox3", "-i"])
            .arg(&src),
    );
    assert_eq!(ours, "sandbox3.tokenoftrust.com\n");
}

#[test]
fn templated_values_match_ansible() {
    for (dir, hosts) in [
        ("inventories/precedence", &["w1", "w2", "d1"][..]),
        ("inventories/filters", &["h1"][..]),
    ] {
        templated_values_match(&fixture(dir), hosts);
    }
}

fn templated_values_match(dir: &std::path::Path, hosts: &[&str]) {
    let src = dir.join("hosts");
    let templates = lines(&dir.join("templates"));
    let request = serde_json::json!({
        "inventory": src,
        "templates": hosts.iter().map(|h| (h.to_string(), serde_json::json!(templates))).collect::<serde_json::Map<_, _>>(),
    });
    let answer = oracle(&request);
    for &h in hosts {
        let out = tprov()
            .args(["eval", "--json", "-i"])
            .arg(&src)
            .arg(h)
            .args(&templates)
            .output()
            .expect("runs");
        let ours: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("eval prints JSON");
        for t in &templates {
            let theirs = &answer["templates"][h][t.as_str()];
            let mine = &ours[t.as_str()];
            if let Some(err) = theirs.get("error") {
                let mine_err = mine.get("error").unwrap_or_else(|| {
                    panic!("{h} {t:?}: Ansible fails ({err}), tprov gives {mine}")
                });
                if let Some(name) = err.as_str().and_then(|e| e.strip_suffix(" is undefined")) {
                    assert!(
                        mine_err
                            .as_str()
                            .unwrap_or_default()
                            .contains(&format!("{name} is undefined")),
                        "{h} {t:?}: {mine_err} vs {err}"
                    );
                }
            } else {
                assert_eq!(mine.get("value"), theirs.get("value"), "{h} {t:?}");
            }
        }
    }
}
