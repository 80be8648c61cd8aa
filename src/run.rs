//! Running playbooks: plays in order; in each play, tasks one after the other (Ansible's
//! linear strategy), each task on every selected host at once, up to `--forks`.
//! One connection per host serves the whole run. Results go out as events.

pub(crate) mod event;
mod facts;
mod host;
pub(crate) use host::ERROR_KEY;
mod inventory_changes;
mod job;

use crate::connect::BecomeArgs;
use crate::context::Fleet;
use crate::error::Error;
use crate::inventory::{HostId, Inventory, pattern};
use crate::playbook::{Item, Play, Task};
use crate::report::Reporter;
use crate::settings::Settings;
use crate::source::Origin;
use crate::template::engine;
use crate::value::Value;

/// One run of an include: the item's vars, its label, and the hosts that run it.
type IncludeGroup = (crate::value::Map, Option<String>, Vec<HostId>);
use crate::vars::{HostVarsQuery, Var, Vars};
use event::{Event, Stats, Status};
use futures::future::join_all;
use host::{HostState, TaskRun};
use indexmap::IndexMap;
use std::sync::Arc;
use tokio::sync::{Mutex, Semaphore};

/// Set by the first Ctrl-C or SIGTERM: no new task starts, the running ones finish, and
/// the run ends with its recap (and exit 99, as ansible-playbook's).
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub(crate) fn interrupt() {
    INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
}

pub(crate) fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}

#[derive(Debug, Clone)]
pub(crate) struct RunOptions {
    pub check: bool,
    /// `--force-handlers` (or ANSIBLE_FORCE_HANDLERS); a play's keyword wins.
    pub force_handlers: bool,
    pub diff: bool,
    pub limit: Option<Vec<String>>,
    pub tags: Vec<String>,
    pub skip_tags: Vec<String>,
    pub forks: usize,
    pub escalate: BecomeArgs,
    pub settings: Settings,
    pub extra: Vars,
    pub query: HostVarsQuery,
    /// A status line on the terminal while a task runs (text output on a terminal).
    pub progress: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Summary {
    pub stats: Vec<(String, Stats)>,
}

impl Summary {
    /// ansible-playbook's exit code: 4 if any host was unreachable, else 2 if any failed.
    pub(crate) fn exit_code(&self) -> u8 {
        if self.stats.iter().any(|(_, s)| s.unreachable > 0) {
            crate::error::exit::UNREACHABLE
        } else if self.stats.iter().any(|(_, s)| s.failed > 0) {
            crate::error::exit::HOST_FAILED
        } else {
            crate::error::exit::OK
        }
    }
}

/// The deepest `include_tasks` nesting a run accepts. Ansible has no explicit limit (a
/// self-including file ends in Python's RecursionError); tprov fails the hosts with the
/// include's file:line instead of overflowing its stack.
pub(crate) const MAX_INCLUDE_DEPTH: usize = 64;

/// Keywords inherited from enclosing blocks (and the play).
#[derive(Debug, Clone, Default)]
pub(crate) struct Inherited {
    pub when: Vec<(String, Origin)>,
    pub become_: Option<bool>,
    pub become_user: Option<String>,
    pub delegate_to: Option<String>,
    pub vars: Vec<Arc<Vars>>,
    /// The `vars:` and loop variables of the `include_tasks` this task came through:
    /// Ansible's "include params", above facts and below extra vars. Outermost first.
    pub include_params: Vec<Arc<Vars>>,
    /// How many `include_tasks` this task is inside (bounded: see MAX_INCLUDE_DEPTH).
    pub include_depth: usize,
    pub tags: Vec<String>,
    pub ignore_errors: Option<Value>,
    pub check_mode: Option<Value>,
    pub diff: Option<Value>,
    pub no_log: Option<Value>,
    pub environment: Option<Value>,
    pub handler: bool,
}

impl Inherited {
    /// What every task of `play` inherits from the play's own keywords.
    fn of_play(play: &Play) -> Inherited {
        Inherited {
            become_: play.become_,
            become_user: play.become_user.clone(),
            check_mode: play.check_mode.map(Value::Bool),
            ignore_errors: play.ignore_errors.clone(),
            no_log: play.no_log.clone(),
            diff: play.diff.clone(),
            environment: play.environment.clone(),
            ..Default::default()
        }
    }

