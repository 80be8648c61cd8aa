//! `tprov inventory move HOST --from GROUP --to GROUP`: the inventory edit of seed 000's
//! migration, in the INI file that lists the host. The new text is checked by loading
//! it as an inventory (the host in GROUP, no longer in the old one) before it replaces
//! the file atomically (temp file beside it, fsync, rename; the file's mode kept).

use crate::cli::{InventoryArgs, MoveCmd};
use crate::error::Error;
use crate::inventory::edit::{Moved, move_host};
use crate::output::Printer;
use crate::settings::Settings;
use std::io::Write;
use std::path::{Path, PathBuf};

pub(crate) fn run(
    cmd: &MoveCmd,
    args: &InventoryArgs,
    settings: &Settings,
    printer: &Printer,
) -> Result<u8, Error> {
    let sources = settings.inventory_sources(&args.inventory)?;
    let (file, text, moved) = find(&sources, cmd)?;
    let diff = crate::tasks::Diff {
        before_header: Some(file.display().to_string()),
        after_header: Some(file.display().to_string()),
        before: text,
        after: moved.text.clone(),
    };
    printer.out(&crate::report::colored(
        &crate::report::unified(&diff),
        printer,
    ));
    if cmd.check {
        printer.out(&format!(
            "would move {} from [{}] to [{}] in {} (nothing written: --check)\n",
            moved.host,
            cmd.from,
            cmd.to,
            file.display()
        ));
        return Ok(crate::error::exit::OK);
    }
    write(&file, &moved, cmd)?;
    printer.out(&format!(
        "moved {} from [{}] to [{}] in {}:{}\n",
        moved.host,
        cmd.from,
        cmd.to,
        file.display(),
        moved.to_line
    ));
    Ok(crate::error::exit::OK)
}

/// The INI files of the inventory sources (a directory's files, not its vars dirs).
fn ini_files(sources: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for s in sources {
        if s.is_dir() {
            let mut names: Vec<PathBuf> = std::fs::read_dir(s)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .filter(|p| {
                    let name = p
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    !name.starts_with('.')
                        && ![".yml", ".yaml", ".json", ".py", "~", ".ini.bak"]
                            .iter()
                            .any(|ext| name.ends_with(ext))
                })
                .collect();
            names.sort();
            out.extend(names);
        } else if s.is_file() {
            out.push(s.clone());
        }
    }
    out
}

/// The one file where the move applies; a refusal names the file.
fn find(sources: &[PathBuf], cmd: &MoveCmd) -> Result<(PathBuf, String, Moved), Error> {
    let mut hits = Vec::new();
    let mut first_refusal = None;
    for f in ini_files(sources) {
        let text = std::fs::read_to_string(&f)
            .map_err(|e| Error::Usage(format!("{}: cannot read: {e}", f.display())))?;
        match move_host(&text, &cmd.host, &cmd.from, &cmd.to) {
            Ok(m) => hits.push((f, text, m)),
            // Another file of the inventory may list the host or the groups.
            Err(e) if e.0.contains("is not in [") || e.0.contains("has no group") => {
                first_refusal.get_or_insert(format!("{}: {}", f.display(), e.0));
            }
            Err(e) => return Err(Error::Usage(format!("{}: {}", f.display(), e.0))),
        }
    }
    match hits.len() {
        1 => Ok(hits.remove(0)),
        0 => Err(Error::Usage(first_refusal.unwrap_or_else(|| {
            "no INI inventory file to edit (YAML inventories are not edited)".into()
        }))),
        _ => Err(Error::Usage(format!(
            "{} is in [{}] in several files: {}",
            cmd.host,
            cmd.from,
            hits.iter()
                .map(|(f, _, _)| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Checks the new text as an inventory, then replaces the file with it atomically.
fn write(file: &Path, moved: &Moved, cmd: &MoveCmd) -> Result<(), Error> {
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tprov-{}.tmp", std::process::id()));
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        let _ = std::fs::remove_file(&tmp);
        Error::Internal(format!("{}: {what}: {e}", file.display()))
    };
    let mode = std::fs::metadata(file)
        .map_err(|e| fail("cannot stat", &e))?
        .permissions();
    {
        let mut f = std::fs::File::create(&tmp)
            .map_err(|e| fail("cannot write a temp file beside it", &e))?;
        f.write_all(moved.text.as_bytes())
            .map_err(|e| fail("cannot write", &e))?;
        f.sync_all().map_err(|e| fail("cannot sync", &e))?;
    }
    std::fs::set_permissions(&tmp, mode).map_err(|e| fail("cannot set the mode", &e))?;
    let inv = crate::inventory::load(std::slice::from_ref(&tmp))
        .map_err(|d| fail("the edited inventory does not load", &d))?;
    let groups_of = |h: &str| {
        inv.host_id(h).map(|id| {
            inv.direct_groups(id)
                .into_iter()
                .map(|g| inv.group(g).name.clone())
                .collect::<Vec<_>>()
        })
    };
    match groups_of(&moved.host) {
        Some(g) if g.contains(&cmd.to) && !g.contains(&cmd.from) => {}
        other => {
            return Err(fail(
                "the edit did not give the expected groups (nothing written)",
                &format!("{} would be in {:?}", moved.host, other.unwrap_or_default()),
            ));
        }
    }
    std::fs::rename(&tmp, file).map_err(|e| fail("cannot replace it", &e))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
