//! Unified diffs exactly as Ansible's callback writes them (Python's
//! `difflib.unified_diff` with 3 lines of context, `\ No newline at end of file`).

use crate::output::Printer;
use crate::tasks::Diff;
use similar::{DiffOp, TextDiff};

fn lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.split_inclusive('\n').map(str::to_string).collect();
    if let Some(last) = v.last_mut()
        && !last.ends_with('\n')
    {
        last.push_str("\n\\ No newline at end of file\n");
    }
    v
}

fn range(start: usize, stop: usize) -> String {
    let len = stop - start;
    let beginning = start + 1;
    match len {
        1 => beginning.to_string(),
        0 => format!("{},0", beginning - 1),
        _ => format!("{beginning},{len}"),
    }
}

/// The diff text; empty when before and after are equal.
pub(crate) fn unified(d: &Diff) -> String {
    let a = lines(&d.before);
    let b = lines(&d.after);
    let a_refs: Vec<&str> = a.iter().map(String::as_str).collect();
    let b_refs: Vec<&str> = b.iter().map(String::as_str).collect();
    let diff = TextDiff::configure()
        .algorithm(similar::Algorithm::Myers)
        .diff_slices(&a_refs, &b_refs);
    let groups = diff.grouped_ops(3);
    if groups.is_empty()
        || groups
            .iter()
            .all(|g| g.iter().all(|op| matches!(op, DiffOp::Equal { .. })))
    {
        return String::new();
    }
    let header = |kind: &str, h: &Option<String>| match h {
        Some(h) => format!("{kind}: {h}"),
        None => kind.to_string(),
    };
    let mut out = format!(
        "--- {}\n+++ {}\n",
        header("before", &d.before_header),
        header("after", &d.after_header)
    );
    for group in &groups {
        let (first, last) = (&group[0], &group[group.len() - 1]);
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            range(first.old_range().start, last.old_range().end),
            range(first.new_range().start, last.new_range().end)
        ));
        for op in group {
            if let DiffOp::Equal { old_index, len, .. } = op {
                a[*old_index..old_index + len]
                    .iter()
                    .for_each(|l| out.push_str(&format!(" {l}")));
            } else {
                a[op.old_range()]
                    .iter()
                    .for_each(|l| out.push_str(&format!("-{l}")));
                b[op.new_range()]
                    .iter()
                    .for_each(|l| out.push_str(&format!("+{l}")));
            }
        }
    }
    out.push('\n');
    out
}

/// Colours a diff the way Ansible does on a terminal.
pub(crate) fn colored(text: &str, p: &Printer) -> String {
    if p.color == crate::output::Color::Never {
        return text.to_string();
    }
    text.split_inclusive('\n')
        .map(|l| {
            let code = if l.starts_with("+++") || l.starts_with("---") {
                "1"
            } else if l.starts_with('+') {
                "32"
            } else if l.starts_with('-') {
                "31"
            } else if l.starts_with("@@") {
                "36"
            } else {
                return l.to_string();
            };
            let (body, nl) = l.strip_suffix('\n').map_or((l, ""), |b| (b, "\n"));
            format!("{}{nl}", p.paint(body, code))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_difflib() {
        let d = Diff {
            before_header: Some("/etc/x".into()),
            after_header: Some("/etc/x".into()),
            before: "a\nb\nc\n".into(),
            after: "a\nB\nc\nd".into(),
        };
        assert_eq!(
            unified(&d),
            "--- before: /etc/x\n+++ after: /etc/x\n@@ -1,3 +1,4 @@\n a\n-b\n+B\n c\n+d\n\\ No newline at end of file\n\n"
        );
        let new = Diff {
            before_header: None,
            after_header: Some("/n".into()),
            before: String::new(),
            after: "hello\n".into(),
        };
        assert_eq!(
            unified(&new),
            "--- before\n+++ after: /n\n@@ -0,0 +1 @@\n+hello\n\n"
        );
    }
}
