//! `tprov lab up|down|status`.

use crate::cli::{LabAction, LabCmd};
use crate::error::Error;
use crate::lab;
use crate::output::Printer;

pub(crate) fn run(cmd: &LabCmd, printer: &Printer) -> Result<u8, Error> {
    match &cmd.action {
        LabAction::Up {
            hosts,
            count,
            inventory,
            port,
            no_node,
            own_network,
        } => {
            let names: Vec<(String, String)> = match (count, hosts.is_empty()) {
                (Some(n), _) => (1..=*n)
                    .map(|i| {
                        (
                            format!("lab{i}.tokenoftrust.com"),
                            "tot20-sandbox".to_string(),
                        )
                    })
                    .collect(),
                (None, true) => lab::FLEET
                    .iter()
                    .map(|(h, g)| (h.to_string(), g.to_string()))
                    .collect(),
                (None, false) => hosts
                    .iter()
                    .map(|h| {
                        let group = lab::FLEET
                            .iter()
                            .find(|(n, _)| n == h || n.split('.').next() == Some(h.as_str()))
                            .map_or("tot20-sandbox", |(_, g)| g);
                        let name = if h.contains('.') {
                            h.clone()
                        } else {
                            format!("{h}.tokenoftrust.com")
                        };
                        (name, group.to_string())
                    })
                    .collect(),
            };
            let mut lab = lab::up(
                &cmd.dir,
                &names,
                *port,
                if *own_network {
                    lab::Net::Own
                } else {
                    lab::Net::Shared
                },
            )
            .map_err(|e| Error::Usage(e.0))?;
            if !no_node {
                printer.err("building the Node mirror (first time: downloads Node 20.17.0 and 16.14.2 from the npm registry)...\n");
                lab::serve_node_mirror(&mut lab).map_err(|e| Error::Usage(e.0))?;
            }
            if let Some(parent) = inventory.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| Error::Internal(e.to_string()))?;
            }
            std::fs::write(inventory, lab::inventory_text(&lab)).map_err(|e| {
                Error::Internal(format!("cannot write {}: {e}", inventory.display()))
            })?;
            let mut text = format!(
                "lab up: {} hosts, inventory {}\n",
                lab.hosts.len(),
                inventory.display()
            );
            for h in &lab.hosts {
                text.push_str(&format!(
                    "  {:<28} {}:{}  [{}]\n",
                    h.name, h.addr, h.port, h.group
                ));
            }
            printer.out(&text);
            Ok(0)
        }
        LabAction::Down => {
            let n = lab::down(&cmd.dir).map_err(|e| Error::Usage(e.0))?;
            printer.out(&format!("lab down: {n} hosts stopped\n"));
            Ok(0)
        }
        LabAction::Status => {
            let Some(lab) = lab::read_state(&cmd.dir) else {
                printer.out("no lab\n");
                return Ok(0);
            };
            let mut text = String::new();
            for h in &lab.hosts {
                let up = std::path::Path::new(&format!("/proc/{}", h.pid)).exists();
                text.push_str(&format!(
                    "{:<28} {}:{} {}\n",
                    h.name,
                    h.addr,
                    h.port,
                    if up { "up" } else { "down" }
                ));
            }
            printer.out(&text);
            Ok(0)
        }
    }
}
