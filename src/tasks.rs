//! Task types (Ansible's modules), one file each. Every module reads the host's state,
//! decides what would change (and shows it as a diff), and only then, outside check
//! mode, changes it. The registry below is the one place that lists them.

mod access;
mod add_host;
mod apt;
pub(crate) mod args;
pub(crate) mod async_status;
mod attrs;
mod authorized_key;
mod certbot;
pub(crate) mod collection;
mod command;
mod copy;
mod cron;
mod debug;
mod fetch;
mod file;
mod find;
mod getent;
mod git;
mod group;
mod group_by;
mod hostname;
mod include_vars;
pub(crate) mod library;
mod lineinfile;
mod node;
mod ping;
mod pm2;
mod raw;
mod release;
mod remote;
mod replace;
mod script;
mod service;
mod set_color;
mod sim;
mod slurp;
mod socket_switch;
mod spec;
mod stat;
mod tempfile;
mod uri;
mod user;
mod wait_for;

#[cfg(test)]
mod sandbox_tests;

pub(crate) use access::{Probe, Writer};
pub(crate) use attrs::Mode;
pub(crate) use debug::RAW_ARGS;
pub(crate) use remote::Stat;
pub(crate) use sim::Sim;
pub(crate) use spec::{Spec, Trait, check_args, has_trait};

use crate::template::Scope;
use crate::transport::{Become, Connection, TransportError};

use crate::value::{Map, Value};
use std::path::PathBuf;
use std::sync::Arc;

/// A module's future, borrowing its arguments and the task's context.
pub(crate) type Running<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Outcome, TaskError>> + Send + 'a>>;

/// One module: its name and arguments, which arguments are paths (expanded on the host,
/// as Ansible's `type='path'`), and how it runs.
pub(crate) struct Module {
    pub spec: &'static Spec,
    pub paths: &'static [&'static str],
    pub run: for<'a, 'b> fn(&'a Map, &'a mut Cx<'b>) -> Running<'a>,
}

/// The table: one line per module. Adding a module is a file and a line here; the
/// registry, the names `validate` and the loader know, and the dispatch all come from it.
macro_rules! modules {
    ($( $spec:expr, paths $paths:expr => |$a:ident, $cx:ident| $body:expr; )*) => {
        pub(crate) const MODULES: &[Module] = &[$(
            Module {
                spec: &$spec,
                paths: $paths,
                run: {
                    fn run<'a>($a: &'a Map, $cx: &'a mut Cx<'_>) -> Running<'a> {
                        Box::pin(async move { $body })
                    }
                    run
                },
            },
        )*];
    };
}

const NONE: &[&str] = &[];
const PATH_NAMES: &[&str] = &["path", "dest", "name"];
const EDIT_PATHS: &[&str] = &["path", "dest", "destfile", "name"];
const COMMAND_PATHS: &[&str] = &["chdir", "creates", "removes"];

