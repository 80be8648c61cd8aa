//! Python methods on strings and lists that templates call (`'42'.zfill(5)`,
//! `'a,b'.rsplit(',', 1)`) beyond what minijinja's pycompat layer has; anything else
//! goes on to it.

use minijinja::value::ValueKind;
use minijinja::{Error, ErrorKind, State, Value};

fn arg_str(args: &[Value], i: usize) -> Option<String> {
    args.get(i).and_then(|v| v.as_str().map(str::to_string))
}

fn arg_int(args: &[Value], i: usize) -> Option<i64> {
    args.get(i).and_then(|v| i64::try_from(v.clone()).ok())
}

fn pad(s: &str, width: i64, fill: &str, left: bool) -> String {
    let len = s.chars().count() as i64;
    if width <= len {
        return s.to_string();
    }
    let fill = fill.chars().next().unwrap_or(' ').to_string();
    let padding = fill.repeat((width - len) as usize);
    if left {
        format!("{padding}{s}")
    } else {
        format!("{s}{padding}")
    }
}

fn str_method(s: &str, method: &str, args: &[Value]) -> Option<Result<Value, Error>> {
    let not_found = || Error::new(ErrorKind::InvalidOperation, "substring not found");
    Some(Ok(match method {
        "zfill" => {
            let width = arg_int(args, 0)?;
            let (sign, digits) = match s.strip_prefix(['-', '+']) {
                Some(rest) => (&s[..1], rest),
                None => ("", s),
            };
            let len = s.chars().count() as i64;
            if width <= len {
                Value::from(s)
            } else {
                Value::from(format!(
                    "{sign}{}{digits}",
                    "0".repeat((width - len) as usize)
                ))
            }
        }
        "ljust" => Value::from(pad(
            s,
            arg_int(args, 0)?,
            &arg_str(args, 1).unwrap_or_default(),
            false,
        )),
        "rjust" => Value::from(pad(
            s,
            arg_int(args, 0)?,
            &arg_str(args, 1).unwrap_or_default(),
            true,
        )),
        "swapcase" => Value::from(
            s.chars()
                .flat_map(|c| {
                    if c.is_uppercase() {
                        c.to_lowercase().collect::<Vec<_>>()
                    } else {
                        c.to_uppercase().collect::<Vec<_>>()
                    }
                })
                .collect::<String>(),
        ),
        "casefold" => Value::from(s.to_lowercase()),
        "expandtabs" => {
            let size = arg_int(args, 0).unwrap_or(8).max(0) as usize;
            let mut out = String::new();
            let mut col = 0;
            for c in s.chars() {
                match c {
                    '\t' if size > 0 => {
                        let n = size - col % size;
                        out.push_str(&" ".repeat(n));
                        col += n;
                    }
                    '\t' => {}
                    '\n' | '\r' => {
                        out.push(c);
                        col = 0;
                    }
                    c => {
                        out.push(c);
                        col += 1;
                    }
                }
            }
            Value::from(out)
        }
        "partition" | "rpartition" => {
            let sep = arg_str(args, 0)?;
            let found = if method == "partition" {
                s.find(&sep)
            } else {
                s.rfind(&sep)
            };
            let parts = match found {
                Some(i) => vec![&s[..i], sep.as_str(), &s[i + sep.len()..]],
                None if method == "partition" => vec![s, "", ""],
                None => vec!["", "", s],
            };
            Value::from(parts.into_iter().map(Value::from).collect::<Vec<_>>())
        }
        "rsplit" => {
            let sep = arg_str(args, 0);
            let max = arg_int(args, 1).filter(|m| *m >= 0);
            let mut parts: Vec<String> = match (&sep, max) {
                (Some(sep), Some(m)) => s
                    .rsplitn(m as usize + 1, sep.as_str())
                    .map(str::to_string)
                    .collect(),
                (Some(sep), None) => s.rsplit(sep.as_str()).map(str::to_string).collect(),
                (None, Some(m)) => {
                    let words: Vec<&str> = s.split_whitespace().collect();
                    let m = m as usize;
                    if words.len() > m + 1 {
                        let keep = words.len() - m;
                        let mut out: Vec<String> = words[keep..]
                            .iter()
                            .rev()
                            .map(std::string::ToString::to_string)
                            .collect();
                        // The rest, as one piece with its own spacing.
                        let mut rest = s.trim_end();
                        for _ in 0..m {
                            let cut = rest.rfind(char::is_whitespace).unwrap_or(0);
                            rest = rest[..cut].trim_end();
                        }
                        out.push(rest.trim_start().to_string());
                        out
                    } else {
                        words
                            .iter()
                            .rev()
                            .map(std::string::ToString::to_string)
                            .collect()
                    }
                }
                (None, None) => s.split_whitespace().rev().map(str::to_string).collect(),
            };
            parts.reverse();
            Value::from(parts.into_iter().map(Value::from).collect::<Vec<_>>())
        }
        "index" | "rindex" => {
            let sub = arg_str(args, 0)?;
            let found = if method == "index" {
                s.find(&sub)
            } else {
                s.rfind(&sub)
            };
            match found {
                Some(i) => Value::from(s[..i].chars().count() as i64),
                None => return Some(Err(not_found())),
            }
        }
        "isspace" => Value::from(!s.is_empty() && s.chars().all(char::is_whitespace)),
        "isalnum" => Value::from(!s.is_empty() && s.chars().all(char::is_alphanumeric)),
        "isnumeric" | "isdecimal" => {
            Value::from(!s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
        }
        _ => return None,
    }))
}

/// Methods first tried here, then by minijinja's pycompat layer.
pub(super) fn unknown_method(
    state: &mut State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    if let Some(s) = value.as_str()
        && let Some(r) = str_method(s, method, args)
    {
        return r;
    }
    if matches!(value.kind(), ValueKind::Seq) && method == "index" && args.len() == 1 {
        let items: Vec<Value> = value.try_iter()?.collect();
        return match items.iter().position(|x| *x == args[0]) {
            Some(i) => Ok(Value::from(i as i64)),
            None => Err(Error::new(
                ErrorKind::InvalidOperation,
                "value is not in list",
            )),
        };
    }
    minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
}
