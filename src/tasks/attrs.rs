//! File attributes shared by file, copy, template and friends: mode (numeric or
//! symbolic, as Ansible reads it), owner and group; what changes and the commands that
//! change them.

use super::remote::{Kind, Stat};
use super::{TaskError, fail};
use crate::transport::sh_quote;
use crate::value::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    Octal(u32),
    Symbolic(String),
}

impl Mode {
    /// Ansible's reading of `mode:`: an int is the mode itself (so YAML `0644` is right
    /// and `644` is the decimal 644), a string of digits is octal, else symbolic.
    pub(crate) fn parse(v: &Value) -> Result<Option<Mode>, TaskError> {
        match v {
            Value::Null => Ok(None),
            Value::Int(i) => u32::try_from(*i)
                .map(|m| Some(Mode::Octal(m)))
                .map_err(|_| fail(format!("bad mode {i}"))),
            Value::Str(s) if s == "preserve" => Ok(None),
            Value::Str(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) => {
                u32::from_str_radix(s, 8)
                    .map(|m| Some(Mode::Octal(m)))
                    .map_err(|_| fail(format!("mode must be in octal or symbolic form, got {s:?}")))
            }
            Value::Str(s) => {
                apply_symbolic(s, 0, false)?;
                Ok(Some(Mode::Symbolic(s.clone())))
            }
            other => Err(fail(format!(
                "mode must be a string or an int, got {}",
                other.type_name()
            ))),
        }
    }

    /// The mode bits this gives, starting from `current`.
    pub(crate) fn resolve(&self, current: u32, is_dir: bool) -> Result<u32, TaskError> {
        match self {
            Mode::Octal(m) => Ok(*m & 0o7777),
            Mode::Symbolic(s) => apply_symbolic(s, current, is_dir),
        }
    }
}

/// chmod's symbolic modes: `u=rw,g=r,o=`, `a+x`, `go-w`, `u+X`.
fn apply_symbolic(spec: &str, mut mode: u32, is_dir: bool) -> Result<u32, TaskError> {
    let bad = || {
        fail(format!(
            "mode must be in octal or symbolic form, got {spec:?}"
        ))
    };
    for clause in spec.split(',') {
        let who_end = clause.find(['+', '-', '=']).ok_or_else(bad)?;
        let who = &clause[..who_end];
        let mut mask = 0u32;
        for c in who.chars() {
            mask |= match c {
                'u' => 0o4700,
                'g' => 0o2070,
                'o' => 0o1007,
                'a' => 0o7777,
                _ => return Err(bad()),
            };
        }
        if who.is_empty() {
            mask = 0o7777;
        }
        let mut rest = &clause[who_end..];
        while !rest.is_empty() {
            let op = rest.chars().next().ok_or_else(bad)?;
            rest = &rest[1..];
            let perm_end = rest.find(['+', '-', '=']).unwrap_or(rest.len());
            let perms = &rest[..perm_end];
            rest = &rest[perm_end..];
            let mut bits = 0u32;
            for p in perms.chars() {
                bits |= match p {
                    'r' => 0o444,
                    'w' => 0o222,
                    'x' => 0o111,
                    'X' if is_dir || mode & 0o111 != 0 => 0o111,
                    'X' => 0,
                    's' => 0o6000,
                    't' => 0o1000,
                    _ => return Err(bad()),
                };
            }
            let bits = bits & mask;
            match op {
                '+' => mode |= bits,
                '-' => mode &= !bits,
                '=' => {
                    mode = (mode
                        & !(mask & 0o777
                            | if who.contains('u') || who.contains('a') || who.is_empty() {
                                0o4000
                            } else {
                                0
                            }
                            | if who.contains('g') || who.contains('a') || who.is_empty() {
                                0o2000
                            } else {
                                0
                            }))
                        | bits;
                }
                _ => return Err(bad()),
            }
        }
    }
    Ok(mode & 0o7777)
}

