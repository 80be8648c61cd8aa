//! Host ranges in inventory names: `web[01:04]`, `app[1:10:3]`, `db-[a:c]`, several per
//! name, expanded as Ansible's `expand_hostname_range` does.

/// Splits a host entry into names (ranges expanded) and a port.
pub(super) fn expand_host_pattern(pattern: &str) -> Result<(Vec<String>, Option<u16>), String> {
    let (host, port) = super::address::parse_address(pattern, true)
        .unwrap_or_else(|_| (pattern.to_string(), None));
    let names = if has_range(&host) {
        expand(&host)?
    } else {
        vec![host]
    };
    Ok((names, port))
}

/// The most names one host pattern may expand to; beyond it is an error, not a hang.
pub(super) const MAX_EXPANSION: usize = 100_000;

const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

pub(super) fn has_range(name: &str) -> bool {
    name.contains('[')
}

/// Expands every `[beg:end(:step)]` in `pattern`.
pub(super) fn expand(pattern: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    expand_into(pattern, &mut out)?;
    Ok(out)
}

fn expand_into(line: &str, out: &mut Vec<String>) -> Result<(), String> {
    let (head, rest) = line
        .split_once('[')
        .ok_or("host range must be begin:end or begin:end:step")?;
    let (nrange, tail) = rest
        .split_once(']')
        .ok_or_else(|| format!("unbalanced brackets in host range: {line}"))?;
    if tail.contains('[') && !tail.contains(']') || nrange.contains('[') {
        return Err(format!("unbalanced brackets in host range: {line}"));
    }
    let bounds: Vec<&str> = nrange.split(':').collect();
    if bounds.len() != 2 && bounds.len() != 3 {
        return Err("host range must be begin:end or begin:end:step".into());
    }
    let beg = if bounds[0].is_empty() { "0" } else { bounds[0] };
    let end = bounds[1];
    if end.is_empty() {
        return Err("host range must specify end value".into());
    }
    let step_text = bounds.get(2).copied().unwrap_or("1");
    let step: i64 = parse_int(step_text)?;
    if step == 0 {
        return Err("host range step must not be zero".into());
    }
    let width = (beg.starts_with('0') && beg.len() > 1).then_some(beg.len());
    if let Some(w) = width
        && w != end.len()
    {
        return Err("host range must specify equal-length begin and end formats".into());
    }
    let items: Vec<String> = if let (Some(b), Some(e)) = (
        LETTERS.find(beg).filter(|_| beg.len() == 1),
        LETTERS.find(end).filter(|_| end.len() == 1),
    ) {
        if b > e {
            return Err("host range must have begin <= end".into());
        }
        if step < 0 {
            return Err("host range step must be positive".into());
        }
        let step = usize::try_from(step).map_err(|_| "host range step too large")?;
        LETTERS[b..=e]
            .chars()
            .step_by(step)
            .map(String::from)
            .collect()
    } else {
        let b = parse_int(beg)?;
        let e = parse_int(end)?;
        let count = if step > 0 {
            if e < b { 0 } else { (e - b) / step + 1 }
        } else if e > b {
            0
        } else {
            (b - e) / (-step) + 1
        };
        if usize::try_from(count).map_or(true, |c| c > MAX_EXPANSION) {
            return Err(format!(
                "host range {line} expands to {count} names, more than the limit of {MAX_EXPANSION}"
            ));
        }
        (0..count)
            .map(|i| {
                let n = b + i * step;
                match width {
                    Some(w) => zfill(n, w),
                    None => n.to_string(),
                }
            })
            .collect()
    };
    for item in items {
        let name = format!("{head}{item}{tail}");
        if has_range(&name) {
            expand_into(&name, out)?;
        } else {
            out.push(name);
        }
        if out.len() > MAX_EXPANSION {
            return Err(format!(
                "host range {line} expands to more than {MAX_EXPANSION} names"
            ));
        }
    }
    Ok(())
}

fn parse_int(s: &str) -> Result<i64, String> {
    s.trim()
        .parse::<i64>()
        .map_err(|_| format!("invalid literal for int() with base 10: {s:?}"))
}

/// Python's `str(n).zfill(w)`.
fn zfill(n: i64, w: usize) -> String {
    if n < 0 {
        format!(
            "-{:0>width$}",
            n.unsigned_abs(),
            width = w.saturating_sub(1)
        )
    } else {
        format!("{n:0>w$}")
    }
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn ranges() {
        assert_eq!(
            expand("web[01:04]").unwrap(),
            ["web01", "web02", "web03", "web04"]
        );
        assert_eq!(
            expand("app[1:10:3]").unwrap(),
            ["app1", "app4", "app7", "app10"]
        );
        assert_eq!(expand("db-[a:c]").unwrap(), ["db-a", "db-b", "db-c"]);
        assert_eq!(
            expand("n[1:2]x[a:b]").unwrap(),
            ["n1xa", "n1xb", "n2xa", "n2xb"]
        );
        assert_eq!(expand("h[:2]").unwrap(), ["h0", "h1", "h2"]);
        assert!(expand("web[01:100]").is_err());
        assert!(expand("big[0:500000000]").unwrap_err().contains("limit"));
    }
}
