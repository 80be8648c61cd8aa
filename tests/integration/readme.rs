//! The README's everyday commands, run as written from the repository's root (its
//! tprov.toml in force) against a lab: each line of the "Everyday use" block, in order,
//! must exit as documented and show what it promises. A line this test has no
//! expectation for fails the test, so the README and this test cannot drift apart.

use crate::support::{Lab, root, service_port, stderr, stdout};
use std::process::Command;

/// The README's "Everyday use" commands: the first sh block after that heading.
fn everyday_commands() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let after = text
        .split_once("## Everyday use")
        .expect("README has an 'Everyday use' section")
        .1;
    let block = after
        .split_once("```sh\n")
        .and_then(|(_, b)| b.split_once("```"))
        .expect("an sh block in 'Everyday use'")
        .0;
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// What each line must show (all exit 0): substrings of its output.
fn expectation(line: &str) -> Option<&'static [&'static str]> {
    let table: &[(&str, &[&str])] = &[
        (
            "tprov apply -g tot20-sandbox --limit sandbox3 ",
            &[
                "sandbox3.tokenoftrust.com  : ok=",
                "failed=0",
                // The name rendered with the host's vars, as ansible-playbook's banner.
                "TASK [the app runs under tot20-sandbox's PM2]",
            ],
        ),
        (
            "tprov diff  -g tot20-sandbox --limit sandbox3 ",
            &["changed=0    unreachable=0    failed=0"],
        ),
        (
            "tprov apply playbooks/configure.yml -g tot20-sandbox --limit sandbox3 --check --diff",
            &[
                "PLAY [Configure the service]",
                "changed=0    unreachable=0    failed=0",
            ],
        ),
        (
            "tprov run -g tot20-sandbox --limit sandbox3 --become-user tot20-sandbox -- 'pm2 list'",
            &[
                "sandbox3.tokenoftrust.com | CHANGED | rc=0",
                "tot-app",
                "online",
            ],
        ),
        (
            "tprov diff -g tot20-sandbox --limit sandbox4 --adopt",
            &[
                "[NOTE]: sandbox4.tokenoftrust.com runs as a member of tot20-sandbox (--adopt), out of tot-sandbox",
                "\"path\": \"tot20-sandbox\"",
                "sandbox4.tokenoftrust.com  : ok=",
                "failed=0",
            ],
        ),
        ("tprov validate -i inventory/tot", &["0 error(s)"]),
        (
            "tprov inventory -i inventory/tot --graph",
            &["@tot20-sandbox:", "sandbox3.tokenoftrust.com"],
        ),
        (
            "tprov inventory -i inventory/tot move sandbox3 --from tot-sandbox --to tot20-sandbox --check",
            &[
                "+# sandbox3.tokenoftrust.com # migrated to tot20-sandbox",
                "nothing written: --check",
            ],
        ),
        (
            "tprov eval -i inventory/tot sandbox3 '{{ totService.node_version }}'",
            &["16.14.2"],
        ),
    ];
    table
        .iter()
        .find(|(prefix, _)| line.starts_with(prefix))
        .map(|(_, want)| *want)
}

#[test]
fn readme_everyday_commands_work_as_written_against_the_lab() {
    let commands = everyday_commands();
    assert!(commands.len() >= 5, "too few commands found: {commands:?}");
    for c in &commands {
        assert!(
            expectation(c).is_some(),
            "README line without an expectation in tests/integration/readme.rs: {c}"
        );
    }
    let _port = service_port();
    let mut lab = Lab::up("readme", &["sandbox3", "sandbox4"]);
    tprov::lab::serve_node_mirror(&mut lab.lab).unwrap_or_else(|e| panic!("node mirror: {e}"));
    std::fs::write(&lab.inventory, tprov::lab::inventory_text(&lab.lab)).expect("inventory");
    let _ = std::os::unix::fs::symlink(root().join("group_vars"), lab.dir.join("group_vars"));
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_tprov"))
        .parent()
        .expect("bin dir")
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for c in &commands {
        let out = Command::new("bash")
            .arg("-c")
            .arg(c)
            .current_dir(root())
            .env("PATH", &path)
            .env("TPROV_INVENTORY", &lab.inventory)
            .env_remove("TPROV_CONFIG")
            .env("NO_COLOR", "1")
            .output()
            .expect("bash runs");
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            out.status.success(),
            "`{c}` exited {:?}:\n{text}",
            out.status
        );
        for want in expectation(c).unwrap_or_default() {
            assert!(text.contains(want), "`{c}` does not show {want:?}:\n{text}");
        }
    }
}

/// Seed 000's mid-migration mistake, made on purpose: the new group's deploy limited to a
/// host the inventory still lists in the old group selects no host. That is an error
/// naming the host's groups and the way out, never a success that did nothing.
#[test]
fn a_run_that_selects_no_host_fails_and_says_why() {
    let out = Command::new(env!("CARGO_BIN_EXE_tprov"))
        .args(["diff", "-g", "tot20-sandbox", "--limit", "sandbox3"])
        .current_dir(root())
        .env_remove("TPROV_CONFIG")
        .env_remove("TPROV_INVENTORY")
        .env("NO_COLOR", "1")
        .output()
        .expect("tprov runs");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    for want in [
        "no play selected any host",
        "sandbox3.tokenoftrust.com is in sandbox, tot-sandbox",
        "-g tot20-sandbox --limit sandbox3 --adopt",
    ] {
        assert!(err.contains(want), "{want:?} missing:\n{err}");
    }
}
