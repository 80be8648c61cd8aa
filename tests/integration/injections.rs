//! The fault-injection suite (issue 12): faults at random moments of real tasks on lab
//! hosts that each have their own network link. After every injection: each
//! destination is whole (its old or its new content, by sha256), the run ended (the
//! harness's bound is never reached), its exit code and recap name the hosts it did
//! not converge, no process of the dead run is left on a host, and a rerun converges
//! and leaves no temp file.
//!
//! `TPROV_INJECTIONS` sets the injections per task kind (default 4, so the suite stays
//! a few minutes in CI), `TPROV_INJECTION_SEED` the seed (printed in every failure).
//! The counts are written to `target/tmp/injections.md` (docs/reliability.md).

use crate::support::{Lab, descendants, recap_field, signal, stdout, wait_at_most};

/// A recap field, 0 for a host the recap does not list (an interrupted run lists only
/// the hosts it reached).
fn recap(out: &str, host: &str, field: &str) -> u32 {
    if out
        .lines()
        .any(|l| l.starts_with(host) && l.contains(" : ok="))
    {
        recap_field(out, host, field)
    } else {
        0
    }
}
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

/// xorshift64*: reproducible from the seed, no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Fault {
    /// SIGKILL to everything the host runs for the run (its sshd sessions and their
    /// children): sshd killed.
    KillSessions,
    /// The host's link down (no RST: a pulled cable) until the run has ended.
    CutLink,
    /// Every process of the host's sessions stopped: the host hangs.
    Freeze,
    /// The destination's filesystem filled up.
    FillDisk,
    /// The destination's filesystem remounted read-only.
    ReadOnly,
    /// Ctrl-C to tprov.
    Sigint,
    Sigterm,
    /// Ctrl-C twice: abort at once.
    SigintTwice,
}

const FAULTS: [Fault; 8] = [
    Fault::KillSessions,
    Fault::CutLink,
    Fault::Freeze,
    Fault::FillDisk,
    Fault::ReadOnly,
    Fault::Sigint,
    Fault::Sigterm,
    Fault::SigintTwice,
];

impl Fault {
    /// Faults on hosts, as opposed to signals to tprov.
    fn on_hosts(self) -> bool {
        !matches!(self, Fault::Sigint | Fault::Sigterm | Fault::SigintTwice)
    }

    /// Faults after which the host's side of the run is dead and its sessions are
    /// ended as the host's TCP timeout would.
    fn drops_connection(self) -> bool {
        matches!(self, Fault::KillSessions | Fault::CutLink | Fault::Freeze)
    }
}

/// A task kind: its playbook, how a host is put back to the old state, and the files
/// whose contents must each be old or new after a fault.
struct Kind {
    name: &'static str,
    book: String,
    files: &'static [&'static str],
    reset: fn(&Lab, &str),
}

const DATA: &str = "/srv/data";

