//! `ast.literal_eval` as Ansible's INI plugin applies it to every inventory value.
//!
//! `True` is a bool, `8080 # note` is 8080 (the comment is Python syntax), `[1, 2]` is a
//! list, while `yes`, `0644` (a syntax error in Python 3) and `foo # note` are not Python
//! literals and so stay the raw string. Tuples and sets become lists, bytes become text marked unsafe,
//! complex numbers and `...` become their text, as the INI plugin coerces them.

use crate::value::{Map, Value, float_repr};

/// Evaluates `s` as a Python literal, or gives the raw string when it is not one.
pub(crate) fn parse_value(s: &str) -> Value {
    literal_eval(s).unwrap_or_else(|| Value::Str(s.to_string()))
}

/// `None` when `s` is not a Python literal expression.
pub(crate) fn literal_eval(s: &str) -> Option<Value> {
    let mut p = Parser {
        src: s.trim_start_matches([' ', '\t']).as_bytes(),
        i: 0,
        depth: 0,
    };
    let v = p.expr()?;
    p.skip_ws(true);
    (p.i == p.src.len()).then(|| v.into_value())
}

/// Intermediate result: keeps what `into_value` coerces (complex, ellipsis).
enum Lit {
    V(Value),
    Complex(f64, f64),
    Ellipsis,
}

impl Lit {
    fn into_value(self) -> Value {
        match self {
            Lit::V(v) => v,
            Lit::Ellipsis => Value::Str("...".into()),
            Lit::Complex(re, im) => Value::Str(complex_str(re, im)),
        }
    }
}

fn complex_num(f: f64) -> String {
    let s = float_repr(f);
    s.strip_suffix(".0").map_or(s.clone(), str::to_string)
}

/// Python's `str(complex)`.
fn complex_str(re: f64, im: f64) -> String {
    if re == 0.0 && re.is_sign_positive() {
        format!("{}j", complex_num(im))
    } else {
        let sign = if im < 0.0 || (im == 0.0 && im.is_sign_negative()) {
            "-"
        } else {
            "+"
        };
        format!("({}{sign}{}j)", complex_num(re), complex_num(im.abs()))
    }
}

const MAX_DEPTH: usize = 100;

