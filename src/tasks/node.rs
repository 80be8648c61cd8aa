//! `node`: a Node.js version in a user's nvm layout (`~/.nvm/versions/node/vX.Y.Z`, so
//! the user's own nvm sees it), downloaded by the host from a nodejs.org-style mirror,
//! its SHA-256 checked against a pinned value or the mirror's SHASUMS256.txt, unpacked
//! beside its final place and renamed in. `npm`: global packages for that Node.

use super::{Cx, Diff, Outcome, Spec, TaskError, args, fail};
use crate::transport::sh_quote;
use crate::value::{Map, Value};

pub(super) const NODE_SPEC: Spec = Spec {
    name: "node",
    file_common: false,
    traits: &[],
    args: &[
        "version", "nvm_dir", "mirror", "checksum", "default", "arch", "state",
    ],
    required: &["version"],
};

pub(super) const NPM_SPEC: Spec = Spec {
    name: "npm",
    file_common: false,
    traits: &[],
    args: &[
        "name",
        "version",
        "global",
        "state",
        "node_version",
        "nvm_dir",
        "executable",
        "registry",
        "production",
        "path",
    ],
    required: &["name"],
};

/// `20.17.0` or `v20.17.0` to `20.17.0`.
fn bare(v: &str) -> String {
    v.trim().trim_start_matches('v').to_string()
}

fn nvm_dir(a: &Map) -> String {
    args::str_opt(a, &["nvm_dir"]).unwrap_or_else(|| "$HOME/.nvm".into())
}

/// A path for the shell: `$HOME` stays expandable, the rest is quoted.
fn shell_path(p: &str) -> String {
    match p.strip_prefix("$HOME") {
        Some(rest) => format!("\"$HOME\"{}", sh_quote(rest)),
        None => sh_quote(p),
    }
}

pub(super) async fn run_node(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let version = bare(&args::str_req(a, &["version"], "node")?);
    if !version.chars().all(|c| c.is_ascii_digit() || c == '.') || version.split('.').count() != 3 {
        return Err(fail(format!(
            "node: version must be X.Y.Z, got {version:?}"
        )));
    }
    let nvm = nvm_dir(a);
    let mirror = args::str_opt(a, &["mirror"]).unwrap_or_else(|| "https://nodejs.org/dist".into());
    let mirror = mirror.trim_end_matches('/').to_string();
    let arch = args::str_opt(a, &["arch"]).unwrap_or_else(|| "x64".into());
    let set_default = args::bool_opt(a, &["default"])?.unwrap_or(true);
    let pinned =
        args::str_opt(a, &["checksum"]).map(|c| c.trim_start_matches("sha256:").to_lowercase());
    let n = shell_path(&nvm);
    let dir = format!("{n}/versions/node/v{version}");
    let probe = format!(
        "v=$({dir}/bin/node --version 2>/dev/null); echo \"installed=$v\"; printf 'default=%s\\n' \"$(cat {n}/alias/default 2>/dev/null)\""
    );
    let out = cx.probe.exec(&probe, cx.read_become()).await?;
    let text = out.stdout_str();
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let installed = field("installed") == format!("v{version}");
    let default_ok = !set_default || bare(&field("default")) == version;
    let mut o = Outcome::default();
    o.result
        .insert("version".into(), Value::str(version.clone()));
    o.result.insert(
        "node".into(),
        Value::str(format!("{nvm}/versions/node/v{version}/bin/node")),
    );
    if installed && default_ok {
        return Ok(o);
    }
    o.changed = true;
    let before = if installed {
        format!("v{version} (default {})\n", field("default"))
    } else {
        "absent\n".into()
    };
    o.diffs.push(Diff {
        before_header: Some(format!("{nvm}/versions/node/v{version}")),
        after_header: Some(format!("{nvm}/versions/node/v{version}")),
        before,
        after: format!("v{version} (default {version})\n"),
    });
    let Some(w) = &cx.writer else {
        return Ok(o);
    };
    let file = format!("node-v{version}-linux-{arch}");
    let check = match &pinned {
        Some(sum) => format!("want={}", sh_quote(sum)),
        None => format!(
            "want=$(curl -fsSL {shasums} | awk -v f=\"$f\" '$2 == f {{print $1}}'); [ -n \"$want\" ] || {{ echo \"no SHA-256 for $f in {shasums}\" >&2; exit 1; }}",
            shasums = sh_quote(&format!("{mirror}/v{version}/SHASUMS256.txt"))
        ),
    };
    let install = if installed {
        ":".to_string()
    } else {
        format!(
            "set -e; mkdir -p {n}/versions/node {n}/.cache; t=$(mktemp -d {n}/.cache/tprov-node.XXXXXX); trap 'rm -rf \"$t\"' EXIT; \
             if command -v xz >/dev/null; then f={file}.tar.xz; x=J; else f={file}.tar.gz; x=z; fi; \
             curl -fsSL {base}/\"$f\" -o \"$t/$f\"; {check}; \
             got=$(sha256sum \"$t/$f\" | cut -d' ' -f1); [ \"$got\" = \"$want\" ] || {{ echo \"checksum mismatch for $f: got $got, want $want\" >&2; exit 1; }}; \
             tar -x${{x}}f \"$t/$f\" -C \"$t\"; rm -rf {dir}.tprov-new; mv \"$t/{file}\" {dir}.tprov-new; \
             [ \"$({dir}.tprov-new/bin/node --version)\" = v{version} ]; rm -rf {dir}; mv -T {dir}.tprov-new {dir}",
            base = sh_quote(&format!("{mirror}/v{version}")),
        )
    };
    let alias = if set_default {
        format!("mkdir -p {n}/alias && printf '%s\\n' {version} > {n}/alias/default")
    } else {
        ":".into()
    };
    super::remote::change(w, &format!("{install}; {alias}")).await?;
    Ok(o)
}