fn kinds(lab: &Lab) -> Vec<Kind> {
    let big = lab.dir.join("big");
    std::fs::write(&big, crate::support::patterned(24)).expect("copy source");
    let tpl = lab.dir.join("big.j2");
    std::fs::write(
        &tpl,
        "{% for i in range(60000) %}row {{ i }} of a rendered template, padded to fifty\n{% endfor %}",
    )
    .expect("template source");
    let play = |tasks: &str| format!("- hosts: all\n  gather_facts: false\n  tasks:\n{tasks}");
    vec![
        Kind {
            name: "copy of 24 MB",
            book: play(&format!(
                "    - copy: {{src: {}, dest: {DATA}/big}}\n",
                big.display()
            )),
            files: &["srv/data/big"],
            reset: |lab, h| write(lab, h, "srv/data/big", b"old\n"),
        },
        Kind {
            name: "template of 3 MB, become_user nobody",
            book: play(&format!(
                "    - template: {{src: {}, dest: {DATA}/www/tpl}}\n      become: true\n      become_user: nobody\n",
                tpl.display()
            )),
            files: &["srv/data/www/tpl"],
            reset: |lab, h| {
                let root = lab.root(h);
                std::fs::create_dir_all(root.join("srv/data/www")).expect("www");
                write(lab, h, "srv/data/www/tpl", b"old\n");
                for p in ["srv/data/www", "srv/data/www/tpl"] {
                    std::os::unix::fs::chown(root.join(p), Some(65534), Some(65534))
                        .expect("chown nobody");
                }
            },
        },
        Kind {
            name: "lineinfile on 12 MB (1M lines)",
            book: play(&format!(
                "    - lineinfile: {{path: {DATA}/lines, regexp: '^line 500000$', line: line 500000 changed}}\n"
            )),
            files: &["srv/data/lines"],
            reset: |lab, h| {
                let mut text = String::with_capacity(13 << 20);
                for i in 0..1_000_000 {
                    let _ = writeln!(text, "line {i}");
                }
                write(lab, h, "srv/data/lines", text.as_bytes());
            },
        },
        Kind {
            name: "symlink switch",
            book: play(&format!(
                "    - file: {{src: {DATA}/rel-b, dest: {DATA}/current, state: link}}\n"
            )),
            files: &["srv/data/current"],
            reset: |lab, h| {
                let root = lab.root(h);
                for d in ["srv/data/rel-a", "srv/data/rel-b"] {
                    std::fs::create_dir_all(root.join(d)).expect("release dir");
                }
                let cur = root.join("srv/data/current");
                let _ = std::fs::remove_file(&cur);
                std::os::unix::fs::symlink(format!("{DATA}/rel-a"), &cur).expect("link");
            },
        },
        Kind {
            name: "user creation",
            book: play("    - user: {name: injected, create_home: false}\n"),
            files: &["etc/passwd", "etc/shadow", "etc/group", "etc/gshadow"],
            reset: |lab, h| {
                let out = lab.sh(
                    h,
                    "userdel injected 2>/dev/null; groupdel injected 2>/dev/null; echo reset",
                );
                assert!(
                    String::from_utf8_lossy(&out.stdout).contains("reset"),
                    "{out:?}"
                );
            },
        },
    ]
}

fn write(lab: &Lab, h: &str, rel: &str, data: &[u8]) {
    let path = lab.root(h).join(rel);
    let _ = std::fs::remove_file(&path);
    std::fs::write(&path, data).unwrap_or_else(|e| panic!("{h}:{rel}: {e}"));
}

/// What a file is, for old-or-new: its content's sha256, a link's target, or "absent".
fn state_of(path: &Path) -> String {
    match std::fs::symlink_metadata(path) {
        Err(_) => "absent".into(),
        Ok(m) if m.file_type().is_symlink() => std::fs::read_link(path)
            .map(|t| format!("-> {}", t.display()))
            .unwrap_or_default(),
        Ok(_) => crate::support::sha(path),
    }
}

fn states(lab: &Lab, h: &str, kind: &Kind) -> Vec<String> {
    let root = lab.root(h);
    kind.files.iter().map(|f| state_of(&root.join(f))).collect()
}

/// tprov's temp files anywhere under the host's data and /etc.
fn leftovers(lab: &Lab, h: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut queue = vec![lab.root(h).join("srv/data"), lab.root(h).join("etc")];
    while let Some(dir) = queue.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.contains(".tprov-") {
                out.push(e.path().display().to_string());
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) && !name.starts_with(".filler") {
                queue.push(e.path());
            }
        }
    }
    out
}

fn host_init(lab: &Lab, h: &str) -> u32 {
    tprov::lab::ns_init(lab.host(h).pid).expect("host init")
}

/// Ends what the host still runs for a dead run (as its TCP timeout would), waiting
/// until it has.
fn end_sessions(lab: &Lab, h: &str) {
    signal(&descendants(host_init(lab, h)), "-KILL");
    assert!(sessions_gone(lab, h), "{h}: sessions never ended");
}