    fn with(&self, c: &crate::playbook::Common) -> Inherited {
        let mut i = self.clone();
        i.when.extend(c.when.iter().cloned());
        i.become_ = c.become_.or(i.become_);
        i.become_user = c.become_user.clone().or(i.become_user);
        i.delegate_to = c.delegate_to.clone().or(i.delegate_to);
        if !c.vars.is_empty() {
            i.vars.push(Arc::new(c.vars.clone()));
        }
        i.tags.extend(c.tags.iter().cloned());
        i.ignore_errors = c.ignore_errors.clone().or(i.ignore_errors);
        i.check_mode = c.check_mode.clone().or(i.check_mode);
        i.diff = c.diff.clone().or(i.diff);
        i.no_log = c.no_log.clone().or(i.no_log);
        i.environment = c.environment.clone().or(i.environment);
        i
    }
}

/// Runs `plays` against the inventory; reports every step; returns the recap.
pub(crate) async fn run(
    plays: &[Play],
    inventory: Arc<Inventory>,
    opts: &RunOptions,
    reporter: &mut dyn Reporter,
) -> Result<Summary, Error> {
    // A play for `localhost` that the inventory does not list runs on Ansible's implicit
    // localhost.
    let names_localhost = plays.iter().any(|p| {
        p.hosts
            .split([',', ':', '&', '!', ' '])
            .any(|w| w.trim() == "localhost")
    });
    let mut inventory = if names_localhost && inventory.host_id("localhost").is_none() {
        let mut inv = (*inventory).clone();
        inv.add_implicit_localhost();
        Arc::new(inv)
    } else {
        inventory
    };
    let mut base = Fleet::new(inventory.clone(), opts.query.clone(), opts.extra.clone());
    let mut states: IndexMap<HostId, Arc<Mutex<HostState>>> = IndexMap::new();
    let mut unmatched: Vec<String> = Vec::new();
    for play in plays {
        if interrupted() {
            break;
        }
        let pattern_text = play_pattern(play, &base.extra)?;
        let sel = pattern::select(&inventory, &pattern_text, opts.limit.as_deref())
            .map_err(|e| Error::Usage(e.0))?;
        for w in sel.warnings {
            reporter.event(&Event::Warning(w));
        }
        reporter.event(&Event::PlayStart {
            name: play.name.clone(),
            check: opts.check,
        });
        if sel.hosts.is_empty() {
            reporter.event(&Event::Warning(format!(
                "no hosts matched '{pattern_text}' in play '{}': skipping",
                play.name
            )));
            if !unmatched.contains(&pattern_text) {
                unmatched.push(pattern_text);
            }
            continue;
        }
        let mut query = opts.query.clone();
        query.play_dirs =
            vec![std::fs::canonicalize(&play.dir).unwrap_or_else(|_| play.dir.clone())];
        let play_vars = play_vars(play, &base)?;
        let fleet = base.for_play(
            play_vars,
            Some(std::fs::canonicalize(&play.dir).unwrap_or_else(|_| play.dir.clone())),
            query,
            opts.check,
            opts.diff,
        );
        for w in fleet.warnings() {
            reporter.event(&Event::Warning(w.to_string()));
        }
        let names = |hosts: &[HostId]| -> Value {
            Value::List(
                hosts
                    .iter()
                    .map(|h| Value::str(inventory.host(*h).name.clone()))
                    .collect(),
            )
        };
        let strings = |v: &[String]| Value::List(v.iter().map(|s| Value::str(s.clone())).collect());
        let mut magic = vec![
            (
                "ansible_play_name".to_string(),
                Value::str(play.name.clone()),
            ),
            ("ansible_play_hosts_all".to_string(), names(&sel.hosts)),
            (
                "ansible_run_tags".to_string(),
                if opts.tags.is_empty() {
                    strings(&["all".to_string()])
                } else {
                    strings(&opts.tags)
                },
            ),
            ("ansible_skip_tags".to_string(), strings(&opts.skip_tags)),
            ("ansible_forks".to_string(), Value::Int(opts.forks as i64)),
            ("role_names".to_string(), strings(&play.role_names)),
            (
                "ansible_play_role_names".to_string(),
                strings(&play.role_names),
            ),
            (
                "ansible_dependent_role_names".to_string(),
                strings(&play.dependent_role_names),
            ),
            ("ansible_role_names".to_string(), {
                let mut all = play.role_names.clone();
                for d in &play.dependent_role_names {
                    if !all.contains(d) {
                        all.push(d.clone());
                    }
                }
                strings(&all)
            }),
        ];
        if let Some(l) = &opts.limit {
            magic.push(("ansible_limit".to_string(), Value::str(l.join(","))));
        }
        fleet.set_play_magic(magic);
        for &h in &sel.hosts {
            states.entry(h).or_insert_with(|| {
                Arc::new(Mutex::new(HostState::new(
                    h,
                    inventory.host(h).name.clone(),
                )))
            });
        }
        for batch in batches(&sel.hosts, &play.serial) {
            let mut pr = PlayRun {
                play,
                fleet: fleet.clone(),
                opts,
                states: &states,
                reporter: &mut *reporter,
                sem: Arc::new(Semaphore::new(opts.forks.max(1))),
                play_hosts: &sel.hosts,
            };
            let mut active: Vec<HostId> = Vec::new();
            for &h in &batch {
                let st = states[&h].lock().await;
                if !st.unreachable && !st.failed {
                    active.push(h);
                }
            }
            let inh = Inherited {
                tags: play.tags.clone(),
                ..Inherited::of_play(play)
            };
            if play.gather_facts {
                active = pr.gather_facts(active).await;
            }
            let force = play.force_handlers.unwrap_or(opts.force_handlers);
            for section in [&play.pre_tasks, &play.tasks, &play.post_tasks] {
                let before = active.clone();
                active = pr.run_items(section, &inh, active).await;
                if force {
                    // A host that failed in the section still runs its handlers, and
                    // stays failed.
                    let mut flush = Vec::new();
                    for h in &before {
                        if !states[h].lock().await.unreachable {
                            flush.push(*h);
                        }
                    }
                    let ok = pr.flush_handlers(flush).await;
                    active.retain(|h| ok.contains(h));
                } else {
                    active = pr.flush_handlers(active).await;
                }
                if pr.abort(&batch, &active) {
                    active.clear();
                }
            }
            // `group_by` / `add_host` changed the inventory: later plays see it.
            if !Arc::ptr_eq(&pr.fleet.inventory, &inventory) {
                inventory = pr.fleet.inventory.clone();
                base = base.with_inventory(inventory.clone());
            }
        }
    }
    if states.is_empty() && !unmatched.is_empty() {
        // A run that touched no host must not look like success.
        return Err(Error::Usage(no_hosts_message(
            &inventory,
            &unmatched,
            opts.limit.as_deref(),
        )));
    }
    let mut summary = Summary::default();
    for st in states.values() {
        let st = st.lock().await;
        summary.stats.push((st.name.clone(), st.stats.clone()));
    }
    for st in states.values() {
        let mut st = st.lock().await;
        if let Some(c) = st.conn.take() {
            c.close().await;
        }
        for (_, c) in st.delegates.drain() {
            c.close().await;
        }
    }
    summary.stats.sort_by(|a, b| a.0.cmp(&b.0));
    reporter.event(&Event::Recap {
        stats: summary.stats.clone(),
    });
    Ok(summary)
}

/// Why no play selected a host, and what to do: the groups the limited hosts are in, and
/// `--adopt` when a play targets a group they are outside of (seed 000's migration step).
fn no_hosts_message(inv: &Inventory, patterns: &[String], limit: Option<&[String]>) -> String {
    let mut msg = format!(
        "no play selected any host: the plays target '{}'",
        patterns.join("', '")
    );
    let Some(limit) = limit else {
        msg.push_str(", which selects no host of the inventory");
        return msg;
    };
    let limit_text = limit.join(",");
    let hosts = pattern::select(inv, "all", Some(limit)).map_or_else(|_| Vec::new(), |s| s.hosts);
    if hosts.is_empty() {
        msg.push_str(&format!(" and --limit '{limit_text}' selects no host"));
        return msg;
    }
    msg.push_str(&format!(
        ", and --limit '{limit_text}' selects only hosts outside them:"
    ));
    for &h in hosts.iter().take(10) {
        let groups = inv.group_names(h);
        msg.push_str(&format!(
            "\n  {} is in {}",
            inv.host(h).name,
            if groups.is_empty() {
                "no group".to_string()
            } else {
                groups.join(", ")
            }
        ));
    }
    if hosts.len() > 10 {
        msg.push_str(&format!("\n  ... and {} more", hosts.len() - 10));
    }
    if let Some(group) = patterns.iter().find(|p| inv.group_id(p).is_some()) {
        msg.push_str(&format!(
            "\nTo deploy {group}'s service onto a host the inventory still lists in another group (seed 000's migration step, before the inventory move), run with -g {group} --limit {limit_text} --adopt: the host then runs as a member of {group}, with its vars."
        ));
    }
    msg
}

/// Play vars, then each `vars_files` file (templated names, relative to the play).
fn play_vars(play: &Play, base: &Fleet) -> Result<Vars, Error> {
    let mut vars = play.vars.clone();
    for (names, origin) in &play.vars_files {
        let mut frame = (*base.extra).clone();
        for (k, v) in &vars {
            frame.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let scope = crate::template::Scope::new(
            engine(),
            vec![crate::template::Frame::Raw(Arc::new(frame))],
            None,
        );
        let mut paths = Vec::new();
        for name in names {
            let file = engine()
                .render_str(name, &scope, Some(origin.clone()))
                .map_err(|e| {
                    Error::User(vec![crate::source::Diagnostic::error(
                        origin.clone(),
                        e.message,
                    )])
                })?;
            paths.push(play.dir.join(&file));
        }
        let path = match paths.iter().find(|p| p.exists()) {
            Some(p) => p.clone(),
            None if paths.len() > 1 => {
                return Err(Error::User(vec![crate::source::Diagnostic::error(
                    origin.clone(),
                    format!("vars file {} was not found", names.join(", ")),
                )]));
            }
            None => paths.remove(0),
        };
        let (loaded, _) = crate::vars::load_vars_file(&path)?;
        for (k, v) in loaded {
            vars.insert(
                k,
                Var {
                    value: v.value,
                    origin: v.origin,
                },
            );
        }
    }
    Ok(vars)
}

/// `serial:` batches: ints, percentages, or a list whose last entry repeats.
fn batches(hosts: &[HostId], serial: &[Value]) -> Vec<Vec<HostId>> {
    if serial.is_empty() {
        return vec![hosts.to_vec()];
    }
    let n = hosts.len();
    let size = |v: &Value| -> usize {
        let s = match v {
            Value::Int(i) => *i,
            Value::Str(s) if s.ends_with('%') => {
                let pct: f64 = s.trim_end_matches('%').trim().parse().unwrap_or(100.0);
                ((pct / 100.0) * n as f64) as i64
            }
            Value::Str(s) => s.trim().parse().unwrap_or(0),
            _ => 0,
        };
        if s <= 0 {
            if matches!(v, Value::Str(x) if x.ends_with('%')) {
                1
            } else {
                n
            }
        } else {
            s as usize
        }
    };
    let mut out = Vec::new();
    let mut i = 0;
    let mut k = 0;
    while i < hosts.len() {
        let s = size(&serial[k.min(serial.len() - 1)]).max(1);
        out.push(hosts[i..(i + s).min(hosts.len())].to_vec());
        i += s;
        k += 1;
    }
    out
}

struct PlayRun<'a> {
    play: &'a Play,
    fleet: Arc<Fleet>,
    opts: &'a RunOptions,
    states: &'a IndexMap<HostId, Arc<Mutex<HostState>>>,
    reporter: &'a mut dyn Reporter,
    sem: Arc<Semaphore>,
    /// Every host the play targets (all batches).
    play_hosts: &'a [HostId],
}

impl<'a> PlayRun<'a> {
    /// A host's `group_by` / `add_host` result added something: it is changed, in the
    /// recap and in the registered result too.
    async fn count_inventory_change(
        &mut self,
        host: HostId,
        register: Option<&str>,
        items: &[usize],
    ) {
        let mut st = self.states[&host].lock().await;
        st.stats.changed += 1;
        if let Some(name) = register
            && let Some(v) = st.facts.get(name)
            && let Ok(Value::Map(mut m)) = crate::template::from_mj(v)
        {
            m.insert("changed".into(), Value::Bool(true));
            if let Some(Value::List(results)) = m.get_mut("results") {
                for i in items {
                    if let Some(Value::Map(r)) = results.get_mut(*i) {
                        r.insert("changed".into(), Value::Bool(true));
                    }
                }
            }
            st.facts
                .insert(name.to_string(), crate::template::to_mj(&Value::Map(m)));
            self.fleet.set_host_facts(host, &st.facts, &st.included);
        }
    }

