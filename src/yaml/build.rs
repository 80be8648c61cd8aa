//! Builds `Node` trees from yaml-rust2's events, resolving scalars and bounding cost.

use super::{Key, Loaded, MAX_ALIAS_NODES, MAX_DEPTH, Node, NodeKind, resolve::resolve_plain};
use crate::source::{Diagnostic, Origin, Pos};
use crate::value::{Value, float_repr};
use indexmap::IndexMap;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: IndexMap<String, (Key, Node)>,
        /// The pending key, whether it is `<<`, and its identity as a Python dict key.
        key: Option<(Key, bool, String)>,
        merges: Vec<Node>,
    },
}

struct Builder<'a> {
    file: &'a Arc<Path>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    alias_budget: usize,
    docs: Vec<Node>,
    warnings: Vec<Diagnostic>,
    ambiguous: Vec<Diagnostic>,
}

fn pos_of(mark: &Marker) -> Pos {
    Pos::new(mark.line(), mark.col() + 1)
}

pub(super) fn parse(text: &str, file: &Arc<Path>) -> Result<Loaded, Diagnostic> {
    let mut parser = Parser::new_from_str(text).keep_tags(true);
    let mut b = Builder {
        file,
        stack: Vec::new(),
        anchors: HashMap::default(),
        alias_budget: MAX_ALIAS_NODES,
        docs: Vec::new(),
        warnings: Vec::new(),
        ambiguous: Vec::new(),
    };
    loop {
        let (event, mark) = parser.next_token().map_err(|e| {
            Diagnostic::error(
                Origin::new(file, pos_of(e.marker())),
                format!("YAML syntax error: {}", e.info()),
            )
        })?;
        let pos = pos_of(&mark);
        match event {
            Event::StreamEnd => break,
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => {}
            Event::DocumentStart => b.anchors.clear(),
            Event::Alias(id) => {
                let node = b.alias(id, pos)?;
                b.push(node)?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                let value = b.scalar(&text, style, tag.as_ref(), pos)?;
                let node = Node {
                    pos,
                    kind: NodeKind::Scalar(value),
                };
                let is_merge_key = style == TScalarStyle::Plain && text == "<<" && tag.is_none();
                if anchor != 0 {
                    b.anchors.insert(anchor, node.clone());
                }
                b.push_scalar(node, is_merge_key)?;
            }
            Event::SequenceStart(anchor, tag) => {
                b.check_collection_tag(tag.as_ref(), "seq", pos)?;
                b.open(
                    Frame::Seq {
                        pos,
                        anchor,
                        items: Vec::new(),
                    },
                    pos,
                )?;
            }
            Event::MappingStart(anchor, tag) => {
                b.check_collection_tag(tag.as_ref(), "map", pos)?;
                b.open(
                    Frame::Map {
                        pos,
                        anchor,
                        entries: IndexMap::default(),
                        key: None,
                        merges: Vec::new(),
                    },
                    pos,
                )?;
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq { pos, anchor, items }) = b.stack.pop() {
                    let node = Node {
                        pos,
                        kind: NodeKind::Seq(items),
                    };
                    b.finish(node, anchor)?;
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    pos,
                    anchor,
                    entries,
                    merges,
                    ..
                }) = b.stack.pop()
                {
                    // A block mapping starts at its first key (as PyYAML marks it), not
                    // at the first `:` where the parser notices it.
                    let pos = match entries.values().next().map(|(k, _)| k) {
                        Some(k) if (k.pos.line, k.pos.col) < (pos.line, pos.col) => k.pos,
                        _ => pos,
                    };
                    let node = Node {
                        pos,
                        kind: NodeKind::Map(apply_merges(merges, entries)),
                    };
                    b.finish(node, anchor)?;
                }
            }
        }
    }
    Ok(Loaded {
        file: file.clone(),
        docs: b.docs,
        warnings: b.warnings,
        ambiguous: b.ambiguous,
    })
}

/// YAML 1.1 merge keys: later sources lose to earlier ones, explicit keys win over all,
/// and keys keep the place they were first seen in (PyYAML's `flatten_mapping`).
fn apply_merges(merges: Vec<Node>, entries: IndexMap<String, (Key, Node)>) -> Vec<(Key, Node)> {
    if merges.is_empty() {
        return entries.into_values().collect();
    }
    let mut out: IndexMap<String, (Key, Node)> = IndexMap::default();
    for source in merges.into_iter().rev() {
        if let NodeKind::Map(pairs) = source.kind {
            for (k, v) in pairs {
                out.insert(k.name.clone(), (k, v));
            }
        }
    }
    for (_, pair) in entries {
        out.insert(pair.0.name.clone(), pair);
    }
    out.into_values().collect()
}

fn key_name(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => if *b { "true" } else { "false" }.into(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => float_repr(*f),
        other => other.py_str(),
    }
}

