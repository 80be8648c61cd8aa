//! YAML output byte for byte as Ansible's `to_yaml` / `to_nice_yaml` write it: PyYAML's
//! SafeRepresenter (keys sorted, `default_flow_style`) feeding libyaml's emitter (which
//! PyYAML's CSafeDumper, and so Ansible, uses). The emitter below follows libyaml 0.2.5's
//! `emitter.c`: scalar analysis, style choice, line folding at `width`, indentation.

use super::resolve::resolve_plain;
use crate::value::{Value, float_repr};

mod analyze;

use analyze::{analyze, is_break, is_printable};

/// The `yaml.dump` keywords Ansible's filters pass through.
#[derive(Debug, Clone)]
pub(crate) struct DumpOptions {
    pub indent: usize,
    pub width: i64,
    /// `default_flow_style`: None lets collections of scalars go inline.
    pub flow: Option<bool>,
    pub sort_keys: bool,
    pub explicit_start: bool,
    pub explicit_end: bool,
}

impl DumpOptions {
    /// `to_yaml`'s: PyYAML's `default_flow_style=None` (collections of scalars inline).
    pub(crate) fn to_yaml() -> DumpOptions {
        DumpOptions {
            indent: 2,
            width: 80,
            flow: None,
            sort_keys: true,
            explicit_start: false,
            explicit_end: false,
        }
    }

    /// `to_nice_yaml`'s: block style, indent 4.
    pub(crate) fn to_nice_yaml() -> DumpOptions {
        DumpOptions {
            indent: 4,
            flow: Some(false),
            ..DumpOptions::to_yaml()
        }
    }
}

/// `yaml.dump(v, Dumper=AnsibleDumper, allow_unicode=True, **options)`.
pub(crate) fn dump(v: &Value, opts: &DumpOptions) -> String {
    let node = represent(v, opts);
    let best_indent = if (2..=9).contains(&opts.indent) {
        opts.indent
    } else {
        2
    };
    let best_width = if opts.width < 0 {
        usize::MAX
    } else if opts.width as usize <= best_indent * 2 {
        80
    } else {
        opts.width as usize
    };
    let mut e = Emitter {
        out: String::new(),
        best_indent,
        best_width,
        indent: -1,
        indents: Vec::new(),
        column: 0,
        flow_level: 0,
        whitespace: true,
        indention: true,
        mapping_context: false,
        simple_key_context: false,
    };
    if opts.explicit_start {
        e.write_indent();
        e.write_indicator("---", true, false, false);
    }
    e.node(&node, false, false);
    e.write_indent();
    if opts.explicit_end {
        e.write_indicator("...", true, false, false);
        e.write_indent();
    }
    e.out
}

/// A represented node: what PyYAML's representer hands the emitter.
enum Node {
    Scalar {
        text: String,
        /// The text read back as a plain scalar gives the same type.
        plain_implicit: bool,
        /// The text read back quoted gives the same type (only strings).
        quoted_implicit: bool,
    },
    Seq(Vec<Node>, bool),
    Map(Vec<(Node, Node)>, bool),
}

fn scalar(text: String, plain_implicit: bool, quoted_implicit: bool) -> Node {
    Node::Scalar {
        text,
        plain_implicit,
        quoted_implicit,
    }
}