    fn tags_allow(&self, tags: &[String]) -> bool {
        tags_allow(tags, &self.opts.tags, &self.opts.skip_tags)
    }
    async fn gather_facts(&mut self, active: Vec<HostId>) -> Vec<HostId> {
        self.reporter.event(&Event::TaskStart {
            name: "Gathering Facts".into(),
            handler: false,
        });
        let results = join_all(active.iter().map(|h| {
            let st = self.states[h].clone();
            let fleet = self.fleet.clone();
            let sem = self.sem.clone();
            let opts = self.opts;
            async move {
                let _permit = sem.acquire().await;
                let mut st = st.lock().await;
                let ev = host::gather_facts(&mut st, &fleet, opts).await;
                fleet.set_host_facts(st.id, &st.facts, &st.included);
                ev
            }
        }))
        .await;
        let mut ok = Vec::new();
        for (h, ev) in active.iter().zip(results) {
            if matches!(
                ev,
                Event::Result {
                    status: Status::Ok,
                    ..
                }
            ) {
                ok.push(*h);
            }
            self.reporter.event(&ev);
        }
        ok
    }

    fn run_items<'b>(
        &'b mut self,
        items: &'b [Item],
        inh: &'b Inherited,
        active: Vec<HostId>,
    ) -> futures::future::LocalBoxFuture<'b, Vec<HostId>>
    where
        'a: 'b,
    {
        Box::pin(async move {
            let mut active = active;
            for item in items {
                if active.is_empty() || interrupted() {
                    break;
                }
                active = match item {
                    Item::Task(t) => self.run_task(t, inh, active).await,
                    Item::Block(b) if b.include.is_some() => {
                        let task = b.include.as_deref().expect("matched Some");
                        self.run_include_role(task, b, inh, active).await
                    }
                    Item::Block(b) => {
                        let inner = inh.with(&b.common);
                        let entered = active.clone();
                        let ok = self.run_items(&b.block, &inner, active).await;
                        let failed: Vec<HostId> = entered
                            .iter()
                            .copied()
                            .filter(|h| !ok.contains(h))
                            .collect();
                        let mut rescuable = Vec::new();
                        for h in &failed {
                            let mut st = self.states[h].lock().await;
                            if !st.unreachable && !b.rescue.is_empty() {
                                st.failed = false;
                                st.stats.failed = st.stats.failed.saturating_sub(1);
                                st.stats.rescued += 1;
                                rescuable.push(*h);
                            }
                        }
                        let rescued = if rescuable.is_empty() {
                            Vec::new()
                        } else {
                            self.run_items(&b.rescue, &inner, rescuable).await
                        };
                        let mut after: Vec<HostId> = entered
                            .iter()
                            .copied()
                            .filter(|h| ok.contains(h) || rescued.contains(h))
                            .collect();
                        if !b.always.is_empty() {
                            let mut always_hosts = Vec::new();
                            for h in &entered {
                                let st = self.states[h].lock().await;
                                if !st.unreachable {
                                    always_hosts.push(*h);
                                }
                            }
                            // Hosts that failed still run `always`, and stay failed.
                            let was_failed: Vec<HostId> = always_hosts
                                .iter()
                                .copied()
                                .filter(|h| !after.contains(h))
                                .collect();
                            for h in &was_failed {
                                self.states[h].lock().await.failed = false;
                            }
                            let ran = self.run_items(&b.always, &inner, always_hosts).await;
                            for h in &was_failed {
                                self.states[h].lock().await.failed = true;
                            }
                            after.retain(|h| ran.contains(h));
                        }
                        after
                    }
                };
            }
            active
        })
    }

