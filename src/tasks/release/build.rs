//! The build step of a release: the new release directory exported and built, the
//! atomic switch of `current`, and the removal of old releases.

use super::BUILDING;
use crate::tasks::{Cx, TaskError, args, fail};
use crate::transport::sh_quote;
use crate::value::Map;

/// The new release directory: the commit exported from the work tree, the shared paths
/// linked in, `REVISION`, then the build step; removed again when any of it fails.
pub(super) async fn build(
    a: &Map,
    cx: &Cx<'_>,
    path: &str,
    src: &str,
    commit: &str,
    name: &str,
) -> Result<(), TaskError> {
    let mut links = String::new();
    for (dirs, list) in [
        (true, args::list_opt(a, &["shared_dirs"])),
        (false, args::list_opt(a, &["shared_files"])),
    ] {
        for item in list.unwrap_or_default() {
            let item = item.trim_matches('/');
            if item.is_empty() || item.split('/').any(|c| c == ".." || c == ".") {
                return Err(fail(format!(
                    "release: a shared path must be relative and plain, got {item:?}"
                )));
            }
            let q = sh_quote(item);
            if dirs {
                links.push_str(&format!("mkdir -p \"$p/shared/\"{q} && "));
            } else {
                links.push_str(&format!(
                    "{{ [ -e \"$p/shared/\"{q} ] || {{ echo \"$p/shared/\"{q}' is missing (a shared file must exist before a release)' >&2; false; }}; }} && "
                ));
            }
            links.push_str(&format!(
                "rm -rf \"$r/\"{q} && mkdir -p \"$(dirname \"$r/\"{q})\" && ln -s \"$p/shared/\"{q} \"$r/\"{q} && "
            ));
        }
    }
    let script = format!(
        "set -e; p={p}; r=\"$p/releases/\"{n}; mkdir -p \"$p/releases\" \"$p/shared\"; \
         mkdir \"$r\"; : > \"$r/{BUILDING}\"; \
         t=\"$r/.tprov-archive.tar\"; \
         if ! {{ git -C {src} archive --format=tar -o \"$t\" {c} && tar -x -C \"$r\" -f \"$t\" && rm -f \"$t\" && {links}true; }}; then rm -rf \"$r\"; exit 1; fi; \
         printf '%s\\n' {c} > \"$r/REVISION\"",
        p = sh_quote(path),
        n = sh_quote(name),
        src = sh_quote(src),
        c = sh_quote(commit),
    );
    let w = cx.writer()?;
    crate::tasks::remote::change(w, &script).await?;
    let dir = format!("{path}/releases/{name}");
    if let Some(step) = args::str_opt(a, &["build"]) {
        let run = format!("cd {} && {}{step}", sh_quote(&dir), cx.env_prefix());
        let out = w.exec(&run).await?;
        if !out.ok() {
            let _ = w.exec(&format!("rm -rf {}", sh_quote(&dir))).await;
            let why = crate::tasks::remote::changed_ok(out)
                .err()
                .map(|e| match e {
                    TaskError::Failed(m) | TaskError::Unreachable(m) => m,
                });
            return Err(fail(format!(
                "release: the build step failed in {dir}, which was removed:\n{}",
                why.unwrap_or_default()
            )));
        }
    }
    crate::tasks::remote::change(
        w,
        &format!("rm -f {}", sh_quote(&format!("{dir}/{BUILDING}"))),
    )
    .await?;
    Ok(())
}

/// `current` -> `releases/NAME`, atomically: a new link renamed over the old one.
pub(super) async fn switch(
    w: &crate::tasks::access::Writer<'_>,
    path: &str,
    name: &str,
) -> Result<(), TaskError> {
    let script = format!(
        "set -e; p={p}; t=\"$p/.current.tprov-$$\"; ln -sfn \"$p/releases/\"{n} \"$t\"; mv -T \"$t\" \"$p/current\"",
        p = sh_quote(path),
        n = sh_quote(name),
    );
    crate::tasks::remote::change(w, &script).await.map(|_| ())
}

pub(super) async fn remove(
    w: &crate::tasks::access::Writer<'_>,
    path: &str,
    names: &[String],
) -> Result<(), TaskError> {
    if names.is_empty() {
        return Ok(());
    }
    let dirs: Vec<String> = names
        .iter()
        .map(|n| sh_quote(&format!("{path}/releases/{n}")))
        .collect();
    crate::tasks::remote::change(w, &format!("rm -rf -- {}", dirs.join(" ")))
        .await
        .map(|_| ())
}
