//! Route53 through the AWS SDK for Rust, with the standard credential chain and config
//! (environment, profile; `AWS_ENDPOINT_URL` points it at an emulator such as moto).

use super::{Change, Record};
use aws_sdk_route53::Client;
use aws_sdk_route53::types::{
    Change as AwsChange, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord,
    ResourceRecordSet, RrType,
};
use std::time::Duration;

/// One record name's weighted A records, in its hosted zone.
pub(crate) struct Route53 {
    client: Client,
    zone_id: String,
    /// The record name, with Route53's trailing dot.
    name: String,
}

fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

impl Route53 {
    /// Finds the hosted zone for `name` (the longest zone name it ends with).
    pub(crate) async fn connect(name: &str) -> Result<Route53, String> {
        let mut loader = crate::aws::config_loader();
        // Route53 is global; the SDK still wants a region for signing.
        if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            loader = loader.region(aws_config::Region::new("us-east-1"));
        }
        let config = loader.load().await;
        let client = Client::new(&config);
        let name = fqdn(name);
        let mut zone: Option<(usize, String)> = None;
        let mut marker: Option<String> = None;
        for _ in 0..100 {
            let mut req = client.list_hosted_zones();
            if let Some(next) = &marker {
                req = req.marker(next);
            }
            let out = req
                .send()
                .await
                .map_err(|e| crate::aws::error("listing the hosted zones", e))?;
            for z in out.hosted_zones() {
                let zname = fqdn(z.name());
                let fits = name == zname || name.ends_with(&format!(".{zname}"));
                if fits && zone.as_ref().is_none_or(|(len, _)| zname.len() > *len) {
                    zone = Some((zname.len(), z.id().to_string()));
                }
            }
            match out.next_marker().filter(|_| out.is_truncated()) {
                Some(m) if marker.as_deref() != Some(m) => marker = Some(m.to_string()),
                _ => break,
            }
        }
        let Some((_, zone_id)) = zone else {
            return Err(format!("no Route53 hosted zone holds {name}"));
        };
        Ok(Route53 {
            client,
            zone_id,
            name,
        })
    }

    pub(crate) fn name(&self) -> &str {
        self.name.trim_end_matches('.')
    }

    /// The weighted A records of the name, as Route53 holds them now.
    pub(crate) async fn records(&self) -> Result<Vec<Record>, String> {
        let mut out: Vec<Record> = Vec::new();
        let mut start: Option<(String, Option<String>)> = None;
        // Bounded: an emulator that repeats a page (moto does) cannot loop us forever.
        for _ in 0..100 {
            let mut req = self
                .client
                .list_resource_record_sets()
                .hosted_zone_id(&self.zone_id)
                .start_record_name(&self.name)
                .start_record_type(RrType::A);
            if let Some((name, id)) = &start {
                req = req.start_record_name(name);
                if let Some(id) = id {
                    req = req.start_record_identifier(id);
                }
            }
            let page = req
                .send()
                .await
                .map_err(|e| crate::aws::error("listing the records", e))?;
            let mut added = false;
            let mut past = false;
            for rs in page.resource_record_sets() {
                if fqdn(rs.name()) != self.name || *rs.r#type() != RrType::A {
                    past = true;
                    continue;
                }
                let Some(id) = rs.set_identifier() else {
                    continue;
                };
                if out.iter().any(|r| r.id == id) {
                    continue;
                }
                added = true;
                out.push(Record {
                    id: id.to_string(),
                    address: rs
                        .resource_records()
                        .first()
                        .map(|r| r.value().to_string())
                        .unwrap_or_default(),
                    weight: rs.weight().unwrap_or(0),
                    ttl: rs.ttl().unwrap_or(0),
                });
            }
            if past || !added || !page.is_truncated() {
                break;
            }
            match page.next_record_name() {
                Some(n) => {
                    start = Some((
                        n.to_string(),
                        page.next_record_identifier().map(str::to_string),
                    ));
                }
                None => break,
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Sends one change and waits (up to `wait`) until Route53 reports it INSYNC.
    pub(crate) async fn apply(&self, change: &Change, wait: Duration) -> Result<String, String> {
        let r = change.record();
        let set = ResourceRecordSet::builder()
            .name(&self.name)
            .r#type(RrType::A)
            .set_identifier(&r.id)
            .weight(r.weight)
            .ttl(r.ttl)
            .resource_records(
                ResourceRecord::builder()
                    .value(&r.address)
                    .build()
                    .map_err(|e| e.to_string())?,
            )
            .build()
            .map_err(|e| e.to_string())?;
        let action = match change {
            Change::Upsert(_) => ChangeAction::Upsert,
            Change::Delete(_) => ChangeAction::Delete,
        };
        let batch = ChangeBatch::builder()
            .comment("tprov dns")
            .changes(
                AwsChange::builder()
                    .action(action)
                    .resource_record_set(set)
                    .build()
                    .map_err(|e| e.to_string())?,
            )
            .build()
            .map_err(|e| e.to_string())?;
        let out = self
            .client
            .change_resource_record_sets()
            .hosted_zone_id(&self.zone_id)
            .change_batch(batch)
            .send()
            .await
            .map_err(|e| crate::aws::error("changing the record", e))?;
        let Some(info) = out.change_info() else {
            return Ok("sent".into());
        };
        let id = info.id().to_string();
        let mut status = info.status().clone();
        let deadline = tokio::time::Instant::now() + wait;
        while status != ChangeStatus::Insync {
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "change {id} was sent but is still {} after {} s",
                    status.as_str(),
                    wait.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
            let got = self
                .client
                .get_change()
                .id(&id)
                .send()
                .await
                .map_err(|e| crate::aws::error("asking for the change's status", e))?;
            if let Some(i) = got.change_info() {
                status = i.status().clone();
            }
        }
        Ok(format!("{id} INSYNC"))
    }
}
