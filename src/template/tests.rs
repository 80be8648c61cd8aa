use super::*;
use crate::vars::{Var, Vars};

fn scope(pairs: &[(&str, Value)]) -> Arc<Scope> {
    let vars: Vars = pairs
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                Var {
                    value: v.clone(),
                    origin: None,
                },
            )
        })
        .collect();
    Scope::new(engine(), vec![Frame::Raw(Arc::new(vars))], None)
}

fn native(src: &str, s: &Arc<Scope>) -> Value {
    from_mj(&engine().render_native(src, s, None).unwrap()).unwrap()
}

#[test]
fn single_expression_keeps_type() {
    let s = scope(&[
        ("port", Value::Int(8080)),
        ("ref", Value::str("{{ port }}")),
    ]);
    assert_eq!(native("{{ port }}", &s), Value::Int(8080));
    assert_eq!(native("{{ ref }}", &s), Value::Int(8080));
    assert_eq!(native("{{ port }}x", &s), Value::str("8080x"));
    assert_eq!(
        native("{{ [1,2] }}", &s),
        Value::List(vec![Value::Int(1), Value::Int(2)])
    );
    assert_eq!(native("{{ '8080' }}", &s), Value::str("8080"));
}

#[test]
fn python_printing() {
    let s = scope(&[]);
    let out = engine()
        .render_str(
            "a={{ none }}|b={{ true }}|c={{ [1,'a',none] }}|d={{ {'k': 'v'} }}|e={{ 1.0 }}",
            &s,
            None,
        )
        .unwrap();
    assert_eq!(out, "a=|b=True|c=[1, 'a', None]|d={'k': 'v'}|e=1.0");
    assert_eq!(
        engine()
            .render_str(
                "{{ 'no' | bool }} {{ 'yes' | bool }} {{ 1 | bool }}",
                &s,
                None
            )
            .unwrap(),
        "False True True"
    );
}

#[test]
fn lazy_and_ordered() {
    // `app_dir` is defined before `app_name`: resolution happens on use.
    let s = scope(&[
        ("app_dir", Value::str("/srv/{{ app_name }}")),
        ("app_name", Value::str("shop")),
    ]);
    assert_eq!(native("{{ app_dir }}", &s), Value::str("/srv/shop"));
}

#[test]
fn undefined_names_the_variable() {
    let s = scope(&[("a", Value::str("{{ missing_thing }}"))]);
    let e = engine().render_native("{{ a }}", &s, None).unwrap_err();
    assert!(
        e.message.contains("'missing_thing' is undefined"),
        "{}",
        e.message
    );
    let e = engine()
        .render_native("x {{ other.attr }}", &s, None)
        .unwrap_err();
    assert!(e.message.contains("'other' is undefined"), "{}", e.message);
}

#[test]
fn reference_loop_is_named() {
    let s = scope(&[("a", Value::str("{{ b }}")), ("b", Value::str("{{ a }}"))]);
    let e = engine().render_native("{{ a }}", &s, None).unwrap_err();
    assert!(e.message.contains("a -> b -> a"), "{}", e.message);
}

#[test]
fn filters() {
    let s = scope(&[(
        "d",
        Value::Map(
            [
                ("b".to_string(), Value::Int(1)),
                ("a".to_string(), Value::str("é")),
            ]
            .into_iter()
            .collect(),
        ),
    )]);
    assert_eq!(
        engine().render_str("{{ d | to_json }}", &s, None).unwrap(),
        "{\"b\": 1, \"a\": \"\\u00e9\"}"
    );
    assert_eq!(
        engine()
            .render_str("{{ d | to_nice_json }}", &s, None)
            .unwrap(),
        "{\n    \"a\": \"\\u00e9\",\n    \"b\": 1\n}"
    );
    assert_eq!(
        engine()
            .render_str("{{ 'abc' | regex_replace('(b)', '[\\1]') }}", &s, None)
            .unwrap(),
        "a[b]c"
    );
    // As Ansible 2.19 reads YAML-sourced templates: string constants in `{{ }}` keep
    // their backslashes; `{% %}` statements unescape them (ansible-playbook agrees).
    assert_eq!(
        engine()
            .render_str("{{ 'abc' | regex_replace('(b)', '[\\\\1]') }}", &s, None)
            .unwrap(),
        "a[\\1]c"
    );
    assert_eq!(
        engine()
            .render_str(r#"x\n{{ "a\tb" }}{% set q = "c\td" %}{{ q }}"#, &s, None)
            .unwrap(),
        "x\\na\\tbc\td"
    );
    assert_eq!(
        engine()
            .render_str(
                "{{ d | dict2items | items2dict | combine({'c': 3}) }}",
                &s,
                None
            )
            .unwrap(),
        "{'b': 1, 'a': 'é', 'c': 3}"
    );
    assert_eq!(
        engine()
            .render_str(
                "{{ (true) | ternary('y', 'n') }} {{ 'a b' | quote }}",
                &s,
                None
            )
            .unwrap(),
        "y 'a b'"
    );
    assert_eq!(
        engine()
            .render_str("{{ '20.17.0' is version('16.14.2', '>') }}", &s, None)
            .unwrap(),
        "True"
    );
}

#[test]
fn conditionals_must_be_bool() {
    let s = scope(&[("x", Value::Int(1)), ("l", Value::List(vec![]))]);
    assert!(engine().eval_condition("x == 1", &s, None).unwrap());
    assert!(engine().eval_condition("l", &s, None).is_err());
}

#[test]
fn a_condition_through_a_template_is_evaluated_only_when_a_trusted_var_gives_it() {
    assert!(super::is_var_path("item"));
    assert!(super::is_var_path("a.b[0]['c']"));
    assert!(!super::is_var_path("'1 == 1'"));
    assert!(!super::is_var_path("a ~ b"));
    assert!(!super::is_var_path("a.b()"));
    crate::trust::trust("x_cond == 1");
    let s = scope(&[
        ("x_cond", Value::str("x_cond == 1")),
        ("out", Value::str("lookup('pipe', 'id') == 'x'")),
    ]);
    let e = engine();
    // The var is its own value, the text was read from a file: evaluated (and false).
    assert_eq!(e.eval_condition("{{ x_cond }}", &s, None).ok(), Some(false));
    // Text a module printed, or a template made, is refused.
    for cond in ["{{ out }}", "{{ 'x_cond == 1' }}"] {
        let err = e.eval_condition(cond, &s, None).expect_err("refused");
        assert_eq!(err.message, crate::trust::UNTRUSTED, "{cond}");
    }
    // A templated constant of a condition is rendered.
    assert_eq!(
        e.eval_condition("'ab' == 'a{{ \"b\" }}'", &s, None).ok(),
        Some(true)
    );
}