struct Parser<'a> {
    src: &'a [u8],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.src.get(self.i).copied()
    }

    /// Skips blanks and comments; newlines only inside brackets (`nl`).
    fn skip_ws(&mut self, nl: bool) {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\x0c' => self.i += 1,
                b'\n' | b'\r' if nl => self.i += 1,
                b'\\' if matches!(self.src.get(self.i + 1), Some(b'\n')) => self.i += 2,
                b'#' => {
                    while let Some(c) = self.peek() {
                        if c == b'\n' {
                            break;
                        }
                        self.i += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn nl(&self) -> bool {
        self.depth > 0
    }

    fn expr(&mut self) -> Option<Lit> {
        self.skip_ws(self.nl());
        let first = self.unary()?;
        // `1+2j` / `1-2j`: a real plus or minus an imaginary number.
        self.skip_ws(self.nl());
        let save = self.i;
        if let Some(op @ (b'+' | b'-')) = self.peek() {
            self.i += 1;
            let re = match &first {
                Lit::V(Value::Int(i)) => *i as f64,
                Lit::V(Value::Float(f)) => *f,
                _ => {
                    self.i = save;
                    return Some(first);
                }
            };
            self.skip_ws(self.nl());
            if let Some(Lit::Complex(0.0, im)) = self.number() {
                let im = if op == b'-' { -im } else { im };
                return Some(Lit::Complex(re, im));
            }
            return None;
        }
        Some(first)
    }

    fn unary(&mut self) -> Option<Lit> {
        self.skip_ws(self.nl());
        match self.peek()? {
            b'-' | b'+' => {
                let neg = self.src[self.i] == b'-';
                self.i += 1;
                self.skip_ws(self.nl());
                let v = self.unary()?;
                match v {
                    Lit::V(Value::Int(i)) => {
                        Some(int_lit(if neg { -i128::from(i) } else { i128::from(i) }))
                    }
                    Lit::V(Value::BigInt(i)) => {
                        Some(int_lit(if neg { i.checked_neg()? } else { i }))
                    }
                    Lit::V(Value::Float(f)) => Some(Lit::V(Value::Float(if neg { -f } else { f }))),
                    Lit::Complex(re, im) => Some(if neg {
                        Lit::Complex(-re, -im)
                    } else {
                        Lit::Complex(re, im)
                    }),
                    _ => None,
                }
            }
            _ => self.atom(),
        }
    }

    fn atom(&mut self) -> Option<Lit> {
        let c = self.peek()?;
        match c {
            b'[' => self.sequence(b']').map(|v| Lit::V(Value::List(v))),
            b'(' => {
                self.depth += 1;
                self.i += 1;
                self.skip_ws(true);
                if self.eat(b')') {
                    self.depth -= 1;
                    return Some(Lit::V(Value::List(Vec::new())));
                }
                let first = self.expr()?;
                self.skip_ws(true);
                if self.eat(b')') {
                    self.depth -= 1;
                    return Some(first);
                }
                self.i -= 0;
                // A tuple: rewind into the sequence parser after the first item.
                let mut items = vec![first.into_value()];
                while self.eat(b',') {
                    self.skip_ws(true);
                    if self.peek() == Some(b')') {
                        break;
                    }
                    items.push(self.expr()?.into_value());
                    self.skip_ws(true);
                }
                if !self.eat(b')') {
                    return None;
                }
                self.depth -= 1;
                Some(Lit::V(Value::List(items)))
            }
            b'{' => self.dict_or_set(),
            b'\'' | b'"' => self.strings(),
            b'0'..=b'9' | b'.' => {
                if self.src[self.i..].starts_with(b"...") {
                    self.i += 3;
                    return Some(Lit::Ellipsis);
                }
                self.number()
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = self.i;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    self.i += 1;
                }
                let word = &self.src[start..self.i];
                // String prefixes: r, b, u, br, rb (any case); f-strings are not literals.
                if matches!(self.peek(), Some(b'\'' | b'"')) {
                    let lower = word.to_ascii_lowercase();
                    return match lower.as_slice() {
                        b"r" | b"u" | b"b" | b"br" | b"rb" => {
                            let raw = lower.contains(&b'r');
                            let bytes = lower.contains(&b'b');
                            let mut out = String::new();
                            self.string_body(raw, &mut out)?;
                            self.more_strings(&mut out, bytes)?;
                            // Bytes are text to Ansible, marked unsafe.
                            Some(Lit::V(if bytes {
                                Value::Unsafe(out)
                            } else {
                                Value::Str(out)
                            }))
                        }
                        _ => None,
                    };
                }
                match word {
                    b"True" => Some(Lit::V(Value::Bool(true))),
                    b"False" => Some(Lit::V(Value::Bool(false))),
                    b"None" => Some(Lit::V(Value::Null)),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    fn sequence(&mut self, close: u8) -> Option<Vec<Value>> {
        self.enter()?;
        self.i += 1;
        let mut items = Vec::new();
        loop {
            self.skip_ws(true);
            if self.eat(close) {
                break;
            }
            items.push(self.expr()?.into_value());
            self.skip_ws(true);
            if self.eat(close) {
                break;
            }
            if !self.eat(b',') {
                return None;
            }
        }
        self.depth -= 1;
        Some(items)
    }

    fn dict_or_set(&mut self) -> Option<Lit> {
        self.enter()?;
        self.i += 1;
        self.skip_ws(true);
        if self.eat(b'}') {
            self.depth -= 1;
            return Some(Lit::V(Value::Map(Map::default())));
        }
        let first = self.expr()?.into_value();
        self.skip_ws(true);
        if self.eat(b':') {
            let mut map = Map::default();
            let v = self.expr()?.into_value();
            map.insert(key_text(&first), v);
            loop {
                self.skip_ws(true);
                if self.eat(b'}') {
                    break;
                }
                if !self.eat(b',') {
                    return None;
                }
                self.skip_ws(true);
                if self.eat(b'}') {
                    break;
                }
                let k = self.expr()?.into_value();
                self.skip_ws(true);
                if !self.eat(b':') {
                    return None;
                }
                let v = self.expr()?.into_value();
                map.insert(key_text(&k), v);
            }
            self.depth -= 1;
            return Some(Lit::V(Value::Map(map)));
        }
        // A set: unordered in Python; keep first-seen order without duplicates.
        let mut items = vec![first];
        loop {
            self.skip_ws(true);
            if self.eat(b'}') {
                break;
            }
            if !self.eat(b',') {
                return None;
            }
            self.skip_ws(true);
            if self.eat(b'}') {
                break;
            }
            let v = self.expr()?.into_value();
            if !items.contains(&v) {
                items.push(v);
            }
        }
        self.depth -= 1;
        Some(Lit::V(Value::List(items)))
    }

    fn strings(&mut self) -> Option<Lit> {
        let mut out = String::new();
        self.string_body(false, &mut out)?;
        self.more_strings(&mut out, false)?;
        Some(Lit::V(Value::Str(out)))
    }

    /// Adjacent string literals concatenate: `'a' 'b'` is `'ab'`; bytes only with bytes.
    fn more_strings(&mut self, out: &mut String, bytes: bool) -> Option<()> {
        loop {
            let save = self.i;
            self.skip_ws(self.nl());
            match self.peek() {
                Some(b'\'' | b'"') if !bytes => self.string_body(false, out)?,
                Some(b'\'' | b'"') => return None,
                Some(c) if c.is_ascii_alphabetic() => {
                    let start = self.i;
                    while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                        self.i += 1;
                    }
                    let lower = self.src[start..self.i].to_ascii_lowercase();
                    if matches!(self.peek(), Some(b'\'' | b'"'))
                        && matches!(lower.as_slice(), b"r" | b"u" | b"b" | b"br" | b"rb")
                    {
                        if lower.contains(&b'b') != bytes {
                            return None;
                        }
                        self.string_body(lower.contains(&b'r'), out)?;
                    } else {
                        self.i = save;
                        return Some(());
                    }
                }
                _ => {
                    self.i = save;
                    return Some(());
                }
            }
        }
    }

    fn string_body(&mut self, raw: bool, out: &mut String) -> Option<()> {
        let q = self.peek()?;
        let triple = self.src[self.i..].starts_with(&[q, q, q]);
        self.i += if triple { 3 } else { 1 };
        let text = std::str::from_utf8(&self.src[self.i..]).ok()?;
        let mut chars = text.char_indices().peekable();
        while let Some((off, c)) = chars.next() {
            if c as u32 == u32::from(q) {
                if !triple {
                    self.i += off + 1;
                    return Some(());
                }
                if text.as_bytes()[off..].starts_with(&[q, q, q]) {
                    self.i += off + 3;
                    return Some(());
                }
                out.push(c);
                continue;
            }
            if c == '\n' && !triple {
                return None;
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let (_, e) = chars.next()?;
            if raw {
                out.push('\\');
                out.push(e);
                continue;
            }
            match e {
                '\n' => {}
                '\\' => out.push('\\'),
                '\'' => out.push('\''),
                '"' => out.push('"'),
                'a' => out.push('\u{7}'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'v' => out.push('\u{b}'),
                'x' | 'u' | 'U' => {
                    let n = match e {
                        'x' => 2,
                        'u' => 4,
                        _ => 8,
                    };
                    let mut code = 0u32;
                    for _ in 0..n {
                        let (_, h) = chars.next()?;
                        code = code * 16 + h.to_digit(16)?;
                    }
                    out.push(char::from_u32(code)?);
                }
                '0'..='7' => {
                    let mut code = e.to_digit(8)?;
                    for _ in 0..2 {
                        match chars.peek() {
                            Some((_, d)) if d.is_digit(8) => {
                                code = code * 8 + d.to_digit(8)?;
                                chars.next();
                            }
                            _ => break,
                        }
                    }
                    out.push(char::from_u32(code)?);
                }
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
        }
        None
    }

    fn number(&mut self) -> Option<Lit> {
        let start = self.i;
        let rest = &self.src[self.i..];
        let radix = match rest {
            [b'0', b'x' | b'X', ..] => Some(16),
            [b'0', b'o' | b'O', ..] => Some(8),
            [b'0', b'b' | b'B', ..] => Some(2),
            _ => None,
        };
        if let Some(radix) = radix {
            self.i += 2;
            let digits_start = self.i;
            while self
                .peek()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
            {
                self.i += 1;
            }
            let digits = std::str::from_utf8(&self.src[digits_start..self.i]).ok()?;
            if digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
                return None;
            }
            let clean: String = digits.chars().filter(|c| *c != '_').collect();
            return i128::from_str_radix(&clean, radix).ok().map(int_lit);
        }
        let mut is_float = false;
        while let Some(c) = self.peek() {
            match c {
                b'0'..=b'9' | b'_' => self.i += 1,
                b'.' if !is_float => {
                    is_float = true;
                    self.i += 1;
                }
                b'e' | b'E' => {
                    is_float = true;
                    self.i += 1;
                    if matches!(self.peek(), Some(b'+' | b'-')) {
                        self.i += 1;
                    }
                }
                _ => break,
            }
        }
        let text = std::str::from_utf8(&self.src[start..self.i]).ok()?;
        if text.contains("__") || text.ends_with('_') || text.contains("_.") || text.contains("._")
        {
            return None;
        }
        let clean: String = text.chars().filter(|c| *c != '_').collect();
        let imaginary = matches!(self.peek(), Some(b'j' | b'J'));
        if imaginary {
            self.i += 1;
            let im: f64 = clean.parse().ok()?;
            return Some(Lit::Complex(0.0, im));
        }
        if self.peek().is_some_and(|c| c.is_ascii_alphanumeric()) {
            return None;
        }
        if is_float {
            return clean.parse::<f64>().ok().map(|f| Lit::V(Value::Float(f)));
        }
        // Python 3 rejects leading zeros in non-zero decimal integers ("0644").
        if clean.len() > 1 && clean.starts_with('0') && clean.bytes().any(|b| b != b'0') {
            return None;
        }
        clean.parse::<i128>().ok().map(int_lit)
    }
}

/// An int literal: 64 bits when it fits, else 128 (Python's ints have no limit).
fn int_lit(v: i128) -> Lit {
    Lit::V(i64::try_from(v).map_or(Value::BigInt(v), Value::Int))
}

fn key_text(v: &Value) -> String {
    match v {
        Value::Str(s) | Value::Unsafe(s) => s.clone(),
        other => other.py_repr(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Value {
        parse_value(s)
    }

    #[test]
    fn ansible_ini_values() {
        assert_eq!(p("yes"), Value::str("yes"));
        assert_eq!(p("True"), Value::Bool(true));
        assert_eq!(p("0644"), Value::str("0644"));
        assert_eq!(p("010"), Value::str("010"));
        assert_eq!(p("'0644'"), Value::str("0644"));
        assert_eq!(p("[1,2]"), Value::List(vec![Value::Int(1), Value::Int(2)]));
        assert_eq!(p("8080 # comment"), Value::Int(8080));
        assert_eq!(p("foo # comment"), Value::str("foo # comment"));
        assert_eq!(p("False"), Value::Bool(false));
        assert_eq!(p("\"hello world\""), Value::str("hello world"));
        assert_eq!(p(""), Value::str(""));
        assert_eq!(p("1.5"), Value::Float(1.5));
        assert_eq!(p("1e3"), Value::Float(1000.0));
        assert_eq!(p("-3"), Value::Int(-3));
        assert_eq!(p("0x1f"), Value::Int(31));
        assert_eq!(p("1_000"), Value::Int(1000));
        assert_eq!(p("None"), Value::Null);
        assert_eq!(p("(1, 'a')").py_repr(), "[1, 'a']");
        assert_eq!(
            p("{'a': [1, {'b': None}]}").py_repr(),
            "{'a': [1, {'b': None}]}"
        );
        assert_eq!(p("1j"), Value::str("1j"));
        assert_eq!(p("1+2j"), Value::str("(1+2j)"));
        assert_eq!(p("..."), Value::str("..."));
        assert_eq!(p("'a' 'b'"), Value::str("ab"));
        // Bytes are unsafe text to Ansible; bytes and str do not concatenate.
        assert_eq!(p("b'x'"), Value::Unsafe("x".into()));
        assert_eq!(p("b'x' 'y'"), Value::str("b'x' 'y'"));
        assert_eq!(p("/srv/{{ app }}"), Value::str("/srv/{{ app }}"));
        assert_eq!(p("16.14.2"), Value::str("16.14.2"));
        assert_eq!(p("a=b"), Value::str("a=b"));
        assert_eq!(p("1 2"), Value::str("1 2"));
        assert_eq!(p("[1,"), Value::str("[1,"));
        assert_eq!(p("00"), Value::Int(0));
    }
}
