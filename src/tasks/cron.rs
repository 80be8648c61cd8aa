//! `cron`: a user's crontab (`crontab -l`, then `crontab -`) or a file of /etc/cron.d,
//! edited line for line as Ansible's cron module edits it (modules/cron.py): each job
//! under its `#Ansible: NAME` comment, variables as `NAME="value"`, a job found by its
//! exact line adopted under a new comment, the same result keys and messages.

use super::attrs::Attrs;
use super::remote::Stat;
use super::{Cx, Diff, Outcome, Spec, TaskError, args, fail};
use crate::python::strings::splitlines;
use crate::transport::sh_quote;
use crate::value::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    name: "cron",
    file_common: false,
    traits: &[],
    args: &[
        "name",
        "user",
        "job",
        "value",
        "cron_file",
        "state",
        "backup",
        "minute",
        "hour",
        "day",
        "dom",
        "month",
        "weekday",
        "dow",
        "special_time",
        "disabled",
        "env",
        "insertafter",
        "insertbefore",
    ],
    required: &["name"],
};

/// The comment above every job Ansible manages.
const MARK: &str = "#Ansible: ";

const SPECIAL_TIMES: &[&str] = &[
    "reboot", "yearly", "annually", "monthly", "weekly", "daily", "hourly",
];

/// What follows the command's output, with its exit status.
const RC_MARK: &str = "\n__TPROV_CRONTAB_RC ";

/// A crontab as the module holds it: its lines, and the text it was read from.
struct Crontab {
    lines: Vec<String>,
    /// The text as read (a user crontab's header lines removed): the diff's `before`.
    existing: String,
    /// The file, for `cron_file` (under /etc/cron.d unless absolute).
    file: Option<String>,
    /// Whether the file exists (`cron_file`).
    present: bool,
    user: Option<String>,
}

/// How `find_job` found a job.
enum Found {
    No,
    /// Under its comment: the line below it.
    Line(String),
    /// By its exact line, now under a (new or renamed) comment.
    Adopted,
}

fn comment(name: &str) -> String {
    format!("{MARK}{name}")
}

impl Crontab {
    /// `find_job`, quirks included: a comment that names another job hides the line
    /// after it; a job found by its exact line gets the comment inserted above it (the
    /// line "above" the first being the last, as Python's `lines[i - 1]`).
    fn find_job(&mut self, name: &str, job: Option<&str>) -> Found {
        let mut pending: Option<String> = None;
        for l in &self.lines {
            if let Some(c) = pending.take() {
                if c == name {
                    return Found::Line(l.clone());
                }
            } else if l.starts_with(MARK) {
                pending = Some(l.replace(MARK, ""));
            }
        }
        let Some(job) = job.filter(|j| !j.is_empty()) else {
            return Found::No;
        };
        for i in 0..self.lines.len() {
            if self.lines[i] != job {
                continue;
            }
            let above = if i == 0 { self.lines.len() - 1 } else { i - 1 };
            if !self.lines[above].starts_with(MARK) {
                self.lines.insert(i, comment(name));
                return Found::Adopted;
            }
            if !name.is_empty() && self.lines[above] == comment("None") {
                self.lines[above] = comment(name);
                return Found::Adopted;
            }
        }
        Found::No
    }

    /// `_update_job`: every line after the job's comment replaced by `job` (the comment
    /// kept), or both removed when `job` is None.
    fn update_job(&mut self, name: &str, job: Option<&str>) {
        let mark = comment(name);
        let mut out = Vec::with_capacity(self.lines.len() + 1);
        let mut pending = false;
        for l in self.lines.drain(..) {
            if pending {
                if let Some(job) = job {
                    out.push(mark.clone());
                    out.push(job.to_string());
                }
                pending = false;
            } else if l == mark {
                pending = true;
            } else {
                out.push(l);
            }
        }
        self.lines = out;
    }