/// A mode as modules' results and diffs give it: Python's `'0%03o'` (`0644`, `01777`;
/// stat and find use `'%04o'` instead).
pub(super) fn mode_str(m: u32) -> String {
    format!("0{m:03o}")
}

/// Wanted attributes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Attrs {
    pub mode: Option<Mode>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

impl Attrs {
    pub(crate) fn from_args(a: &crate::value::Map) -> Result<Attrs, TaskError> {
        Ok(Attrs {
            mode: a.get("mode").map(Mode::parse).transpose()?.flatten(),
            owner: super::args::str_opt(a, &["owner"]),
            group: super::args::str_opt(a, &["group"]),
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.mode.is_none() && self.owner.is_none() && self.group.is_none()
    }
}

/// Differences between what is and what is wanted, as diff pairs and as commands on `$T`
/// (a placeholder the caller binds to the path).
#[derive(Debug, Default)]
pub(super) struct AttrChange {
    pub before: Vec<(&'static str, Value)>,
    pub after: Vec<(&'static str, Value)>,
    pub commands: Vec<String>,
}

impl AttrChange {
    pub(super) fn changed(&self) -> bool {
        !self.commands.is_empty()
    }
}

fn same_user(current_name: &str, current_id: u32, wanted: &str) -> bool {
    wanted == current_name || wanted.parse::<u32>().is_ok_and(|id| id == current_id)
}

/// What must change on an existing `st` (or a new one, `st` absent) for `attrs`.
/// `new_mode` is the mode a new file gets when none is asked for.
pub(super) fn changes(
    st: &Stat,
    attrs: &Attrs,
    target: &str,
    follow_link: bool,
) -> Result<AttrChange, TaskError> {
    let mut c = AttrChange::default();
    let q = sh_quote(target);
    let h = if st.kind == Kind::Link && !follow_link {
        "-h "
    } else {
        ""
    };
    if let Some(owner) = &attrs.owner
        && (!st.exists || !same_user(&st.owner, st.uid, owner))
    {
        c.before.push(("owner", Value::str(st.owner.clone())));
        c.after.push(("owner", Value::str(owner.clone())));
        c.commands.push(format!("chown {h}{} {q}", sh_quote(owner)));
    }
    if let Some(group) = &attrs.group
        && (!st.exists || !same_user(&st.group, st.gid, group))
    {
        c.before.push(("group", Value::str(st.group.clone())));
        c.after.push(("group", Value::str(group.clone())));
        c.commands.push(format!("chgrp {h}{} {q}", sh_quote(group)));
    }
    if let Some(mode) = &attrs.mode {
        // Symlinks have no mode of their own on Linux.
        if st.kind != Kind::Link || follow_link {
            let want = mode.resolve(st.mode, st.kind == Kind::Dir)?;
            if !st.exists || want != st.mode {
                c.before.push(("mode", Value::str(mode_str(st.mode))));
                c.after.push(("mode", Value::str(mode_str(want))));
                c.commands.push(format!("chmod {} {q}", mode_str(want)));
            }
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_as_ansible_reads_them() {
        assert_eq!(
            Mode::parse(&Value::Int(420)).unwrap(),
            Some(Mode::Octal(0o644))
        );
        assert_eq!(
            Mode::parse(&Value::str("0644")).unwrap(),
            Some(Mode::Octal(0o644))
        );
        assert_eq!(
            Mode::parse(&Value::str("755")).unwrap(),
            Some(Mode::Octal(0o755))
        );
        assert_eq!(
            Mode::parse(&Value::Int(644)).unwrap(),
            Some(Mode::Octal(644))
        );
        let sym = Mode::parse(&Value::str("u=rw,g=r,o=")).unwrap().unwrap();
        assert_eq!(sym.resolve(0o777, false).unwrap(), 0o640);
        let x = Mode::parse(&Value::str("a+X")).unwrap().unwrap();
        assert_eq!(x.resolve(0o644, true).unwrap(), 0o755);
        assert_eq!(x.resolve(0o644, false).unwrap(), 0o644);
        assert!(Mode::parse(&Value::str("rwx")).is_err());
    }
}
