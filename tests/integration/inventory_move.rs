//! `tprov inventory move`: seed 000's inventory edit, checked byte for byte and against
//! ansible-inventory's reading of the result.

use crate::support::{root, tprov};

fn graph_by_ansible(file: &std::path::Path) -> String {
    let out = crate::support::ansible("ansible-inventory")
        .arg("-i")
        .arg(file)
        .args(["--graph", "sandbox"])
        .output()
        .expect("ansible-inventory runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn moves_a_host_as_seed_000_shows_and_refuses_unsafe_moves() {
    let dir = std::env::temp_dir().join(format!("tprov-inv-move-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("tot");
    let original = std::fs::read_to_string(root().join("inventory/tot")).expect("inventory");
    std::fs::write(&file, &original).expect("copy");
    let mv = |args: &[&str]| {
        let mut c = tprov();
        c.arg("inventory")
            .arg("-i")
            .arg(&file)
            .arg("move")
            .args(args);
        c.output().expect("tprov runs")
    };
    // --check shows the diff and writes nothing.
    let check = mv(&[
        "sandbox3",
        "--from",
        "tot-sandbox",
        "--to",
        "tot20-sandbox",
        "--check",
    ]);
    assert!(check.status.success());
    assert!(
        String::from_utf8_lossy(&check.stdout)
            .contains("+# sandbox3.tokenoftrust.com # migrated to tot20-sandbox")
    );
    assert_eq!(std::fs::read_to_string(&file).expect("read"), original);

    let out = mv(&["sandbox3", "--from", "tot-sandbox", "--to", "tot20-sandbox"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let moved = std::fs::read_to_string(&file).expect("read");
    let expected = original
        .replace(
            "[tot20-sandbox]\nsandbox1.tokenoftrust.com\n",
            "[tot20-sandbox]\nsandbox1.tokenoftrust.com\nsandbox3.tokenoftrust.com\n",
        )
        .replace(
            "[tot-sandbox]\nsandbox3.tokenoftrust.com\n",
            "[tot-sandbox]\n# sandbox3.tokenoftrust.com # migrated to tot20-sandbox\n",
        );
    assert_eq!(moved, expected);
    // Ansible reads the edited file as the migration means it.
    let graph = graph_by_ansible(&file);
    assert!(
        graph.contains("|--@tot-sandbox:\n  |  |--sandbox4.tokenoftrust.com\n  |--@tot20-sandbox:\n  |  |--sandbox1.tokenoftrust.com\n  |  |--sandbox3.tokenoftrust.com"),
        "{graph}"
    );
    // Refusals change nothing and say why.
    for (args, why) in [
        (
            ["sandbox3", "--from", "tot-sandbox", "--to", "tot20-sandbox"],
            "already in [tot20-sandbox]",
        ),
        (
            [
                "app9",
                "--from",
                "tot-production",
                "--to",
                "tot20-production",
            ],
            "app9 is not in [tot-production]",
        ),
        (
            ["sandbox4", "--from", "tot-sandbox", "--to", "tot20-sandbx"],
            "no group [tot20-sandbx]",
        ),
    ] {
        let r = mv(&args);
        assert_eq!(r.status.code(), Some(5), "{args:?}");
        assert!(
            String::from_utf8_lossy(&r.stderr).contains(why),
            "{}",
            String::from_utf8_lossy(&r.stderr)
        );
        assert_eq!(std::fs::read_to_string(&file).expect("read"), expected);
    }
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != "tot")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