modules! {
    user::SPEC, paths &["home", "shell"] => |a, cx| user::run(a, cx).await;
    group::GROUP_SPEC, paths NONE => |a, cx| group::run_group(a, cx).await;
    authorized_key::AUTHORIZED_KEY_SPEC, paths &["path"] => |a, cx| authorized_key::run_authorized_key(a, cx).await;
    file::SPEC, paths &["path", "dest", "name", "src"] => |a, cx| file::run(a, cx).await;
    copy::COPY_SPEC, paths &["dest"] => |a, cx| copy::run_copy(a, cx).await;
    copy::TEMPLATE_SPEC, paths &["dest"] => |a, cx| copy::run_template(a, cx).await;
    lineinfile::SPEC, paths EDIT_PATHS => |a, cx| lineinfile::run(a, cx).await;
    lineinfile::BLOCK_SPEC, paths EDIT_PATHS => |a, cx| lineinfile::run_block(a, cx).await;
    replace::SPEC, paths EDIT_PATHS => |a, cx| replace::run(a, cx).await;
    command::COMMAND_SPEC, paths COMMAND_PATHS => |a, cx| command::run(a, cx, false).await;
    command::SHELL_SPEC, paths COMMAND_PATHS => |a, cx| command::run(a, cx, true).await;
    script::SPEC, paths COMMAND_PATHS => |a, cx| script::run(a, cx).await;
    raw::SPEC, paths NONE => |a, cx| raw::run(a, cx).await;
    git::SPEC, paths &["dest", "key_file"] => |a, cx| git::run(a, cx).await;
    stat::SPEC, paths PATH_NAMES => |a, cx| stat::run(a, cx).await;
    find::SPEC, paths NONE => |a, cx| find::run(a, cx).await;
    slurp::SPEC, paths &["src", "path"] => |a, cx| slurp::run(a, cx).await;
    tempfile::SPEC, paths &["path"] => |a, cx| tempfile::run(a, cx).await;
    getent::SPEC, paths NONE => |a, cx| getent::run(a, cx).await;
    ping::SPEC, paths NONE => |a, cx| ping::run(a, cx).await;
    async_status::SPEC, paths NONE => |a, cx| async_status::run(a, cx).await;
    debug::DEBUG_SPEC, paths NONE => |a, cx| debug::run_debug(a, cx);
    debug::SET_FACT_SPEC, paths NONE => |a, cx| debug::run_set_fact(a, cx);
    debug::ASSERT_SPEC, paths NONE => |a, cx| debug::run_assert(a, cx);
    debug::FAIL_SPEC, paths NONE => |a, cx| { let _ = cx; debug::run_fail(a) };
    debug::PAUSE_SPEC, paths NONE => |a, cx| { let _ = cx; debug::run_pause(a).await };
    debug::META_SPEC, paths NONE => |a, cx| { let _ = (a, cx); Err(fail("meta is run by the runner")) };
    debug::INCLUDE_SPEC, paths NONE => |a, cx| { let _ = (a, cx); Err(fail("include_tasks is run by the runner")) };
    include_vars::SPEC, paths NONE => |a, cx| include_vars::run(a, cx);
    group_by::SPEC, paths NONE => |a, cx| { let _ = cx; group_by::run(a) };
    add_host::SPEC, paths NONE => |a, cx| { let _ = cx; add_host::run(a) };
    node::NODE_SPEC, paths NONE => |a, cx| node::run_node(a, cx).await;
    node::NPM_SPEC, paths NONE => |a, cx| node::run_npm(a, cx).await;
    pm2::SPEC, paths NONE => |a, cx| pm2::run(a, cx).await;
    set_color::SPEC, paths NONE => |a, cx| set_color::run(a, cx).await;
    release::SPEC, paths &["path", "src", "ecosystem"] => |a, cx| release::run(a, cx).await;
    socket_switch::SPEC, paths &["live", "new", "old"] => |a, cx| socket_switch::run(a, cx).await;
    certbot::SPEC, paths NONE => |a, cx| certbot::run(a, cx).await;
    service::SPEC, paths NONE => |a, cx| service::run(a, cx, "service").await;
    service::SYSTEMD_SPEC, paths NONE => |a, cx| service::run(a, cx, "systemd").await;
    wait_for::SPEC, paths &["path"] => |a, cx| wait_for::run(a, cx).await;
    cron::SPEC, paths &["cron_file"] => |a, cx| cron::run(a, cx).await;
    apt::SPEC, paths &["deb"] => |a, cx| apt::run(a, cx).await;
    apt::PACKAGE_SPEC, paths NONE => |a, cx| apt::run_package(a, cx).await;
    fetch::SPEC, paths &["src"] => |a, cx| fetch::run(a, cx).await;
    hostname::SPEC, paths NONE => |a, cx| hostname::run(a, cx).await;
    uri::SPEC, paths NONE => |a, cx| uri::run(a, cx).await;
}

fn module(name: &str) -> Option<&'static Module> {
    MODULES.iter().find(|m| m.spec.name == name)
}

/// The names of every module tprov runs.
pub(crate) fn module_names() -> impl Iterator<Item = &'static str> + Clone {
    MODULES.iter().map(|m| m.spec.name)
}

/// `ansible.builtin.copy` and `ansible.legacy.copy` are `copy`.
pub(crate) fn canonical(name: &str) -> &str {
    let name = name
        .strip_prefix("ansible.builtin.")
        .or_else(|| name.strip_prefix("ansible.legacy."))
        .unwrap_or(name);
    match name {
        "ansible.posix.authorized_key" => "authorized_key",
        "include" => "include_tasks",
        "systemd_service" => "systemd",
        "sysvinit" => "service",
        other => other,
    }
}

/// A result key a module may set for the `[ERROR]` line of its failure when that says
/// more than its `msg` (as Ansible's exception does); never registered or shown.
pub(crate) const ERROR_DETAIL: &str = "_tprov_error_detail";

