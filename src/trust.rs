//! Ansible 2.19's trust of templates: an expression (a conditional) is evaluated only
//! when its text comes from the project's own files (playbooks, roles, task and vars
//! files, inventories, `-e`), never when a module's result, a fact or a template's
//! output made it. Ansible tags the strings its loader reads; tprov records their text
//! as it reads them, so a string is trusted when the same text was read from a file.

use std::collections::HashSet;
use std::sync::{LazyLock, RwLock};

static TRUSTED: LazyLock<RwLock<HashSet<String>>> = LazyLock::new(RwLock::default);
/// Text the project marked `!unsafe`: never trusted, even where it also wrote it plainly.
static MARKED: LazyLock<RwLock<HashSet<String>>> = LazyLock::new(RwLock::default);

/// Ansible's words when an untrusted expression is asked for.
pub(crate) const UNTRUSTED: &str = "Encountered untrusted template or expression.";

/// The prefix of a condition the project marked untrusted (`when: !unsafe ...`): it is
/// refused when it is evaluated, as Ansible refuses it.
pub(crate) const MARK: char = '\u{1}';

/// Records `s` (and its trimmed form) as read from a trusted file.
pub(crate) fn trust(s: &str) {
    if let Ok(mut set) = TRUSTED.write() {
        let t = s.trim();
        if t.len() != s.len() && !set.contains(t) {
            set.insert(t.to_string());
        }
        if !set.contains(s) {
            set.insert(s.to_string());
        }
    }
}

/// Records `s` as marked `!unsafe` by the project.
pub(crate) fn distrust(s: &str) {
    if let Ok(mut set) = MARKED.write() {
        set.insert(s.trim().to_string());
    }
}

/// Whether the text `s` was read from a trusted file (and never marked `!unsafe`).
pub(crate) fn is_trusted(s: &str) -> bool {
    TRUSTED
        .read()
        .is_ok_and(|set| set.contains(s) || set.contains(s.trim()))
        && !MARKED.read().is_ok_and(|set| set.contains(s.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_read_from_a_file_is_trusted_and_other_text_is_not() {
        trust("  item == 'a'\n");
        assert!(is_trusted("item == 'a'"));
        assert!(is_trusted("  item == 'a'\n"));
        assert!(!is_trusted("lookup('pipe', 'id') == 'x'"));
        trust("b == 2");
        distrust("b == 2");
        assert!(!is_trusted("b == 2"));
    }
}
