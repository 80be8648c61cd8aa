//! Python's `shlex`: `split(line, comments=True)` (POSIX mode), which Ansible's INI plugin
//! uses to cut host lines into tokens, and `quote`, for every command tprov writes.

/// Splits like `shlex.split(s, comments=True)`; errors carry Python's messages.
pub(crate) fn split(s: &str, comments: bool) -> Result<Vec<String>, &'static str> {
    let mut tokens = Vec::new();
    let mut token = String::new();
    let mut in_token = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                if in_token {
                    tokens.push(std::mem::take(&mut token));
                    in_token = false;
                }
            }
            '#' if comments => {
                // A comment runs to the end of the line, even in the middle of a word.
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
                if in_token {
                    tokens.push(std::mem::take(&mut token));
                    in_token = false;
                }
            }
            '\\' => {
                in_token = true;
                match chars.next() {
                    Some(n) => token.push(n),
                    None => return Err("No escaped character"),
                }
            }
            '\'' => {
                in_token = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(n) => token.push(n),
                        None => return Err("No closing quotation"),
                    }
                }
            }
            '"' => {
                in_token = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(n @ ('"' | '\\')) => token.push(n),
                            Some(n) => {
                                token.push('\\');
                                token.push(n);
                            }
                            None => return Err("No escaped character"),
                        },
                        Some(n) => token.push(n),
                        None => return Err("No closing quotation"),
                    }
                }
            }
            c => {
                in_token = true;
                token.push(c);
            }
        }
    }
    if in_token {
        tokens.push(token);
    }
    Ok(tokens)
}

/// Quotes for `/bin/sh`, as Python's `shlex.quote`: the one quoting of tprov.
pub(crate) fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn like_python_shlex() {
        assert_eq!(
            split(r#"a b="x y" c='q' # tail"#, true).unwrap(),
            ["a", "b=x y", "c=q"]
        );
        assert_eq!(
            split("lst=\"[1,2]\" v=a#b", true).unwrap(),
            ["lst=[1,2]", "v=a"]
        );
        assert_eq!(split(r#"x="a\"b\n""#, true).unwrap(), ["x=a\"b\\n"]);
        assert_eq!(split("''", true).unwrap(), [""]);
        assert!(split("a='b", true).is_err());
    }
}
