//! One task of a play on its hosts: facts, loops, meta tasks, banners, handlers and the
//! end-of-section abort.

use super::event::{Event, Status};
use super::host::TaskRun;
use super::{Inherited, PlayRun, host, interrupted, inventory_changes, render_tags, tags_allow};
use crate::inventory::{HostId, Inventory};
use crate::playbook::{Item, Task};
use crate::value::Value;
use futures::future::join_all;
use std::sync::Arc;

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
            self.fleet
                .set_host_facts(host, &st.published(), &st.included);
        }
    }

    pub(super) fn tags_allow(&self, tags: &[String]) -> bool {
        tags_allow(tags, &self.opts.tags, &self.opts.skip_tags)
    }
    pub(super) async fn gather_facts(&mut self, active: Vec<HostId>) -> Vec<HostId> {
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
                fleet.set_host_facts(st.id, &st.published(), &st.included);
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

    pub(super) fn run_items<'b>(
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
                if active.is_empty() || interrupted() || self.fatal.is_some() {
                    break;
                }
                active = match item {
                    Item::Task(t) => self.run_task(t, inh, active).await,
                    Item::Block(b) if b.include.is_some() => {
                        let task = b.include.as_deref().expect("matched Some");
                        self.run_include_role(task, b, inh, active).await
                    }
                    Item::Block(b) if b.dedup.is_some() => self.run_role_once(b, inh, active).await,
                    Item::Block(b) => self.run_block(b, inh, active).await,
                };
            }
            active
        })
    }

    /// A block: its tasks, `rescue` for the hosts that failed in them, `always` for all.
    async fn run_block(
        &mut self,
        b: &crate::playbook::Block,
        inh: &Inherited,
        active: Vec<HostId>,
    ) -> Vec<HostId> {
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
                let mut st = self.states[h].lock().await;
                st.failed = false;
                st.errors_cleared = false;
            }
            let ran = self.run_items(&b.always, &inner, always_hosts).await;
            for h in &was_failed {
                let mut st = self.states[h].lock().await;
                // `meta: clear_host_errors` in the `always` lets it go on.
                if st.errors_cleared && ran.contains(h) {
                    after.push(*h);
                } else {
                    st.failed = true;
                }
            }
            after.retain(|h| ran.contains(h));
            after.sort_by_key(|h| entered.iter().position(|e| e == h));
        }
        after
    }

    /// A role's block that runs once per host and play (Ansible's role dedup): hosts
    /// that completed the same role (same directory and parameters) skip it silently;
    /// a host completes it when it comes out of the block having run one of its tasks
    /// (a role skipped whole by its `when` is not complete, and runs again later).
    async fn run_role_once(
        &mut self,
        b: &crate::playbook::Block,
        inh: &Inherited,
        active: Vec<HostId>,
    ) -> Vec<HostId> {
        let key = b.dedup.clone().unwrap_or_default();
        let mut run = Vec::new();
        for h in &active {
            if !self.states[h].lock().await.roles_done.contains(&key) {
                run.push(*h);
            }
        }
        let ok = self.run_block(b, inh, run.clone()).await;
        for h in &ok {
            let mut st = self.states[h].lock().await;
            if st.roles_ran.contains(&key) {
                st.roles_done.insert(key.clone());
            }
        }
        active
            .into_iter()
            .filter(|h| !run.contains(h) || ok.contains(h))
            .collect()
    }

    async fn run_task(&mut self, task: &Task, inh: &Inherited, active: Vec<HostId>) -> Vec<HostId> {
        let mut tags = inh.tags.clone();
        tags.extend(task.common.tags.iter().cloned());
        let tags = render_tags(&tags, self.play, &self.opts.extra);
        if !inh.handler && !self.tags_allow(&tags) {
            return active;
        }
        match task.module.as_str() {
            "meta" => return self.run_meta(task, inh, active).await,
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
        // A templated run_once is decided host by host, in order: the hosts before the
        // first that says true run too, as in Ansible's linear strategy.
        let mut once: Option<HostId> = None;
        let targets: Vec<HostId> = if task.run_once || task.module == "add_host" {
            once = active.first().copied().filter(|_| task.run_once);
            active.iter().copied().take(1).collect()
        } else if task.run_once_expr.is_some() {
            let run = self.task_run(task, inh);
            let mut targets = Vec::new();
            for h in &active {
                targets.push(*h);
                if run.runs_once(&*self.states[h].lock().await) {
                    once = Some(*h);
                    break;
                }
            }
            targets
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
            || crate::tasks::has_trait(&task.module, crate::tasks::Trait::SetsFacts)
            || task.module == "setup";
        let fleet = &self.fleet;
        let results = join_all(targets.iter().map(|h| {
            let st = self.states[h].clone();
            let name = &self.fleet.inventory.host(*h).name;
            let run = self.task_run(task, inh);
            let sem = self.sem.clone();
            async move {
                let _permit = sem.acquire().await;
                let mut st = st.lock().await;
                let r = run.run(&mut st).await;
                if changes_facts {
                    fleet.set_host_facts(st.id, &st.published(), &st.included);
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
        let edits_inventory =
            crate::tasks::has_trait(&task.module, crate::tasks::Trait::EditsInventory);
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
            if !task.notify.is_empty()
                && let Some(missing) = self.missing_handler(task, inh, *h).await
            {
                let msg = format!(
                    "The requested handler '{missing}' was not found in either the main handlers list nor in the listening handlers list"
                );
                if error_on_missing_handler() {
                    self.reporter.event(&Event::Fatal(msg.clone()));
                    self.fatal = Some(msg);
                    return Vec::new();
                }
                self.reporter.event(&Event::Warning(msg));
            }
            for ev in &r.events {
                self.reporter.event(ev);
            }
            // A task of a role that ran on the host (not skipped, not unreachable): the
            // role has run there (Ansible's _had_task_run).
            if let Some(role) = &task.role
                && r.events.iter().any(|e| {
                    matches!(e, Event::Result { status, .. } if !matches!(
                        status,
                        Status::Skipped | Status::Unreachable | Status::UnreachableIgnored
                    ))
                })
            {
                self.states[h]
                    .lock()
                    .await
                    .roles_ran
                    .insert(role.key.clone());
            }
            if r.ok {
                still.push(*h);
            } else if task.common.any_errors_fatal || self.play.any_errors_fatal {
                any_fatal = true;
            }
            if once == Some(*h) {
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

    /// `task` (under `inh`) as it runs on a host of this play.
    pub(super) fn task_run<'t>(&'t self, task: &'t Task, inh: &'t Inherited) -> TaskRun<'t> {
        TaskRun {
            task,
            inh,
            fleet: self.fleet.clone(),
            opts: self.opts,
            play: self.play,
        }
    }

    /// A name `task` notified on `host` (it changed there) that no handler of the play
    /// has, nor listens to.
    async fn missing_handler(
        &mut self,
        task: &Task,
        inh: &Inherited,
        host: HostId,
    ) -> Option<String> {
        let st = self.states[&host].lock().await;
        let notified: Vec<String> = self
            .task_run(task, inh)
            .notified_names(&st)
            .into_iter()
            .filter(|n| st.notified.contains(n))
            .collect();
        drop(st);
        if notified.is_empty() {
            return None;
        }
        let handlers = crate::playbook::handler_tasks(&self.play.handlers);
        let own_role = task.role.as_ref().map(|r| r.key.as_str());
        let found = self.handler_names(&handlers, host, own_role, true).await;
        let mut known = std::collections::HashSet::new();
        for (h, found) in handlers.iter().zip(found) {
            if let Some(names) = found {
                known.extend(names.into_iter().flatten());
                known.extend(h.0.handler_topics());
            }
        }
        notified.into_iter().find(|n| !known.contains(n))
    }

    /// Each handler as a notification finds it: None when it is not loaded yet (a
    /// handler of an `include_role` whose include has not run on `host`, nor is
    /// `own_role`), else its names (its own and role-prefixed), a templated name
    /// rendered with `host`'s vars as Ansible's search_handlers_by_notification renders
    /// it, or None for a name that cannot be rendered (with `warn`, the warning Ansible
    /// gives when the handler has no `listen` topic either, so that nothing can call it).
    async fn handler_names(
        &mut self,
        handlers: &[(&Task, Vec<&crate::playbook::Common>)],
        host: HostId,
        own_role: Option<&str>,
        warn: bool,
    ) -> Vec<Option<Option<Vec<String>>>> {
        let inh = Inherited {
            handler: true,
            ..Inherited::of_play(self.play)
        };
        let st = self.states[&host].lock().await;
        let mut out = Vec::with_capacity(handlers.len());
        for (h, _) in handlers {
            if let Some(r) = h.role.as_ref().filter(|r| r.dynamic)
                && Some(r.key.as_str()) != own_role
                && !st.roles_ran.contains(&r.key)
            {
                out.push(None);
                continue;
            }
            let templated = h
                .common
                .name
                .as_deref()
                .is_some_and(crate::template::is_possibly_template);
            if !templated {
                out.push(Some(Some(h.handler_names())));
                continue;
            }
            let run = self.task_run(h, &inh);
            match run.rendered_name(&st) {
                Ok(Some(name)) => out.push(Some(Some(h.role_prefixed(std::iter::once(&name))))),
                Ok(None) => out.push(Some(Some(Vec::new()))),
                Err(e) => {
                    if warn && h.listen.is_empty() {
                        self.reporter.event(&Event::Warning(format!(
                            "Handler '{}' is unusable because it has no listen topics and the name could not be templated (host-specific variables are not supported in handler names). The error: {e}",
                            h.common.name.as_deref().unwrap_or_default()
                        )));
                    }
                    out.push(Some(None));
                }
            }
        }
        out
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

    /// A meta task, as Ansible's strategy runs it: its banner, its `when` judged on each
    /// host for the per-host actions (end_host, flush_handlers, role_complete...) and on
    /// the first host for the others, a `META:` line (-vv) and, where it is skipped, a
    /// skipped result carrying the reason.
    async fn run_meta(&mut self, task: &Task, inh: &Inherited, active: Vec<HostId>) -> Vec<HostId> {
        let action = task
            .args
            .get("_raw_params")
            .map(Value::py_str)
            .unwrap_or_default();
        let action = action.trim().to_string();
        self.reporter.event(&Event::TaskStart {
            name: task.banner_name(),
            handler: inh.handler,
        });
        let conditional = !(inh.when.is_empty() && task.common.when.is_empty());
        if conditional
            && matches!(
                action.as_str(),
                "noop" | "refresh_inventory" | "reset_connection"
            )
        {
            self.reporter.event(&Event::Warning(format!(
                "meta task does not support when conditional: {action}"
            )));
        }
        let per_host = matches!(
            action.as_str(),
            "noop" | "reset_connection" | "end_host" | "flush_handlers" | "end_role"
        );
        let targets: Vec<HostId> = if per_host {
            active.clone()
        } else {
            active.iter().copied().take(1).collect()
        };
        // Each target's verdict on the task's `when` (always true without one).
        let mut holds: Vec<(HostId, bool)> = Vec::new();
        let mut failed: Vec<(HostId, String)> = Vec::new();
        for h in &targets {
            if !conditional
                || matches!(
                    action.as_str(),
                    "noop" | "refresh_inventory" | "reset_connection"
                )
            {
                holds.push((*h, true));
                continue;
            }
            let st = self.states[h].lock().await;
            let run = self.task_run(task, inh);
            match run.condition_holds(&st) {
                Ok(b) => holds.push((*h, b)),
                Err(e) => failed.push((*h, e)),
            }
        }
        for (h, msg) in &failed {
            self.fail_hosts(&[*h], msg).await;
        }
        let failed: Vec<HostId> = failed.into_iter().map(|(h, _)| h).collect();
        let mut active: Vec<HostId> = active.into_iter().filter(|h| !failed.contains(h)).collect();
        let name = |me: &Self, h: &HostId| me.fleet.inventory.host(*h).name.clone();
        let first_holds = holds.first().is_none_or(|(_, b)| *b);
        let mut skipped: Vec<(HostId, String, Option<String>)> = Vec::new();
        match action.as_str() {
            // A handler flushing the handlers would run itself again, without end.
            "flush_handlers" if inh.handler => {
                let msg = "flush_handlers cannot be used as a handler".to_string();
                self.reporter.event(&Event::Fatal(msg.clone()));
                self.fatal = Some(msg);
                return Vec::new();
            }
            "flush_handlers" => {
                let go: Vec<HostId> = holds.iter().filter(|(_, b)| *b).map(|(h, _)| *h).collect();
                for (h, b) in &holds {
                    if !*b {
                        skipped.push((
                            *h,
                            format!(", not running handlers for {}", name(self, h)),
                            None,
                        ));
                    }
                }
                self.meta_skips(&action, &skipped);
                let ran = Box::pin(self.flush_handlers(go.clone())).await;
                active.retain(|h| !go.contains(h) || ran.contains(h));
                return active;
            }
            "end_play" | "end_batch" if first_holds => {
                self.reporter.event(&Event::Meta(if action == "end_play" {
                    "ending play".into()
                } else {
                    "ending batch".into()
                }));
                if action == "end_play" {
                    self.ended_play = true;
                }
                return Vec::new();
            }
            "end_play" => {
                if let Some((h, _)) = holds.first() {
                    skipped.push((*h, ", continuing play".into(), None));
                }
            }
            "end_batch" => {
                if let Some((h, _)) = holds.first() {
                    skipped.push((*h, ", continuing current batch".into(), None));
                }
            }
            "end_host" => {
                for (h, b) in &holds {
                    let n = name(self, h);
                    if *b {
                        self.reporter
                            .event(&Event::Meta(format!("ending play for {n}")));
                        active.retain(|a| a != h);
                    } else {
                        let skip = (
                            *h,
                            format!(", continuing execution for {n}"),
                            Some(format!(
                                "end_host conditional evaluated to false, continuing execution for {n}"
                            )),
                        );
                        self.meta_skips(&action, &[skip]);
                    }
                }
            }
            "clear_host_errors" if first_holds => {
                // Ansible forgets every failure of the play's hosts: the hosts still
                // in the play go on, the run's exit code no longer counts them, and a
                // later play runs them again. Hosts that already stopped stay stopped.
                for h in self.play_hosts {
                    let mut st = self.states[h].lock().await;
                    st.failed = false;
                    st.errors_cleared = true;
                }
                self.reporter
                    .event(&Event::Meta("cleared host errors".into()));
            }
            "clear_host_errors" => {
                if let Some((h, _)) = holds.first() {
                    skipped.push((
                        *h,
                        format!(", not clearing host error state for {}", name(self, h)),
                        None,
                    ));
                }
            }
            "clear_facts" if first_holds => {
                for h in self.play_hosts {
                    let mut st = self.states[h].lock().await;
                    st.gathered.clear();
                    if let Some(cache) = &self.opts.fact_cache {
                        cache.flush(&st.name);
                    }
                    self.fleet.set_host_facts(*h, &st.published(), &st.included);
                }
                self.reporter.event(&Event::Meta("facts cleared".into()));
            }
            "clear_facts" => {
                if let Some((h, _)) = holds.first() {
                    skipped.push((
                        *h,
                        format!(", not clearing facts and fact cache for {}", name(self, h)),
                        None,
                    ));
                }
            }
            "noop" => self.reporter.event(&Event::Meta("noop".into())),
            "refresh_inventory" => {
                self.reporter
                    .event(&Event::Meta("inventory successfully refreshed".into()));
            }
            "reset_connection" => {
                self.reporter.event(&Event::Meta("reset connection".into()));
            }
            other => {
                self.reporter.event(&Event::Warning(format!(
                    "meta: {other} is not supported; ignored"
                )));
            }
        }
        self.meta_skips(&action, &skipped);
        active
    }

    /// A skipped meta task's results: Ansible's skip_reason (and msg) on each host.
    fn meta_skips(&mut self, action: &str, skipped: &[(HostId, String, Option<String>)]) {
        for (h, tail, msg) in skipped {
            let reason = format!("{action} conditional evaluated to False{tail}");
            self.reporter.event(&Event::Meta(reason.clone()));
            let mut m = crate::value::Map::default();
            m.insert(
                "msg".into(),
                Value::str(msg.clone().unwrap_or_else(|| action.to_string())),
            );
            m.insert("skip_reason".into(), Value::str(reason));
            self.reporter.event(&Event::Result {
                host: self.fleet.inventory.host(*h).name.clone(),
                status: Status::Skipped,
                item: None,
                result: m,
                show: false,
                diffs: Vec::new(),
                action: "meta".into(),
            });
        }
    }

    /// Fails these hosts with one message (a result each, counted failed).
    pub(super) async fn fail_hosts(&mut self, hosts: &[HostId], msg: &str) {
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

    /// A task's banner name, rendered with the first host's vars (Ansible's linear
    /// strategy); the warning for a part that could not be, shown before the banner.
    async fn title(&mut self, task: &Task, inh: &Inherited, active: &[HostId]) -> String {
        let Some(first) = active.first() else {
            return task.banner_name();
        };
        let st = self.states[first].lock().await;
        let run = self.task_run(task, inh);
        let (name, warning) = run.title(&st);
        drop(st);
        if let Some(w) = warning {
            self.reporter.event(&Event::Warning(w));
        }
        name
    }

    /// Runs notified handlers, in the order they are defined, once per host.
    pub(super) async fn flush_handlers(&mut self, active: Vec<HostId>) -> Vec<HostId> {
        let inh = Inherited {
            handler: true,
            ..Inherited::of_play(self.play)
        };
        let mut active = active;
        let mut consumed: std::collections::HashMap<HostId, Vec<String>> =
            std::collections::HashMap::default();
        // Ansible's search_handlers_by_notification: a notification calls the first
        // handler with that name, and every handler listening to it (one per name).
        let handlers = crate::playbook::handler_tasks(&self.play.handlers);
        let rendered = match active.first() {
            Some(first) => self.handler_names(&handlers, *first, None, false).await,
            None => vec![None; handlers.len()],
        };
        let mut by_name: std::collections::HashMap<String, usize> =
            std::collections::HashMap::default();
        // Unnamed listeners are each their own (only named ones are deduplicated).
        let ident = |i: usize, h: &Task| h.common.name.clone().unwrap_or_else(|| format!("\0{i}"));
        let mut by_topic: std::collections::HashMap<(String, String), usize> =
            std::collections::HashMap::default();
        let group = handler_blocks(&self.play.handlers);
        for (i, (h, _)) in handlers.iter().enumerate() {
            let Some(names) = &rendered[i] else {
                continue;
            };
            // Ansible searches the handler blocks last first, each block's handlers in
            // order: the first of a name in a block, the last block loaded with it.
            fn claim<K: std::hash::Hash + Eq>(
                map: &mut std::collections::HashMap<K, usize>,
                key: K,
                i: usize,
                group: &[usize],
            ) {
                if map.get(&key).is_none_or(|j| group.get(*j) != group.get(i)) {
                    map.insert(key, i);
                }
            }
            for n in names.iter().flatten() {
                claim(&mut by_name, n.clone(), i, &group);
            }
            for t in h.handler_topics() {
                claim(&mut by_topic, (t, ident(i, h)), i, &group);
            }
        }
        for (i, (h, blocks)) in handlers.iter().enumerate() {
            let (h, blocks) = (*h, blocks);
            let inh = blocks.iter().fold(inh.clone(), |i, c| i.with(c));
            let mut who = Vec::new();
            let Some(names) = rendered[i].clone() else {
                continue;
            };
            let names = names.unwrap_or_default();
            let topics = h.handler_topics();
            for host in &active {
                let st = self.states[host].lock().await;
                let hit = st.notified.iter().any(|n| {
                    (names.contains(n) && by_name.get(n) == Some(&i))
                        || (topics.contains(n)
                            && by_topic.get(&(n.clone(), ident(i, h))) == Some(&i))
                });
                if hit {
                    // The topic stays for the handlers after this one that listen to
                    // it too; it is consumed once the flush is over.
                    consumed
                        .entry(*host)
                        .or_default()
                        .extend(names.iter().chain(topics.iter()).cloned());
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
    pub(super) fn abort(&mut self, batch: &[HostId], active: &[HostId]) -> bool {
        let failed = batch.iter().filter(|h| !active.contains(h)).count();
        match self.play.max_fail_percentage {
            Some(pct) if !batch.is_empty() => (failed as f64 / batch.len() as f64) * 100.0 > pct,
            _ => false,
        }
    }
}

/// For each handler (in `handler_tasks` order), the block Ansible holds it in: the
/// play's bare handlers are one implicit block, a role's bare handlers another, each
/// `block:` its own.
fn handler_blocks(items: &[crate::playbook::Item]) -> Vec<usize> {
    use crate::playbook::Item;
    let mut out = Vec::new();
    let mut group = 0;
    let mut last: Option<Option<String>> = None;
    for item in items {
        let n = crate::playbook::handler_tasks(std::slice::from_ref(item)).len();
        match item {
            Item::Task(t) => {
                let role = t.role.as_ref().map(|r| r.key.clone());
                if last.as_ref() != Some(&role) {
                    group += 1;
                }
                last = Some(role);
            }
            Item::Block(_) => {
                group += 1;
                last = None;
            }
        }
        out.extend(std::iter::repeat_n(group, n));
    }
    out
}

/// Ansible's `ERROR_ON_MISSING_HANDLER` (`ANSIBLE_ERROR_ON_MISSING_HANDLER`, default on):
/// a notification no handler answers ends the run; off, it is a warning.
fn error_on_missing_handler() -> bool {
    std::env::var("ANSIBLE_ERROR_ON_MISSING_HANDLER").map_or(true, |v| {
        !matches!(
            v.trim().to_lowercase().as_str(),
            "false" | "no" | "0" | "off" | "n" | "f"
        )
    })
}
