//! Custom modules: a file in a `library/` directory (beside the playbook, in a role, in
//! `ANSIBLE_LIBRARY`), run on the host as Ansible runs it. Which kind it is comes from its
//! text, as in Ansible's module_common: a Python module importing `ansible.module_utils`
//! gets Ansible's module_utils sent with it (from the controller's ansible-core, plus the
//! playbook's and role's own `module_utils/`) and reads its arguments as AnsibleModule
//! does; a `WANT_JSON` or binary module gets a JSON file of arguments, any other a file of
//! `key=value` pairs. Its JSON reply is the task's result.
//!
//! Like Ansible, tprov runs such a module in check mode too, with `_ansible_check_mode`
//! set: the module decides (AnsibleModule skips modules that do not declare
//! `supports_check_mode`). It is the one place user code runs under `--check`.

use super::{ACTION_CAUSE, Cx, Diff, Outcome, TaskError, fail};
use crate::transport::sh_quote;
use crate::value::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The module named `name` in the `library/` directories beside `dirs` (the playbook's,
/// the role's, the task file's), then in `ANSIBLE_LIBRARY` and Ansible's default module
/// path, as Ansible's module loader searches them.
pub(crate) fn find(name: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return None;
    }
    let configured = std::env::var("ANSIBLE_LIBRARY").ok().map_or_else(
        || {
            let home = std::env::var("HOME").unwrap_or_default();
            vec![
                PathBuf::from(home).join(".ansible/plugins/modules"),
                PathBuf::from("/usr/share/ansible/plugins/modules"),
            ]
        },
        |v| {
            v.split(':')
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .collect()
        },
    );
    dirs.iter()
        .map(|d| d.join("library"))
        .chain(configured)
        .flat_map(|d| [d.join(format!("{name}.py")), d.join(name)])
        .find(|p| p.is_file())
}

/// How a module reads its arguments, from its text (Ansible's module styles).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Style {
    /// Python with `ansible.module_utils`: arguments as AnsibleModule reads them.
    New,
    /// `WANT_JSON` anywhere in it, or a binary: a JSON file of arguments.
    Json,
    /// Anything else: a file of `key=value` pairs.
    Old,
}

fn style(data: &[u8]) -> Style {
    let has = |needle: &[u8]| memchr::memmem::find(data, needle).is_some();
    if has(b"from ansible.module_utils.")
        || has(b"import ansible.module_utils")
        || has(b"from ansible_collections.")
        || has(b"from ansible.module_utils import")
    {
        Style::New
    } else if has(b"WANT_JSON") || data.iter().take(1024).any(|b| *b == 0) {
        Style::Json
    } else {
        Style::Old
    }
}

/// The interpreter from the module's `#!` line, as Ansible rewrites it: a Python one is
/// `ansible_python_interpreter` (else the host's python3), another `ansible_<name>_interpreter`
/// when set. None for a binary or a file without one.
fn interpreter(data: &[u8], cx: &Cx<'_>) -> Option<String> {
    let first = data.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(first.strip_prefix(b"#!")?).ok()?.trim();
    let mut words = line.split_whitespace();
    let mut exe = words.next()?;
    let mut rest: Vec<&str> = words.collect();
    if exe.ends_with("/env") && !rest.is_empty() {
        exe = rest.remove(0);
    }
    let base = exe.rsplit('/').next().unwrap_or(exe);
    let var = |name: &str| {
        cx.scope
            .resolve(name)
            .filter(|v| !v.is_undefined() && !v.is_none())
            .map(|v| v.to_string())
    };
    let python = base.starts_with("python");
    let key = if python {
        "ansible_python_interpreter".to_string()
    } else {
        format!("ansible_{base}_interpreter")
    };
    let chosen = match var(&key) {
        Some(v) if v != "auto" && v != "auto_silent" && v != "auto_legacy" => v,
        _ if python => PYTHON.to_string(),
        _ => line.to_string(),
    };
    Some(chosen)
}

