//! Weighted DNS for the rolling migration (seed 000): the A records of one name in
//! Route53, one per server, told apart by their SetIdentifier (the short host name). A
//! server takes traffic while its weight is above 0. Every change is planned from the
//! records as Route53 holds them right now (never from memory), checked against the
//! safety rules below, then sent and waited for until Route53 reports it INSYNC.
//!
//! The rules: a drain or a removal never leaves fewer than two servers taking traffic
//! (`force` overrides that, loudly), and never leaves none at all: Route53 answers with
//! every record equally when all weights are 0, so that state is refused even forced.

mod route53;

pub(crate) use route53::Route53;

/// One weighted A record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub id: String,
    pub address: String,
    pub weight: i64,
    pub ttl: i64,
}

impl Record {
    pub(crate) fn active(&self) -> bool {
        self.weight > 0
    }
}

/// What a change does to one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// Create or replace the record (`UPSERT`).
    Upsert(Record),
    /// Delete it, exactly as it is (`DELETE` must match the record).
    Delete(Record),
}

impl Change {
    pub(crate) fn record(&self) -> &Record {
        match self {
            Change::Upsert(r) | Change::Delete(r) => r,
        }
    }
}

/// The weight `restore` and `add` give unless told otherwise, as the fleet's script.
pub(crate) const FULL_WEIGHT: i64 = 100;

/// The SetIdentifier a host is known by: the short name (`sandbox3` for
/// `sandbox3.tokenoftrust.com`), or, for an address, the record that holds it.
pub(crate) fn identifier(host: &str, records: &[Record]) -> Result<String, String> {
    if host.parse::<std::net::IpAddr>().is_ok() {
        let hits: Vec<&Record> = records.iter().filter(|r| r.address == host).collect();
        return match hits.as_slice() {
            [one] => Ok(one.id.clone()),
            [] => Err(format!("no record of this name has the address {host}")),
            _ => Err(format!(
                "several records have the address {host}: name the host instead"
            )),
        };
    }
    let short = host.split('.').next().unwrap_or(host);
    check_identifier(short)?;
    Ok(short.to_string())
}

/// Route53's limits, checked before sending (the emulator accepts more than Route53).
fn check_identifier(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 128 {
        return Err(format!("SetIdentifier {id:?} must be 1 to 128 characters"));
    }
    Ok(())
}

fn check(r: &Record) -> Result<(), String> {
    check_identifier(&r.id)?;
    if !(0..=255).contains(&r.weight) {
        return Err(format!(
            "weight {} is out of Route53's range 0..255",
            r.weight
        ));
    }
    if !(0..=2_147_483_647).contains(&r.ttl) {
        return Err(format!("TTL {} is out of Route53's range", r.ttl));
    }
    if r.address.parse::<std::net::Ipv4Addr>().is_err() {
        return Err(format!(
            "{:?} is not an IPv4 address (an A record's value)",
            r.address
        ));
    }
    Ok(())
}

/// How many servers take traffic once `change` is made.
fn active_after(records: &[Record], change: &Change) -> usize {
    let target = &change.record().id;
    let others = records
        .iter()
        .filter(|r| &r.id != target && r.active())
        .count();
    match change {
        Change::Upsert(r) if r.active() => others + 1,
        _ => others,
    }
}

/// The safety rules for a change that takes a server out of rotation.
fn safe(records: &[Record], change: &Change, force: bool, verb: &str) -> Result<(), String> {
    let after = active_after(records, change);
    let id = &change.record().id;
    if after == 0 {
        return Err(format!(
            "refused: {verb} {id} would leave no server with weight > 0, and Route53 then sends traffic to every record equally (not even --force does this)"
        ));
    }
    if after < 2 && !force {
        return Err(format!(
            "refused: {verb} {id} would leave {after} active server (at least 2 must stay; --force overrides)"
        ));
    }
    Ok(())
}