    fn env_pattern(name: &str) -> Result<regex::Regex, TaskError> {
        regex::Regex::new(&format!("^(?:{name})="))
            .map_err(|e| fail(format!("invalid variable name {name:?}: {e}")))
    }

    fn find_env(&self, name: &str) -> Result<Option<(usize, String)>, TaskError> {
        let re = Self::env_pattern(name)?;
        Ok(self
            .lines
            .iter()
            .position(|l| re.is_match(l))
            .map(|i| (i, self.lines[i].clone())))
    }

    /// `_update_env`: every line setting `name` replaced by `decl`, or removed.
    fn update_env(&mut self, name: &str, decl: Option<&str>) -> Result<(), TaskError> {
        let re = Self::env_pattern(name)?;
        let lines = std::mem::take(&mut self.lines);
        for l in lines {
            match (re.is_match(&l), decl) {
                (true, Some(d)) => self.lines.push(d.to_string()),
                (true, None) => {}
                (false, _) => self.lines.push(l),
            }
        }
        Ok(())
    }

    fn add_env(
        &mut self,
        decl: String,
        after: Option<&str>,
        before: Option<&str>,
    ) -> Result<(), TaskError> {
        let Some(other) = after.or(before) else {
            self.lines.insert(0, decl);
            return Ok(());
        };
        match self.find_env(other)? {
            Some((i, _)) => {
                let at = if after.is_some() { i + 1 } else { i };
                self.lines.insert(at, decl);
                Ok(())
            }
            None => Err(fail(format!("Variable named '{other}' not found."))),
        }
    }

    fn render(&self) -> String {
        let text = self.lines.join("\n");
        if text.is_empty() {
            return text;
        }
        format!("{}\n", text.trim_end_matches(['\r', '\n']))
    }

    fn is_empty(&self) -> bool {
        self.lines.iter().all(|l| l.trim().is_empty())
    }

    fn job_names(&self) -> Value {
        Value::List(
            self.lines
                .iter()
                .filter(|l| l.starts_with(MARK))
                .map(|l| Value::str(l.replace(MARK, "")))
                .collect(),
        )
    }

    fn env_names(&self) -> Value {
        static ENV: std::sync::LazyLock<Option<regex::Regex>> =
            std::sync::LazyLock::new(|| regex::Regex::new(r"^\S+=").ok());
        Value::List(
            self.lines
                .iter()
                .filter(|l| ENV.as_ref().is_some_and(|r| r.is_match(l)))
                .map(|l| Value::str(l.split('=').next().unwrap_or_default()))
                .collect(),
        )
    }

    fn header(&self) -> String {
        match (&self.file, &self.user) {
            (Some(f), _) => f.clone(),
            (None, Some(u)) => format!("crontab for user \"{u}\""),
            (None, None) => "crontab".into(),
        }
    }
}

/// `crontab [-u USER] ARGS`, `-u` only when USER is not who runs it (as Ansible).
fn crontab_command(user: Option<&str>, args: &str) -> String {
    match user {
        Some(u) => {
            let q = sh_quote(u);
            format!(
                "if [ \"$(id -un)\" = {q} ]; then crontab {args}; else crontab -u {q} {args}; fi"
            )
        }
        None => format!("crontab {args}"),
    }
}

/// The first lines `crontab -l` may print about itself, which are not the user's.
fn is_header(l: &str) -> bool {
    static HEADERS: std::sync::LazyLock<Vec<regex::Regex>> = std::sync::LazyLock::new(|| {
        [
            r"^# DO NOT EDIT THIS FILE - edit the master and reinstall.",
            r"^# \(/tmp/.*installed on.*\)",
            r"^# \(.*version.*\)",
        ]
        .iter()
        .filter_map(|p| regex::Regex::new(p).ok())
        .collect()
    });
    HEADERS.iter().any(|r| r.is_match(l))
}

