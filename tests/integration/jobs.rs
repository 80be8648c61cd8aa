//! `async`/`poll`, `async_status` and `timeout:`: tests/fixtures/jobs/play.yml asserts
//! on the results, and passes under ansible-playbook and tprov with the same recap (the
//! job ids are random, so the outputs cannot be compared byte for byte).

use crate::support::{ansible, root, stdout};

#[test]
fn async_jobs_polled_detached_timed_out_and_refused_end_as_under_ansible_playbook() {
    let dir = root().join("tests/fixtures/jobs");
    let out = std::env::temp_dir().join(format!("tprov-jobs-{}", std::process::id()));
    let run = |mut c: std::process::Command| {
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out).expect("out dir");
        c.current_dir(&dir)
            .args(["-i", "hosts", "play.yml", "-e"])
            .arg(format!("out={}", out.display()));
        let o = c.output().expect("runs");
        let recap = stdout(&o)
            .lines()
            .skip_while(|l| !l.starts_with("PLAY RECAP"))
            .collect::<Vec<_>>()
            .join("\n");
        // The detached job ran to its end, on its own.
        let detached = std::fs::read_to_string(out.join("detached.txt")).unwrap_or_default();
        (o.status.code(), recap, detached, stdout(&o))
    };
    let a = run(ansible("ansible-playbook"));
    let mut t = crate::support::tprov();
    t.arg("apply");
    let t = run(t);
    assert_eq!(t.0, Some(0), "{}", t.3);
    assert_eq!((t.0, &t.1, &t.2), (a.0, &a.1, &a.2), "{}", t.3);
    assert_eq!(t.2, "detached\n");
    let _ = std::fs::remove_dir_all(&out);
}