/// The host's python when no interpreter is set: where Ansible's discovery finds it on
/// Debian and Ubuntu, else the first on PATH.
const PYTHON: &str = "$(command -v /usr/bin/python3 || command -v python3 || echo python3)";

/// Runs the custom module at `path` with the task's templated `args`.
pub(crate) async fn run(
    name: &str,
    path: &Path,
    args: &Map,
    cx: &mut Cx<'_>,
) -> Result<Outcome, TaskError> {
    let data =
        std::fs::read(path).map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
    let style = style(&data);
    let mut module_args = args.clone();
    for (k, v) in internal_args(name, cx) {
        module_args.insert(k.into(), v);
    }
    let env = cx.env_prefix();
    let (script, stdin, bundled) = match style {
        Style::New => {
            let core = core_bundle();
            let collection = super::collection::found_at(path);
            let extra = extra_bundle(cx, collection.as_ref(), &data);
            let mut wrapped = Map::default();
            wrapped.insert("ANSIBLE_MODULE_ARGS".into(), Value::Map(module_args));
            let mut input = Vec::with_capacity(core.len() + data.len() + 4096);
            for part in [
                core.as_slice(),
                &extra,
                &data,
                json(&Value::Map(wrapped)).as_bytes(),
            ] {
                frame(&mut input, part);
            }
            let py = interpreter(&data, cx).unwrap_or_else(|| PYTHON.to_string());
            // A collection's module runs by its dotted name (`python -m`), so that its
            // relative imports of the collection's module_utils resolve.
            let dotted = collection
                .as_ref()
                .map_or(String::new(), |(f, _)| format!(" {}", sh_quote(&f.dotted)));
            let script = format!(
                "{env}{py} -c {} {}{dotted}",
                sh_quote(BOOTSTRAP),
                sh_quote(&format!("{name}.py"))
            );
            (script, input, !core.is_empty())
        }
        Style::Json | Style::Old => {
            let text = if style == Style::Json {
                json(&Value::Map(module_args))
            } else {
                module_args
                    .iter()
                    .map(|(k, v)| format!("{k}={} ", crate::python::shlex::quote(&v.py_str())))
                    .collect()
            };
            let run = match interpreter(&data, cx) {
                Some(i) => format!("{i} \"$d/m\""),
                None => "\"$d/m\"".to_string(),
            };
            let script = format!(
                "d=$(mktemp -d \"${{TMPDIR:-/tmp}}/ansible-tprov.XXXXXXXX\") || exit 1; trap 'rm -rf \"$d\"' EXIT; printf %s {} > \"$d/args\" && cat > \"$d/m\" && chmod 0700 \"$d/m\" || exit 1; {env}{run} \"$d/args\" </dev/null",
                sh_quote(&text)
            );
            (script, data, true)
        }
    };
    let out = match &cx.writer {
        Some(w) => w.exec_with_stdin(&script, Some(&stdin)).await?,
        None => {
            cx.probe
                .exec_custom_module(&script, &stdin, cx.escalate.as_ref())
                .await?
        }
    };
    let mut o = outcome(name, &out.stdout_str(), &out.stderr_str(), out.rc());
    if !bundled && let Some(Value::Str(cause)) = o.result.get_mut(ACTION_CAUSE) {
        cause.push_str(" The module imports ansible.module_utils, and no ansible-core was found on the controller to send with it (python3 -c 'import ansible' failed there): install ansible-core on the controller or on the host.");
    }
    Ok(o)
}

