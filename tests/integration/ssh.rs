//! The SSH layer against real OpenSSH servers (the lab fleet).

use crate::support::{Lab, rt, stderr, stdout};
use tprov::transport::{Become, Connection, StrictHostKeys, TransportError};

#[test]
fn run_reaches_every_host_in_parallel() {
    let lab = Lab::up("run", &["sandbox1", "sandbox3", "sandbox4"]);
    let out = lab
        .tprov("run")
        .args(["--", "hostname"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for h in ["sandbox1", "sandbox3", "sandbox4"] {
        assert!(
            text.contains(&format!("{h}.tokenoftrust.com | CHANGED | rc=0 >>\n{h}\n")),
            "{text}"
        );
    }
    // A limit by short alias, and a failing command's status.
    let out = lab
        .tprov("run")
        .args(["--limit", "sandbox3", "--", "echo oops >&2; exit 3"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout(&out).contains("sandbox3.tokenoftrust.com | FAILED | rc=3 >>\noops\n"),
        "{}",
        stdout(&out)
    );

    // delegate_to: sandbox3's task runs on sandbox4 (over its own connection) and on the
    // controller, with sandbox3's vars; the result is sandbox3's.
    let book = lab.dir.join("delegate.yml");
    std::fs::write(
        &book,
        "- hosts: sandbox3.tokenoftrust.com\n  gather_facts: false\n  tasks:\n    - copy: {dest: /tmp/delegated, content: \"{{ inventory_hostname }}\\n\"}\n      delegate_to: sandbox4\n    - command: cat /tmp/delegated\n      delegate_to: sandbox4.tokenoftrust.com\n      register: seen\n      changed_when: false\n    - assert: {that: seen.stdout == inventory_hostname}\n    - command: echo on the controller\n      delegate_to: localhost\n      changed_when: false\n",
    )
    .expect("playbook");
    let out = lab.tprov("apply").arg(&book).output().expect("runs");
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(
        std::fs::read_to_string(lab.root("sandbox4").join("tmp/delegated")).ok(),
        Some("sandbox3.tokenoftrust.com\n".to_string())
    );
    assert!(!lab.root("sandbox3").join("tmp/delegated").exists());

    // A block's (or an import's) delegate_to reaches each of its tasks, as in Ansible.
    std::fs::write(
        &book,
        "- hosts: sandbox3.tokenoftrust.com\n  gather_facts: false\n  tasks:\n    - block:\n        - copy: {dest: /tmp/block-delegated, content: \"{{ inventory_hostname }}\\n\"}\n      delegate_to: sandbox4\n",
    )
    .expect("playbook");
    let out = lab.tprov("apply").arg(&book).output().expect("runs");
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(
        std::fs::read_to_string(lab.root("sandbox4").join("tmp/block-delegated")).ok(),
        Some("sandbox3.tokenoftrust.com\n".to_string())
    );
    assert!(!lab.root("sandbox3").join("tmp/block-delegated").exists());
}

#[test]
fn host_keys_are_verified() {
    let lab = Lab::up("hostkeys", &["sandbox3"]);
    let kh = lab.dir.join("known_hosts");
    let good = std::fs::read_to_string(&kh).expect("known_hosts");
    // Unknown: refused, with the fingerprint and how to accept it.
    std::fs::write(&kh, "").expect("write");
    let t = lab.target("sandbox3");
    let err = rt().block_on(Connection::open(&t)).err().expect("refused");
    let TransportError::HostKey(msg) = &err else {
        panic!("{err}")
    };
    assert!(
        msg.contains("is not a known host") && msg.contains("SHA256:"),
        "{msg}"
    );
    // Changed: refused, always, naming the line.
    let other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKOtbzeA0T5Kvf0JcsYiX1+mkFKZRlM0Ra9+72aajtke";
    std::fs::write(&kh, format!("{} {other}\n", lab.host("sandbox3").addr)).expect("write");
    let err = rt().block_on(Connection::open(&t)).err().expect("refused");
    assert!(
        err.to_string().contains("CHANGED") && err.to_string().contains("known_hosts:1"),
        "{err}"
    );
    // accept-new records an unknown key, then it is known.
    std::fs::write(&kh, "").expect("write");
    let mut t2 = t.clone();
    t2.strict = StrictHostKeys::AcceptNew;
    rt().block_on(async {
        Connection::open(&t2)
            .await
            .expect("accept-new connects")
            .close()
            .await;
    });
    let learned = std::fs::read_to_string(&kh).expect("read");
    assert_eq!(
        learned.split_whitespace().nth(2),
        good.split_whitespace().nth(2),
        "{learned}"
    );
    rt().block_on(async { Connection::open(&t).await.expect("now known").close().await });
    // StrictHostKeyChecking=no (or host_key_checking=False) still refuses a CHANGED key
    // (issue 12)...
    let mut no = t.clone();
    no.strict = StrictHostKeys::No;
    std::fs::write(&kh, format!("{} {other}\n", lab.host("sandbox3").addr)).expect("write");
    let err = rt().block_on(Connection::open(&no)).err().expect("refused");
    assert!(err.to_string().contains("CHANGED"), "{err}");
    // ...and only adds an unknown key, saying so.
    std::fs::write(&kh, "").expect("write");
    let notes = rt().block_on(async {
        let c = Connection::open(&no).await.expect("no connects");
        let notes = c.take_notes();
        c.close().await;
        notes
    });
    assert!(
        notes.len() == 1 && notes[0].starts_with("Permanently added"),
        "{notes:?}"
    );
    let learned = std::fs::read_to_string(&kh).expect("read");
    assert_eq!(
        learned.split_whitespace().nth(2),
        good.split_whitespace().nth(2)
    );
}

#[test]
fn wrong_key_is_an_auth_failure() {
    let lab = Lab::up("auth", &["sandbox3"]);
    let other = lab.dir.join("other_key");
    std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .expect("keygen");
    let mut t = lab.target("sandbox3");
    t.identity_files = vec![other];
    let err = rt().block_on(Connection::open(&t)).err().expect("refused");
    assert!(matches!(err, TransportError::Auth(_)), "{err}");
    // RSA keys work too.
    let rsa = lab.dir.join("rsa_key");
    std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f"])
        .arg(&rsa)
        .status()
        .expect("keygen");
    let pubkey = std::fs::read_to_string(rsa.with_extension("pub")).expect("pub");
    lab.sh(
        "sandbox3",
        &format!("echo '{}' >> /root/.ssh/authorized_keys", pubkey.trim()),
    );
    t.identity_files = vec![rsa];
    let out = rt().block_on(async {
        let c = Connection::open(&t).await.expect("rsa auth");
        c.exec("echo rsa-ok", None, None, None).await.expect("exec")
    });
    assert_eq!(out.stdout_str(), "rsa-ok\n");
    // ECDSA keys too, and an encrypted one whose passphrase comes from the environment.
    for (name, bits, pass) in [
        ("ecdsa_key", "384", ""),
        ("ecdsa_enc_key", "256", "s3cret pass"),
    ] {
        let key = lab.dir.join(name);
        let ok = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ecdsa", "-b", bits, "-N", pass, "-f"])
            .arg(&key)
            .status()
            .expect("keygen");
        assert!(ok.success());
        let pubkey = std::fs::read_to_string(key.with_extension("pub")).expect("pub");
        lab.sh(
            "sandbox3",
            &format!("echo '{}' >> /root/.ssh/authorized_keys", pubkey.trim()),
        );
        let out = lab
            .tprov("run")
            .args(["--limit", "sandbox3", "-e"])
            .arg(format!("ansible_ssh_private_key_file={}", key.display()))
            .args(["--", "echo", name])
            .env("TPROV_KEY_PASSPHRASE", pass)
            .output()
            .expect("runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains(name),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The wrong passphrase: the key is not used, and the host refuses the login.
    let out = lab
        .tprov("run")
        .args(["--limit", "sandbox3", "-e"])
        .arg(format!(
            "ansible_ssh_private_key_file={}",
            lab.dir.join("ecdsa_enc_key").display()
        ))
        .args(["--", "true"])
        .env("TPROV_KEY_PASSPHRASE", "wrong")
        .output()
        .expect("runs");
    assert!(!out.status.success());
}

#[test]
fn sudo_with_and_without_password() {
    let lab = Lab::up("sudo", &["sandbox3"]);
    // A user whose sudo needs a password, and who logs in with the lab key.
    let setup = "useradd -m -s /bin/bash deployer && echo deployer:s3cret-pw | chpasswd \
        && mkdir -p /home/deployer/.ssh && cp /root/.ssh/authorized_keys /home/deployer/.ssh/ \
        && chown -R deployer: /home/deployer/.ssh \
        && printf 'deployer ALL=(ALL:ALL) ALL\\nDefaults:deployer timestamp_timeout=0\\n' > /etc/sudoers.d/deployer \
        && chmod 440 /etc/sudoers.d/deployer";
    assert!(lab.sh("sandbox3", setup).ok());
    let mut t = lab.target("sandbox3");
    t.user = "deployer".into();
    rt().block_on(async {
        let c = Connection::open(&t).await.expect("deployer connects");
        let root = Become {
            user: "root".into(),
            password: Some("s3cret-pw".into()),
        };
        let out = c
            .exec(
                "id -un; cat",
                Some(b"stdin-after-password\n"),
                Some(&root),
                None,
            )
            .await
            .expect("sudo works");
        assert_eq!(
            out.stdout_str(),
            "root\nstdin-after-password\n",
            "{}",
            out.stderr_str()
        );
        let wrong = Become {
            user: "root".into(),
            password: Some("wrong".into()),
        };
        let err = c
            .exec(
                "id -un",
                None,
                Some(&wrong),
                Some(std::time::Duration::from_secs(30)),
            )
            .await
            .expect_err("refused");
        assert!(
            matches!(&err, TransportError::Become(m) if m.contains("incorrect sudo password")),
            "{err}"
        );
        let none = Become {
            user: "root".into(),
            password: None,
        };
        let err = c
            .exec("id -un", None, Some(&none), None)
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("needs a password"), "{err}");
        assert!(!err.to_string().contains("s3cret"));
        // Become another unprivileged user.
        let nobody = Become {
            user: "nobody".into(),
            password: Some("s3cret-pw".into()),
        };
        let out = c
            .exec("id -un", None, Some(&nobody), None)
            .await
            .expect("become nobody");
        assert_eq!(out.stdout_str(), "nobody\n");
        c.close().await;
    });
    // The password never shows in the host's process list or logs.
    let log =
        std::fs::read_to_string(lab.dir.join("sandbox3.tokenoftrust.com.log")).unwrap_or_default();
    assert!(!log.contains("s3cret"));
}

#[test]
fn big_file_survives_transfer_and_many_commands_share_one_connection() {
    let lab = Lab::up("bigfile", &["sandbox3"]);
    let data: Vec<u8> = (0..100 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let want = {
        use sha2::Digest;
        sha2::Sha256::digest(&data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let t = lab.target("sandbox3");
    rt().block_on(async {
        let c = Connection::open(&t).await.expect("connect");
        c.write_file("/root/big.bin", &data, "chmod 640 \"$T\"", None).await.expect("upload");
        let out = c.exec("sha256sum /root/big.bin | cut -d' ' -f1; stat -c %a /root/big.bin; ls -a /root | grep -c tprov || true", None, None, None).await.expect("sum");
        assert_eq!(out.stdout_str(), format!("{want}\n640\n0\n"));
        for i in 0..200 {
            let out = c.exec(&format!("echo {i}"), None, None, None).await.expect("exec");
            assert_eq!(out.stdout_str(), format!("{i}\n"));
        }
        c.close().await;
    });
    let log =
        std::fs::read_to_string(lab.dir.join("sandbox3.tokenoftrust.com.log")).unwrap_or_default();
    assert_eq!(
        log.matches("Accepted publickey").count(),
        1,
        "one connection for the upload and 200 commands:\n{log}"
    );
}

#[test]
fn a_dropped_connection_is_unreachable_never_a_torn_file_and_the_others_carry_on() {
    let lab = Lab::up("drop", &["sandbox3", "sandbox4"]);
    let (t3, t4) = (lab.target("sandbox3"), lab.target("sandbox4"));
    let init = tprov::lab::ns_init(lab.host("sandbox3").pid).expect("init");
    let root3 = lab.root("sandbox3");
    std::fs::write(root3.join("root/site.conf"), "old content\n").expect("seed file");
    rt().block_on(async {
        let c3 = Connection::open(&t3).await.expect("connect 3");
        let c4 = Connection::open(&t4).await.expect("connect 4");
        let killer = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            // Kill this connection's sshd processes (the children of the listener),
            // as if sshd died mid-transfer.
            let _ = std::process::Command::new("pkill")
                .args(["-KILL", "-P", &init.to_string()])
                .status();
        });
        let big = vec![b'x'; 512 * 1024 * 1024];
        let r3 = c3.write_file("/root/site.conf", &big, "", None).await;
        killer.await.ok();
        let r4 = c4
            .exec("echo still-here", None, None, None)
            .await
            .expect("other host fine");
        assert!(matches!(r3, Err(ref e) if e.is_unreachable()), "{r3:?}");
        assert_eq!(r4.stdout_str(), "still-here\n");
    });
    assert_eq!(
        std::fs::read_to_string(root3.join("root/site.conf")).expect("still there"),
        "old content\n"
    );
}

#[test]
fn a_host_that_never_answers_times_out() {
    // Accepts TCP connections (the kernel does) but never speaks SSH.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut t = tprov::transport::Target::new("silent");
    t.host = "127.0.0.1".into();
    t.port = port;
    t.connect_timeout = std::time::Duration::from_secs(2);
    let started = std::time::Instant::now();
    let err = rt()
        .block_on(Connection::open(&t))
        .err()
        .expect("times out");
    assert!(matches!(err, TransportError::Timeout(_)), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    drop(listener);
}

#[test]
fn proxy_jump_reaches_a_host_only_the_jump_host_can_name() {
    let lab = Lab::up("jump", &["sandbox1", "sandbox3"]);
    let (jump, inner) = (lab.host("sandbox1"), lab.host("sandbox3"));
    // `sandbox3.internal` resolves on the jump host only (its own /etc/hosts).
    let out = lab.sh(
        "sandbox1",
        &format!("echo '{} sandbox3.internal' >> /etc/hosts", inner.addr),
    );
    assert!(out.ok());
    let known = std::fs::read_to_string(lab.dir.join("known_hosts")).expect("known_hosts");
    let inner_line = known
        .lines()
        .find(|l| l.split_whitespace().next() == Some(&inner.addr.to_string()))
        .expect("sandbox3 in known_hosts");
    let kh = lab.dir.join("known_hosts_jump");
    std::fs::write(
        &kh,
        format!(
            "{known}sandbox3.internal {}\n",
            inner_line.split_once(' ').map(|x| x.1).unwrap_or_default()
        ),
    )
    .expect("write");
    let mut t = lab.target("sandbox3");
    t.host = "sandbox3.internal".into();
    t.known_hosts = vec![kh.clone()];
    // Without the jump the name does not resolve here.
    assert!(rt().block_on(Connection::open(&t)).is_err());
    t.proxy_jump = Some(format!("root@{}:{}", jump.addr, jump.port));
    let out = rt().block_on(async {
        let c = Connection::open(&t).await.expect("through the jump host");
        let out = c
            .exec("cat /etc/hostname", None, None, None)
            .await
            .expect("exec");
        c.close().await;
        out
    });
    assert_eq!(out.stdout_str().trim(), "sandbox3", "{}", out.stderr_str());
    // The same from the inventory's own vars, as Ansible users write it.
    let out = lab
        .tprov("run")
        .args([
            "--limit",
            "sandbox3",
            "-e",
            "ansible_host=sandbox3.internal",
            "-e",
        ])
        .arg(format!(
            "ansible_ssh_common_args='-o ProxyJump=root@{}:{} -o UserKnownHostsFile={}'",
            jump.addr,
            jump.port,
            kh.display()
        ))
        .args(["--", "cat", "/etc/hostname"])
        .output()
        .expect("runs");
    assert!(
        out.status.success() && stdout(&out).contains("sandbox3"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}
