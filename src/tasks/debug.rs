//! Controller-side tasks: `debug`, `set_fact`, `assert`, `fail`, `pause`, and the specs
//! of `meta` and `include_tasks` (which the runner itself carries out).

use super::{Cx, Outcome, Spec, TaskError, Trait, args, fail};
use crate::template::{engine, from_mj};
use crate::value::{Map, Value};

pub(super) const DEBUG_SPEC: Spec = Spec {
    name: "debug",
    file_common: false,
    traits: &[Trait::Controller, Trait::Local],
    args: &["msg", "var", "verbosity"],
    required: &[],
};
pub(super) const SET_FACT_SPEC: Spec = Spec {
    name: "set_fact",
    file_common: false,
    traits: &[Trait::Controller, Trait::Local, Trait::SetsFacts],
    args: &[],
    required: &[],
};
pub(super) const ASSERT_SPEC: Spec = Spec {
    name: "assert",
    file_common: false,
    traits: &[Trait::Controller, Trait::Local],
    args: &["that", "msg", "fail_msg", "success_msg", "quiet"],
    required: &["that"],
};
pub(super) const FAIL_SPEC: Spec = Spec {
    name: "fail",
    file_common: false,
    traits: &[Trait::Controller, Trait::Local],
    args: &["msg", "_raw_params"],
    required: &[],
};
pub(super) const META_SPEC: Spec = Spec {
    name: "meta",
    file_common: false,
    traits: &[Trait::Controller],
    args: &["_raw_params"],
    required: &["_raw_params"],
};
pub(super) const INCLUDE_SPEC: Spec = Spec {
    name: "include_tasks",
    file_common: false,
    traits: &[Trait::ActionPlugin],
    args: &["_raw_params", "file", "apply"],
    required: &["_raw_params|file"],
};
pub(super) const PAUSE_SPEC: Spec = Spec {
    name: "pause",
    file_common: false,
    traits: &[Trait::Controller, Trait::Local],
    args: &["seconds", "minutes", "prompt", "echo"],
    required: &[],
};

/// Arguments the runner must not template beforehand: they are expressions.
pub(crate) const RAW_ARGS: &[(&str, &str)] = &[("debug", "var"), ("assert", "that")];

/// debug's argument spec for `var`: a string, never converted from another type.
fn var_not_a_string(v: &Value) -> TaskError {
    fail(format!(
        "argument 'var' is of type {} and we were unable to convert to _check_type_str_no_conversion: '{}' is not a string and conversion is not allowed",
        v.type_name(),
        v.py_repr()
    ))
}

pub(super) fn run_debug(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let mut out = Outcome::default();
    // `var` is an expression: one the project marked `!unsafe` is refused (2.19's trust).
    match a.get("var") {
        Some(Value::Unsafe(_)) => return Err(fail(crate::trust::UNTRUSTED)),
        // Its argument spec: a string, not converted from anything else.
        Some(
            v @ (Value::List(_) | Value::Map(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_)),
        ) => {
            return Err(var_not_a_string(v));
        }
        _ => {}
    }
    // `verbosity`: shown only from that many -v up (what `ansible_verbosity` says).
    let wanted = match a.get("verbosity") {
        None | Some(Value::Null) => 0,
        Some(Value::Int(i)) => *i,
        Some(v) => v.py_str().trim().parse::<i64>().map_err(|_| {
            fail(format!(
                "argument 'verbosity' is of type {} and we were unable to convert to int: invalid literal for int() with base 10: {}",
                v.type_name(),
                Value::str(v.py_str()).py_repr()
            ))
        })?,
    };
    let level = cx
        .scope
        .resolve("ansible_verbosity")
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    if wanted > level {
        out.skipped = true;
        out.result.insert(
            "skipped_reason".into(),
            Value::str("Verbosity threshold not met."),
        );
        return Ok(out);
    }
    if a.contains_key("msg") && a.contains_key("var") {
        return Err(fail("parameters are mutually exclusive: msg|var"));
    }
    // A `var` written as a whole template is rendered first, as the task's arguments
    // are: what it gives is the expression (2.19's indirection), a variable's own trusted
    // text only; `omit` drops the argument.
    let var = match args::str_opt(a, &["var"]) {
        Some(raw) => match crate::template::single_expression(raw.trim()) {
            Some(inner) => {
                let v = engine()
                    .eval(inner, &cx.scope, None)
                    .map_err(|e| fail(e.message))?;
                match v.as_str() {
                    Some(crate::context::OMIT) => None,
                    Some(text)
                        if crate::template::is_var_path(inner)
                            && crate::trust::is_trusted(text) =>
                    {
                        Some(text.to_string())
                    }
                    Some(_) => return Err(fail(crate::trust::UNTRUSTED)),
                    None => {
                        let v = from_mj(&v).map_err(|e| fail(e.to_string()))?;
                        return Err(var_not_a_string(&v));
                    }
                }
            }
            None => Some(raw),
        },
        None => None,
    };
    if let Some(var) = var {
        let evaluated = engine().eval(&var, &cx.scope, None);
        let value = match evaluated {
            // A value that is `omit` cannot be left out of a result: Ansible's placeholder.
            Ok(v) if v.as_str() == Some(crate::context::OMIT) => {
                out.result.insert(
                    "warnings".into(),
                    Value::List(vec![Value::str(
                        "The result of the `var` expression could not be omitted; a placeholder was used instead.",
                    )]),
                );
                Value::str("<<Omit>>")
            }
            Ok(v) => from_mj(&v)
                .map_err(|e| fail(format!("Error while resolving `var` expression.\n{e}")))?,
            // Ansible 2.19 shows an undefined value as a numbered placeholder and warns
            // where the expression is written (its ReplacingMarkerBehavior).
            Err(e) if e.is_undefined() => {
                out.result.insert(
                    "warnings".into(),
                    Value::List(vec![Value::str(format!(
                        "Encountered 1 template error.\nerror 1 - {}\n{}\n",
                        e.message,
                        cx.task.arg_origin("var").ansible_context()
                    ))]),
                );
                Value::str(format!("<< error 1 - {} >>", e.message))
            }
            Err(e) => {
                return Err(fail(format!(
                    "Error while resolving `var` expression.\n{}",
                    e.message
                )));
            }
        };
        out.result.insert(var, value);
    } else {
        let msg = a
            .get("msg")
            .cloned()
            .unwrap_or_else(|| Value::str("Hello world!"));
        out.result.insert("msg".into(), msg);
    }
    Ok(out)
}