/// The `_ansible_*` arguments Ansible's action adds for every module.
fn internal_args(name: &str, cx: &Cx<'_>) -> Vec<(&'static str, Value)> {
    let verbosity = cx
        .scope
        .resolve("ansible_verbosity")
        .and_then(|v| i64::try_from(v).ok())
        .unwrap_or(0);
    vec![
        ("_ansible_check_mode", Value::Bool(cx.check())),
        (
            "_ansible_no_log",
            Value::Bool(cx.task.common.no_log.as_ref().is_some_and(Value::is_truthy)),
        ),
        ("_ansible_debug", Value::Bool(false)),
        ("_ansible_diff", Value::Bool(cx.diff)),
        ("_ansible_verbosity", Value::Int(verbosity)),
        (
            "_ansible_version",
            Value::str(crate::context::ANSIBLE_VERSION),
        ),
        ("_ansible_module_name", Value::str(name)),
        ("_ansible_syslog_facility", Value::str("LOG_USER")),
        (
            "_ansible_selinux_special_fs",
            Value::List(
                ["fuse", "nfs", "vboxsf", "ramfs", "9p", "vfat"]
                    .into_iter()
                    .map(Value::str)
                    .collect(),
            ),
        ),
        ("_ansible_shell_executable", Value::str("/bin/sh")),
        ("_ansible_keep_remote_files", Value::Bool(false)),
        ("_ansible_remote_tmp", Value::str("~/.ansible/tmp")),
        ("_ansible_ignore_unknown_opts", Value::Bool(false)),
        ("_ansible_target_log_info", Value::Null),
        ("_ansible_tracebacks_for", Value::List(Vec::new())),
    ]
}

fn json(v: &Value) -> String {
    crate::value::pyjson::dumps(v, &crate::value::pyjson::JsonStyle::compact()).unwrap_or_default()
}

fn frame(out: &mut Vec<u8>, part: &[u8]) {
    let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(part);
}

/// Unpacks the module_utils sent with a Python module into a private directory, runs the
/// module there with its arguments file (as AnsibleModule's debug path reads it), and
/// removes the directory whatever the module does.
const BOOTSTRAP: &str = r"import os,sys,json,shutil,struct,subprocess,tempfile,zlib
b=sys.stdin.buffer.read()
def parts(b):
    i=0
    while i<len(b):
        n=struct.unpack('>I',b[i:i+4])[0]
        yield b[i+4:i+4+n]
        i+=4+n
core,extra,mod,args=parts(b)
d=tempfile.mkdtemp(prefix='ansible-tprov-')
rc=1
try:
    lib=os.path.join(d,'lib')
    for z in (core,extra):
        if not z:
            continue
        u=list(parts(zlib.decompress(z)))
        for p,data in zip(u[0::2],u[1::2]):
            f=os.path.join(lib,p.decode())
            os.makedirs(os.path.dirname(f),exist_ok=True)
            with open(f,'wb') as h:
                h.write(data)
    a=json.loads(args)
    a['ANSIBLE_MODULE_ARGS']['_ansible_tmpdir']=d
    ap=os.path.join(d,'args')
    with open(ap,'w') as h:
        json.dump(a,h)
    mp=os.path.join(d,os.path.basename(sys.argv[1]))
    cmd=[sys.executable,mp,ap]
    if len(sys.argv)>2:
        mp=os.path.join(lib,*sys.argv[2].split('.'))+'.py'
        os.makedirs(os.path.dirname(mp),exist_ok=True)
        cmd=[sys.executable,'-m',sys.argv[2],ap]
    with open(mp,'wb') as h:
        h.write(mod)
    env=dict(os.environ)
    env['PYTHONPATH']=lib+(os.pathsep+env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
    sys.stdout.flush()
    rc=subprocess.call(cmd,env=env,stdin=subprocess.DEVNULL,cwd=d)
finally:
    shutil.rmtree(d,ignore_errors=True)
sys.exit(rc)
";

/// The controller's `ansible/module_utils`, packed once per run (empty when the controller
/// has no ansible-core).
fn core_bundle() -> &'static Vec<u8> {
    static CORE: OnceLock<Vec<u8>> = OnceLock::new();
    CORE.get_or_init(|| {
        let Some(dir) = controller_module_utils() else {
            return Vec::new();
        };
        let mut files = vec![("ansible/__init__.py".to_string(), Vec::new())];
        collect(&dir, "ansible/module_utils", &mut files);
        pack(&files)
    })
}