/// Which keys are one key to a Python dict: `True`, `1` and `1.0` are; `1` and `"1"`
/// are not. The first spelling stays, the last value wins.
fn key_identity(value: &Value) -> String {
    let number = |f: f64| {
        if f.fract() == 0.0 && f.abs() < 1e18 {
            format!("n{}", f as i64)
        } else {
            format!("n{}", float_repr(f))
        }
    };
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("n{}", i64::from(*b)),
        Value::Int(i) => format!("n{i}"),
        Value::BigInt(i) => format!("n{i}"),
        Value::Float(f) => number(*f),
        other => format!("s{}", other.py_str()),
    }
}

fn is_core(tag: &Tag) -> bool {
    tag.handle == "!!" || tag.handle == "tag:yaml.org,2002:"
}

impl Builder<'_> {
    fn err(&self, pos: Pos, msg: impl Into<String>) -> Diagnostic {
        Diagnostic::error(Origin::new(self.file, pos), msg)
    }

    fn scalar(
        &mut self,
        text: &str,
        style: TScalarStyle,
        tag: Option<&Tag>,
        pos: Pos,
    ) -> Result<Value, Diagnostic> {
        if let Some(tag) = tag {
            if tag.handle == "!" && tag.suffix == "unsafe" {
                return Ok(Value::Unsafe(text.to_string()));
            }
            if tag.handle == "!" && tag.suffix == "vault" {
                let vaulted = crate::value::Vaulted::new(text.to_string());
                return Ok(Value::Vault(Box::new(vaulted)));
            }
            if is_core(tag) {
                return match tag.suffix.as_str() {
                    "str" => Ok(Value::Str(text.to_string())),
                    "null" => Ok(Value::Null),
                    "bool" | "int" | "float" => {
                        explicit(tag.suffix.as_str(), text).ok_or_else(|| {
                            self.err(pos, format!("{text:?} is not a valid !!{}", tag.suffix))
                        })
                    }
                    other => Err(self.err(pos, format!("unsupported YAML tag !!{other}"))),
                };
            }
            if !(tag.handle == "!" && tag.suffix.is_empty()) {
                return Err(self.err(
                    pos,
                    format!(
                        "could not determine a constructor for the tag '{}{}'",
                        tag.handle, tag.suffix
                    ),
                ));
            }
            // A lone `!` forces a string.
            return Ok(Value::Str(text.to_string()));
        }
        if style == TScalarStyle::Plain {
            let v = resolve_plain(text).map_err(|e| self.err(pos, e.0))?;
            if let Some(note) = yaml11_only(text, &v) {
                self.ambiguous
                    .push(Diagnostic::warning(Origin::new(self.file, pos), note));
            }
            Ok(v)
        } else {
            Ok(Value::Str(text.to_string()))
        }
    }

    fn check_collection_tag(
        &self,
        tag: Option<&Tag>,
        kind: &str,
        pos: Pos,
    ) -> Result<(), Diagnostic> {
        match tag {
            None => Ok(()),
            Some(t) if is_core(t) && t.suffix == kind => Ok(()),
            Some(t) => Err(self.err(
                pos,
                format!(
                    "could not determine a constructor for the tag '{}{}'",
                    t.handle, t.suffix
                ),
            )),
        }
    }

    fn open(&mut self, frame: Frame, pos: Pos) -> Result<(), Diagnostic> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.err(pos, format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        // A collection used as a mapping key: PyYAML refuses it as unhashable.
        if let Some(Frame::Map { key: None, .. }) = self.stack.last() {
            return Err(self.err(pos, "found unhashable key: mapping keys must be scalars"));
        }
        self.stack.push(frame);
        Ok(())
    }

    fn alias(&mut self, id: usize, pos: Pos) -> Result<Node, Diagnostic> {
        let Some(node) = self.anchors.get(&id) else {
            return Err(self.err(pos, "found undefined alias"));
        };
        let size = count_nodes(node, self.alias_budget.saturating_add(1));
        if size > self.alias_budget {
            return Err(self.err(
                pos,
                format!("aliases expand to more than {MAX_ALIAS_NODES} nodes (an alias bomb?)"),
            ));
        }
        self.alias_budget -= size;
        let mut node = node.clone();
        node.pos = pos;
        Ok(node)
    }

    fn finish(&mut self, node: Node, anchor: usize) -> Result<(), Diagnostic> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.push(node)
    }

    fn push_scalar(&mut self, node: Node, is_merge_key: bool) -> Result<(), Diagnostic> {
        if let Some(Frame::Map {
            key: key @ None, ..
        }) = self.stack.last_mut()
        {
            let NodeKind::Scalar(v) = &node.kind else {
                unreachable!("scalar node")
            };
            *key = Some((
                Key {
                    name: key_name(v),
                    pos: node.pos,
                },
                is_merge_key,
                key_identity(v),
            ));
            return Ok(());
        }
        self.push(node)
    }

    fn push(&mut self, node: Node) -> Result<(), Diagnostic> {
        let file = self.file.clone();
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                key,
                merges,
                ..
            }) => match key.take() {
                None => {
                    // An alias or collection in key position.
                    return Err(Diagnostic::error(
                        Origin::new(&file, node.pos),
                        "found unhashable key: mapping keys must be scalars",
                    ));
                }
                Some((_, true, _)) => match node.kind {
                    NodeKind::Map(_) => merges.push(node),
                    NodeKind::Seq(items) => {
                        for item in items {
                            if !matches!(item.kind, NodeKind::Map(_)) {
                                return Err(Diagnostic::error(
                                    Origin::new(&file, item.pos),
                                    format!(
                                        "expected a mapping for merging, but found {}",
                                        item.type_name()
                                    ),
                                ));
                            }
                            merges.push(item);
                        }
                    }
                    NodeKind::Scalar(_) => {
                        return Err(Diagnostic::error(
                            Origin::new(&file, node.pos),
                            format!(
                                "expected a mapping or list of mappings for merging, but found {}",
                                node.type_name()
                            ),
                        ));
                    }
                },
                Some((k, false, id)) => {
                    if let Some((first, slot)) = entries.get_mut(&id) {
                        self.warnings.push(Diagnostic::warning(
                            Origin::new(&file, k.pos),
                            format!("found a duplicate dict key ({}), first defined at line {}; using the last value only", k.name, first.pos.line),
                        ));
                        *slot = node;
                    } else {
                        entries.insert(id, (k, node));
                    }
                }
            },
        }
        Ok(())
    }
}

