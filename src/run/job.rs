//! `async:` and `poll:` on a task, as Ansible's TaskExecutor runs them: with `poll` > 0
//! the module runs under the `async` time limit and its result gains the job's keys;
//! with `poll: 0` the task starts a job and goes on (`async_status` looks at it later).

use super::event::{AsyncState, Event};
use crate::tasks::async_status::{async_dir, new_jid, record_done, started};
use crate::tasks::{self, Cx, Outcome, TaskError};
use crate::template::{Scope, engine};
use crate::value::Value;
use std::sync::Arc;
use std::time::Duration;

/// A task's `async` seconds and `poll` interval.
pub(super) struct Job {
    secs: u64,
    poll: u64,
}

/// Ansible's DEFAULT_POLL_INTERVAL.
const DEFAULT_POLL: u64 = 15;

/// Action plugins that do not support async in Ansible (`_supports_async` unset).
const NO_ASYNC: &[&str] = &[
    "copy",
    "template",
    "debug",
    "set_fact",
    "assert",
    "fail",
    "include_vars",
    "add_host",
    "group_by",
    "pause",
    "raw",
    "script",
    "async_status",
];

fn seconds(v: &Value, scope: &Arc<Scope>, key: &str) -> Result<u64, TaskError> {
    let v = engine()
        .template_to_value(v, scope, None)
        .map_err(|e| TaskError::Failed(e.to_string()))?;
    match &v {
        Value::Int(n) => Ok(u64::try_from(*n).unwrap_or(0)),
        Value::Float(f) if *f >= 0.0 => Ok(f.trunc() as u64),
        other => other.py_str().trim().parse::<u64>().map_err(|_| {
            TaskError::Failed(format!(
                "the field '{key}' has an invalid value ({}), and could not be converted to int.",
                other.py_str()
            ))
        }),
    }
}

impl Job {
    /// The task's job settings; None unless `async` is above 0.
    pub(super) fn of(
        task: &crate::playbook::Task,
        scope: &Arc<Scope>,
    ) -> Result<Option<Job>, TaskError> {
        let Some(raw) = &task.async_ else {
            return Ok(None);
        };
        let secs = seconds(raw, scope, "async")?;
        if secs == 0 {
            return Ok(None);
        }
        let poll = match &task.poll {
            Some(p) => seconds(p, scope, "poll")?,
            None => DEFAULT_POLL,
        };
        if NO_ASYNC.contains(&task.module.as_str()) {
            return Err(TaskError::Failed(format!(
                "This action ({}) does not support async.",
                task.module
            )));
        }
        Ok(Some(Job { secs, poll }))
    }

    /// Runs `module` as this job.
    pub(super) async fn run(
        &self,
        module: &str,
        args: &crate::value::Map,
        cx: &mut Cx<'_>,
        events: &mut Vec<Event>,
    ) -> Result<Outcome, TaskError> {
        let jid = new_jid();
        let limit = Duration::from_secs(self.secs);
        if self.poll == 0 && matches!(module, "command" | "shell") && cx.writer.is_some() {
            cx.background = Some(jid);
            return tasks::run(module, args, cx).await;
        }
        let file = format!("{}/{jid}", async_dir(cx).await?);
        let ran = tokio::time::timeout(limit, tasks::run(module, args, cx)).await;
        if self.poll == 0 {
            let result = match ran {
                Ok(Ok(o)) => o.to_result(),
                Ok(Err(TaskError::Failed(m) | TaskError::Unreachable(m))) => failed(&m).to_result(),
                Err(_) => failed(&self.timed_out()).to_result(),
            };
            record_done(&jid, result);
            return Ok(Outcome {
                changed: true,
                result: started(&jid, &file),
                ..Outcome::default()
            });
        }
        let host = cx.host.clone();
        let event = |state| Event::Async {
            host: host.clone(),
            jid: jid.clone(),
            state,
        };
        match ran {
            Ok(Ok(mut o)) => {
                events.push(event(if o.failed {
                    AsyncState::Failed
                } else {
                    AsyncState::Ok
                }));
                o.result.extend(started(&jid, &file));
                o.result.insert("finished".into(), Value::Bool(true));
                Ok(o)
            }
            Ok(Err(e)) => {
                events.push(event(AsyncState::Failed));
                Err(e)
            }
            Err(_) => {
                for _ in 0..self.secs.div_ceil(self.poll) {
                    events.push(event(AsyncState::Poll));
                }
                events.push(event(AsyncState::Failed));
                let mut o = failed(&self.timed_out());
                let mut status = started(&jid, &file);
                for k in ["stdout", "stderr"] {
                    status.insert(k.into(), Value::str(""));
                    status.insert(format!("{k}_lines"), Value::List(Vec::new()));
                }
                o.result.insert("async_result".into(), Value::Map(status));
                // The executor's failure, not the module's: "Action failed".
                o.result
                    .insert(super::host::FAILED_BY_TASK.into(), Value::Bool(true));
                Ok(o)
            }
        }
    }

    fn timed_out(&self) -> String {
        format!(
            "async task did not complete within the requested time - {}s",
            self.secs
        )
    }
}

fn failed(msg: &str) -> Outcome {
    Outcome {
        failed: true,
        msg: Some(msg.to_string()),
        ..Outcome::default()
    }
}