async fn read(cx: &Cx<'_>, file: Option<&str>, user: Option<&str>) -> Result<Crontab, TaskError> {
    let missing = "command -v crontab >/dev/null 2>&1 || { echo missing; exit 0; }; echo found";
    let script = match file {
        Some(f) => format!(
            "{missing}; p={}; if [ -f \"$p\" ]; then echo present; cat -- \"$p\"; else echo absent; fi",
            sh_quote(f)
        ),
        None => format!(
            "{missing}; {} 2>/dev/null; printf '{}%d\\n' \"$?\"",
            crontab_command(user, "-l"),
            RC_MARK.replace('\n', "\\n")
        ),
    };
    let out = cx.probe.exec(&script, cx.read_become()).await?;
    let text = out.stdout_str();
    let Some(rest) = text.strip_prefix("found\n") else {
        return Err(fail(
            "Failed to find required executable \"crontab\" in paths: /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ));
    };
    let mut tab = Crontab {
        lines: Vec::new(),
        existing: String::new(),
        file: file.map(str::to_string),
        present: false,
        user: user.map(str::to_string),
    };
    if let Some(f) = file {
        let simulated = cx.check().then(|| cx.sim.files.get(f)).flatten();
        let content = match (simulated, rest.strip_prefix("present\n")) {
            (Some(c), _) => Some(String::from_utf8_lossy(c).into_owned()),
            (None, Some(c)) => Some(c.to_string()),
            (None, None) => None,
        };
        if let Some(c) = content {
            tab.present = true;
            tab.lines = splitlines(&c).into_iter().map(str::to_string).collect();
            tab.existing = c;
        }
        return Ok(tab);
    }
    let (body, rc) = match rest.rfind(RC_MARK) {
        Some(i) => (&rest[..i], rest[i + RC_MARK.len()..].trim()),
        None => (rest, ""),
    };
    if rc != "0" && rc != "1" {
        return Err(fail("Unable to read crontab"));
    }
    // `crontab -l` prints nothing but "no crontab for USER" (on stderr) when there is none.
    let mut existing = body.to_string();
    for (i, l) in splitlines(body).into_iter().enumerate() {
        if i > 2 || !is_header(l) {
            tab.lines.push(l.to_string());
        } else if let Some(at) = existing.find(l) {
            let mut end = at + l.len();
            if existing[end..].starts_with(['\r', '\n']) {
                end += 1;
            }
            existing.replace_range(at..end, "");
        }
    }
    tab.existing = existing;
    Ok(tab)
}

/// The job's line: `[#]TIME [USER] JOB` (USER in a cron file only).
fn job_line(a: &Map, tab: &Crontab, job: &str, special: Option<&str>) -> Result<String, TaskError> {
    let job = job.trim_matches(['\r', '\n']);
    let prefix = if args::bool_opt(a, &["disabled"])?.unwrap_or(false) {
        "#"
    } else {
        ""
    };
    let user = match (&tab.file, &tab.user) {
        (Some(_), Some(u)) => format!("{u} "),
        (Some(_), None) => "None ".into(),
        _ => String::new(),
    };
    if let Some(s) = special {
        return Ok(format!("{prefix}@{s} {user}{job}"));
    }
    let f = |keys: &[&str]| args::str_opt(a, keys).unwrap_or_else(|| "*".into());
    Ok(format!(
        "{prefix}{} {} {} {} {} {user}{job}",
        f(&["minute"]),
        f(&["hour"]),
        f(&["day", "dom"]),
        f(&["month"]),
        f(&["weekday", "dow"]),
    ))
}

pub(super) async fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let name = args::str_req(a, &["name"], "cron")?;
    let user = args::str_opt(a, &["user"]);
    let job = args::str_opt(a, &["job", "value"]);
    let cron_file = args::str_opt(a, &["cron_file"]);
    let state =
        args::choice(a, "state", &["present", "absent"])?.unwrap_or_else(|| "present".into());
    let special = args::choice(a, "special_time", SPECIAL_TIMES)?;
    let backup = args::bool_opt(a, &["backup"])?.unwrap_or(false);
    let env = args::bool_opt(a, &["env"])?.unwrap_or(false);
    let insertafter = args::str_opt(a, &["insertafter"]);
    let insertbefore = args::str_opt(a, &["insertbefore"]);
    if insertafter.is_some() && insertbefore.is_some() {
        return Err(fail(
            "parameters are mutually exclusive: insertafter|insertbefore",
        ));
    }
    let install = state == "present";
    let mut warnings = Vec::new();
    let path = match &cron_file {
        Some(f) if f == "/etc/crontab" => {
            return Err(fail(
                "Will not manage /etc/crontab via cron_file, see documentation.",
            ));
        }
        Some(f) => {
            let base = f.rsplit('/').next().unwrap_or(f);
            if base.is_empty()
                || !base
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                warnings.push(format!("Filename portion of cron_file (\"{base}\") should consist solely of upper- and lower-case letters, digits, underscores, and hyphens"));
            }
            Some(if f.starts_with('/') {
                f.clone()
            } else {
                format!("/etc/cron.d/{f}")
            })
        }
        None => None,
    };
    let mut tab = read(cx, path.as_deref(), user.as_deref()).await?;
    let before = tab.existing.clone();
    let before_render = tab.render();
    let times = ["minute", "hour", "day", "dom", "month", "weekday", "dow"];
    if special.is_some()
        && times
            .iter()
            .any(|k| args::str_opt(a, &[k]).is_some_and(|v| v != "*"))
    {
        return Err(fail(
            "You cannot combine special_time with any of the time or day/date parameters.",
        ));
    }
    if install {
        if path.is_some() && user.is_none() {
            return Err(fail(
                "To use cron_file=... parameter you must specify user=... as well",
            ));
        }
        if job.is_none() {
            return Err(fail(
                "You must specify 'job' to install a new cron job or variable",
            ));
        }
        if (insertafter.is_some() || insertbefore.is_some()) && !env {
            return Err(fail(
                "Insertafter and insertbefore parameters are valid only with env=yes",
            ));
        }
    }
    let mut changed = false;
    if env {
        if name.contains(' ') {
            return Err(fail("Invalid name for environment variable"));
        }
        let decl = format!("{name}=\"{}\"", job.as_deref().unwrap_or("None"));
        let old = tab.find_env(&name)?;
        match (install, old) {
            (true, None) => {
                tab.add_env(decl, insertafter.as_deref(), insertbefore.as_deref())?;
                changed = true;
            }
            (true, Some((_, line))) if line != decl => {
                tab.update_env(&name, Some(&decl))?;
                changed = true;
            }
            (false, Some(_)) => {
                tab.update_env(&name, None)?;
                changed = true;
            }
            _ => {}
        }
    } else if install {
        let raw = job.as_deref().unwrap_or_default();
        if raw.trim_matches(['\r', '\n']).contains(['\r', '\n']) {
            warnings.push("Job should not contain line breaks".into());
        }
        let line = job_line(a, &tab, raw, special.as_deref())?;
        match tab.find_job(&name, Some(&line)) {
            Found::No => {
                tab.lines.push(comment(&name));
                tab.lines.push(line);
                changed = true;
            }
            Found::Line(old) if old != line => {
                tab.update_job(&name, Some(&line));
                changed = true;
            }
            Found::Adopted => {
                tab.update_job(&name, Some(&line));
                changed = true;
            }
            Found::Line(_) => {}
        }
    } else if !matches!(tab.find_job(&name, None), Found::No) {
        tab.update_job(&name, None);
        changed = true;
        if let Some(p) = path.as_deref().filter(|_| tab.is_empty()) {
            return remove_file(cx, p, &tab, &before, cron_file.as_deref(), &state).await;
        }
    }
    // Nothing to change, but the crontab lacks its final newline.
    if !changed && !before.is_empty() && !before.ends_with(['\r', '\n']) {
        changed = true;
    }
    let mut out = Outcome::changed(changed);
    out.result.insert("jobs".into(), tab.job_names());
    out.result.insert("envs".into(), tab.env_names());
    if changed {
        let after = tab.render();
        if let Some(w) = &cx.writer {
            if backup {
                // The crontab as it was, where Ansible keeps it (tempfile.mkstemp).
                let o = super::remote::changed_ok(
                    w.exec_with_stdin(
                        "b=$(mktemp \"${TMPDIR:-/tmp}/crontabXXXXXXXX\") && cat > \"$b\" && echo \"$b\"",
                        Some(before_render.as_bytes()),
                    )
                    .await?,
                )?;
                out.result
                    .insert("backup_file".into(), Value::str(o.stdout_str().trim()));
            }
            write(cx, &tab, &after).await?;
        } else if let Some(p) = &path {
            let st = Stat {
                exists: tab.present,
                ..Stat::absent(p)
            };
            cx.sim
                .wrote(p, after.clone().into_bytes(), &Attrs::default(), Some(&st));
        }
        out.diffs.push(Diff {
            before_header: Some(tab.header()),
            after_header: Some(tab.header()),
            before,
            after,
        });
    }
    if let Some(f) = cron_file {
        out.result.insert("cron_file".into(), Value::str(f));
    }
    if !warnings.is_empty() {
        out.result.insert(
            "warnings".into(),
            Value::List(warnings.into_iter().map(Value::str).collect()),
        );
    }
    Ok(out)
}

