//! Running playbooks: plays in order; in each play, tasks one after the other (Ansible's
//! linear strategy), each task on every selected host at once, up to `--forks`.
//! One connection per host serves the whole run. Results go out as events.

pub(crate) mod event;
pub(crate) mod fact_cache;
mod facts;
mod host;
pub(crate) use host::ERROR_KEY;
mod include;
mod inventory_changes;
mod job;
mod play;
use play::{batches, no_hosts_message, play_vars};
pub(crate) use play::{play_pattern, render_tags, tags_allow};
mod task;

use crate::connect::BecomeArgs;
use crate::context::Fleet;
use crate::error::Error;
use crate::inventory::{HostId, Inventory, pattern};
use crate::playbook::Play;
use crate::report::Reporter;
use crate::settings::Settings;
use crate::source::Origin;
use crate::value::Value;

use crate::vars::{HostVarsQuery, Vars};
use event::{Event, Stats};
use host::HostState;
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
    /// Where host facts outlive the run (`fact_caching = jsonfile`).
    pub fact_cache: Option<fact_cache::FactCache>,
}

#[derive(Debug, Default)]
pub(crate) struct Summary {
    pub stats: Vec<(String, Stats)>,
    /// Hosts still failed at the end: a failure `meta: clear_host_errors` forgot is in
    /// the recap's count but not here (nor in the exit code), as in Ansible.
    pub failed_hosts: usize,
    /// The run ended on an error before its recap (exit code 1).
    pub fatal: bool,
}

impl Summary {
    /// ansible-playbook's exit code: 4 if any host was unreachable, else 2 if any failed.
    pub(crate) fn exit_code(&self) -> u8 {
        if self.fatal {
            crate::error::exit::ERROR
        } else if self.stats.iter().any(|(_, s)| s.unreachable > 0) {
            crate::error::exit::UNREACHABLE
        } else if self.failed_hosts > 0 {
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
    pub ignore_unreachable: Option<Value>,
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
            ignore_unreachable: play.ignore_unreachable.clone(),
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
        i.ignore_unreachable = c.ignore_unreachable.clone().or(i.ignore_unreachable);
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
    let mut fatal: Option<String> = None;
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
        let play_vars = play_vars(play, &base, &sel.hosts)?;
        for w in &play_vars.warnings {
            reporter.event(&Event::Warning(w.clone()));
        }
        let fleet = base.for_play(
            play_vars.all,
            play_vars.per_host,
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
            if states.contains_key(&h) {
                continue;
            }
            let mut st = HostState::new(h, inventory.host(h).name.clone());
            // Facts an earlier run kept (`fact_caching = jsonfile`).
            match opts.fact_cache.as_ref().map(|c| c.load(&st.name)) {
                Some(Ok(Some(cached))) => {
                    st.add_facts(cached);
                    fleet.set_host_facts(h, &st.published(), &st.included);
                }
                Some(Err(e)) => reporter.event(&Event::Warning(e)),
                Some(Ok(None)) | None => {}
            }
            states.insert(h, Arc::new(Mutex::new(st)));
        }
        // A role runs once per play and host: what ran in the last play is forgotten.
        for h in &sel.hosts {
            let mut st = states[h].lock().await;
            st.roles_ran.clear();
            st.roles_done.clear();
        }
        for batch in batches(&sel.hosts, &play.serial) {
            let mut pr = PlayRun {
                ended_play: false,
                fatal: None,
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
                if pr.fatal.is_some() {
                    break;
                }
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
            if let Some(f) = pr.fatal.take() {
                fatal = Some(f);
            }
            // `meta: end_play` ends the later batches too.
            if pr.ended_play || fatal.is_some() {
                break;
            }
        }
        if fatal.is_some() {
            break;
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
        summary.failed_hosts += usize::from(st.failed);
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
    // A run ended by an error has no recap, as ansible-playbook's (its exit code is 1).
    if fatal.is_some() {
        summary.fatal = true;
        return Ok(summary);
    }
    reporter.event(&Event::Recap {
        stats: summary.stats.clone(),
    });
    Ok(summary)
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
    /// `meta: end_play` ran: no later batch starts.
    ended_play: bool,
    /// An error that ends the run (a notification no handler answers).
    fatal: Option<String>,
}
