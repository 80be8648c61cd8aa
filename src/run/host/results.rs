//! The results a task gives without its module: skipped, failed before the module ran
//! (registered, with Ansible's `[ERROR]` text), or not predictable in check mode.

use super::{
    Cause, ERROR_KEY, HostResult, HostState, NO_TRACEBACK, TaskRun, controller_action, result_event,
};
use crate::run::event::{Event, Status};
use crate::template::to_mj;
use crate::value::{Map, Value};

impl TaskRun<'_> {
    /// A failure before the module ran (a condition or the loop's items could not be
    /// evaluated): `ignore_errors` covers it, as in Ansible.
    pub(super) fn failed_or_ignored(
        &self,
        st: &mut HostState,
        msg: String,
        mut events: Vec<Event>,
        ignore: bool,
    ) -> HostResult {
        if !ignore || self.unpredictable_dep(st, &msg).is_some() {
            return self.failed(st, msg, events);
        }
        let shown = self.early_failure(st, &msg);
        events.push(result_event(
            &st.name,
            Status::Ignored,
            None,
            shown,
            true,
            Vec::new(),
        ));
        st.stats.ok += 1;
        st.stats.ignored += 1;
        HostResult { events, ok: true }
    }

    /// A task that failed before its module ran (its loop or condition could not be
    /// templated) still registers its failure, as in Ansible.
    fn register_failure(&self, st: &mut HostState, msg: &str) {
        if let Some(r) = &self.task.register {
            st.facts
                .insert(r.clone(), to_mj(&Value::Map(fail_map(msg))));
        }
    }

    /// Ansible 2.19's `[ERROR]: Task failed: ...` text for a failed result: the kind of
    /// failure (a module's on the host, an action's on the controller), the message,
    /// and where the task is written.
    pub(super) fn error_block(&self, msg: &str, from_module: bool, cause: Option<Cause>) -> String {
        let task = self.task.origin.ansible_context();
        if let Some(c) = cause {
            // Each level says where it comes from; a summary at the task's own position
            // (the module is the task's first key) is told at the task's level.
            let levels = match &c.summary {
                Some((s, at)) if *at == self.task.origin => format!("Task failed: {s}.\n{task}"),
                Some((s, at)) => format!(
                    "Task failed.\n{task}\n\n<<< caused by >>>\n\n{s}.\n{}",
                    at.ansible_context()
                ),
                None => format!("Task failed.\n{task}"),
            };
            return format!(
                "{}\n\n{levels}\n\n<<< caused by >>>\n\n{}\n{}",
                c.msg(),
                c.message,
                c.origin.ansible_context()
            );
        }
        let kind = match (from_module, controller_action(&self.task.module)) {
            (false, _) => "",
            (true, true) => "Action failed: ",
            (true, false) => "Module failed: ",
        };
        format!("Task failed: {kind}{msg}\n{task}")
    }

    /// A failure before the module ran: registered, and shown without `changed` and
    /// with its `[ERROR]` text.
    fn early_failure(&self, st: &mut HostState, msg: &str) -> Map {
        self.register_failure(st, msg);
        let mut shown = fail_map(msg);
        shown.shift_remove("changed");
        let cause = st.cause.take();
        shown.insert(
            ERROR_KEY.into(),
            Value::str(self.error_block(msg, false, cause)),
        );
        shown
    }

    pub(super) fn failed(
        &self,
        st: &mut HostState,
        msg: String,
        mut events: Vec<Event>,
    ) -> HostResult {
        if let Some(dep) = self.unpredictable_dep(st, &msg) {
            return self.cannot_predict(st, &dep, events);
        }
        let shown = self.early_failure(st, &msg);
        events.push(result_event(
            &st.name,
            Status::Failed,
            None,
            shown,
            true,
            Vec::new(),
        ));
        self.record_failure(st, &events);
        st.failed = true;
        st.stats.failed += 1;
        HostResult { events, ok: false }
    }

    /// `ansible_failed_task` and `ansible_failed_result`, which a `rescue:` reads.
    pub(super) fn record_failure(&self, st: &mut HostState, events: &[Event]) {
        let result = events.iter().rev().find_map(|e| match e {
            Event::Result {
                status: Status::Failed,
                result,
                ..
            } => Some(result.clone()),
            _ => None,
        });
        let mut task = Map::default();
        task.insert("name".into(), Value::str(self.task.display_name()));
        task.insert("action".into(), Value::str(self.task.module.clone()));
        task.insert("args".into(), Value::Map(self.task.args.clone()));
        st.facts.insert(
            "ansible_failed_task".into(),
            crate::template::to_mj(&Value::Map(task)),
        );
        st.facts.insert(
            "ansible_failed_result".into(),
            crate::template::to_mj(&Value::Map(result.unwrap_or_default())),
        );
    }

    /// In check mode, the registered var an error is about, if check mode skipped it.
    pub(super) fn unpredictable_dep(&self, st: &HostState, msg: &str) -> Option<String> {
        if !self.opts.check {
            return None;
        }
        let start = msg.find('\'')? + 1;
        let name: String = msg[start..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        st.unpredictable.contains(&name).then_some(name)
    }

    pub(super) fn cannot_predict(
        &self,
        st: &mut HostState,
        dep: &str,
        mut events: Vec<Event>,
    ) -> HostResult {
        let mut m = Map::default();
        m.insert("changed".into(), Value::Bool(false));
        m.insert("skipped".into(), Value::Bool(true));
        m.insert("msg".into(), Value::str(format!("cannot predict in check mode: this task uses '{dep}', the result of a task check mode did not run")));
        if let Some(r) = &self.task.register {
            st.unpredictable.insert(r.clone());
            st.facts.insert(r.clone(), to_mj(&Value::Map(m.clone())));
        }
        if self.task.module == "set_fact" {
            st.unpredictable.extend(self.task.args.keys().cloned());
        }
        events.push(result_event(
            &st.name,
            Status::Skipped,
            None,
            m,
            self.opts.check,
            Vec::new(),
        ));
        st.stats.skipped += 1;
        HostResult { events, ok: true }
    }

    pub(super) fn skipped(
        &self,
        st: &mut HostState,
        cond: &str,
        mut events: Vec<Event>,
    ) -> HostResult {
        let m = skip_result(cond);
        if let Some(r) = &self.task.register {
            st.facts.insert(r.clone(), to_mj(&Value::Map(m.clone())));
        }
        events.push(result_event(
            &st.name,
            Status::Skipped,
            None,
            m,
            false,
            Vec::new(),
        ));
        st.stats.skipped += 1;
        HostResult { events, ok: true }
    }
}

pub(super) fn skip_result(cond: &str) -> Map {
    let mut m = Map::default();
    m.insert("changed".into(), Value::Bool(false));
    // `when: false` is YAML's bool, and Ansible gives it back as one (conditions are
    // kept as text here, so the text of a bool stands for it).
    let cond = match cond {
        "False" | "false" => Value::Bool(false),
        other => Value::str(other),
    };
    m.insert("false_condition".into(), cond);
    m.insert(
        "skip_reason".into(),
        Value::str("Conditional result was False"),
    );
    m.insert("skipped".into(), Value::Bool(true));
    m
}

pub(super) fn fail_map(msg: &str) -> Map {
    let mut m = Map::default();
    m.insert("changed".into(), Value::Bool(false));
    m.insert("failed".into(), Value::Bool(true));
    m.insert("msg".into(), Value::str(msg));
    m.insert("exception".into(), Value::str(NO_TRACEBACK));
    m
}