/// The playbook's and role's own `module_utils/` (`ansible.module_utils.NAME` in Ansible),
/// and for a collection's module the collection module_utils it imports, packed for this
/// task (empty when there are none).
fn extra_bundle(
    cx: &Cx<'_>,
    collection: Option<&(super::collection::Found, PathBuf)>,
    data: &[u8],
) -> Vec<u8> {
    let mut files = Vec::new();
    if let Some((found, root)) = collection {
        let mut roots = vec![root.clone()];
        roots.extend(super::collection::roots(&cx.play_dir, &cx.play_dir));
        files.extend(super::collection::module_utils(found, data, &roots));
    }
    for dir in [Some(&cx.play_dir), cx.role_dir.as_ref()]
        .into_iter()
        .flatten()
    {
        collect(
            &dir.join("module_utils"),
            "ansible/module_utils",
            &mut files,
        );
    }
    if files.is_empty() {
        Vec::new()
    } else {
        pack(&files)
    }
}

fn controller_module_utils() -> Option<PathBuf> {
    Some(controller_ansible()?.join("module_utils")).filter(|d| d.is_dir())
}

/// The controller's `ansible` package directory (ansible-core), looked up once.
pub(super) fn controller_ansible() -> Option<&'static PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import os,ansible as m;print(os.path.dirname(m.__file__))",
            ])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        let dir = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
        (out.status.success() && dir.is_dir()).then_some(dir)
    })
    .as_ref()
}

/// Ansible's own module `name` (`get_url`, `pip`, `known_hosts`...), from the
/// controller's ansible-core, for a module tprov does not implement itself: run on the
/// host as Ansible runs it, so it behaves exactly as Ansible's. Not one with an action
/// plugin of its own (`unarchive`, `reboot`...): its controller half would be missing.
pub(crate) fn ansible_core_module(name: &str) -> Option<PathBuf> {
    let name = super::canonical(name);
    if name.is_empty() || name.contains(['/', '.']) || name.starts_with('_') {
        return None;
    }
    let root = controller_ansible()?;
    if root
        .join("plugins/action")
        .join(format!("{name}.py"))
        .is_file()
    {
        return None;
    }
    Some(root.join("modules").join(format!("{name}.py"))).filter(|p| p.is_file())
}

/// Every Python file under `dir`, named `prefix/relative` (caches left out).
fn collect(dir: &Path, prefix: &str, files: &mut Vec<(String, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        if name == "__pycache__" || name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(&path, &format!("{prefix}/{name}"), files);
        } else if path.extension().is_none_or(|e| e != "pyc")
            && let Ok(data) = std::fs::read(&path)
        {
            files.push((format!("{prefix}/{name}"), data));
        }
    }
}

fn pack(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut raw = Vec::new();
    for (name, data) in files {
        frame(&mut raw, name.as_bytes());
        frame(&mut raw, data);
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    if z.write_all(&raw).is_err() {
        return Vec::new();
    }
    z.finish().unwrap_or_default()
}

/// The module's JSON text: from the first line that starts an object to the last that
/// ends one, as Ansible's `_filter_non_json_lines` keeps it.
fn json_text(stdout: &str) -> Result<String, &'static str> {
    let lines: Vec<&str> = stdout.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim().starts_with('{'))
        .ok_or("No start of json char found")?;
    let end = lines
        .iter()
        .rposition(|l| l.trim().ends_with('}'))
        .filter(|e| *e >= start)
        .ok_or("No end of json char found")?;
    Ok(lines[start..=end].join("\n"))
}

