//! Bad input gets a clear error naming the file, line and column, and a non-zero exit.

use crate::support::{stderr, tprov};

fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write fixture");
    p
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("tprov-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

#[test]
fn ini_errors_name_file_and_line() {
    let d = tmp("ini");
    let cases = [
        (
            "[web]\nh1\n[web:nonsense]\n",
            "hosts:3:1: error: Section [web:nonsense] has unknown type: nonsense",
        ),
        (
            "[web]\nh1 novalue\n",
            "hosts:2:1: error: Expected key=value host variable assignment, got: novalue",
        ),
        (
            "[p:children]\nmissing\n",
            "hosts:2:1: error: Section [p:children] includes undefined group 'missing'.",
        ),
        (
            "[g:vars]\nx=1\n",
            "hosts:1:1: error: Section [g:vars] not valid for undefined group 'g'.",
        ),
        (
            "[a:children]\nb\n[b:children]\na\n",
            "recursive dependency loop",
        ),
        ("[web group]\n", "Invalid section entry: '[web group]'"),
        ("[web]\nh[01:1]\n", "equal-length"),
        ("[web]\nbig[0:500000000]\n", "more than the limit"),
    ];
    for (text, want) in cases {
        let p = write(&d, "hosts", text);
        let out = tprov()
            .args(["inventory", "--list", "-i"])
            .arg(&p)
            .output()
            .expect("runs");
        assert!(!out.status.success(), "{text:?} should fail");
        let err = stderr(&out);
        assert!(err.contains(want), "{text:?}: got {err}");
    }
}

#[test]
fn binary_inventory_is_refused() {
    let d = tmp("bin");
    let p = d.join("inv.bin");
    std::fs::write(&p, [0u8, 159, 146, 150, 0, 1, 2]).expect("write");
    let out = tprov()
        .args(["inventory", "--list", "-i"])
        .arg(&p)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("binary"), "{}", stderr(&out));
}

#[test]
fn limit_selecting_nothing_is_an_error() {
    let out = tprov()
        .args([
            "inventory",
            "--list-hosts",
            "-i",
            "inventory/tot",
            "--limit",
            "nosuchhost",
        ])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no hosts matched"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn ambiguous_alias_lists_candidates() {
    let d = tmp("alias");
    let p = write(&d, "hosts", "a.one.example\na.two.example\n");
    let out = tprov()
        .args(["inventory", "--list-hosts", "--limit", "a", "-i"])
        .arg(&p)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("a.one.example, a.two.example"),
        "{}",
        stderr(&out)
    );
}

/// `ignore_unreachable`: the host that cannot be reached stays for the next task, which
/// then counts it unreachable; the recap line is ansible-playbook's.
#[test]
fn ignore_unreachable_keeps_the_host_for_the_next_task() {
    let dir = std::env::temp_dir().join(format!("tprov-unreachable-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("hosts"),
        "ghost ansible_host=127.0.0.1 ansible_port=1 ansible_user=root\n",
    )
    .expect("inventory");
    std::fs::write(
        dir.join("play.yml"),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: \"true\"\n      ignore_unreachable: true\n    - command: \"true\"\n    - command: \"true\"\n",
    )
    .expect("playbook");
    let out = crate::support::tprov()
        .current_dir(&dir)
        .args(["apply", "-i", "hosts", "play.yml"])
        .output()
        .expect("tprov runs");
    let text = crate::support::stdout(&out);
    assert!(
        text.contains("ghost                      : ok=1    changed=0    unreachable=1    failed=0    skipped=0    rescued=0    ignored=1"),
        "{text}"
    );
    // The first task's failure is shown, then ansible-playbook's "...ignoring".
    let first = text.find("UNREACHABLE!").expect("an unreachable line");
    assert!(text[first..].contains("\n...ignoring\n"), "{text}");
    assert_eq!(out.status.code(), Some(4));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A task file that includes itself ends the run with the include's file:line, a recap
/// and exit 2, instead of overflowing the stack (issue 12).
#[test]
fn self_including_task_file_fails_with_file_and_line() {
    let dir = tmp("self-include");
    write(
        &dir,
        "rec.yml",
        "- debug: msg=again\n- include_tasks: rec.yml\n",
    );
    write(
        &dir,
        "play.yml",
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - include_tasks: rec.yml\n",
    );
    let out = crate::support::tprov()
        .current_dir(&dir)
        .args(["apply", "play.yml"])
        .output()
        .expect("tprov runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        // The task's position, where Ansible's Origin points: its first key.
        text.contains("rec.yml:2:3: include_tasks nested more than 64 deep"),
        "{text}"
    );
    assert!(text.contains("PLAY RECAP"), "{text}");
}