/// A result key for a failure Ansible's action raises from a cause (a module's reply it
/// cannot read): the cause's text, shown under `<<< caused by >>>`; never registered.
pub(crate) const ACTION_CAUSE: &str = "_tprov_action_cause";

/// A module's fully qualified name, as Ansible's messages give it.
pub(crate) fn fqcn(module: &str) -> String {
    match module {
        "authorized_key" => "ansible.posix.authorized_key".into(),
        "npm" => "community.general.npm".into(),
        // tprov's own modules have no collection.
        "node" | "pm2" | "set_color" | "certbot" => module.into(),
        m => format!("ansible.builtin.{m}"),
    }
}

/// ansible-core's own modules that tprov does not implement yet. A task using one loads
/// (Ansible knows the name, and a `when:` may skip it on this platform) and fails only on
/// the hosts that run it; `validate` warns about it.
pub(crate) const ANSIBLE_ONLY: &[&str] = &[
    "apt_key",
    "apt_repository",
    "assemble",
    "async_status",
    "deb822_repository",
    "debconf",
    "dnf",
    "dnf5",
    "dpkg_selections",
    "expect",
    "gather_facts",
    "get_url",
    "iptables",
    "known_hosts",
    "mount_facts",
    "package_facts",
    "pip",
    "reboot",
    "rpm_key",
    "service_facts",
    "set_stats",
    "setup",
    "subversion",
    "unarchive",
    "validate_argument_spec",
    "wait_for_connection",
    "yum",
    "yum_repository",
];

/// A module Ansible would resolve but tprov cannot run: one of ansible-core's that tprov
/// lacks, a collection's (a dotted name), or an action plugin beside the playbook or role
/// (Python that runs on the controller). A `library/` module runs ([`library`]).
pub(crate) fn is_unsupported_module(name: &str, plugin_dirs: &[PathBuf]) -> bool {
    ANSIBLE_ONLY.contains(&name)
        || (name.contains('.') && !name.starts_with('.'))
        // `action: {module: "{{ x }}"}`: Ansible loads it and resolves it when it runs.
        || name.contains("{{")
        || plugin_dirs.iter().any(|d| {
            let sub = d.join("action_plugins");
            sub.join(format!("{name}.py")).is_file() || sub.join(name).is_file()
        })
}

/// The failure of a task whose module tprov cannot run.
pub(crate) fn unsupported_message(module: &str) -> String {
    if let [ns, coll, _] = module.split('.').collect::<Vec<_>>().as_slice()
        && !module.contains("{{")
        && !(*ns == "ansible" && matches!(*coll, "builtin" | "legacy"))
    {
        return format!(
            "the module `{module}` is in no collection path (beside the playbook, \
             ANSIBLE_COLLECTIONS_PATH, ~/.ansible/collections, \
             /usr/share/ansible/collections, the controller's ansible): install {ns}.{coll} \
             (`ansible-galaxy collection install {ns}.{coll}`, or `pip install ansible`); \
             this task fails on the hosts that reach it"
        );
    }
    format!(
        "tprov cannot run the module `{module}` yet: this task fails on the hosts that reach it (Ansible's other modules run as usual)"
    )
}

pub(crate) fn is_module(name: &str) -> bool {
    module(name).is_some() || name == "import_tasks"
}

pub(crate) fn spec(name: &str) -> Option<&'static Spec> {
    module(name).map(|m| m.spec)
}

/// A module result's `deprecations` entry, as Ansible's are (one, from ansible-core).
pub(crate) fn deprecation(msg: &str, version: &str) -> Value {
    let mut deprecator = Map::default();
    deprecator.insert("resolved_name".into(), Value::str("ansible.builtin"));
    deprecator.insert("type".into(), Value::Null);
    let mut d = Map::default();
    d.insert("collection_name".into(), Value::str("ansible.builtin"));
    d.insert("deprecator".into(), Value::Map(deprecator));
    d.insert("msg".into(), Value::str(msg));
    d.insert("version".into(), Value::str(version));
    Value::List(vec![Value::Map(d)])
}

/// One before/after pair, shown as a unified diff with `--diff`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Diff {
    pub before_header: Option<String>,
    pub after_header: Option<String>,
    pub before: String,
    pub after: String,
}