/// Why a plain scalar means something else to YAML 1.2 readers (and to most people).
fn yaml11_only(text: &str, v: &Value) -> Option<String> {
    match v {
        Value::Bool(b) if !matches!(text.to_lowercase().as_str(), "true" | "false") => {
            Some(format!(
                "unquoted `{text}` is the boolean {b} for Ansible (YAML 1.1); write {b} or quote it ('{text}')"
            ))
        }
        Value::Int(i)
            if text.trim_start_matches(['-', '+']).starts_with('0')
                && text.len() > 1
                && !text.contains(['x', 'b']) =>
        {
            Some(format!(
                "unquoted `{text}` is the octal number {i} for Ansible (YAML 1.1); quote it ('{text}') if you mean the text"
            ))
        }
        Value::Int(i) if text.contains(':') => Some(format!(
            "unquoted `{text}` is the sexagesimal number {i} for Ansible (YAML 1.1); quote it"
        )),
        _ => None,
    }
}

/// Counts nodes in a tree, stopping once `limit` is passed.
fn count_nodes(node: &Node, limit: usize) -> usize {
    let mut count = 0;
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        count += 1;
        if count > limit {
            return count;
        }
        match &n.kind {
            NodeKind::Scalar(_) => {}
            NodeKind::Seq(items) => stack.extend(items),
            NodeKind::Map(entries) => stack.extend(entries.iter().map(|(_, v)| v)),
        }
    }
    count
}

/// PyYAML's constructors for an explicitly tagged `!!bool`, `!!int` or `!!float`: more
/// lenient than plain-scalar resolution (`!!float "1"` is 1.0, `!!int "0644"` is 420).
fn explicit(tag: &str, text: &str) -> Option<Value> {
    let sexagesimal = |digits: &str| -> Option<f64> {
        let mut total = 0.0;
        for part in digits.split(':') {
            total = total * 60.0 + part.parse::<f64>().ok()?;
        }
        Some(total)
    };
    match tag {
        "bool" => match text.to_lowercase().as_str() {
            "yes" | "true" | "on" => Some(Value::Bool(true)),
            "no" | "false" | "off" => Some(Value::Bool(false)),
            _ => None,
        },
        "int" => {
            let v = text.replace('_', "");
            let (neg, v) = match v.strip_prefix('-') {
                Some(rest) => (true, rest.to_string()),
                None => (false, v.strip_prefix('+').unwrap_or(&v).to_string()),
            };
            let n = if v == "0" {
                0
            } else if let Some(b) = v.strip_prefix("0b") {
                i128::from_str_radix(b, 2).ok()?
            } else if let Some(h) = v.strip_prefix("0x") {
                i128::from_str_radix(h, 16).ok()?
            } else if v.starts_with('0') {
                i128::from_str_radix(&v, 8).ok()?
            } else if v.contains(':') {
                let mut total: i128 = 0;
                for part in v.split(':') {
                    total = total
                        .checked_mul(60)?
                        .checked_add(part.parse::<i128>().ok()?)?;
                }
                total
            } else {
                v.trim().parse::<i128>().ok()?
            };
            let n = if neg { -n } else { n };
            Some(i64::try_from(n).map_or(Value::BigInt(n), Value::Int))
        }
        "float" => {
            let v = text.replace('_', "").to_lowercase();
            let (sign, v) = match v.strip_prefix('-') {
                Some(rest) => (-1.0, rest.to_string()),
                None => (1.0, v.strip_prefix('+').unwrap_or(&v).to_string()),
            };
            let f = match v.as_str() {
                ".inf" => f64::INFINITY,
                ".nan" => f64::NAN,
                _ if v.contains(':') => sexagesimal(&v)?,
                _ => {
                    let t = v.trim();
                    if t.is_empty()
                        || !t
                            .bytes()
                            .all(|c| c.is_ascii_digit() || b".e+-".contains(&c))
                    {
                        return None;
                    }
                    t.parse::<f64>().ok()?
                }
            };
            Some(Value::Float(sign * f))
        }
        _ => None,
    }
}
