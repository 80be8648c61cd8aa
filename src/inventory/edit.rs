//! Editing an INI inventory in place, as seed 000's migration step does by hand: the host
//! line goes to the new group (after its last host), and the old line becomes
//! `# LINE # migrated to GROUP`. Every other byte (comments, blank lines, order, line
//! endings) is kept. The text is only computed here; the command writes it.

/// Why a move cannot be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MoveError(pub String);

/// The result of a move: the new text, and the host line as it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Moved {
    pub text: String,
    /// The full host name found (`sandbox3.tokenoftrust.com` for `sandbox3`).
    pub host: String,
    /// 1-based line numbers: where the host was, and where it now is.
    pub from_line: usize,
    pub to_line: usize,
}

/// The group a `[header]` line opens (`None` for `:vars`/`:children` sections and for
/// lines that are not headers).
fn section(line: &str) -> Option<Option<&str>> {
    let t = line.trim();
    let inner = t.strip_prefix('[')?.split(']').next()?;
    if !t.contains(']') {
        return None;
    }
    let inner = inner.trim();
    Some(if inner.contains(':') {
        None
    } else {
        Some(inner)
    })
}

/// The host a line of a hosts section names, if it is one.
fn host_of(line: &str) -> Option<&str> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
        return None;
    }
    t.split_whitespace().next()
}

