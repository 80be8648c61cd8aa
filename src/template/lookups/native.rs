//! What `lookup('template')` returns, as Ansible 2.19's native concat decides it: a
//! template that outputs nothing is `None`, one that outputs a single node is that
//! node's value (`{{ [1, 2] }}` is a list), and anything else is the text (a file of
//! JSON text stays a string: nothing is parsed back, unlike Jinja's NativeEnvironment).

/// The shape of a template's output, read from its source.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Shape {
    /// No output node at all (only comments, tags, or nothing): `None`.
    Nothing,
    /// Exactly one `{{ EXPR }}` at the top level and nothing else: its value.
    Expression(String),
    /// One `{{ }}` calling a macro or using a `{% set %}` of the file: the value is the
    /// rendered text read back as a literal when it is a container.
    Computed,
    /// Text, or more than one output node.
    Text,
}

/// Reads `source` (Jinja text with these delimiters) without rendering it.
pub(super) fn shape(source: &str, o: &super::super::FileOptions) -> Shape {
    let src = source.strip_suffix('\n').unwrap_or(source);
    let mut rest = src;
    let mut outside = String::new();
    let mut exprs: Vec<&str> = Vec::new();
    let mut computed = false;
    let mut depth = 0usize; // inside a macro, call or set block: its body is not output
    while !rest.is_empty() {
        let next = [
            (rest.find(&o.variable_start), 'v'),
            (rest.find(&o.block_start), 'b'),
            (rest.find(&o.comment_start), 'c'),
        ]
        .into_iter()
        .filter_map(|(at, k)| at.map(|a| (a, k)))
        .min_by_key(|(a, _)| *a);
        let Some((at, kind)) = next else {
            if depth == 0 {
                outside.push_str(rest);
            }
            break;
        };
        if depth == 0 {
            outside.push_str(&rest[..at]);
        }
        let (open, close) = match kind {
            'v' => (&o.variable_start, &o.variable_end),
            'b' => (&o.block_start, &o.block_end),
            _ => (&o.comment_start, &o.comment_end),
        };
        let body_start = at + open.len();
        let Some(len) = rest[body_start..].find(close.as_str()) else {
            return Shape::Text;
        };
        let body = rest[body_start..body_start + len].trim_matches(|c: char| c == '-' || c == '+');
        rest = &rest[body_start + len + close.len()..];
        match kind {
            'v' if depth == 0 => exprs.push(body.trim()),
            'v' => {}
            'b' => {
                let word = body.split_whitespace().next().unwrap_or_default();
                match word {
                    "macro" | "call" => {
                        depth += 1;
                        computed = true;
                    }
                    // `{% set x = 1 %}` has no body; `{% set x %}...{% endset %}` has.
                    "set" if !body.contains('=') => {
                        depth += 1;
                        computed = true;
                    }
                    "set" | "import" | "from" => computed = true,
                    "endmacro" | "endcall" | "endset" => depth = depth.saturating_sub(1),
                    // A loop can output its body many times; an include or a block
                    // brings in text of its own.
                    "for" | "include" | "extends" | "block" | "raw" => return Shape::Text,
                    _ => {}
                }
                if o.trim_blocks {
                    rest = rest.strip_prefix('\n').unwrap_or(rest);
                }
            }
            _ => {
                if o.trim_blocks {
                    rest = rest.strip_prefix('\n').unwrap_or(rest);
                }
            }
        }
    }
    match (exprs.as_slice(), outside.is_empty(), computed) {
        ([_], true, true) => Shape::Computed,
        ([one], true, false) => Shape::Expression((*one).to_string()),
        ([], true, _) => Shape::Nothing,
        _ => Shape::Text,
    }
}

#[cfg(test)]
mod tests {
    use super::{Shape, shape};

    fn of(src: &str) -> Shape {
        let o = crate::template::FileOptions {
            trim_blocks: true,
            ..Default::default()
        };
        shape(src, &o)
    }

    #[test]
    fn one_expression_is_its_value_and_text_stays_text() {
        assert_eq!(of("{{ [1, 2] }}\n"), Shape::Expression("[1, 2]".into()));
        assert_eq!(
            of("{# c #}\n{% if x %}{{ x }}{% endif %}"),
            Shape::Expression("x".into())
        );
        assert_eq!(of("{\"foo\": \"{{ 'bar' }}\"}\n"), Shape::Text);
        assert_eq!(of("{\n    \"key\": \"bar\"\n}\n"), Shape::Text);
        assert_eq!(of(" {{ x }}"), Shape::Text);
        assert_eq!(of("{{ a }}{{ b }}"), Shape::Text);
        assert_eq!(of("{# nothing #}\n"), Shape::Nothing);
        assert_eq!(of("{% for i in x %}{{ i }}{% endfor %}"), Shape::Text);
        assert_eq!(
            of("{% macro m() %}{{ {\"foo\":\"bar\"} }}{% endmacro %}\n{{ m() }}\n"),
            Shape::Computed
        );
    }
}