/// Installs the new crontab: `crontab -` for a user's, an atomic write for a file.
async fn write(cx: &Cx<'_>, tab: &Crontab, after: &str) -> Result<(), TaskError> {
    let w = cx.writer()?;
    if let Some(p) = &tab.file {
        let st = Stat {
            exists: tab.present,
            ..Stat::absent(p)
        };
        return super::copy::write(cx, w, p, after.as_bytes(), &Attrs::default(), &st, None).await;
    }
    // Staged in a file whose length is checked first: a connection that ends early
    // closes stdin, and `crontab -` would install the part that arrived.
    let script = format!(
        "t=$(mktemp \"${{TMPDIR:-/tmp}}/crontabXXXXXXXX\") || exit 1; trap 'rm -f \"$t\"' EXIT; cat > \"$t\" || exit 1; [ \"$(wc -c < \"$t\")\" -eq {len} ] || {{ echo 'the connection ended before the whole crontab arrived' >&2; exit 1; }}; {install}",
        len = after.len(),
        install = crontab_command(tab.user.as_deref(), "\"$t\""),
    );
    let out = w.exec_with_stdin(&script, Some(after.as_bytes())).await?;
    if !out.ok() {
        return Err(fail(format!(
            "Failed to install new cronfile: {}",
            out.stderr_str().trim()
        )));
    }
    Ok(())
}

/// The last job of a cron file removed, and nothing else in it: the file goes.
async fn remove_file(
    cx: &mut Cx<'_>,
    path: &str,
    tab: &Crontab,
    before: &str,
    cron_file: Option<&str>,
    state: &str,
) -> Result<Outcome, TaskError> {
    let mut out = Outcome::changed(tab.present);
    if let Some(w) = &cx.writer {
        if tab.present {
            super::remote::change(w, &format!("rm -f -- {}", sh_quote(path))).await?;
        }
    } else {
        cx.sim.removed(path);
    }
    out.diffs.push(Diff {
        before_header: Some(path.to_string()),
        after_header: Some("/dev/null".into()),
        before: before.to_string(),
        after: String::new(),
    });
    if let Some(f) = cron_file {
        out.result.insert("cron_file".into(), Value::str(f));
    }
    out.result.insert("state".into(), Value::str(state));
    Ok(out)
}