    async fn run_task(&mut self, task: &Task, inh: &Inherited, active: Vec<HostId>) -> Vec<HostId> {
        let mut tags = inh.tags.clone();
        tags.extend(task.common.tags.iter().cloned());
        let tags = render_tags(&tags, self.play, &self.opts.extra);
        if !inh.handler && !self.tags_allow(&tags) {
            return active;
        }
        match task.module.as_str() {
            "meta" => return self.run_meta(task, active).await,
            "include_tasks" => return self.run_include(task, inh, active).await,
            _ => {}
        }
        self.publish_hosts(&active).await;
        let title = self.title(task, inh, &active).await;
        self.reporter.event(&Event::TaskStart {
            name: title.clone(),
            handler: inh.handler,
        });
        // `add_host` bypasses the host loop: it runs once, as run_once tasks do.
        let targets: Vec<HostId> = if task.run_once || task.module == "add_host" {
            active.iter().copied().take(1).collect()
        } else {
            active.clone()
        };
        let progress = self.opts.progress.then(|| {
            crate::output::Progress::start(
                &format!("TASK [{title}]"),
                targets
                    .iter()
                    .map(|h| self.fleet.inventory.host(*h).name.clone())
                    .collect(),
            )
        });
        let progress_ref = progress.as_ref();
        let changes_facts = task.register.is_some()
            || matches!(task.module.as_str(), "set_fact" | "include_vars" | "setup");
        let fleet = &self.fleet;
        let results = join_all(targets.iter().map(|h| {
            let st = self.states[h].clone();
            let name = &self.fleet.inventory.host(*h).name;
            let run = TaskRun {
                task,
                inh,
                fleet: self.fleet.clone(),
                opts: self.opts,
                play: self.play,
            };
            let sem = self.sem.clone();
            async move {
                let _permit = sem.acquire().await;
                let mut st = st.lock().await;
                let r = run.run(&mut st).await;
                if changes_facts {
                    fleet.set_host_facts(st.id, &st.facts, &st.included);
                }
                if let Some(p) = progress_ref {
                    p.done(name);
                }
                r
            }
        }))
        .await;
        if let Some(p) = progress {
            p.finish();
        }
        let mut still = Vec::new();
        let mut any_fatal = false;
        // `group_by` / `add_host`: every host's changes go into one copy of the
        // inventory, and the play's next tasks see it.
        let edits_inventory = matches!(task.module.as_str(), "group_by" | "add_host");
        let mut edited: Option<Inventory> = None;
        for (h, mut r) in targets.iter().zip(results) {
            if edits_inventory {
                let name = &self.fleet.inventory.host(*h).name;
                let inv = edited.get_or_insert_with(|| (*self.fleet.inventory).clone());
                // A `changed_when:` has the last word on `changed`, as in Ansible.
                let keep_status = !task.changed_when.is_empty();
                match inventory_changes::apply(inv, name, &mut r.events, keep_status) {
                    Ok(a) if a.newly => {
                        self.count_inventory_change(*h, task.register.as_deref(), &a.items)
                            .await;
                    }
                    Ok(_) => {}
                    Err(w) => self.reporter.event(&Event::Warning(w)),
                }
            }
            for ev in &r.events {
                // A module's warnings come before its result, as Ansible prints them.
                if let Event::Result { result, .. } = ev {
                    if let Some(Value::List(ws)) = result.get("warnings") {
                        for w in ws {
                            self.reporter.event(&Event::Warning(w.py_str()));
                        }
                    }
                    if let Some(Value::List(ds)) = result.get("deprecations") {
                        for d in ds {
                            let Value::Map(d) = d else { continue };
                            let msg = d.get("msg").map(Value::py_str).unwrap_or_default();
                            let text = match d.get("version") {
                                Some(v) => format!(
                                    "{msg} This feature will be removed from ansible-core version {}.",
                                    v.py_str()
                                ),
                                None => msg,
                            };
                            self.reporter.event(&Event::Deprecation(text));
                        }
                    }
                }
                self.reporter.event(ev);
            }
            if r.ok {
                still.push(*h);
            } else if task.common.any_errors_fatal || self.play.any_errors_fatal {
                any_fatal = true;
            }
            if task.run_once {
                // One result for every host of the play.
                let st = self.states[h].lock().await;
                let (facts, notified) = (st.facts.clone(), st.notified.clone());
                drop(st);
                for other in active.iter().filter(|o| *o != h) {
                    let mut o = self.states[other].lock().await;
                    o.facts.extend(facts.clone());
                    o.notified.extend(notified.iter().cloned());
                }
                if r.ok {
                    still = active.clone();
                }
            }
        }
        if let Some(inv) = edited {
            self.fleet = self.fleet.with_inventory(Arc::new(inv));
        }
        if any_fatal {
            return Vec::new();
        }
        still
    }