impl Diff {
    /// Attributes as Ansible shows them: JSON, keys sorted, indent 4.
    pub(crate) fn attrs(path: &str, before: &[(&str, Value)], after: &[(&str, Value)]) -> Diff {
        let json = |pairs: &[(&str, Value)]| {
            let mut m = Map::default();
            m.insert("path".into(), Value::str(path));
            for (k, v) in pairs {
                m.insert((*k).to_string(), v.clone());
            }
            let mut style = crate::value::pyjson::JsonStyle::pretty(4);
            style.ensure_ascii = true;
            format!(
                "{}\n",
                crate::value::pyjson::dumps(&Value::Map(m), &style).unwrap_or_default()
            )
        };
        Diff {
            before_header: None,
            after_header: None,
            before: json(before),
            after: json(after),
        }
    }
}

/// What a module did (or would do).
#[derive(Debug, Default, Clone)]
pub(crate) struct Outcome {
    pub changed: bool,
    pub failed: bool,
    pub skipped: bool,
    pub msg: Option<String>,
    pub diffs: Vec<Diff>,
    /// Module-specific result keys (`rc`, `stdout`, `stat`, `dest`...).
    pub result: Map,
    /// Facts to set (`set_fact`).
    pub facts: Map,
    /// set_fact's `cacheable`: its facts are host facts too, kept by the fact cache.
    pub facts_cacheable: bool,
    /// Vars to add untemplated (`include_vars`): templated when read, like any var.
    pub included: Option<crate::vars::Vars>,
}

impl Outcome {
    pub(crate) fn changed(changed: bool) -> Outcome {
        Outcome {
            changed,
            ..Default::default()
        }
    }

    /// A failed result saying `msg` (a module's fail_json).
    pub(crate) fn failure(msg: impl Into<String>) -> Outcome {
        Outcome {
            failed: true,
            msg: Some(msg.into()),
            ..Default::default()
        }
    }

    pub(crate) fn with(mut self, key: &str, v: Value) -> Outcome {
        self.result.insert(key.to_string(), v);
        self
    }

    /// The registered result: Ansible's keys plus the module's.
    pub(crate) fn to_result(&self) -> Map {
        let mut m = Map::default();
        m.insert("changed".into(), Value::Bool(self.changed));
        if self.failed {
            m.insert("failed".into(), Value::Bool(true));
        } else {
            m.insert("failed".into(), Value::Bool(false));
        }
        if self.skipped {
            m.insert("skipped".into(), Value::Bool(true));
        }
        if let Some(msg) = &self.msg {
            m.insert("msg".into(), Value::str(msg.clone()));
        }
        for (k, v) in &self.result {
            m.insert(k.clone(), v.clone());
        }
        m
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TaskError {
    /// The task failed on this host (bad arguments, command error...).
    Failed(String),
    /// The host dropped away.
    Unreachable(String),
}

impl From<TransportError> for TaskError {
    fn from(e: TransportError) -> Self {
        if e.is_unreachable() {
            TaskError::Unreachable(e.to_string())
        } else {
            TaskError::Failed(e.to_string())
        }
    }
}

pub(crate) fn fail(msg: impl Into<String>) -> TaskError {
    TaskError::Failed(msg.into())
}

/// Everything a module may use on one host for one task. The host is reached only
/// through `probe` (reads) and `writer` (changes), and `writer` is `None` in check mode.
pub(crate) struct Cx<'a> {
    pub probe: Probe<'a>,
    pub writer: Option<Writer<'a>>,
    /// Become for this task (None: the login user).
    pub escalate: Option<Become>,
    pub diff: bool,
    pub sim: &'a mut Sim,
    /// Where relative `src` files and templates are found (the playbook's dir).
    pub search: Vec<PathBuf>,
    /// The playbook's directory (where a relative controller path such as fetch's
    /// `dest` is, as Ansible's loader's path_dwim).
    pub play_dir: PathBuf,
    /// The directory of the file the task is written in, and its role's directory.
    pub task_dir: PathBuf,
    pub role_dir: Option<PathBuf>,
    pub scope: Arc<Scope>,
    pub host: String,
    /// The task's `environment:`, exported for the commands it runs.
    pub env: Vec<(String, String)>,
    /// Where each of the task's arguments is written (for messages that point there).
    pub task: &'a crate::playbook::Task,
    /// `poll: 0`: the job id a command module starts its command as, detached.
    pub background: Option<String>,
}

impl<'a> Cx<'a> {
    /// The two capabilities for a task on `conn`: a writer only outside check mode.
    pub(crate) fn access(
        conn: &'a Connection,
        escalate: Option<&Become>,
        check: bool,
    ) -> (Probe<'a>, Option<Writer<'a>>) {
        (
            Probe::new(conn),
            (!check).then(|| Writer::new(conn, escalate.cloned())),
        )
    }
}

impl Cx<'_> {
    /// The writer, for code that runs only after a module's check-mode return (the
    /// orchestrating modules): in check mode an error, never a write.
    pub(crate) fn writer(&self) -> Result<&Writer<'_>, TaskError> {
        self.writer.as_ref().ok_or_else(|| {
            fail("internal error: a write was reached in check mode (nothing was written)")
        })
    }

    /// Check mode: no writer for this task.
    pub(crate) fn check(&self) -> bool {
        self.writer.is_none()
    }

    /// `export K=V; ` for the task's environment (empty when there is none).
    pub(crate) fn env_prefix(&self) -> String {
        self.env
            .iter()
            .map(|(k, v)| format!("export {k}={}; ", crate::transport::sh_quote(v)))
            .collect()
    }
}

