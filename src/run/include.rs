//! `include_tasks` and `include_role`: the hosts grouped by what they include, then run.

use super::event::Event;
use super::{Inherited, MAX_INCLUDE_DEPTH, PlayRun, render_tags};
use crate::inventory::HostId;
use crate::playbook::Task;
use crate::value::Value;
use indexmap::IndexMap;
use std::sync::Arc;

/// One run of an include: the item's vars, its label, and the hosts that run it.
type IncludeGroup = (crate::value::Map, Option<String>, Vec<HostId>);

impl PlayRun<'_> {
    /// The first half of an include: its banner, then on each host the file (or role)
    /// it brings in per loop item, or its skip or failure. Hosts with the same file run
    /// it together, keyed by file and item as Ansible's IncludedFile: each item's run is
    /// one group, in the order the items first appear (`announce` then prints them).
    async fn include_groups(
        &mut self,
        task: &Task,
        inh: &Inherited,
        active: &[HostId],
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
            let run = self.task_run(task, inh);
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
        (groups, failed)
    }

    /// Ansible's `included:` lines, one per file (with its absolute path when
    /// `as_files`, else the role's name) and item, each counted `ok`.
    async fn announce(
        &mut self,
        groups: &IndexMap<(std::path::PathBuf, String), IncludeGroup>,
        as_files: bool,
    ) {
        for ((path, _), (_, label, hosts)) in groups {
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
    }

    /// `include_role`: read with the playbook (its tasks are `role`'s block), shown and
    /// counted as Ansible's dynamic include: the banner, `included: ROLE for HOSTS` or a
    /// skip per host; the role's tasks then run on the hosts that included it, and hosts
    /// that skipped it go on.
    pub(super) async fn run_include_role(
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
        let (mut groups, failed) = self.include_groups(task, inh, &active).await;
        let mut still: Vec<HostId> = active
            .iter()
            .copied()
            .filter(|h| !failed.contains(h))
            .collect();
        // A templated name the playbook could not resolve: the role is read now, for
        // each name the hosts and items render; one that cannot be read fails its hosts
        // (ignore_errors does not apply, as in Ansible) and is not announced.
        let dynamic = role.block.is_empty()
            && task
                .args
                .get("name")
                .or_else(|| task.args.get("role"))
                .and_then(Value::as_str)
                .is_some_and(crate::template::is_possibly_template);
        let mut loaded: IndexMap<std::path::PathBuf, Vec<crate::playbook::Item>> = IndexMap::new();
        if dynamic {
            let mut unloadable = Vec::new();
            for ((name, key), (_, _, hosts)) in &groups {
                if !loaded.contains_key(name) {
                    let mut args = task.args.clone();
                    args.shift_remove("role");
                    args.insert("name".into(), Value::str(name.display().to_string()));
                    match crate::playbook::load_dynamic_role(
                        &task.origin.file,
                        &self.play.dir,
                        &args,
                        task.role.as_ref(),
                        &task.parent_roles,
                    ) {
                        Ok(items) => {
                            loaded.insert(name.clone(), items);
                        }
                        Err(diags) => {
                            let msg = diags
                                .iter()
                                .map(|d| d.message.clone())
                                .collect::<Vec<_>>()
                                .join("\n");
                            self.fail_hosts(hosts, &msg).await;
                            still.retain(|h| !hosts.contains(h));
                            unloadable.push((name.clone(), key.clone()));
                        }
                    }
                }
            }
            for k in unloadable {
                groups.shift_remove(&k);
            }
        }
        self.announce(&groups, false).await;
        // The include's keywords wrap a role read now, as a static include's block does.
        let mut common = task.common.clone();
        common.when.clear();
        common.tags.clear();
        // Once per loop item (with the item's vars), as Ansible includes a role per item.
        for ((name, _), (vars, _, hosts)) in groups {
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
            let ok = match loaded.get(&name) {
                Some(items) => {
                    let inner = inner.with(&common);
                    self.run_items(items, &inner, hosts.clone()).await
                }
                None => self.run_items(&role.block, &inner, hosts.clone()).await,
            };
            still.retain(|h| !hosts.contains(h) || ok.contains(h));
        }
        still
    }

    pub(super) async fn run_include(
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
        let (groups, failed) = self.include_groups(task, inh, &active).await;
        self.announce(&groups, true).await;
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
            match crate::playbook::load_tasks_file(
                &path,
                task.role.as_ref(),
                &task.parent_roles,
                inh.handler,
            ) {
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
}
