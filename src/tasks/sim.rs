//! What check mode predicts for later tasks.

use super::Stat;
use super::attrs;
use std::collections::{HashMap, HashSet};

/// Predicted state in check mode, so later tasks see what earlier ones would do
/// (a user that would be created, a directory that would exist) instead of failing.
#[derive(Debug, Default, Clone)]
pub(crate) struct Sim {
    pub users: HashSet<String>,
    pub groups: HashSet<String>,
    pub dirs: HashSet<String>,
    pub files: HashMap<String, Vec<u8>>,
    /// Predicted (mode, owner, group) of simulated paths.
    pub attrs: HashMap<String, (u32, String, String)>,
    /// The commit a git work tree would be checked out at (`git`, for `release`).
    pub checkouts: HashMap<String, String>,
    /// Predicted (running, enabled) of services an earlier task would change.
    pub services: HashMap<String, (Option<bool>, Option<bool>)>,
}

impl Sim {
    /// Records that a path would be written with these attributes.
    pub(crate) fn wrote(
        &mut self,
        path: &str,
        content: Vec<u8>,
        attrs: &attrs::Attrs,
        old: Option<&Stat>,
    ) {
        let mode = attrs
            .mode
            .as_ref()
            .and_then(|m| m.resolve(old.map_or(0o644, |s| s.mode), false).ok())
            .or(old.filter(|s| s.exists).map(|s| s.mode))
            .unwrap_or(0o644);
        let owner = attrs
            .owner
            .clone()
            .or(old.filter(|s| s.exists).map(|s| s.owner.clone()))
            .unwrap_or_else(|| "root".into());
        let group = attrs
            .group
            .clone()
            .or(old.filter(|s| s.exists).map(|s| s.group.clone()))
            .unwrap_or_else(|| "root".into());
        self.files.insert(path.to_string(), content);
        self.attrs.insert(path.to_string(), (mode, owner, group));
    }

    pub(crate) fn removed(&mut self, path: &str) {
        self.files.remove(path);
        self.dirs.remove(path);
        self.attrs.remove(path);
    }
}