impl Cx<'_> {
    /// The become to use for reading: in check mode, a user that does not exist yet
    /// (an earlier task would create it) cannot be sudo'd to, so read as the login user.
    pub(crate) fn read_become(&self) -> Option<&Become> {
        match &self.escalate {
            Some(b) if self.check() && self.sim.users.contains(&b.user) => None,
            other => other.as_ref(),
        }
    }

    /// Finds a controller-side file (`src:` of copy and template).
    pub(crate) fn find_file(&self, sub: &str, name: &str) -> Result<PathBuf, TaskError> {
        let p = PathBuf::from(name);
        // Ansible's AnsibleFileNotFound, word for word.
        let missing = |searched: &[PathBuf]| {
            let mut m = if name.is_empty() {
                "Could not find file".to_string()
            } else {
                format!("Could not find or access '{name}'")
            };
            if !searched.is_empty() {
                m.push_str("\nSearched in:\n\t");
                m.push_str(
                    &searched
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join("\n\t"),
                );
            }
            m.push_str(" on the Ansible Controller.\nIf you are using a module and expect the file to exist on the remote, see the remote_src option");
            fail(m)
        };
        if name.is_empty() {
            return Err(missing(&[]));
        }
        if p.is_absolute() {
            return if p.exists() { Ok(p) } else { Err(missing(&[])) };
        }
        let mut searched = Vec::new();
        for dir in &self.search {
            for candidate in [dir.join(sub).join(name), dir.join(name)] {
                if candidate.exists() {
                    return Ok(candidate);
                }
                searched.push(candidate);
            }
        }
        Err(missing(&searched))
    }
}

/// `args` with its path-typed values expanded on the host (a copy only when one needs it).
async fn expanded<'m>(
    module: &str,
    args: &'m Map,
    cx: &Cx<'_>,
) -> Result<std::borrow::Cow<'m, Map>, TaskError> {
    let keys: Vec<&str> = self::module(module)
        .map_or(NONE, |m| m.paths)
        .iter()
        .copied()
        .filter(|k| matches!(args.get(*k), Some(Value::Str(s)) if s.starts_with('~') || s.contains('$')))
        .collect();
    if keys.is_empty() {
        return Ok(std::borrow::Cow::Borrowed(args));
    }
    let mut values: Vec<String> = keys.iter().map(|k| args[*k].py_str()).collect();
    let mut refs: Vec<&mut String> = values.iter_mut().collect();
    remote::expand_paths(cx, &mut refs).await?;
    let mut a = args.clone();
    for (k, v) in keys.into_iter().zip(values) {
        a.insert(k.to_string(), Value::Str(v));
    }
    Ok(std::borrow::Cow::Owned(a))
}

/// Runs one module with templated `args`.
pub(crate) async fn run(module: &str, args: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let Some(m) = self::module(module) else {
        if let Some(path) = &cx.task.custom_module {
            let path = path.clone();
            return library::run(module, &path, args, cx).await;
        }
        return Err(fail(unsupported_message(module)));
    };
    let args = expanded(module, args, cx).await?;
    (m.run)(args.as_ref(), cx).await
}