fn nsenter_mount(lab: &Lab, h: &str, opts: &str) -> Result<(), String> {
    let out = std::process::Command::new("nsenter")
        .args(["-t", &host_init(lab, h).to_string(), "-m", "-r", "--"])
        .args(["mount", "-o", opts, DATA])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(crate::support::stderr(&out))
    }
}

/// Applies `fault` to `hosts` (a host fault) or to `child` (a signal).
fn inject(lab: &Lab, fault: Fault, hosts: &[&str], child: &std::process::Child) {
    let running = || {
        std::fs::read_to_string(format!("/proc/{}/stat", child.id()))
            .is_ok_and(|s| !s.contains(") Z "))
    };
    match fault {
        Fault::Sigint | Fault::Sigterm | Fault::SigintTwice => {
            if !running() {
                return;
            }
            let sig = if fault == Fault::Sigterm {
                "-TERM"
            } else {
                "-INT"
            };
            signal(&[child.id()], sig);
            if fault == Fault::SigintTwice {
                std::thread::sleep(Duration::from_millis(300));
                if running() {
                    signal(&[child.id()], "-INT");
                }
            }
        }
        Fault::KillSessions => {
            for h in hosts {
                signal(&descendants(host_init(lab, h)), "-KILL");
            }
        }
        Fault::CutLink => {
            for h in hosts {
                tprov::lab::set_link(lab.host(h), false).expect("cut the link");
            }
        }
        Fault::Freeze => {
            for h in hosts {
                signal(&descendants(host_init(lab, h)), "-STOP");
            }
        }
        Fault::FillDisk => {
            for h in hosts {
                use std::io::Write as _;
                let path = lab.root(h).join("srv/data/.filler");
                let Ok(mut f) = std::fs::File::create(&path) else {
                    continue;
                };
                let chunk = vec![0u8; 1 << 20];
                while f.write_all(&chunk).is_ok() {}
            }
        }
        Fault::ReadOnly => {
            for h in hosts {
                // A filesystem with a file open for writing cannot be remounted
                // read-only (EBUSY): it becomes read-only as soon as that write ends.
                let started = Instant::now();
                while nsenter_mount(lab, h, "remount,ro").is_err()
                    && started.elapsed() < Duration::from_secs(20)
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }
}

/// Undoes a host fault once the run has ended; a dead run's sessions are ended.
fn undo(lab: &Lab, fault: Fault, hosts: &[&str]) {
    for h in hosts {
        match fault {
            Fault::CutLink => {
                end_sessions(lab, h);
                tprov::lab::set_link(lab.host(h), true).expect("restore the link");
            }
            Fault::Freeze | Fault::KillSessions => end_sessions(lab, h),
            Fault::FillDisk => {
                let _ = std::fs::remove_file(lab.root(h).join("srv/data/.filler"));
            }
            Fault::ReadOnly => {
                if let Err(e) = nsenter_mount(lab, h, "remount,rw") {
                    panic!("{h}: remount rw: {e}");
                }
            }
            Fault::Sigint | Fault::Sigterm | Fault::SigintTwice => {}
        }
    }
}

/// Waits until the host runs nothing more for tprov (a run that ended closed its
/// sessions); what stays after 10 s is debris.
fn sessions_gone(lab: &Lab, h: &str) -> bool {
    let started = Instant::now();
    while !descendants(host_init(lab, h)).is_empty() {
        if started.elapsed() > Duration::from_secs(10) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

#[derive(Default)]
struct Counts {
    injections: u32,
    by_fault: Vec<(Fault, u32)>,
    torn: u32,
    leftovers: u32,
    hangs: u32,
    wrong_report: u32,
    not_converged: u32,
    stray_processes: u32,
}

#[test]
#[allow(clippy::too_many_lines)]
fn random_faults_never_tear_a_file_leave_debris_or_hang() {
    let per_kind: u32 = std::env::var("TPROV_INJECTIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4);
    let seed: u64 = std::env::var("TPROV_INJECTION_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(12);
    let mut rng = Rng(seed.max(1));
    let all = ["sandbox3", "sandbox4", "app3"];
    let lab = Lab::up_own_network("inject", &all);
    for h in all {
        let out = lab.sh(
            h,
            &format!("mkdir -p {DATA} && mount -t tmpfs -o size=160m tmpfs {DATA} && echo mounted"),
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("mounted"),
            "{out:?}"
        );
    }
    let common = format!(
        r#"{{"ansible_ssh_common_args": "-o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o ServerAliveInterval=1 -o ServerAliveCountMax=3"}}"#,
        lab.dir.join("known_hosts").display()
    );
    let mut counts = Counts::default();
    let mut problems: Vec<String> = Vec::new();
    for kind in kinds(&lab) {
        let book = lab.dir.join("inject.yml");
        std::fs::write(&book, &kind.book).expect("playbook");
        let apply = |limit: &[&str]| {
            let mut c = lab.tprov("apply");
            c.arg(&book)
                .args(["-l", &limit.join(","), "-e", &common])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            c
        };
        // Baseline: the old state, a clean run (its duration bounds the random moment;
        // its result is the new state), and a second run that changes nothing.
        let mut old = Vec::new();
        for h in all {
            (kind.reset)(&lab, h);
            old.push(states(&lab, h, &kind));
        }
        let started = Instant::now();
        let first = apply(&all).output().expect("baseline run");
        let took = started.elapsed();
        assert_eq!(
            first.status.code(),
            Some(0),
            "{}: {}",
            kind.name,
            stdout(&first)
        );
        let new: Vec<Vec<String>> = all.iter().map(|h| states(&lab, h, &kind)).collect();
        let second = apply(&all).output().expect("second run");
        for h in all {
            assert_eq!(
                recap_field(&stdout(&second), h, "changed"),
                0,
                "{}: {}",
                kind.name,
                stdout(&second)
            );
        }
        for _ in 0..per_kind {
            let fault = FAULTS[usize::try_from(rng.below(FAULTS.len() as u64)).unwrap_or(0)];
            let n = 1 + usize::try_from(rng.below(all.len() as u64)).unwrap_or(0);
            let limit: Vec<&str> = all[..n].to_vec();
            let faulted: Vec<&str> = if fault.on_hosts() {
                let k = 1 + usize::try_from(rng.below(n as u64)).unwrap_or(0);
                limit[n - k..].to_vec()
            } else {
                Vec::new()
            };
            let delay = Duration::from_millis(
                rng.below(u64::try_from(took.as_millis()).unwrap_or(1000) + 300),
            );
            let what = format!(
                "seed {seed}, {}: {fault:?} on {faulted:?} of {limit:?} after {} ms",
                kind.name,
                delay.as_millis()
            );
            counts.injections += 1;
            match counts.by_fault.iter_mut().find(|(f, _)| *f == fault) {
                Some((_, c)) => *c += 1,
                None => counts.by_fault.push((fault, 1)),
            }
            for h in &limit {
                (kind.reset)(&lab, h);
            }
            let mut child = apply(&limit).spawn().expect("tprov starts");
            std::thread::sleep(delay);
            inject(&lab, fault, &faulted, &child);
            let status = wait_at_most(&mut child, Duration::from_mins(2));
            let Some(status) = status else {
                counts.hangs += 1;
                let _ = child.kill();
                let _ = child.wait();
                undo(&lab, fault, &faulted);
                problems.push(format!("{what}: the run never ended"));
                continue;
            };
            let out = child.wait_with_output().expect("output");
            let text = stdout(&out);
            undo(&lab, fault, &faulted);
            let code = status.code().unwrap_or(-1);
            // Without a recap only an interrupt: the second Ctrl-C aborting at once, or
            // one before any host was contacted (then nothing may have changed), or one
            // in the first milliseconds, before any program has its handler (the
            // default action ends it, as it would end ansible-playbook's Python).
            let recap_shown = text.contains("PLAY RECAP");
            let by_signal = {
                use std::os::unix::process::ExitStatusExt as _;
                matches!(status.signal(), Some(2 | 15))
            };
            let stopped_early = !recap_shown && !fault.on_hosts() && (code == 99 || by_signal);
            if !recap_shown && !stopped_early {
                counts.wrong_report += 1;
                problems.push(format!("{what}: no recap (exit {code}):\n{text}"));
            }
            for h in &limit {
                let i = all.iter().position(|a| a == h).unwrap_or(0);
                let now = states(&lab, h, &kind);
                let whole = now
                    .iter()
                    .enumerate()
                    .all(|(f, s)| *s == old[i][f] || *s == new[i][f]);
                if !whole {
                    counts.torn += 1;
                    problems.push(format!(
                        "{what}: {h} torn: {now:?} (old {:?}, new {:?})",
                        old[i], new[i]
                    ));
                    continue;
                }
                if !recap_shown {
                    if fault != Fault::SigintTwice && now != old[i] {
                        counts.wrong_report += 1;
                        problems.push(format!(
                            "{what}: {h} changed, yet the run stopped before any host"
                        ));
                    }
                    continue;
                }
                let failed = recap(&text, h, "failed") + recap(&text, h, "unreachable");
                let changed = recap(&text, h, "changed");
                // What the recap says happened, happened; what did not happen, the recap
                // and the exit code say.
                let reported_ok = (now != new[i] && failed == 0 && (changed > 0 || code != 99))
                    || (code == 0 && (failed > 0 || now != new[i]));
                if reported_ok {
                    counts.wrong_report += 1;
                    problems.push(format!("{what}: {h} is {}, yet exit {code} and {changed} changed, {failed} failed:\n{text}", if now == new[i] { "new" } else { "old" }));
                }
            }
            if matches!(fault, Fault::FillDisk | Fault::Sigint | Fault::Sigterm) {
                // The connection lived: nothing may stay even before a rerun.
                for h in &limit {
                    let left = leftovers(&lab, h);
                    if !left.is_empty() {
                        counts.leftovers += 1;
                        problems.push(format!("{what}: {h} kept {left:?} after the run"));
                    }
                }
            }
            for h in &limit {
                if !fault.drops_connection() && !sessions_gone(&lab, h) {
                    counts.stray_processes += 1;
                    problems.push(format!(
                        "{what}: {h} still runs {:?}",
                        descendants(host_init(&lab, h))
                    ));
                    end_sessions(&lab, h);
                }
            }
            let rerun = apply(&limit).output().expect("rerun");
            let rtext = stdout(&rerun);
            if rerun.status.code() != Some(0) {
                counts.not_converged += 1;
                problems.push(format!(
                    "{what}: the rerun failed:\n{rtext}\n{}",
                    crate::support::stderr(&rerun)
                ));
            }
            for h in &limit {
                let i = all.iter().position(|a| a == h).unwrap_or(0);
                if states(&lab, h, &kind) != new[i] {
                    counts.not_converged += 1;
                    problems.push(format!(
                        "{what}: {h} did not converge on the rerun:\n{rtext}"
                    ));
                }
                let left = leftovers(&lab, h);
                if !left.is_empty() {
                    counts.leftovers += 1;
                    problems.push(format!("{what}: {h} kept {left:?} after the rerun"));
                }
            }
        }
    }
    let mut table = format!(
        "| injections | torn files | leftovers | hangs | wrong exit or recap | reruns not converged | stray processes |\n|---|---|---|---|---|---|---|\n| {} | {} | {} | {} | {} | {} | {} |\n\nby fault (seed {seed}):",
        counts.injections,
        counts.torn,
        counts.leftovers,
        counts.hangs,
        counts.wrong_report,
        counts.not_converged,
        counts.stray_processes
    );
    for (f, n) in &counts.by_fault {
        let _ = write!(table, " {f:?} {n},");
    }
    table.pop();
    table.push('\n');
    let report = Path::new(env!("CARGO_TARGET_TMPDIR")).join("injections.md");
    let _ = std::fs::write(&report, &table);
    assert!(problems.is_empty(), "{table}\n{}", problems.join("\n\n"));
}
