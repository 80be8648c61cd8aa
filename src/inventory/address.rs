//! Ansible's `parse_address`: a host name, IPv4 or IPv6 address, possibly with `[a:b]`
//! ranges and a `:port`.

use regex::Regex;
use std::sync::LazyLock;

const NUMERIC_RANGE: &str = r"\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]";
const HEX_RANGE: &str = r"\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]";
const ALNUM_RANGE: &str = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]";

static BRACKETED_HOSTPORT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\[(.+)\]:([0-9]+)$").expect("static regex"));
static HOSTPORT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$").expect("static regex"));

static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    let c = format!(r"(?:[01]?[0-9]{{1,2}}|2[0-4][0-9]|25[0-5]|{NUMERIC_RANGE})");
    Regex::new(&format!(r"(?i)^(?:{c}\.){{3}}{c}$")).expect("static regex")
});

static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    let c = format!(r"(?:[0-9a-f]{{1,4}}|{HEX_RANGE})");
    let i4 = format!(r"(?:[01]?[0-9]{{1,2}}|2[0-4][0-9]|25[0-5]|{NUMERIC_RANGE})");
    let alts = [
        format!(r"(?:{c}:){{7}}{c}"),
        format!(r"(?:{c}:){{1,6}}:"),
        format!(r"(?:{c}:)(?::{c}){{1,6}}"),
        format!(r"(?:{c}:){{2}}(?::{c}){{1,5}}"),
        format!(r"(?:{c}:){{3}}(?::{c}){{1,4}}"),
        format!(r"(?:{c}:){{4}}(?::{c}){{1,3}}"),
        format!(r"(?:{c}:){{5}}(?::{c}){{1,2}}"),
        format!(r"(?:{c}:){{6}}(?::{c})"),
        format!(r":(?::{c}){{1,6}}"),
        format!(r"{c}?::"),
        format!(r"(?:0:){{6}}(?:{i4}\.){{3}}{i4}"),
        format!(r"::(?:ffff:)?(?:{i4}\.){{3}}{i4}"),
        format!(r"(?:0:){{5}}ffff:(?:{i4}\.){{3}}{i4}"),
    ];
    Regex::new(&format!(r"(?i)^(?:{})$", alts.join("|"))).expect("static regex")
});

static HOSTNAME: LazyLock<Regex> = LazyLock::new(|| {
    let label = format!(r"(?:[\w]|{ALNUM_RANGE})(?:[\w-]|{ALNUM_RANGE})*");
    Regex::new(&format!(r"(?i)^{label}(?:\.{label})*$")).expect("static regex")
});

/// Why an address could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AddressError(pub String);

/// Splits `address` into a host (or host pattern) and an optional port.
pub(crate) fn parse_address(
    address: &str,
    allow_ranges: bool,
) -> Result<(String, Option<u16>), AddressError> {
    let mut host = address;
    let mut port = None;
    for re in [&*BRACKETED_HOSTPORT, &*HOSTPORT] {
        if let Some(c) = re.captures(host) {
            let p = c.get(2).map_or("", |m| m.as_str());
            port = Some(
                p.parse::<u16>()
                    .map_err(|_| AddressError(format!("Invalid port number: {p}")))?,
            );
            host = c.get(1).map_or("", |m| m.as_str());
        }
    }
    // Host names first: they are the common case, and the IPv6 regex is costly to build.
    let valid = is_hostname(host) || IPV4.is_match(host) || IPV6.is_match(host);
    if !valid {
        return Err(AddressError(format!(
            "Not a valid network hostname: {host}"
        )));
    }
    if !allow_ranges && host.contains('[') {
        return Err(AddressError(
            "Detected range in host but was asked to ignore ranges".into(),
        ));
    }
    Ok((host.to_string(), port))
}

/// Ansible's hostname pattern also requires that no label ends in `-` or `_`.
fn is_hostname(host: &str) -> bool {
    HOSTNAME.is_match(host)
        && !host.ends_with(['-', '_'])
        && !host.contains("-.")
        && !host.contains("_.")
}

#[cfg(test)]
mod tests {
    use super::parse_address;

    #[test]
    fn addresses() {
        assert_eq!(
            parse_address("db1:2222", true).unwrap(),
            ("db1".into(), Some(2222))
        );
        assert_eq!(
            parse_address("web[01:04].example.com", true).unwrap(),
            ("web[01:04].example.com".into(), None)
        );
        assert_eq!(
            parse_address("[::1]:22", true).unwrap(),
            ("::1".into(), Some(22))
        );
        assert_eq!(
            parse_address("10.0.0.[1:3]:22", true).unwrap(),
            ("10.0.0.[1:3]".into(), Some(22))
        );
        assert_eq!(
            parse_address("fe80::1", true).unwrap(),
            ("fe80::1".into(), None)
        );
        assert!(parse_address("bad_", true).is_err());
        assert!(parse_address("a b", true).is_err());
        assert!(parse_address("app[1:2]", false).is_err());
    }
}