fn find<'r>(records: &'r [Record], id: &str) -> Result<&'r Record, String> {
    records.iter().find(|r| r.id == id).ok_or_else(|| {
        format!(
            "no record with SetIdentifier {id} (there are: {})",
            records
                .iter()
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// Sets a record's weight to 0. `None` when it is already drained.
pub(crate) fn drain(records: &[Record], id: &str, force: bool) -> Result<Option<Change>, String> {
    let r = find(records, id)?;
    if !r.active() {
        return Ok(None);
    }
    let change = Change::Upsert(Record {
        weight: 0,
        ..r.clone()
    });
    safe(records, &change, force, "draining")?;
    Ok(Some(change))
}

/// Gives a record its weight back. `None` when it already has it.
pub(crate) fn restore(records: &[Record], id: &str, weight: i64) -> Result<Option<Change>, String> {
    let r = find(records, id)?;
    if r.weight == weight {
        return Ok(None);
    }
    let change = Change::Upsert(Record {
        weight,
        ..r.clone()
    });
    check(change.record())?;
    // Lowering a weight to 0 is a drain, with its rules.
    if weight == 0 {
        safe(records, &change, false, "restoring to weight 0")?;
    }
    Ok(Some(change))
}

/// Creates a record. `None` when the same record is there already.
pub(crate) fn add(records: &[Record], new: Record) -> Result<Option<Change>, String> {
    check(&new)?;
    if let Some(r) = records.iter().find(|r| r.id == new.id) {
        if *r == new {
            return Ok(None);
        }
        return Err(format!(
            "{} is already a record ({} weight {} ttl {}): use restore, or remove it first",
            r.id, r.address, r.weight, r.ttl
        ));
    }
    if let Some(r) = records.iter().find(|r| r.address == new.address) {
        return Err(format!("{} already points at {}", r.id, new.address));
    }
    Ok(Some(Change::Upsert(new)))
}

/// Deletes a record.
pub(crate) fn remove(records: &[Record], id: &str, force: bool) -> Result<Change, String> {
    let r = find(records, id)?;
    let change = Change::Delete(r.clone());
    // Removing a drained record takes no traffic away.
    if r.active() {
        safe(records, &change, force, "removing")?;
    }
    Ok(change)
}

/// The change as one line, as the commands print it.
pub(crate) fn describe(name: &str, change: &Change, records: &[Record]) -> String {
    let r = change.record();
    match change {
        Change::Delete(_) => format!(
            "DELETE {name} {} A {} weight {} ttl {}",
            r.id, r.address, r.weight, r.ttl
        ),
        Change::Upsert(_) => match records.iter().find(|o| o.id == r.id) {
            Some(old) if old.weight != r.weight => format!(
                "UPSERT {name} {} A {} weight {} -> {} ttl {}",
                r.id, r.address, old.weight, r.weight, r.ttl
            ),
            _ => format!(
                "UPSERT {name} {} A {} weight {} ttl {}",
                r.id, r.address, r.weight, r.ttl
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet(weights: &[(&str, i64)]) -> Vec<Record> {
        weights
            .iter()
            .enumerate()
            .map(|(i, (id, w))| Record {
                id: (*id).into(),
                address: format!("10.0.0.{}", i + 1),
                weight: *w,
                ttl: 60,
            })
            .collect()
    }

    #[test]
    fn two_servers_always_take_traffic() {
        let r = fleet(&[("sandbox1", 100), ("sandbox3", 100), ("sandbox4", 100)]);
        let c = drain(&r, "sandbox3", false).unwrap().unwrap();
        assert_eq!(c.record().weight, 0);
        let two = fleet(&[("sandbox1", 100), ("sandbox3", 0), ("sandbox4", 100)]);
        let e = drain(&two, "sandbox4", false).unwrap_err();
        assert!(e.contains("leave 1 active server"), "{e}");
        assert!(drain(&two, "sandbox4", true).unwrap().is_some());
        assert_eq!(drain(&two, "sandbox3", false).unwrap(), None);
        let one = fleet(&[("sandbox1", 100), ("sandbox3", 0)]);
        let e = drain(&one, "sandbox1", true).unwrap_err();
        assert!(e.contains("not even --force"), "{e}");
        assert!(remove(&two, "sandbox4", false).is_err());
        assert!(remove(&r, "sandbox4", false).is_ok());
        assert!(remove(&one, "sandbox1", true).is_err());
    }

    #[test]
    fn checks_what_route53_rejects() {
        let r = fleet(&[("sandbox1", 100)]);
        let new = |w: i64, id: &str| Record {
            id: id.into(),
            address: "10.0.0.9".into(),
            weight: w,
            ttl: 60,
        };
        assert!(add(&r, new(256, "x")).unwrap_err().contains("0..255"));
        assert!(
            add(&r, new(1, &"a".repeat(129)))
                .unwrap_err()
                .contains("1 to 128")
        );
        assert!(
            add(&r, new(100, "sandbox1"))
                .unwrap_err()
                .contains("already a record")
        );
        assert!(add(&r, new(100, "sandbox3")).unwrap().is_some());
        assert_eq!(
            identifier("sandbox3.tokenoftrust.com", &r).unwrap(),
            "sandbox3"
        );
        assert_eq!(identifier("10.0.0.1", &r).unwrap(), "sandbox1");
        assert!(identifier("10.9.9.9", &r).is_err());
    }
}