    /// `ansible_play_batch` (this batch's hosts still running), `play_hosts` (its old
    /// name) and `ansible_play_hosts` (the play's hosts that have not failed).
    async fn publish_hosts(&self, active: &[HostId]) {
        let inv = &self.fleet.inventory;
        let mut play = Vec::new();
        for h in self.play_hosts {
            let st = self.states[h].lock().await;
            if !st.failed && !st.unreachable {
                play.push(Value::str(inv.host(*h).name.clone()));
            }
        }
        let batch = Value::List(
            active
                .iter()
                .map(|h| Value::str(inv.host(*h).name.clone()))
                .collect(),
        );
        self.fleet.set_play_magic([
            ("ansible_play_batch".to_string(), batch.clone()),
            ("play_hosts".to_string(), batch),
            ("ansible_play_hosts".to_string(), Value::List(play)),
        ]);
    }

    async fn run_meta(&mut self, task: &Task, active: Vec<HostId>) -> Vec<HostId> {
        let action = task
            .args
            .get("_raw_params")
            .map(Value::py_str)
            .unwrap_or_default();
        match action.as_str() {
            "flush_handlers" => Box::pin(self.flush_handlers(active)).await,
            "end_play" => Vec::new(),
            "noop" | "refresh_inventory" | "clear_facts" | "clear_host_errors"
            | "reset_connection" => active,
            "end_host" => Vec::new(),
            other => {
                self.reporter.event(&Event::Warning(format!(
                    "meta: {other} is not supported; ignored"
                )));
                active
            }
        }
    }