pub(super) async fn run_npm(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let names = args::list_opt(a, &["name"]).unwrap_or_default();
    let version = args::str_opt(a, &["version"]);
    let state = args::str_opt(a, &["state"]).unwrap_or_else(|| "present".into());
    if !args::bool_opt(a, &["global"])?.unwrap_or(true) {
        return Err(fail(
            "npm: only global packages are supported (global: true)",
        ));
    }
    let npm = match (
        args::str_opt(a, &["executable"]),
        args::str_opt(a, &["node_version"]),
    ) {
        (Some(e), _) => sh_quote(&e),
        (None, Some(v)) => format!(
            "{}/versions/node/v{}/bin/npm",
            shell_path(&nvm_dir(a)),
            bare(&v)
        ),
        (None, None) => "npm".into(),
    };
    // npm's scripts run `node` from PATH: put this npm's node first.
    let env = format!("PATH=\"$(dirname {npm}):$PATH\"");
    let list = cx
        .probe
        .exec(
            &format!("{env} {npm} ls -g --depth=0 --json 2>/dev/null || true"),
            cx.read_become(),
        )
        .await?;
    let json: serde_json::Value =
        serde_json::from_str(list.stdout_str().trim()).unwrap_or(serde_json::Value::Null);
    let have = |n: &str| {
        json["dependencies"][n]["version"]
            .as_str()
            .map(str::to_string)
    };
    let mut o = Outcome::default();
    let mut todo = Vec::new();
    for n in &names {
        let current = have(n);
        let wanted = match (&state[..], &version) {
            ("absent", _) => current.is_some(),
            ("latest", _) => true,
            (_, Some(v)) => current.as_deref() != Some(v.as_str()),
            (_, None) => current.is_none(),
        };
        if wanted {
            todo.push((n.clone(), current));
        }
    }
    if todo.is_empty() {
        return Ok(o);
    }
    o.changed = true;
    let before: String = todo
        .iter()
        .map(|(n, c)| format!("{n}@{}\n", c.clone().unwrap_or_else(|| "absent".into())))
        .collect();
    let after: String = todo
        .iter()
        .map(|(n, _)| {
            if state == "absent" {
                format!("{n}@absent\n")
            } else {
                format!(
                    "{n}@{}\n",
                    version.clone().unwrap_or_else(|| "latest".into())
                )
            }
        })
        .collect();
    o.diffs.push(Diff {
        before_header: Some("npm -g".into()),
        after_header: Some("npm -g".into()),
        before,
        after,
    });
    let Some(w) = &cx.writer else {
        return Ok(o);
    };
    let specs: Vec<String> = todo
        .iter()
        .map(|(n, _)| match &version {
            Some(v) if state != "absent" => sh_quote(&format!("{n}@{v}")),
            _ => sh_quote(n),
        })
        .collect();
    let verb = if state == "absent" {
        "uninstall"
    } else {
        "install"
    };
    let registry = args::str_opt(a, &["registry"])
        .map(|r| format!(" --registry {}", sh_quote(&r)))
        .unwrap_or_default();
    let out = super::remote::change(
        w,
        &format!(
            "{env} {npm} {verb} -g --no-fund --no-audit{registry} {} 2>&1",
            specs.join(" ")
        ),
    )
    .await?;
    o.result
        .insert("stdout".into(), Value::str(out.stdout_str()));
    Ok(o)
}
