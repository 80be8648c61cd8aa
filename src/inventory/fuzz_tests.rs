//! Property tests: the parsers never panic, whatever the input.

use proptest::prelude::*;
use std::path::Path;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn ini_never_panics(text in "(\\[[a-z:\\]]{0,8}\\]\\n|[a-z0-9\\[\\]:=#;'\" \\t.-]{0,30}\\n){0,12}") {
        let mut inv = super::Inventory::new();
        let _ = super::ini::parse(&mut inv, &text, Path::new("fuzz"));
    }

    #[test]
    fn literal_eval_never_panics(text in "[\\[\\](){}'\"0-9a-zA-Z_.,:+\\-#\\\\ ]{0,40}") {
        let _ = crate::python::literal::parse_value(&text);
    }

    #[test]
    fn ranges_never_panic(text in "[a-z]{0,3}\\[[0-9a-zA-Z:-]{0,8}\\][a-z\\[\\]0-9:]{0,6}") {
        let _ = super::range::expand(&text);
    }

    #[test]
    fn patterns_never_panic(text in "[a-z0-9*?!&~:,\\[\\]^$.()-]{0,20}") {
        let mut inv = super::Inventory::new();
        let _ = super::ini::parse(&mut inv, "[web]\nweb1\nweb2\n[db]\ndb1\n", Path::new("fuzz"));
        let _ = inv.reconcile();
        let _ = super::pattern::select(&inv, &text, None);
    }

    #[test]
    fn yaml_never_panics(text in "([a-z]{0,4}: |- |[&*][a-z]|<<: |\\[|\\]|\\{|\\}|'|\"|\\n  |\\n|[0-9:._]{0,4}|!!?[a-z]{0,4} ){0,25}") {
        let _ = crate::yaml::parse(&text, &std::sync::Arc::from(Path::new("fuzz.yml")));
    }
}