    /// Fails these hosts with one message (a result each, counted failed).
    async fn fail_hosts(&mut self, hosts: &[HostId], msg: &str) {
        for h in hosts {
            let mut st = self.states[h].lock().await;
            st.failed = true;
            st.stats.failed += 1;
            let mut m = crate::value::Map::default();
            m.insert("failed".into(), Value::Bool(true));
            m.insert("msg".into(), Value::str(msg));
            self.reporter.event(&Event::Result {
                host: st.name.clone(),
                status: Status::Failed,
                item: None,
                result: m,
                show: true,
                diffs: Vec::new(),
                action: "include_tasks".into(),
            });
        }
    }

    /// The first half of an include: its banner, then on each host the file (or role)
    /// it brings in per loop item, or its skip or failure. Hosts with the same file run
    /// it together, keyed by file and item as Ansible's IncludedFile: each item's run is
    /// one group, in the order the items first appear. Prints Ansible's `included:`
    /// lines (with the absolute path of a file when `as_files`, else the role's name),
    /// each counted `ok`.
    async fn include_groups(
        &mut self,
        task: &Task,
        inh: &Inherited,
        active: &[HostId],
        as_files: bool,
    ) -> (
        IndexMap<(std::path::PathBuf, String), IncludeGroup>,
        Vec<HostId>,
    ) {
        let mut groups: IndexMap<(std::path::PathBuf, String), IncludeGroup> = IndexMap::new();
        let mut failed = Vec::new();
        self.reporter.event(&Event::TaskStart {
            name: task.banner_name(),
            handler: inh.handler,
        });
        for h in active {
            let mut st = self.states[h].lock().await;
            let run = TaskRun {
                task,
                inh,
                fleet: self.fleet.clone(),
                opts: self.opts,
                play: self.play,
            };
            match run.include_files(&st) {
                Ok(inc) => {
                    for ev in &inc.events {
                        self.reporter.event(ev);
                    }
                    if inc.skipped {
                        st.stats.skipped += 1;
                    }
                    for (path, vars, label) in inc.files {
                        let key = crate::value::pyjson::dumps(
                            &Value::Map(vars.clone()),
                            &crate::value::pyjson::JsonStyle::compact(),
                        )
                        .unwrap_or_default();
                        groups
                            .entry((path, key))
                            .or_insert_with(|| (vars, label, Vec::new()))
                            .2
                            .push(*h);
                    }
                }
                Err(ev) => {
                    self.reporter.event(&ev);
                    st.failed = true;
                    st.stats.failed += 1;
                    failed.push(*h);
                }
            }
        }
        // Ansible's `included:` lines, one per file and item, each counted `ok`.
        for ((path, _), (_, label, hosts)) in &groups {
            let mut names = Vec::new();
            for h in hosts {
                let mut st = self.states[h].lock().await;
                st.stats.ok += 1;
                names.push(st.name.clone());
            }
            self.reporter.event(&Event::Included {
                path: if as_files {
                    std::path::absolute(path)
                        .unwrap_or_else(|_| path.clone())
                        .display()
                        .to_string()
                } else {
                    path.display().to_string()
                },
                hosts: names,
                item: label.clone(),
            });
        }
        (groups, failed)
    }

