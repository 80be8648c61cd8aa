//! `apply --list-tasks | --list-tags | --list-hosts`: what each play would do, printed as
//! ansible-playbook prints it, with nothing run.

use crate::error::Error;
use crate::inventory::{Inventory, pattern};
use crate::playbook::{Item, Play};
use crate::run::{RunOptions, play_pattern, render_tags, tags_allow};
use std::fmt::Write as _;
use std::path::Path;

#[derive(Debug, Clone, Copy)]
pub(crate) struct What {
    pub tasks: bool,
    pub tags: bool,
    pub hosts: bool,
}

pub(crate) fn render(
    playbook: &Path,
    plays: &[Play],
    inv: &Inventory,
    opts: &RunOptions,
    what: What,
    warnings: &mut Vec<String>,
) -> Result<String, Error> {
    let mut out = format!("\nplaybook: {}\n", playbook.display());
    for (i, play) in plays.iter().enumerate() {
        let pattern = play_pattern(play, &opts.extra)?;
        let _ = write!(
            out,
            "\n  play #{} ({pattern}): {}\tTAGS: [{}]\n",
            i + 1,
            play.name,
            play.tags.join(", ")
        );
        let sel =
            pattern::select(inv, &pattern, opts.limit.as_deref()).map_err(|e| Error::Usage(e.0))?;
        warnings.extend(sel.warnings.iter().cloned());
        if what.hosts {
            let patterns: Vec<String> = pattern::split_host_pattern(&pattern)
                .iter()
                .map(|p| format!("'{p}'"))
                .collect();
            let _ = writeln!(out, "    pattern: [{}]", patterns.join(", "));
            let _ = writeln!(out, "    hosts ({}):", sel.hosts.len());
            for h in &sel.hosts {
                let _ = writeln!(out, "      {}", inv.host(*h).name);
            }
            if !what.tasks && !what.tags {
                continue;
            }
            out.push('\n');
        }
        let mut tasks: Vec<(String, Vec<String>)> = Vec::new();
        // --list-tags with no --tags lists every task's tags, `never` ones too (as
        // ansible-playbook does).
        let filter =
            !(what.tags && !what.tasks && opts.tags.is_empty() && opts.skip_tags.is_empty());
        let cx = Walk { play, opts, filter };
        for section in [&play.pre_tasks, &play.tasks, &play.post_tasks] {
            cx.walk(section, &play.tags, &mut tasks);
        }
        if what.tasks {
            out.push_str("    tasks:\n");
            for (name, tags) in &tasks {
                let _ = writeln!(out, "      {name}\tTAGS: [{}]", tags.join(", "));
            }
        }
        if what.tags {
            let mut all: Vec<String> = tasks.iter().flat_map(|(_, t)| t.clone()).collect();
            all.sort();
            all.dedup();
            let _ = writeln!(out, "      TASK TAGS: [{}]", all.join(", "));
        }
    }
    Ok(out)
}

struct Walk<'a> {
    play: &'a Play,
    opts: &'a RunOptions,
    filter: bool,
}

impl Walk<'_> {
    /// The tasks `--tags`/`--skip-tags` select, each with its name and every tag it has
    /// (its own, its blocks' and the play's, templated), sorted as Ansible prints them.
    fn walk(&self, items: &[Item], inherited: &[String], out: &mut Vec<(String, Vec<String>)>) {
        for item in items {
            match item {
                Item::Task(t) => {
                    let mut tags: Vec<String> = inherited.to_vec();
                    tags.extend(t.common.tags.iter().cloned());
                    let mut tags = render_tags(&tags, self.play, &self.opts.extra);
                    tags.sort();
                    tags.dedup();
                    if self.filter && !tags_allow(&tags, &self.opts.tags, &self.opts.skip_tags) {
                        continue;
                    }
                    out.push((t.banner_name(), tags));
                }
                Item::Block(b) => {
                    let mut tags: Vec<String> = inherited.to_vec();
                    tags.extend(b.common.tags.iter().cloned());
                    for part in [&b.block, &b.rescue, &b.always] {
                        self.walk(part, &tags, out);
                    }
                }
            }
        }
    }
}
