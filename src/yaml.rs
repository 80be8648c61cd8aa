//! YAML as Ansible reads it: YAML 1.1 scalars (PyYAML's resolver), merge keys, `!unsafe`,
//! duplicate keys kept last (with a warning), every node with its line and column.
//!
//! Parsing is done by yaml-rust2's event parser; this module builds the tree itself so
//! that it can keep positions, resolve plain scalars the PyYAML way, and bound what
//! hostile input can cost (nesting depth, alias expansion).

mod build;
pub(crate) mod emit;
mod resolve;

use crate::source::{Diagnostic, Origin, Pos};
use crate::value::{Map, Value};
use std::path::Path;
use std::sync::Arc;

/// A parsed YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub pos: Pos,
    pub kind: NodeKind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NodeKind {
    Scalar(Value),
    Seq(Vec<Node>),
    /// Keys in order; a duplicate key keeps its first place and its last value.
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Key {
    pub name: String,
    pub pos: Pos,
}

/// A loaded file: its documents and any warnings (duplicate keys).
#[derive(Debug)]
pub(crate) struct Loaded {
    pub file: Arc<Path>,
    pub docs: Vec<Node>,
    pub warnings: Vec<Diagnostic>,
    /// Plain scalars whose meaning differs between YAML 1.1 (Ansible) and 1.2
    /// (`yes`, `0644`, `1:30`): `tprov validate` suggests quoting them.
    pub ambiguous: Vec<Diagnostic>,
}

impl Loaded {
    /// Records every string of these documents as trusted (see `crate::trust`): what a
    /// project file says may be a template or an expression.
    pub(crate) fn trust(&self) {
        fn walk(n: &Node) {
            match &n.kind {
                NodeKind::Scalar(Value::Str(s)) => crate::trust::trust(s),
                NodeKind::Scalar(Value::Unsafe(s)) => crate::trust::distrust(s),
                NodeKind::Scalar(_) => {}
                NodeKind::Seq(items) => items.iter().for_each(walk),
                NodeKind::Map(entries) => entries.iter().for_each(|(_, v)| walk(v)),
            }
        }
        self.docs.iter().for_each(walk);
    }

    /// The single document of a vars-like file, `None` for an empty file.
    pub(crate) fn single(&self) -> Result<Option<&Node>, Diagnostic> {
        match self.docs.as_slice() {
            [] => Ok(None),
            [doc] => Ok(Some(doc)),
            [_, second, ..] => Err(Diagnostic::error(
                Origin::new(&self.file, second.pos),
                "expected a single document in the stream, found another",
            )),
        }
    }

    pub(crate) fn origin(&self, pos: Pos) -> Origin {
        Origin::new(&self.file, pos)
    }
}

/// Limits that keep hostile input cheap.
pub(crate) const MAX_DEPTH: usize = 500;
/// How many nodes alias expansion may add to one file.
pub(crate) const MAX_ALIAS_NODES: usize = 1_000_000;

/// Parses `text` (the contents of `file`) into documents.
pub(crate) fn parse(text: &str, file: &Arc<Path>) -> Result<Loaded, Diagnostic> {
    build::parse(text, file)
}

/// Reads and parses a file. A file that is not UTF-8 is an error naming the file.
/// The largest YAML file read (a playbook, vars or task file): beyond it, an error
/// rather than gigabytes in memory.
pub(crate) const MAX_FILE_BYTES: u64 = 64 << 20;

pub(crate) fn load_file(path: &Path) -> Result<Loaded, Diagnostic> {
    let file: Arc<Path> = Arc::from(path);
    if let Ok(m) = std::fs::metadata(path)
        && m.len() > MAX_FILE_BYTES
    {
        return Err(Diagnostic::error(
            Origin::file(path),
            format!(
                "this file is {} MB: playbooks, task and vars files are read up to {} MB",
                m.len() >> 20,
                MAX_FILE_BYTES >> 20
            ),
        ));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| Diagnostic::error(Origin::file(path), format!("cannot read: {e}")))?;
    let bytes = if crate::vault::is_encrypted(&bytes[..bytes.len().min(64)]) {
        crate::vault::decrypt(&bytes).map_err(|e| Diagnostic::error(Origin::file(path), e.0))?
    } else {
        bytes
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        let col = valid.iter().rev().take_while(|b| **b != b'\n').count() + 1;
        Diagnostic::error(
            Origin::new(&file, Pos::new(line, col)),
            "not valid UTF-8 text (is this a binary file?)",
        )
    })?;
    let loaded = parse(&text, &file)?;
    loaded.trust();
    Ok(loaded)
}

impl Node {
    /// The node as a plain value (positions dropped).
    pub(crate) fn to_value(&self) -> Value {
        match &self.kind {
            NodeKind::Scalar(v) => v.clone(),
            NodeKind::Seq(items) => Value::List(items.iter().map(Node::to_value).collect()),
            NodeKind::Map(entries) => {
                let mut map =
                    Map::with_capacity_and_hasher(entries.len(), crate::value::Hasher::default());
                for (k, v) in entries {
                    map.insert(k.name.clone(), v.to_value());
                }
                Value::Map(map)
            }
        }
    }

    pub(crate) fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.kind {
            NodeKind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar(v) => v.as_str(),
            _ => None,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// Python's type name for error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar(v) => v.type_name(),
            NodeKind::Seq(_) => "list",
            NodeKind::Map(_) => "dict",
        }
    }
}

#[cfg(test)]
mod tests;
