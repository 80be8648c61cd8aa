//! A module's declaration: its arguments (and Ansible's file arguments), its traits,
//! and the check of a task's arguments against them.

use crate::value::Map;

/// A module's argument names (aliases included) and which are required.
pub(crate) struct Spec {
    pub name: &'static str,
    /// Ansible's `add_file_common_args`: the module also takes [`FILE_COMMON_ARGS`].
    pub file_common: bool,
    /// What the runner treats specially about it (none for a module run on the host).
    pub traits: &'static [Trait],
    pub args: &'static [&'static str],
    pub required: &'static [&'static str],
}

/// What the runner needs to know of a module, declared with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trait {
    /// An action of the controller's, not a module on the host: its failures are
    /// "Action failed".
    Controller,
    /// Needs no connection to the host (debug, set_fact, group_by...).
    Local,
    /// Ansible's action plugin around a module (copy, template, script, raw): its own
    /// failures, before any module runs, carry no prefix.
    ActionPlugin,
    /// Changes the run's inventory (group_by, add_host).
    EditsInventory,
    /// Sets the host's facts (set_fact, include_vars).
    SetsFacts,
}

/// Whether the module `name` (canonical) has `t`.
pub(crate) fn has_trait(name: &str, t: Trait) -> bool {
    super::spec(name).is_some_and(|s| s.traits.contains(&t))
}

/// Ansible's FILE_COMMON_ARGUMENTS (module_utils/basic.py), `attr` being `attributes`.
pub(crate) const FILE_COMMON_ARGS: &[&str] = &[
    "mode",
    "owner",
    "group",
    "seuser",
    "serole",
    "selevel",
    "setype",
    "attributes",
    "attr",
    "unsafe_writes",
];

impl Spec {
    /// Every argument name the module takes, aliases included.
    pub(crate) fn all_args(&self) -> impl Iterator<Item = &'static str> + Clone {
        let common = if self.file_common {
            FILE_COMMON_ARGS
        } else {
            &[]
        };
        self.args.iter().chain(common).copied()
    }
}

/// Unknown or missing arguments, each with the argument it is about.
pub(crate) fn check_args(module: &str, args: &Map) -> Vec<(String, String)> {
    let Some(spec) = super::spec(module) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    // set_fact takes any variable names, add_host any host vars.
    for k in args
        .keys()
        .filter(|_| module != "set_fact" && module != "add_host")
    {
        // shell's action plugin refuses this one itself, in fewer words.
        if module == "shell" && k == "expand_argument_vars" {
            out.push((
                k.clone(),
                "Unsupported parameters for (shell) module: expand_argument_vars".into(),
            ));
            continue;
        }
        if k != "_raw_params" && !spec.all_args().any(|a| a == k) {
            let hint = crate::schema::did_you_mean(k, spec.all_args())
                .map_or(String::new(), |s| format!(" (did you mean `{s}`?)"));
            let mut supported: Vec<&str> = spec.all_args().collect();
            supported.sort_unstable();
            out.push((
                k.clone(),
                format!(
                    "Unsupported parameters for ({module}) module: {k}{hint}. Supported parameters include: {}.",
                    supported.join(", ")
                ),
            ));
        }
    }
    for r in spec.required {
        let alternatives: Vec<&str> = r.split('|').collect();
        // `a|b|c` is an argument and its aliases (Ansible names the argument), except
        // for free-form arguments and pm2's real alternatives.
        let aliases = !alternatives.contains(&"_raw_params") && module != "pm2";
        if !alternatives.iter().any(|a| args.contains_key(*a)) {
            out.push((
                String::new(),
                if alternatives.len() == 1 || aliases {
                    format!("missing required arguments: {}", alternatives[0])
                } else {
                    format!(
                        "one of the following is required: {}",
                        alternatives.join(", ")
                    )
                },
            ));
        }
    }
    out
}