/// Whether `name` (as written in the file) is the host the user meant: the same name, or
/// a short alias of it (`sandbox3` for `sandbox3.tokenoftrust.com`).
fn names(written: &str, wanted: &str) -> bool {
    written == wanted
        || written
            .strip_prefix(wanted)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// Moves `host` from group `from` to group `to` in an INI inventory's text.
pub(crate) fn move_host(text: &str, host: &str, from: &str, to: &str) -> Result<Moved, MoveError> {
    let err = |m: String| Err(MoveError(m));
    if from == to {
        return err(format!("--from and --to are the same group ({from})"));
    }
    let crlf = text.contains("\r\n");
    let nl = if crlf { "\r\n" } else { "\n" };
    let mut lines: Vec<String> = text
        .split_inclusive('\n')
        .map(|l| l.trim_end_matches(['\n', '\r']).to_string())
        .collect();
    let ends_with_newline = text.ends_with('\n');
    // Where each group's section is, and which lines in it name the host.
    let mut current: Option<String> = None;
    let (mut from_seen, mut to_header, mut to_last_host) = (false, None, None);
    let (mut found, mut in_to) = (Vec::new(), None);
    for (i, line) in lines.iter().enumerate() {
        if let Some(s) = section(line) {
            current = s.map(str::to_string);
            if current.as_deref() == Some(from) {
                from_seen = true;
            }
            if current.as_deref() == Some(to) && to_header.is_none() {
                to_header = Some(i);
            }
            continue;
        }
        let Some(name) = host_of(line) else { continue };
        match current.as_deref() {
            Some(g) if g == from && names(name, host) => found.push((i, name.to_string())),
            Some(g) if g == to => {
                to_last_host = Some(i);
                if names(name, host) {
                    in_to = Some(name.to_string());
                }
            }
            _ => {}
        }
    }
    if !from_seen {
        return err(format!("the inventory has no group [{from}]"));
    }
    let Some(to_header) = to_header else {
        return err(format!(
            "the inventory has no group [{to}] (add the section first: tprov never creates a group by accident)"
        ));
    };
    if let Some(name) = in_to {
        return err(format!("{name} is already in [{to}]"));
    }
    let (line_no, name) = match found.as_slice() {
        [] => return err(format!("{host} is not in [{from}]")),
        [one] => one.clone(),
        _ => {
            return err(format!(
                "{host} matches several hosts of [{from}]: {} (give the full name)",
                found
                    .iter()
                    .map(|(_, n)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    };
    if name.contains('[') {
        return err(format!(
            "{name} is a host range: write its hosts out one per line before moving one of them"
        ));
    }
    let original = lines[line_no].trim().to_string();
    lines[line_no] = format!("# {original} # migrated to {to}");
    let at = to_last_host.unwrap_or(to_header) + 1;
    lines.insert(at, original);
    let from_line = if line_no >= at {
        line_no + 2
    } else {
        line_no + 1
    };
    let mut out = lines.join(nl);
    if ends_with_newline {
        out.push_str(nl);
    }
    Ok(Moved {
        text: out,
        host: name,
        from_line,
        to_line: at + 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOT: &str = "# fleet\n\n[tot20-sandbox]\nsandbox1.tokenoftrust.com\n\n[tot-sandbox]\nsandbox3.tokenoftrust.com\nsandbox4.tokenoftrust.com\n\n[sandbox:children]\ntot-sandbox\ntot20-sandbox\n";

    #[test]
    fn moves_as_seed_000_shows() {
        let m = move_host(TOT, "sandbox3", "tot-sandbox", "tot20-sandbox").unwrap();
        assert_eq!(
            m.text,
            "# fleet\n\n[tot20-sandbox]\nsandbox1.tokenoftrust.com\nsandbox3.tokenoftrust.com\n\n[tot-sandbox]\n# sandbox3.tokenoftrust.com # migrated to tot20-sandbox\nsandbox4.tokenoftrust.com\n\n[sandbox:children]\ntot-sandbox\ntot20-sandbox\n"
        );
        assert_eq!(m.host, "sandbox3.tokenoftrust.com");
        assert_eq!((m.to_line, m.from_line), (5, 8));
        // And back, for a group listed after the host's.
        let back = move_host(
            &m.text,
            "sandbox3.tokenoftrust.com",
            "tot20-sandbox",
            "tot-sandbox",
        )
        .unwrap();
        assert!(back.text.contains("[tot20-sandbox]\nsandbox1.tokenoftrust.com\n# sandbox3.tokenoftrust.com # migrated to tot-sandbox\n"));
        assert!(back.text.contains(
            "sandbox4.tokenoftrust.com\nsandbox3.tokenoftrust.com\n\n[sandbox:children]"
        ));
    }

    #[test]
    fn keeps_vars_and_line_endings() {
        let t = "[a]\r\nh1 ansible_host=10.0.0.1\r\n[b]\r\n";
        let m = move_host(t, "h1", "a", "b").unwrap();
        assert_eq!(
            m.text,
            "[a]\r\n# h1 ansible_host=10.0.0.1 # migrated to b\r\n[b]\r\nh1 ansible_host=10.0.0.1\r\n"
        );
    }

    #[test]
    fn refuses_what_it_cannot_do_safely() {
        let e = |h: &str, f: &str, t: &str| move_host(TOT, h, f, t).unwrap_err().0;
        assert_eq!(
            e("sandbox1", "tot-sandbox", "tot20-sandbox"),
            "sandbox1.tokenoftrust.com is already in [tot20-sandbox]"
        );
        assert_eq!(
            move_host("[a]\nh1\n[b]\n", "h2", "a", "b").unwrap_err().0,
            "h2 is not in [a]"
        );
        assert!(e("sandbox3", "tot-sandbox", "tot20-sandobx").contains("no group [tot20-sandobx]"));
        assert!(e("sandbox3", "tot-sandbx", "tot20-sandbox").contains("no group [tot-sandbx]"));
        assert!(e("sandbox", "tot-sandbox", "tot20-sandbox").contains("is not in"));
        let twice = move_host(TOT, "sandbox3", "tot-sandbox", "tot20-sandbox")
            .unwrap()
            .text;
        assert_eq!(
            move_host(&twice, "sandbox3", "tot-sandbox", "tot20-sandbox")
                .unwrap_err()
                .0,
            "sandbox3.tokenoftrust.com is already in [tot20-sandbox]"
        );
        let range = "[a]\nweb[1:3]\n[b]\n";
        assert!(
            move_host(range, "web[1:3]", "a", "b")
                .unwrap_err()
                .0
                .contains("range")
        );
        let e2 = move_host("[a]\nx.one\nx.two\n[b]\n", "x", "a", "b")
            .unwrap_err()
            .0;
        assert!(e2.contains("several hosts"), "{e2}");
    }
}
