use super::*;
use crate::value::Value;

fn load(text: &str) -> Loaded {
    parse(text, &Arc::from(Path::new("t.yml"))).expect("parses")
}

fn first(text: &str) -> Value {
    load(text).docs[0].to_value()
}

#[test]
fn scalars_follow_yaml_1_1() {
    let v = first("a: 0644\nb: yes\nc: '0644'\nd: \"yes\"\ne: 1:30\nf: !unsafe '{{ x }}'\n");
    let m = v.as_map().unwrap();
    assert_eq!(m["a"], Value::Int(420));
    assert_eq!(m["b"], Value::Bool(true));
    assert_eq!(m["c"], Value::str("0644"));
    assert_eq!(m["d"], Value::str("yes"));
    assert_eq!(m["e"], Value::Int(90));
    assert_eq!(m["f"], Value::Unsafe("{{ x }}".into()));
}

#[test]
fn positions_are_one_based() {
    let l = load("a: 1\nbb:\n  c: x\n");
    let root = &l.docs[0];
    let NodeKind::Map(entries) = &root.kind else {
        panic!()
    };
    assert_eq!(entries[1].0.pos, Pos { line: 2, col: 1 });
    let c = entries[1].1.get("c").unwrap();
    assert_eq!(c.pos, Pos { line: 3, col: 6 });
}

#[test]
fn duplicate_keys_warn_and_keep_last() {
    let l = load("a: 1\nb: 2\na: 3\n");
    assert_eq!(l.docs[0].to_value().as_map().unwrap()["a"], Value::Int(3));
    assert_eq!(l.warnings.len(), 1);
    assert!(
        l.warnings[0]
            .to_string()
            .starts_with("t.yml:3:1: warning: found a duplicate dict key (a)")
    );
}

#[test]
fn merge_keys() {
    let v = first("base: &b {x: 1, y: 2}\nother: &o {y: 3, z: 4}\nm:\n  <<: [*b, *o]\n  x: 9\n");
    let m = v.as_map().unwrap()["m"].clone();
    assert_eq!(m.py_repr(), "{'y': 2, 'z': 4, 'x': 9}");
}

#[test]
fn alias_bomb_is_refused() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let prev = i - 1;
        text.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
    }
    let err = parse(&text, &Arc::from(Path::new("bomb.yml"))).unwrap_err();
    assert!(err.message.contains("alias bomb"), "{err}");
}

#[test]
fn deep_nesting_is_refused() {
    let text = "[".repeat(100_000);
    let err = parse(&text, &Arc::from(Path::new("deep.yml"))).unwrap_err();
    assert!(
        err.message.contains("nesting") || err.message.contains("recursion"),
        "{err}"
    );
    let block: String = (0..2000)
        .map(|i| format!("{}k:\n", " ".repeat(i)))
        .collect();
    let err = parse(&block, &Arc::from(Path::new("deep.yml"))).unwrap_err();
    assert!(err.message.contains("nesting"), "{err}");
}

#[test]
fn syntax_error_has_position() {
    let err = parse("a: [1, 2\nb: 3\n", &Arc::from(Path::new("bad.yml"))).unwrap_err();
    assert!(err.to_string().starts_with("bad.yml:"), "{err}");
}

#[test]
fn keys_equal_in_python_are_one_key() {
    // `on`, `1` and `yes` are all True as a dict key: the first spelling, the last value.
    let loaded = load("on: a\n1: b\n'1': c\nyes: d\n~: e\nnull: f\n");
    let m = loaded.docs[0].to_value();
    let m = m.as_map().unwrap();
    assert_eq!(m.len(), 3, "{m:?}");
    assert_eq!(m["true"], Value::str("d"));
    assert_eq!(m["1"], Value::str("c"));
    assert_eq!(m["null"], Value::str("f"));
    assert_eq!(loaded.warnings.len(), 3);
}

#[test]
fn explicit_tags_use_pyyaml_constructors() {
    let v = first(
        "a: !!float '1'\nb: !!int '0644'\nc: !!bool 'Yes'\nd: !!int '99999999999999999999'\ne: 99999999999999999999\n",
    );
    let m = v.as_map().unwrap();
    assert_eq!(m["a"], Value::Float(1.0));
    assert_eq!(m["b"], Value::Int(420));
    assert_eq!(m["c"], Value::Bool(true));
    assert_eq!(m["e"], Value::BigInt(99_999_999_999_999_999_999));
}
