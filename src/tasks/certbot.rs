//! `certbot`: a certificate for a list of domains, requested (or expanded, or narrowed)
//! only when the domains of the certificate on the host differ from the wanted ones.
//! The host's certificate is read with `openssl x509` (its subjectAltName); certbot runs
//! with the webroot authenticator against the given ACME `server`, so nginx's site
//! keeps the bytes its template gives it (certbot's nginx installer would rewrite it).

use super::{Cx, Diff, Outcome, Spec, TaskError, args, fail};
use crate::transport::sh_quote;
use crate::value::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    name: "certbot",
    file_common: false,
    traits: &[],
    args: &[
        "domains",
        "cert_name",
        "email",
        "webroot",
        "server",
        "ca_bundle",
        "config_dir",
        "key_type",
    ],
    required: &["domains", "webroot"],
};

/// The DNS names of a certificate, from `openssl x509 -ext subjectAltName`.
fn san_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .split([',', '\n'])
        .filter_map(|p| p.trim().strip_prefix("DNS:"))
        .map(|n| n.trim().to_lowercase())
        .collect();
    names.sort();
    names.dedup();
    names
}

pub(super) async fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let domains = args::list_opt(a, &["domains"]).unwrap_or_default();
    let mut want: Vec<String> = domains.iter().map(|d| d.trim().to_lowercase()).collect();
    if want.is_empty() {
        return Err(fail("certbot: domains is empty"));
    }
    if let Some(bad) = want.iter().find(|d| {
        d.is_empty()
            || !d
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-*".contains(c))
    }) {
        return Err(fail(format!("certbot: {bad:?} is not a domain name")));
    }
    let name = args::str_opt(a, &["cert_name"]).unwrap_or_else(|| want[0].clone());
    if name.contains('/') || name.starts_with('.') {
        return Err(fail(format!(
            "certbot: cert_name {name:?} is not a file name"
        )));
    }
    let config_dir = args::str_opt(a, &["config_dir"]).unwrap_or_else(|| "/etc/letsencrypt".into());
    let cert = format!("{config_dir}/live/{name}/cert.pem");
    let out = super::remote::query(
        cx,
        &format!(
            "f={}; [ -f \"$f\" ] || exit 0; openssl x509 -noout -ext subjectAltName -in \"$f\"",
            sh_quote(&cert)
        ),
        &format!("read {cert}"),
    )
    .await?;
    let have = san_names(&out.stdout_str());
    // certbot's own order: the first domain names the certificate; compare as sets.
    let first = want[0].clone();
    want.sort();
    want.dedup();
    let mut o = Outcome::default();
    o.result
        .insert("cert_name".into(), Value::str(name.clone()));
    o.result.insert(
        "domains".into(),
        Value::List(want.iter().map(|d| Value::str(d.clone())).collect()),
    );
    if have == want {
        return Ok(o);
    }
    o.changed = true;
    let list = |names: &[String]| -> String {
        if names.is_empty() {
            "absent\n".into()
        } else {
            names.iter().map(|n| format!("{n}\n")).collect()
        }
    };
    o.diffs.push(Diff {
        before_header: Some(format!("certbot {name}")),
        after_header: Some(format!("certbot {name}")),
        before: list(&have),
        after: list(&want),
    });
    o.result.insert(
        "action".into(),
        Value::str(if have.is_empty() { "request" } else { "expand" }),
    );
    let Some(w) = &cx.writer else {
        return Ok(o);
    };
    let webroot = args::str_req(a, &["webroot"], "certbot")?;
    let mut cmd = String::new();
    if let Some(ca) = args::str_opt(a, &["ca_bundle"]) {
        cmd.push_str(&format!("REQUESTS_CA_BUNDLE={} ", sh_quote(&ca)));
    }
    cmd.push_str(&format!(
        "certbot certonly --non-interactive --agree-tos --expand --webroot -w {} --cert-name {} --config-dir {}",
        sh_quote(&webroot),
        sh_quote(&name),
        sh_quote(&config_dir)
    ));
    match args::str_opt(a, &["email"]) {
        Some(e) => cmd.push_str(&format!(" -m {}", sh_quote(&e))),
        None => cmd.push_str(" --register-unsafely-without-email"),
    }
    if let Some(s) = args::str_opt(a, &["server"]) {
        cmd.push_str(&format!(" --server {}", sh_quote(&s)));
    }
    if let Some(k) = args::str_opt(a, &["key_type"]) {
        cmd.push_str(&format!(" --key-type {}", sh_quote(&k)));
    }
    for d in std::iter::once(&first).chain(want.iter().filter(|d| **d != first)) {
        cmd.push_str(&format!(" -d {}", sh_quote(d)));
    }
    super::remote::change(w, &format!("{}{cmd} 2>&1", cx.env_prefix())).await?;
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::san_names;

    #[test]
    fn subject_alt_names_are_read_as_a_set() {
        let text = "X509v3 Subject Alternative Name: \n    DNS:b.example.com, DNS:A.example.com, IP Address:127.0.0.1\n";
        assert_eq!(san_names(text), ["a.example.com", "b.example.com"]);
        assert!(san_names("").is_empty());
    }
}
