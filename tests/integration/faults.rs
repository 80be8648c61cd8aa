//! Faults (issue 12): a run ends, and says which hosts failed, whatever the hosts do.

use crate::support::{Lab, descendants, sha, signal, stdout, wait_at_most};
use std::time::{Duration, Instant};

/// A host that stops answering in the middle of a task (its sshd frozen, the TCP
/// connection still open: what a dead link looks like) is UNREACHABLE once it has missed
/// ServerAliveCountMax keepalives, and the run ends with its recap instead of waiting
/// on the channel for ever.
#[test]
fn a_host_that_stops_answering_mid_task_is_unreachable_and_the_run_ends() {
    let lab = Lab::up("stall", &["sandbox3"]);
    let book = lab.dir.join("stall.yml");
    std::fs::write(
        &book,
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: sleep 120\n",
    )
    .expect("playbook");
    let common = format!(
        r#"{{"ansible_ssh_common_args": "-o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o ServerAliveInterval=1 -o ServerAliveCountMax=2"}}"#,
        lab.dir.join("known_hosts").display()
    );
    let mut child = lab
        .tprov("apply")
        .arg(&book)
        .args(["-e", &common])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("tprov starts");
    // Freeze the host once the command runs there.
    let host = lab.host("sandbox3").pid;
    let started = Instant::now();
    while !descendants(host).iter().any(|p| {
        std::fs::read_to_string(format!("/proc/{p}/cmdline"))
            .is_ok_and(|c| c.starts_with("sleep\u{0}120"))
    }) {
        if started.elapsed() > Duration::from_mins(1) {
            let _ = child.kill();
            let out = stdout(&child.wait_with_output().expect("output"));
            panic!("the task never started: {out}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let frozen = descendants(host);
    signal(&frozen, "-STOP");
    // The harness's own bound: far above the keepalive's, only so a hang fails the test.
    let status = wait_at_most(&mut child, Duration::from_secs(90));
    signal(&frozen, "-CONT");
    let Some(status) = status else {
        let _ = child.kill();
        panic!("tprov never ended after the host stopped answering");
    };
    let out = stdout(&child.wait_with_output().expect("output"));
    assert_eq!(status.code(), Some(4), "{out}");
    assert!(out.contains("UNREACHABLE!"), "{out}");
    assert!(out.contains("unreachable=1"), "{out}");
}

/// SIGINT (Ctrl-C) and SIGTERM: the running task finishes, no new one starts, the recap
/// is printed and the exit is 99, as ansible-playbook's "User interrupted execution".
#[test]
fn an_interrupted_run_finishes_its_task_prints_the_recap_and_exits_99() {
    let dir = std::env::temp_dir().join(format!("tprov-interrupt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("hosts"), "ctl ansible_connection=local\n").expect("inventory");
    std::fs::write(
        dir.join("play.yml"),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: sleep 2\n    - command: touch second-task-ran\n",
    )
    .expect("playbook");
    for sig in ["-INT", "-TERM"] {
        let _ = std::fs::remove_file(dir.join("second-task-ran"));
        let child = crate::support::tprov()
            .current_dir(&dir)
            .args(["apply", "-i", "hosts", "play.yml"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("tprov starts");
        std::thread::sleep(Duration::from_millis(800));
        signal(&[child.id()], sig);
        let out = child.wait_with_output().expect("output");
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(99), "{sig}: {text}");
        assert!(text.contains("PLAY RECAP"), "{sig}: {text}");
        assert!(
            !dir.join("second-task-ran").exists(),
            "{sig}: a task started after the interrupt"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two runs against one host at once: the second waits for the first's lock, so no
/// update is lost; one that cannot wait long enough is refused, naming the holder; the
/// lock goes with the run (the next run takes it at once).
#[test]
fn concurrent_runs_take_turns_on_a_host_and_lose_no_update() {
    let lab = Lab::up("lock", &["sandbox3"]);
    let book = |tag: &str| {
        let p = lab.dir.join(format!("lines-{tag}.yml"));
        let mut text = String::from("- hosts: all\n  gather_facts: false\n  tasks:\n");
        for i in 0..12 {
            text.push_str(&format!(
                "    - lineinfile: path=/root/shared.txt create=true line={tag}-{i}\n"
            ));
        }
        std::fs::write(&p, text).expect("playbook");
        p
    };
    let (a, b) = (book("a"), book("b"));
    let spawn = |p: &std::path::Path, wait: &str| {
        lab.tprov("apply")
            .arg(p)
            .env("TPROV_LOCK_WAIT", wait)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("tprov starts")
    };
    let (first, second) = (spawn(&a, "60"), spawn(&b, "60"));
    let (first, second) = (
        first.wait_with_output().expect("first"),
        second.wait_with_output().expect("second"),
    );
    assert_eq!(first.status.code(), Some(0), "{}", stdout(&first));
    assert_eq!(second.status.code(), Some(0), "{}", stdout(&second));
    let text =
        std::fs::read_to_string(lab.root("sandbox3").join("root/shared.txt")).expect("shared.txt");
    for tag in ["a", "b"] {
        for i in 0..12 {
            assert!(
                text.lines().any(|l| l == format!("{tag}-{i}")),
                "{tag}-{i} was lost:\n{text}"
            );
        }
    }
    // A run holding the lock for a while; another that waits one second is refused.
    let slow = lab.dir.join("slow.yml");
    std::fs::write(
        &slow,
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: sleep 6\n",
    )
    .expect("playbook");
    let holder = spawn(&slow, "60");
    std::thread::sleep(Duration::from_secs(3));
    let refused = spawn(&a, "1").wait_with_output().expect("refused");
    let text = stdout(&refused);
    assert_ne!(refused.status.code(), Some(0), "{text}");
    assert!(
        text.contains("another tprov run holds this host (tprov pid"),
        "{text}"
    );
    let held = holder.wait_with_output().expect("holder");
    assert_eq!(held.status.code(), Some(0), "{}", stdout(&held));
    // Released with its run: the next one goes straight in.
    let next = spawn(&a, "1").wait_with_output().expect("next");
    assert_eq!(next.status.code(), Some(0), "{}", stdout(&next));
}

fn temps(dir: &std::path::Path) -> Vec<(String, u64)> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().contains(".tprov-"))
                .map(|e| {
                    let len = e.metadata().map_or(0, |m| m.len());
                    (e.file_name().to_string_lossy().into_owned(), len)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Two hosts with their own network namespaces (each its own port 80 at once, as the
/// real servers); a 64 MB copy to both, and one host's link cut in the middle of its
/// upload (packets stop, no RST: a pulled cable). That host is UNREACHABLE within the
/// keepalive bound and keeps its old file whole; the other gets the new one; the run
/// ends with exit 4. With the link back, a rerun converges, removes the cut upload's
/// temp file, and a third run changes nothing.
#[test]
fn a_link_cut_mid_copy_leaves_the_old_file_whole_and_a_rerun_converges() {
    let lab = Lab::up_own_network("cut", &["sandbox3", "sandbox4"]);
    for h in ["sandbox3", "sandbox4"] {
        let out = lab.sh(
            h,
            "setsid python3 -m http.server 80 --bind 0.0.0.0 --directory /srv </dev/null >/dev/null 2>&1 & echo started",
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("started"),
            "{h}: {out:?}"
        );
    }
    for h in ["sandbox3", "sandbox4"] {
        let addr = (lab.host(h).addr, 80);
        let started = Instant::now();
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{h} never listened on :80"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let src = lab.dir.join("big");
    std::fs::write(&src, crate::support::patterned(64)).expect("source");
    let new_sha = sha(&src);
    for h in ["sandbox3", "sandbox4"] {
        std::fs::write(lab.root(h).join("srv/big"), "old\n").expect("old file");
    }
    let old_sha = sha(&lab.root("sandbox3").join("srv/big"));
    let book = lab.dir.join("copy.yml");
    std::fs::write(
        &book,
        format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - copy: {{src: {}, dest: /srv/big}}\n",
            src.display()
        ),
    )
    .expect("playbook");
    let common = format!(
        r#"{{"ansible_ssh_common_args": "-o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o ServerAliveInterval=1 -o ServerAliveCountMax=3"}}"#,
        lab.dir.join("known_hosts").display()
    );
    let apply = || {
        let mut c = lab.tprov("apply");
        c.arg(&book)
            .args(["-l", "sandbox3,sandbox4", "-e", &common]);
        c
    };
    let mut child = apply()
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("tprov starts");
    let srv3 = lab.root("sandbox3").join("srv");
    let started = Instant::now();
    while !temps(&srv3).iter().any(|(_, len)| *len > 1 << 20) {
        if started.elapsed() > Duration::from_mins(1) || child.try_wait().ok().flatten().is_some() {
            let _ = child.kill();
            let out = stdout(&child.wait_with_output().expect("output"));
            panic!("the upload to sandbox3 was never seen in flight: {out}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    tprov::lab::set_link(lab.host("sandbox3"), false).expect("cut the link");
    let status = wait_at_most(&mut child, Duration::from_secs(90));
    tprov::lab::set_link(lab.host("sandbox3"), true).expect("restore the link");
    let Some(status) = status else {
        let _ = child.kill();
        panic!("tprov never ended after sandbox3's link was cut");
    };
    let out = stdout(&child.wait_with_output().expect("output"));
    assert_eq!(status.code(), Some(4), "{out}");
    assert_eq!(
        crate::support::recap_field(&out, "sandbox3", "unreachable"),
        1,
        "{out}"
    );
    assert_eq!(
        crate::support::recap_field(&out, "sandbox4", "changed"),
        1,
        "{out}"
    );
    assert_eq!(
        sha(&srv3.join("big")),
        old_sha,
        "sandbox3 keeps its old file whole"
    );
    let srv4 = lab.root("sandbox4").join("srv");
    assert_eq!(sha(&srv4.join("big")), new_sha, "sandbox4 has the new file");
    assert!(temps(&srv4).is_empty(), "{:?}", temps(&srv4));

    // The cut session may still be alive on the host, writing what it had received (the
    // host's TCP takes minutes to give up on a dead peer): end it as that timeout would.
    let init = tprov::lab::ns_init(lab.host("sandbox3").pid).expect("host init");
    let sessions: Vec<u32> = descendants(init)
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "sshd")
        })
        .collect();
    signal(&sessions, "-KILL");
    let started = Instant::now();
    while sessions
        .iter()
        .any(|p| std::path::Path::new(&format!("/proc/{p}")).exists())
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the cut session never ended"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Its temp file is what a dead connection leaves: tagged with sandbox3's run lock,
    // which the rerun holds now, so the rerun's write removes it at once.
    assert!(
        !temps(&srv3).is_empty(),
        "the cut upload left no temp file to clean"
    );
    std::fs::write(srv3.join("big"), "older\n").expect("make sandbox3 need the copy again");
    let again = apply().output().expect("rerun");
    let text = stdout(&again);
    assert_eq!(again.status.code(), Some(0), "{text}");
    assert_eq!(
        crate::support::recap_field(&text, "sandbox3", "changed"),
        1,
        "{text}"
    );
    assert_eq!(sha(&srv3.join("big")), new_sha);
    assert!(temps(&srv3).is_empty(), "debris left: {:?}", temps(&srv3));
    let third = apply().output().expect("third run");
    let text = stdout(&third);
    assert_eq!(third.status.code(), Some(0), "{text}");
    for h in ["sandbox3", "sandbox4"] {
        assert_eq!(
            crate::support::recap_field(&text, h, "changed"),
            0,
            "{text}"
        );
    }
}

/// A read-only or full destination fails the task with the cause in words (SFTP itself
/// only says `Failure`), and the failed upload leaves nothing behind: the full disk is
/// empty again after the run.
#[test]
fn a_read_only_or_full_destination_fails_in_words_and_leaves_nothing() {
    let lab = Lab::up("rofull", &["sandbox3"]);
    let out = lab.sh(
        "sandbox3",
        "mkdir -p /srv/ro /srv/full && mount -t tmpfs -o ro tmpfs /srv/ro && mount -t tmpfs -o size=1m tmpfs /srv/full && echo mounted",
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("mounted"),
        "{out:?}"
    );
    let big = lab.dir.join("3m");
    std::fs::write(&big, vec![b'x'; 3 << 20]).expect("source");
    let book = lab.dir.join("rofull.yml");
    std::fs::write(
        &book,
        format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - copy: {{content: \"x\\n\", dest: /srv/ro/a}}\n      ignore_errors: true\n    - copy: {{src: {}, dest: /srv/full/a}}\n      ignore_errors: true\n    - lineinfile: {{path: /srv/ro/c, line: x, create: true}}\n      ignore_errors: true\n",
            big.display()
        ),
    )
    .expect("playbook");
    let run = lab.tprov("apply").arg(&book).output().expect("run");
    let text = stdout(&run);
    for want in [
        "cannot write /srv/ro/a: Read-only file system",
        "cannot write /srv/full/a: No space left on device",
        "cannot write /srv/ro/c: Read-only file system",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    assert_eq!(
        crate::support::recap_field(&text, "sandbox3", "ignored"),
        3,
        "{text}"
    );
    let left = lab.sh(
        "sandbox3",
        "ls -A /srv/full /srv/ro; df --output=used /srv/full | tail -1",
    );
    let left = String::from_utf8_lossy(&left.stdout).into_owned();
    assert_eq!(
        left.split_whitespace().collect::<Vec<_>>(),
        ["/srv/full:", "/srv/ro:", "0"],
        "{left}"
    );
}