    /// `include_role`: read with the playbook (its tasks are `role`'s block), shown and
    /// counted as Ansible's dynamic include: the banner, `included: ROLE for HOSTS` or a
    /// skip per host; the role's tasks then run on the hosts that included it, and hosts
    /// that skipped it go on.
    async fn run_include_role(
        &mut self,
        task: &Task,
        role: &crate::playbook::Block,
        inh: &Inherited,
        active: Vec<HostId>,
    ) -> Vec<HostId> {
        let mut tags = inh.tags.clone();
        tags.extend(task.common.tags.iter().cloned());
        let tags = render_tags(&tags, self.play, &self.opts.extra);
        if active.is_empty() || (!inh.handler && !self.tags_allow(&tags)) {
            return active;
        }
        let (groups, failed) = self.include_groups(task, inh, &active, false).await;
        let mut still: Vec<HostId> = active
            .iter()
            .copied()
            .filter(|h| !failed.contains(h))
            .collect();
        // Once per loop item (with the item's vars), as Ansible includes a role per item.
        for (_, (vars, _, hosts)) in groups {
            let hosts: Vec<HostId> = hosts.into_iter().filter(|h| still.contains(h)).collect();
            if hosts.is_empty() {
                continue;
            }
            let mut inner = inh.clone();
            if !vars.is_empty() {
                inner
                    .include_params
                    .push(Arc::new(crate::vars::from_map(&vars, None)));
            }
            let ok = self.run_items(&role.block, &inner, hosts.clone()).await;
            still.retain(|h| !hosts.contains(h) || ok.contains(h));
        }
        still
    }

    /// A task's banner name, rendered with the first host's vars (Ansible's linear
    /// strategy); the warning for a part that could not be, shown before the banner.
    async fn title(&mut self, task: &Task, inh: &Inherited, active: &[HostId]) -> String {
        let Some(first) = active.first() else {
            return task.banner_name();
        };
        let st = self.states[first].lock().await;
        let run = TaskRun {
            task,
            inh,
            fleet: self.fleet.clone(),
            opts: self.opts,
            play: self.play,
        };
        let (name, warning) = run.title(&st);
        drop(st);
        if let Some(w) = warning {
            self.reporter.event(&Event::Warning(w));
        }
        name
    }

    async fn run_include(
        &mut self,
        task: &Task,
        inh: &Inherited,
        active: Vec<HostId>,
    ) -> Vec<HostId> {
        let mut inner = inh.with(&task.common);
        inner.include_depth += 1;
        if inner.include_depth > MAX_INCLUDE_DEPTH && !active.is_empty() {
            // A file that includes itself (directly or not) would recurse until the
            // stack overflows: fail the hosts instead, naming the include.
            self.reporter.event(&Event::TaskStart {
                name: task.banner_name(),
                handler: inh.handler,
            });
            let msg = format!(
                "{}: include_tasks nested more than {MAX_INCLUDE_DEPTH} deep: does the file include itself?",
                task.origin
            );
            self.fail_hosts(&active, &msg).await;
            return Vec::new();
        }
        if !task.common.vars.is_empty() {
            inner.vars.pop();
            inner
                .include_params
                .push(Arc::new(task.common.vars.clone()));
        }
        if active.is_empty() {
            return active;
        }
        let (groups, failed) = self.include_groups(task, inh, &active, true).await;
        let mut still: Vec<HostId> = active
            .iter()
            .copied()
            .filter(|h| !failed.contains(h))
            .collect();
        for ((path, _), (vars, _, hosts)) in groups {
            // Hosts that failed in an earlier item's run do not go on.
            let hosts: Vec<HostId> = hosts.into_iter().filter(|h| still.contains(h)).collect();
            if hosts.is_empty() {
                continue;
            }
            match crate::playbook::load_tasks_file(&path, task.role.as_ref(), &task.parent_roles) {
                Ok(items) => {
                    let mut inner = inner.clone();
                    if !vars.is_empty() {
                        inner
                            .include_params
                            .push(Arc::new(crate::vars::from_map(&vars, None)));
                    }
                    let ok = self.run_items(&items, &inner, hosts.clone()).await;
                    still.retain(|h| !hosts.contains(h) || ok.contains(h));
                }
                Err(diags) => {
                    let msg = diags
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("\n");
                    self.fail_hosts(&hosts, &msg).await;
                    still.retain(|h| !hosts.contains(h));
                }
            }
        }
        still
    }

