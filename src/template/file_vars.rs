//! The vars Ansible's `template` module adds for the file it renders: `ansible_managed`
//! and `template_host`, `template_path`, `template_fullpath`, `template_uid` (the
//! source's owner), `template_mtime` and `template_run_date` (local datetimes).

use crate::value::{TimeOfDay, Timestamp, Value};
use std::path::Path;

/// `path` is the file found; `src` the name the task gave (`template_path` shows it).
pub(crate) fn file_vars(path: &Path, src: &str) -> Vec<(String, Value)> {
    use std::os::unix::fs::MetadataExt;
    let full = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let meta = std::fs::metadata(path).ok();
    let mut vars = vec![
        ("ansible_managed".into(), Value::str("Ansible managed")),
        ("template_path".into(), Value::str(src)),
        (
            "template_fullpath".into(),
            Value::str(full.display().to_string()),
        ),
        ("template_host".into(), Value::str(hostname())),
        (
            "template_run_date".into(),
            local_datetime(chrono::Local::now()),
        ),
    ];
    if let Some(m) = meta {
        vars.push(("template_uid".into(), Value::str(user_name(m.uid()))));
        if let Some(t) = chrono::DateTime::from_timestamp(m.mtime(), m.mtime_nsec() as u32) {
            vars.push((
                "template_mtime".into(),
                local_datetime(t.with_timezone(&chrono::Local)),
            ));
        }
    }
    vars
}

/// A naive `datetime.datetime` (local time, as `datetime.fromtimestamp` gives, or UTC
/// with its zone dropped).
pub(super) fn local_datetime<Tz: chrono::TimeZone>(t: chrono::DateTime<Tz>) -> Value {
    use chrono::{Datelike, Timelike};
    Value::Time(Box::new(Timestamp {
        year: t.year(),
        month: t.month(),
        day: t.day(),
        time: Some(TimeOfDay {
            hour: t.hour(),
            minute: t.minute(),
            second: t.second(),
            microsecond: t.nanosecond() / 1000 % 1_000_000,
            offset: None,
        }),
    }))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The name /etc/passwd gives a uid (the uid itself when it has none).
fn user_name(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
            })
        })
        .unwrap_or_else(|| uid.to_string())
}