/// The task's result from what the module printed, as Ansible's action reads it.
fn outcome(name: &str, stdout: &str, stderr: &str, rc: i64) -> Outcome {
    let parsed = json_text(stdout).and_then(|t| {
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&t)
            .map_err(|_| "the module's output is not a JSON object")
    });
    let obj = match parsed {
        Ok(o) => o,
        Err(cause) => {
            let msg = format!("Module result deserialization failed: {cause}");
            let mut o = Outcome::failure(msg.clone());
            o.result.insert(
                ACTION_CAUSE.into(),
                Value::str(format!("{msg} See stdout/stderr for the returned output.")),
            );
            o.result.insert("module_stdout".into(), Value::str(stdout));
            o.result.insert("module_stderr".into(), Value::str(stderr));
            o.result.insert("rc".into(), Value::Int(rc));
            return o;
        }
    };
    let mut result: Map = obj
        .iter()
        .map(|(k, v)| (k.clone(), crate::template::json_to_value(v)))
        .collect();
    result.retain(|k, _| !k.starts_with("_ansible_"));
    notices_as_ansible_reads_them(name, &mut result);
    for key in ["warnings", "deprecations"] {
        if result.get(key).is_some_and(|v| !v.is_truthy()) {
            result.shift_remove(key);
        }
    }
    if let Some(r) = result.get("results")
        && !matches!(r, Value::List(_))
        && let Some(r) = result.shift_remove("results")
    {
        result.insert("ansible_module_results".into(), r);
    }
    for (std, lines) in [("stdout", "stdout_lines"), ("stderr", "stderr_lines")] {
        if let Some(text) = result.get(std).map(|v| {
            if v.is_truthy() {
                v.py_str()
            } else {
                String::new()
            }
        }) && !result.contains_key(lines)
        {
            let l = Value::List(text.lines().map(Value::from).collect());
            result.insert(lines.into(), l);
        }
    }
    let flag = |m: &mut Map, k: &str| m.shift_remove(k).is_some_and(|v| v.is_truthy());
    let changed = flag(&mut result, "changed");
    let skipped = flag(&mut result, "skipped");
    let rc_failed = result
        .get("rc")
        .is_some_and(|v| !matches!(v, Value::Int(0)) && v.py_str() != "0");
    let failed = match result.shift_remove("failed") {
        Some(v) => v.is_truthy(),
        None => rc_failed,
    };
    let msg = match result.get("msg") {
        Some(Value::Str(_)) => result.shift_remove("msg").map(|v| v.py_str()),
        _ => None,
    };
    let mut facts = match result.get("ansible_facts") {
        Some(Value::Map(f)) => f.clone(),
        _ => Map::default(),
    };
    facts.retain(|k, _| {
        !k.starts_with("discovered_interpreter_")
            && !k.starts_with("ansible_discovered_interpreter_")
    });
    let diffs = match result.get("diff") {
        Some(Value::List(l)) => l.iter().filter_map(diff).collect(),
        Some(d) => diff(d).into_iter().collect(),
        None => Vec::new(),
    };
    Outcome {
        changed,
        failed,
        skipped,
        msg,
        diffs,
        result,
        facts,
        facts_cacheable: false,
        included: None,
    }
}

