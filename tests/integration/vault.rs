//! Ansible Vault: tprov reads and writes what ansible-vault (ansible-core 2.19) does,
//! both ways, and a vaulted playbook runs with the same output as ansible-playbook.

use crate::support::{ansible, root, run_ok, stderr, stdout, tprov};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn fixture_dir() -> PathBuf {
    root().join("tests/fixtures/vault")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tprov-vault-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

fn pass_file(dir: &Path, name: &str, pass: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, format!("{pass}\n")).expect("password file");
    p.display().to_string()
}

#[test]
fn vault_files_and_strings_interoperate_with_ansible_vault_both_ways() {
    let d = scratch("interop");
    let pw = pass_file(&d, "pw", "first-password");
    let pw2 = pass_file(&d, "pw2", "second-password");
    let plain = "user: app\npassword: 'p@ss: word'\n";

    // tprov encrypts, ansible-vault reads; the file is private.
    let a = d.join("a.yml");
    std::fs::write(&a, plain).unwrap();
    run_ok(
        tprov()
            .args(["vault", "encrypt", "--vault-password-file", &pw])
            .arg(&a),
    );
    let text = std::fs::read_to_string(&a).unwrap();
    assert!(text.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"), "{text}");
    assert_eq!(
        std::fs::metadata(&a).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let viewed = run_ok(
        ansible("ansible-vault")
            .args(["view", "--vault-password-file", &pw])
            .arg(&a),
    );
    assert_eq!(viewed, plain);

    // ansible-vault encrypts with a vault id, tprov reads it (view, decrypt to --output).
    let b = d.join("b.yml");
    std::fs::write(&b, plain).unwrap();
    run_ok(
        ansible("ansible-vault")
            .args(["encrypt", "--vault-id", &format!("prod@{pw2}")])
            .arg(&b),
    );
    let ids = [
        "--vault-id",
        &format!("dev@{pw}"),
        "--vault-id",
        &format!("prod@{pw2}"),
    ];
    assert_eq!(
        run_ok(tprov().args(["vault", "view"]).args(ids).arg(&b)),
        plain
    );
    let out = d.join("b.plain");
    run_ok(
        tprov()
            .args(["vault", "decrypt", "--output"])
            .arg(&out)
            .args(ids)
            .arg(&b),
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), plain);

    // A wrong password: exit 1, Ansible's message, the file untouched.
    let before = std::fs::read(&b).unwrap();
    let o = tprov()
        .args(["vault", "decrypt", "--vault-password-file", &pw])
        .arg(&b)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("Decryption failed (no vault secrets were found that could decrypt)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&b).unwrap(), before);

    // rekey to a new vault id: ansible-vault opens it with the new password only.
    run_ok(
        tprov()
            .args(["vault", "rekey", "--vault-password-file", &pw])
            .args(["--new-vault-id", &format!("prod@{pw2}")])
            .arg(&a),
    );
    assert!(
        std::fs::read_to_string(&a)
            .unwrap()
            .starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n")
    );
    let viewed = run_ok(
        ansible("ansible-vault")
            .args(["view", "--vault-password-file", &pw2])
            .arg(&a),
    );
    assert_eq!(viewed, plain);

    // encrypt_string's YAML is a vars file ansible-playbook reads.
    let vars = run_ok(tprov().args([
        "vault",
        "encrypt_string",
        "--vault-password-file",
        &pw,
        "-n",
        "token",
        "tok-1",
    ]));
    assert!(
        vars.starts_with("token: !vault |\n          $ANSIBLE_VAULT;1.1;AES256\n"),
        "{vars}"
    );
    let vf = d.join("vars.yml");
    std::fs::write(&vf, &vars).unwrap();
    let shown = run_ok(
        ansible("ansible")
            .args([
                "localhost",
                "-i",
                "localhost,",
                "-c",
                "local",
                "-m",
                "debug",
                "-a",
                "var=token",
            ])
            .args(["--vault-password-file", &pw])
            .arg("-e")
            .arg(format!("@{}", vf.display())),
    );
    assert!(shown.contains("\"token\": \"tok-1\""), "{shown}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_vaulted_playbook_prints_what_ansible_playbook_prints() {
    let dir = fixture_dir();
    let args = [
        "-i",
        "hosts",
        "play.yml",
        "--vault-password-file",
        "password",
        "--vault-id",
        "prod@password-client.sh",
    ];
    let out = scratch("play");
    let run = |mut c: std::process::Command| {
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out).unwrap();
        c.current_dir(&dir)
            .args(args)
            .arg("-e")
            .arg(format!("out={}", out.display()));
        let o = c.output().unwrap();
        let copied = std::fs::read_to_string(out.join("payload.txt")).unwrap_or_default();
        (o, copied)
    };
    let (a, a_copied) = run(ansible("ansible-playbook"));
    let mut t = tprov();
    t.arg("apply");
    let (t, t_copied) = run(t);
    assert_eq!(stdout(&t), stdout(&a));
    assert_eq!(stderr(&t), stderr(&a));
    assert_eq!(t.status.code(), Some(0));
    assert_eq!(t_copied, "a vaulted file to copy\n");
    assert_eq!(t_copied, a_copied);
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn without_its_password_a_vaulted_value_fails_only_the_task_that_uses_it() {
    let dir = fixture_dir();
    let o = tprov()
        .current_dir(&dir)
        .args([
            "apply",
            "-i",
            "hosts",
            "play.yml",
            "--vault-password-file",
            "password",
            "-e",
            "out=/nonexistent",
        ])
        .output()
        .unwrap();
    // secrets.yml opens; api_token (vault id prod) does not: the first task fails on it.
    assert_eq!(o.status.code(), Some(2));
    let text = stdout(&o);
    assert!(text.contains("undecryptable variable"), "{text}");
    // A missing password file is an error before anything runs.
    let o = tprov()
        .current_dir(&dir)
        .args([
            "apply",
            "-i",
            "hosts",
            "play.yml",
            "--vault-password-file",
            "no-such-file",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("The vault password file"),
        "{}",
        stderr(&o)
    );
}