fn represent(v: &Value, opts: &DumpOptions) -> Node {
    match v {
        Value::Null => scalar("null".into(), true, false),
        Value::Bool(b) => scalar(if *b { "true" } else { "false" }.into(), true, false),
        Value::Int(i) => scalar(i.to_string(), true, false),
        Value::BigInt(i) => scalar(i.to_string(), true, false),
        Value::Float(f) => scalar(float_text(*f), true, false),
        Value::Str(s) | Value::Unsafe(s) => scalar(s.clone(), reads_as_str(s), true),
        Value::Vault(v) => {
            let s = v.plain.as_ref().unwrap_or(&v.ciphertext);
            scalar(s.clone(), reads_as_str(s), true)
        }
        Value::Time(t) => scalar(t.py_str(), true, false),
        Value::List(items) => {
            let nodes: Vec<Node> = items.iter().map(|x| represent(x, opts)).collect();
            let best = nodes.iter().all(|n| matches!(n, Node::Scalar { .. }));
            Node::Seq(nodes, opts.flow.unwrap_or(best))
        }
        Value::Map(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            if opts.sort_keys {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            let nodes: Vec<(Node, Node)> = entries
                .into_iter()
                .map(|(k, v)| (represent(&Value::Str(k.clone()), opts), represent(v, opts)))
                .collect();
            let best = nodes
                .iter()
                .all(|(k, v)| matches!(k, Node::Scalar { .. }) && matches!(v, Node::Scalar { .. }));
            Node::Map(nodes, opts.flow.unwrap_or(best))
        }
    }
}

/// PyYAML's `represent_float`: Python's repr, lower case, `1e+17` made `1.0e+17`.
fn float_text(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    let text = float_repr(f).to_lowercase();
    if !text.contains('.') && text.contains('e') {
        text.replacen('e', ".0e", 1)
    } else {
        text
    }
}

/// Whether PyYAML's resolver reads `s`, unquoted, as a string (not a bool, number,
/// null, timestamp, merge key `<<` or the `=` value key).
fn reads_as_str(s: &str) -> bool {
    if s == "<<" || s == "=" {
        return false;
    }
    matches!(resolve_plain(s), Ok(Value::Str(_)))
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
}

struct Emitter {
    out: String,
    best_indent: usize,
    best_width: usize,
    indent: i64,
    indents: Vec<i64>,
    column: usize,
    flow_level: usize,
    whitespace: bool,
    indention: bool,
    mapping_context: bool,
    simple_key_context: bool,
}

impl Emitter {
    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { self.best_indent as i64 } else { 0 };
        } else if !indentless {
            self.indent += self.best_indent as i64;
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0) as usize;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        for c in indicator.chars() {
            self.put(c);
        }
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    fn node(&mut self, node: &Node, mapping: bool, simple_key: bool) {
        self.mapping_context = mapping;
        self.simple_key_context = simple_key;
        match node {
            Node::Scalar {
                text,
                plain_implicit,
                quoted_implicit,
            } => self.scalar(text, *plain_implicit, *quoted_implicit),
            Node::Seq(items, flow) => {
                if self.flow_level > 0 || *flow || items.is_empty() {
                    self.flow_sequence(items);
                } else {
                    self.block_sequence(items);
                }
            }
            Node::Map(entries, flow) => {
                if self.flow_level > 0 || *flow || entries.is_empty() {
                    self.flow_mapping(entries);
                } else {
                    self.block_mapping(entries);
                }
            }
        }
    }

    fn flow_sequence(&mut self, items: &[Node]) {
        self.write_indicator("[", true, true, false);
        self.increase_indent(true, false);
        self.flow_level += 1;
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.write_indicator(",", false, false, false);
            }
            if self.column > self.best_width {
                self.write_indent();
            }
            self.node(item, false, false);
        }
        self.flow_level -= 1;
        self.pop_indent();
        self.write_indicator("]", false, false, false);
    }

    fn flow_mapping(&mut self, entries: &[(Node, Node)]) {
        self.write_indicator("{", true, true, false);
        self.increase_indent(true, false);
        self.flow_level += 1;
        for (i, (k, v)) in entries.iter().enumerate() {
            if i > 0 {
                self.write_indicator(",", false, false, false);
            }
            if self.column > self.best_width {
                self.write_indent();
            }
            if simple_key(k) {
                self.node(k, true, true);
                self.write_indicator(":", false, false, false);
            } else {
                self.write_indicator("?", true, false, false);
                self.node(k, true, false);
                if self.column > self.best_width {
                    self.write_indent();
                }
                self.write_indicator(":", true, false, false);
            }
            self.node(v, true, false);
        }
        self.flow_level -= 1;
        self.pop_indent();
        self.write_indicator("}", false, false, false);
    }

    fn block_sequence(&mut self, items: &[Node]) {
        let indentless = self.mapping_context && !self.indention;
        self.increase_indent(false, indentless);
        for item in items {
            self.write_indent();
            self.write_indicator("-", true, false, true);
            self.node(item, false, false);
        }
        self.pop_indent();
    }

    fn block_mapping(&mut self, entries: &[(Node, Node)]) {
        self.increase_indent(false, false);
        for (k, v) in entries {
            self.write_indent();
            if simple_key(k) {
                self.node(k, true, true);
                self.write_indicator(":", false, false, false);
            } else {
                self.write_indicator("?", true, false, true);
                self.node(k, true, false);
                self.write_indent();
                self.write_indicator(":", true, false, true);
            }
            self.node(v, true, false);
        }
        self.pop_indent();
    }

    fn scalar(&mut self, text: &str, plain_implicit: bool, quoted_implicit: bool) {
        let a = analyze(text);
        let mut style = Style::Plain;
        if self.simple_key_context && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain {
            if (self.flow_level > 0 && !a.flow_plain) || (self.flow_level == 0 && !a.block_plain) {
                style = Style::Single;
            }
            if a.empty && (self.flow_level > 0 || self.simple_key_context) {
                style = Style::Single;
            }
            if !plain_implicit {
                style = Style::Single;
            }
        }
        if style == Style::Single && !a.single_quoted {
            style = Style::Double;
        }
        if !quoted_implicit && style != Style::Plain {
            // The non-specific tag: read back as a string would change its type.
            if !self.whitespace {
                self.put(' ');
            }
            self.put('!');
            self.whitespace = false;
            self.indention = false;
        }
        self.increase_indent(true, false);
        let breaks = !self.simple_key_context;
        match style {
            Style::Plain => self.write_plain(text, breaks),
            Style::Single => self.write_single(text, breaks),
            Style::Double => self.write_double(text, breaks),
        }
        self.pop_indent();
    }

    fn write_plain(&mut self, text: &str, allow_breaks: bool) {
        if !self.whitespace && (!text.is_empty() || self.flow_level > 0) {
            self.put(' ');
        }
        self.write_text(text, allow_breaks, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_single(&mut self, text: &str, allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        self.write_text(text, allow_breaks, true);
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    /// The body of a plain or single-quoted scalar: a space past the width becomes a
    /// line break (not a quoted scalar's first or last character), line breaks are
    /// written doubled, quotes doubled in single-quoted style.
    fn write_text(&mut self, text: &str, allow_breaks: bool, single: bool) {
        let chars: Vec<char> = text.chars().collect();
        let (mut spaces, mut breaks) = (false, false);
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let inner = !single || (i != 0 && i != chars.len() - 1);
                if allow_breaks
                    && !spaces
                    && self.column > self.best_width
                    && inner
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if single && c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        if single && breaks {
            self.write_indent();
        }
    }

    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    fn write_double(&mut self, text: &str, allow_breaks: bool) {
        self.write_indicator("\"", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if !is_printable(c) || c == '\u{FEFF}' || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                let short = match c {
                    '\0' => Some('0'),
                    '\u{07}' => Some('a'),
                    '\u{08}' => Some('b'),
                    '\t' => Some('t'),
                    '\n' => Some('n'),
                    '\u{0B}' => Some('v'),
                    '\u{0C}' => Some('f'),
                    '\r' => Some('r'),
                    '\u{1B}' => Some('e'),
                    '"' => Some('"'),
                    '\\' => Some('\\'),
                    '\u{85}' => Some('N'),
                    '\u{A0}' => Some('_'),
                    '\u{2028}' => Some('L'),
                    '\u{2029}' => Some('P'),
                    _ => None,
                };
                if let Some(s) = short {
                    self.put(s);
                } else {
                    let u = c as u32;
                    let (letter, width) = if u <= 0xFF {
                        ('x', 2)
                    } else if u <= 0xFFFF {
                        ('u', 4)
                    } else {
                        ('U', 8)
                    };
                    self.put(letter);
                    for ch in format!("{u:0width$X}").chars() {
                        self.put(ch);
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > self.best_width
                    && i != 0
                    && i != chars.len() - 1
                {
                    self.write_indent();
                    if chars.get(i + 1) == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }
}

/// libyaml's `check_simple_key`: a one-line scalar of at most 128 bytes, or an empty
/// collection.
fn simple_key(node: &Node) -> bool {
    match node {
        Node::Scalar { text, .. } => !analyze(text).multiline && text.len() <= 128,
        Node::Seq(items, _) => items.is_empty(),
        Node::Map(entries, _) => entries.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Map;

    #[test]
    fn nice_yaml_like_pyyaml() {
        let mut m = Map::default();
        m.insert(
            "b".into(),
            Value::List(vec![Value::str("x"), Value::str("yes")]),
        );
        m.insert("a".into(), Value::Int(1));
        assert_eq!(
            dump(&Value::Map(m.clone()), &DumpOptions::to_nice_yaml()),
            "a: 1\nb:\n- x\n- 'yes'\n"
        );
        assert_eq!(
            dump(&Value::Map(m.clone()), &DumpOptions::to_yaml()),
            "a: 1\nb: [x, 'yes']\n"
        );
        let mut inner = Map::default();
        inner.insert("x".into(), Value::List(vec![Value::Int(1), Value::Int(2)]));
        let v = Value::List(vec![
            Value::Map(inner),
            Value::List(vec![Value::str("a"), Value::str("b")]),
            Value::str("c"),
        ]);
        assert_eq!(
            dump(&v, &DumpOptions::to_nice_yaml()),
            "-   x:\n    - 1\n    - 2\n-   - a\n    - b\n- c\n"
        );
    }

    #[test]
    fn long_strings_fold_at_80_columns() {
        let words = vec!["word"; 30].join(" ");
        let mut m = Map::default();
        m.insert("k".into(), Value::Str(words));
        assert_eq!(
            dump(&Value::Map(m), &DumpOptions::to_yaml()),
            "{k: word word word word word word word word word word word word word word word word\n    word word word word word word word word word word word word word word}\n"
        );
    }
}