/// The module's warnings and deprecations, sent in 2.19's wire form (`WarningSummary`,
/// `DeprecationSummary` objects), as the controller keeps them in the result: warnings as
/// their messages, deprecations with the module as their deprecator when it named none.
fn notices_as_ansible_reads_them(name: &str, result: &mut Map) {
    let event_msg = |v: &Value| match v {
        Value::Map(m) => m
            .get("event")
            .and_then(Value::as_map)
            .and_then(|e| e.get("msg"))
            .or_else(|| m.get("msg"))
            .map_or_else(String::new, Value::py_str),
        other => other.py_str(),
    };
    if let Some(Value::List(ws)) = result.get_mut("warnings") {
        for w in ws.iter_mut() {
            *w = Value::str(event_msg(w));
        }
    }
    if let Some(Value::List(ds)) = result.get_mut("deprecations") {
        for d in ds.iter_mut() {
            let Value::Map(m) = &*d else { continue };
            let named = m
                .get("deprecator")
                .and_then(Value::as_map)
                .and_then(|p| p.get("resolved_name"))
                .and_then(Value::as_str)
                .map(str::to_string);
            let (resolved, kind, collection) = match named {
                Some(r) => {
                    let kind = m
                        .get("deprecator")
                        .and_then(Value::as_map)
                        .and_then(|p| p.get("type"))
                        .cloned()
                        .unwrap_or(Value::Null);
                    let collection = r.splitn(3, '.').take(2).collect::<Vec<_>>().join(".");
                    (Value::str(r), kind, Value::str(collection))
                }
                None => (
                    Value::str(format!("ansible.legacy.{name}")),
                    Value::str("module"),
                    Value::str("ansible.legacy"),
                ),
            };
            let mut deprecator = Map::default();
            deprecator.insert("resolved_name".into(), resolved);
            deprecator.insert("type".into(), kind);
            let mut out = Map::default();
            out.insert("collection_name".into(), collection);
            if let Some(date) = m.get("date").filter(|v| !matches!(v, Value::Null)) {
                out.insert("date".into(), date.clone());
            }
            out.insert("deprecator".into(), Value::Map(deprecator));
            out.insert("msg".into(), Value::str(event_msg(d)));
            if let Some(v) = m.get("version").filter(|v| !matches!(v, Value::Null)) {
                out.insert("version".into(), v.clone());
            }
            *d = Value::Map(out);
        }
    }
}

/// A module's `diff` entry (before and after, as text or as mappings shown in JSON).
fn diff(d: &Value) -> Option<Diff> {
    let Value::Map(m) = d else { return None };
    let side = |k: &str| match m.get(k) {
        Some(Value::Str(s)) => s.clone(),
        Some(v @ Value::Map(_)) => {
            let mut style = crate::value::pyjson::JsonStyle::pretty(4);
            style.ensure_ascii = true;
            format!(
                "{}\n",
                crate::value::pyjson::dumps(v, &style).unwrap_or_default()
            )
        }
        Some(v) => v.py_str(),
        None => String::new(),
    };
    let header = |k: &str| m.get(k).map(Value::py_str);
    (m.contains_key("before") || m.contains_key("after")).then(|| Diff {
        before_header: header("before_header"),
        after_header: header("after_header"),
        before: side("before"),
        after: side("after"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles_from_text() {
        assert_eq!(
            style(b"#!/usr/bin/python\nfrom ansible.module_utils.basic import AnsibleModule\n"),
            Style::New
        );
        assert_eq!(style(b"#!/bin/sh\n# WANT_JSON\ncat $1\n"), Style::Json);
        assert_eq!(style(b"\x7fELF\x00\x00"), Style::Json);
        assert_eq!(style(b"#!/bin/sh\n. \"$1\"\n"), Style::Old);
    }

    #[test]
    fn results_as_ansible_reads_them() {
        let o = outcome(
            "m",
            "junk\n{\"changed\": true, \"msg\": \"hi\", \"rc\": 0, \"stdout\": \"a\\nb\", \"ansible_facts\": {\"x\": 1, \"discovered_interpreter_python\": \"p\"}, \"warnings\": []}\nmore\n",
            "",
            0,
        );
        assert!(o.changed && !o.failed);
        assert_eq!(o.msg.as_deref(), Some("hi"));
        assert_eq!(
            o.result.get("stdout_lines"),
            Some(&Value::List(vec![Value::str("a"), Value::str("b")]))
        );
        assert!(!o.result.contains_key("warnings"));
        assert_eq!(o.facts.keys().collect::<Vec<_>>(), vec!["x"]);
        let o = outcome("m", "{\"rc\": 3}", "", 0);
        assert!(o.failed, "a non-zero rc without failed fails");
        let o = outcome("m", "Traceback\n", "boom", 1);
        assert!(o.failed);
        assert_eq!(
            o.msg.as_deref(),
            Some("Module result deserialization failed: No start of json char found")
        );
        assert_eq!(o.result.get("module_stderr"), Some(&Value::str("boom")));
    }
}
