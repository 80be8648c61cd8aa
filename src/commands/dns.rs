//! `tprov dns list|add|drain|restore|remove NAME HOST`: seed 000's route53-manage.sh,
//! with its safety rules enforced on the records as Route53 holds them at that moment.

use super::{extra_vars, load_inventory, raw_host_vars, runtime, vars_query};
use crate::cli::{DnsAction, DnsCmd};
use crate::dns::{self, Change, Record, Route53};
use crate::error::Error;
use crate::output::Printer;
use crate::settings::Settings;
use crate::value::{Map, Value};
use std::time::Duration;

pub(crate) fn run(cmd: &DnsCmd, settings: &Settings, printer: &Printer) -> Result<u8, Error> {
    let name = match &cmd.action {
        DnsAction::List { name, .. }
        | DnsAction::Add { name, .. }
        | DnsAction::Drain { name, .. }
        | DnsAction::Restore { name, .. }
        | DnsAction::Remove { name, .. } => name.clone(),
    };
    // An `add` without an address reads the inventory before anything is sent.
    let address = match &cmd.action {
        DnsAction::Add { host, address, .. } => Some(address_of(
            host,
            address.as_deref(),
            cmd,
            settings,
            printer,
        )?),
        _ => None,
    };
    let rt = runtime()?;
    rt.block_on(async {
        let r53 = Route53::connect(&name).await.map_err(Error::Internal)?;
        let records = r53.records().await.map_err(Error::Internal)?;
        let change: Option<Change> = match &cmd.action {
            DnsAction::List { json, .. } => {
                printer.out(&if *json {
                    as_json(&records)
                } else {
                    table(r53.name(), &records)
                });
                return Ok(crate::error::exit::OK);
            }
            DnsAction::Add {
                host, weight, ttl, ..
            } => {
                let id = dns::identifier(host, &records).unwrap_or_else(|_| {
                    // An address not in DNS yet names no record: it is the identifier.
                    host.clone()
                });
                let new = Record {
                    id,
                    address: address.clone().unwrap_or_default(),
                    weight: *weight,
                    ttl: *ttl,
                };
                dns::add(&records, new).map_err(Error::Usage)?
            }
            DnsAction::Drain { host, force, .. } => {
                let id = dns::identifier(host, &records).map_err(Error::Usage)?;
                let c = dns::drain(&records, &id, *force).map_err(Error::Usage)?;
                if *force && c.is_some() {
                    printer.warn(&format!(
                        "--force: draining {id} may leave a single server taking traffic"
                    ));
                }
                c
            }
            DnsAction::Restore { host, weight, .. } => {
                let id = dns::identifier(host, &records).map_err(Error::Usage)?;
                dns::restore(&records, &id, *weight).map_err(Error::Usage)?
            }
            DnsAction::Remove { host, force, .. } => {
                let id = dns::identifier(host, &records).map_err(Error::Usage)?;
                Some(dns::remove(&records, &id, *force).map_err(Error::Usage)?)
            }
        };
        let Some(change) = change else {
            printer.out(&format!("{}: nothing to change\n", r53.name()));
            return Ok(crate::error::exit::OK);
        };
        let line = dns::describe(r53.name(), &change, &records);
        if cmd.dry_run {
            printer.out(&table(r53.name(), &records));
            printer.out(&format!("would send: {line} (--dry-run: nothing sent)\n"));
            return Ok(crate::error::exit::OK);
        }
        printer.out(&format!("{line}\n"));
        let status = r53
            .apply(&change, Duration::from_secs(cmd.wait))
            .await
            .map_err(Error::Internal)?;
        printer.out(&format!("change {status}\n"));
        Ok(crate::error::exit::OK)
    })
}

/// HOST's address for a new record.
fn address_of(
    host: &str,
    given: Option<&str>,
    cmd: &DnsCmd,
    settings: &Settings,
    printer: &Printer,
) -> Result<String, Error> {
    if let Some(a) = given {
        return Ok(a.to_string());
    }
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        return Ok(host.to_string());
    }
    let inv = load_inventory(&cmd.inv, settings, printer)?;
    let short = host.split('.').next().unwrap_or(host);
    let id = inv
        .host_id(host)
        .or_else(|| {
            let prefix = format!("{short}.");
            let mut hits = inv
                .hosts()
                .enumerate()
                .filter(|(_, h)| h.name == short || h.name.starts_with(&prefix));
            match (hits.next(), hits.next()) {
                (Some((id, _)), None) => Some(id),
                _ => None,
            }
        })
        .ok_or_else(|| {
            Error::Usage(format!(
                "{host} is not an inventory host: give its address with --address"
            ))
        })?;
    let extra = extra_vars(&cmd.inv)?;
    let vars: Map = raw_host_vars(
        &inv,
        id,
        &vars_query(&inv, &cmd.inv),
        &mut crate::vars::VarsCache::new(),
        &extra,
    )?;
    match vars.get("ansible_host") {
        Some(Value::Str(a)) if a.parse::<std::net::Ipv4Addr>().is_ok() => Ok(a.clone()),
        _ => Err(Error::Usage(format!(
            "{} has no IPv4 ansible_host in the inventory: give its address with --address",
            inv.host(id).name
        ))),
    }
}

pub(crate) fn table(name: &str, records: &[Record]) -> String {
    let mut out = format!(
        "{name}\n{:<20} {:<16} {:>6} {:>6}  active\n",
        "identifier", "address", "weight", "ttl"
    );
    for r in records {
        out.push_str(&format!(
            "{:<20} {:<16} {:>6} {:>6}  {}\n",
            r.id,
            r.address,
            r.weight,
            r.ttl,
            if r.active() { "yes" } else { "no" }
        ));
    }
    let active = records.iter().filter(|r| r.active()).count();
    out.push_str(&format!("{active} of {} active\n", records.len()));
    out
}

fn as_json(records: &[Record]) -> String {
    let list: Vec<Value> = records
        .iter()
        .map(|r| {
            let mut m = Map::default();
            m.insert("identifier".into(), Value::str(r.id.clone()));
            m.insert("address".into(), Value::str(r.address.clone()));
            m.insert("weight".into(), Value::Int(r.weight));
            m.insert("ttl".into(), Value::Int(r.ttl));
            m.insert("active".into(), Value::Bool(r.active()));
            Value::Map(m)
        })
        .collect();
    let style = crate::value::pyjson::JsonStyle::pretty(2);
    format!(
        "{}\n",
        crate::value::pyjson::dumps(&Value::List(list), &style).unwrap_or_default()
    )
}