pub(super) fn run_set_fact(a: &Map, cx: &Cx<'_>) -> Result<Outcome, TaskError> {
    let mut out = Outcome {
        facts_cacheable: super::args::bool_opt(a, &["cacheable"])?.unwrap_or(false),
        ..Outcome::default()
    };
    for (k, v) in a {
        if k == "cacheable" {
            continue;
        }
        // Names are templated too, as Ansible's set_fact does (`"{{ prefix }}_x": 1`),
        // and may give a value that is no name.
        let name = if crate::template::is_possibly_template(k) {
            engine()
                .render_native(k, &cx.scope, None)
                .map_err(|e| fail(e.message))
                .and_then(|v| crate::template::from_mj(&v).map_err(|e| fail(e.to_string())))?
        } else {
            Value::Str(k.clone())
        };
        let k = &crate::vars::validate_name(&name).map_err(fail)?;
        out.facts.insert(k.clone(), v.clone());
    }
    out.result
        .insert("ansible_facts".into(), Value::Map(out.facts.clone()));
    Ok(out)
}

/// Ansible 2.19's deprecation of a condition written as a template.
const TEMPLATED_CONDITION: &str =
    "Conditionals should not be surrounded by templating delimiters such as {{ }} or {% %}.";

pub(super) fn run_assert(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    // Each condition as written: `assertion` gives it back with its type (`false`).
    let that: Vec<Value> = match a.get("that") {
        Some(Value::List(l)) => l.clone(),
        // One template that gives a list: its items are the conditions (Ansible's
        // assert resolves `that` to its container only).
        Some(Value::Str(s)) if crate::template::is_single_expression(s) => {
            match engine()
                .render_native(s, &cx.scope, None)
                .ok()
                .and_then(|v| crate::template::from_mj(&v).ok())
            {
                Some(Value::List(l)) => l,
                _ => vec![Value::Str(s.clone())],
            }
        }
        Some(v) => vec![v.clone()],
        None => return Err(fail("missing required arguments: that")),
    };
    let mut out = Outcome::default();
    let mut deprecated = false;
    for written in &that {
        // As Ansible 2.19's evaluate_conditional: a bool is its own verdict; anything
        // else that is not a string is a broken conditional.
        let ok = match written {
            Value::Bool(b) => *b,
            Value::Null => return Err(fail("Empty conditional expressions are not allowed.")),
            Value::Str(s) | Value::Unsafe(s) if s.trim().is_empty() => {
                return Err(fail("Empty conditional expressions are not allowed."));
            }
            // Only an expression the project wrote is evaluated (2.19's trust): one a
            // template made (from a loop item, a module's output) is refused.
            Value::Str(s) if !crate::trust::is_trusted(s) => {
                return Err(fail(crate::trust::UNTRUSTED));
            }
            Value::Unsafe(_) => return Err(fail(crate::trust::UNTRUSTED)),
            Value::Str(_) | Value::Vault(_) => {
                let (verdict, templated) = engine()
                    .judge_condition(&written.py_str(), &cx.scope, None)
                    .map_err(|e| fail(e.message))?;
                if templated && !deprecated {
                    deprecated = true;
                    out.result.insert(
                        "deprecations".into(),
                        crate::tasks::deprecation(TEMPLATED_CONDITION, "2.23"),
                    );
                }
                verdict
            }
            _ => return Err(fail("Conditional expressions must be strings.")),
        };
        if !ok {
            out.failed = true;
            out.msg = Some(
                args::str_opt(a, &["fail_msg", "msg"]).unwrap_or_else(|| "Assertion failed".into()),
            );
            out.result.insert("assertion".into(), written.clone());
            out.result.insert("evaluated_to".into(), Value::Bool(false));
            return Ok(out);
        }
    }
    out.msg =
        Some(args::str_opt(a, &["success_msg"]).unwrap_or_else(|| "All assertions passed".into()));
    Ok(out)
}

pub(super) fn run_fail(a: &Map) -> Result<Outcome, TaskError> {
    Ok(Outcome {
        failed: true,
        msg: Some(
            args::str_opt(a, &["msg", "_raw_params"])
                .unwrap_or_else(|| "Failed as requested from task".into()),
        ),
        ..Default::default()
    })
}

pub(super) async fn run_pause(a: &Map) -> Result<Outcome, TaskError> {
    let secs = match (a.get("seconds"), a.get("minutes")) {
        (Some(s), _) => s
            .py_str()
            .parse::<f64>()
            .map_err(|_| fail("seconds must be a number"))?,
        (None, Some(m)) => {
            m.py_str()
                .parse::<f64>()
                .map_err(|_| fail("minutes must be a number"))?
                * 60.0
        }
        (None, None) => {
            return Err(fail(
                "pause without seconds or minutes would wait for input, which tprov does not do",
            ));
        }
    };
    tokio::time::sleep(std::time::Duration::from_secs_f64(secs.max(0.0))).await;
    Ok(Outcome::default())
}