    /// Runs notified handlers, in the order they are defined, once per host.
    async fn flush_handlers(&mut self, active: Vec<HostId>) -> Vec<HostId> {
        let inh = Inherited {
            handler: true,
            ..Inherited::of_play(self.play)
        };
        let mut active = active;
        let mut consumed: std::collections::HashMap<HostId, Vec<String>> =
            std::collections::HashMap::default();
        for (h, blocks) in crate::playbook::handler_tasks(&self.play.handlers) {
            let inh = blocks.iter().fold(inh.clone(), |i, c| i.with(c));
            let mut who = Vec::new();
            for host in &active {
                let st = self.states[host].lock().await;
                let name = h.common.name.clone().unwrap_or_default();
                let hit = st
                    .notified
                    .iter()
                    .any(|n| *n == name || h.listen.contains(n));
                if hit {
                    // The topic stays for the handlers after this one that listen to
                    // it too; it is consumed once the flush is over.
                    consumed
                        .entry(*host)
                        .or_default()
                        .extend(std::iter::once(name.clone()).chain(h.listen.iter().cloned()));
                    who.push(*host);
                }
            }
            if who.is_empty() {
                continue;
            }
            let ok = self.run_task(h, &inh, who.clone()).await;
            active.retain(|x| !who.contains(x) || ok.contains(x));
        }
        for (host, topics) in consumed {
            let mut st = self.states[&host].lock().await;
            st.notified.retain(|n| !topics.contains(n));
        }
        active
    }

    /// `max_fail_percentage` / `any_errors_fatal` at the end of a section.
    fn abort(&mut self, batch: &[HostId], active: &[HostId]) -> bool {
        let failed = batch.iter().filter(|h| !active.contains(h)).count();
        match self.play.max_fail_percentage {
            Some(pct) if !batch.is_empty() => (failed as f64 / batch.len() as f64) * 100.0 > pct,
            _ => false,
        }
    }
}

/// Whether a task with these tags runs under `--tags ONLY` and `--skip-tags SKIP`, as
/// Ansible's `Taggable.evaluate_tags` decides (`always`, `never`, `tagged`, `untagged`,
/// `all`; no tags is `untagged`).
pub(crate) fn tags_allow(tags: &[String], only: &[String], skip: &[String]) -> bool {
    let untagged = [String::from("untagged")];
    let tags: &[String] = if tags.is_empty() { &untagged } else { tags };
    let has = |t: &str| tags.iter().any(|x| x == t);
    let is_untagged = tags == untagged;
    let all = [String::from("all")];
    let only: &[String] = if only.is_empty() { &all } else { only };
    let mut run = has("always")
        || (only.iter().any(|t| t == "all") && !has("never"))
        || only.iter().any(|t| has(t))
        || (only.iter().any(|t| t == "tagged") && !is_untagged && !has("never"));
    if run && !skip.is_empty() {
        if skip.iter().any(|t| t == "all") {
            if !has("always") || skip.iter().any(|t| t == "always") {
                run = false;
            }
        } else if skip.iter().any(|t| has(t))
            || (skip.iter().any(|t| t == "tagged") && !is_untagged)
        {
            run = false;
        }
    }
    run
}

/// A play's host pattern, templated with the extra and play vars (`"{{ hostGroup }}"`).
pub(crate) fn play_pattern(play: &Play, extra: &Vars) -> Result<String, Error> {
    let scope = play_scope(play, extra);
    engine()
        .render_str(&play.hosts, &scope, Some(play.origin.clone()))
        .map_err(|e| {
            Error::User(vec![crate::source::Diagnostic::error(
                play.origin.clone(),
                e.message,
            )])
        })
}

/// The extra and play vars, for what is templated per play (host patterns, tags).
fn play_scope(play: &Play, extra: &Vars) -> Arc<crate::template::Scope> {
    let mut frame = extra.clone();
    for (k, v) in &play.vars {
        frame.entry(k.clone()).or_insert_with(|| v.clone());
    }
    crate::template::Scope::new(
        engine(),
        vec![crate::template::Frame::Raw(Arc::new(frame))],
        None,
    )
}

/// Tags with templates in them rendered with the play's vars (`tags: "{{ the_tags }}"`),
/// a list or a comma-separated string becoming several; one that cannot be rendered
/// stays as written.
pub(crate) fn render_tags(tags: &[String], play: &Play, extra: &Vars) -> Vec<String> {
    if !tags
        .iter()
        .any(|t| crate::template::is_possibly_template(t))
    {
        return tags.to_vec();
    }
    let scope = play_scope(play, extra);
    let mut out = Vec::new();
    for t in tags {
        if !crate::template::is_possibly_template(t) {
            out.push(t.clone());
            continue;
        }
        match engine().template_to_value(&Value::str(t.clone()), &scope, None) {
            Ok(Value::List(l)) => out.extend(l.iter().map(Value::py_str)),
            Ok(v) => out.extend(
                v.py_str()
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty()),
            ),
            Err(_) => out.push(t.clone()),
        }
    }
    out
}
