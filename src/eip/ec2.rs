//! EC2's Elastic IP calls through the AWS SDK for Rust, with the standard credential
//! chain and config (environment, profile; `AWS_ENDPOINT_URL` points it at an emulator
//! such as moto).

use super::{Address, Call};
use aws_sdk_ec2::Client;

pub(crate) struct Ec2 {
    client: Client,
}

impl Ec2 {
    pub(crate) async fn connect(region: Option<&str>) -> Result<Ec2, String> {
        let mut loader = crate::aws::config_loader();
        if let Some(r) = region {
            loader = loader.region(aws_config::Region::new(r.to_string()));
        }
        let config = loader.load().await;
        if config.region().is_none() {
            return Err(
                "no AWS region: set AWS_REGION, a profile's region, or --region".to_string(),
            );
        }
        Ok(Ec2 {
            client: Client::new(&config),
        })
    }

    /// The addresses, in the order asked; an address EC2 does not hold is an error.
    pub(crate) async fn describe(&self, ips: &[&str]) -> Result<Vec<Address>, String> {
        let mut req = self.client.describe_addresses();
        for ip in ips {
            req = req.public_ips(*ip);
        }
        let out = req
            .send()
            .await
            .map_err(|e| crate::aws::error("describing the addresses", e))?;
        let mut found = Vec::new();
        for ip in ips {
            let Some(a) = out.addresses().iter().find(|a| a.public_ip() == Some(*ip)) else {
                return Err(format!(
                    "EC2 holds no Elastic IP {ip} in this account and region"
                ));
            };
            // moto answers an unassociated address with empty ids; EC2 leaves them out.
            let some = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(str::to_string);
            found.push(Address {
                public_ip: (*ip).to_string(),
                allocation_id: some(a.allocation_id()),
                association_id: some(a.association_id()),
                instance_id: some(a.instance_id()),
            });
        }
        Ok(found)
    }

    pub(crate) async fn call(&self, call: &Call) -> Result<(), String> {
        match call {
            Call::Disassociate { address, .. } => {
                let mut req = self.client.disassociate_address();
                req = match &address.association_id {
                    Some(id) => req.association_id(id),
                    None => req.public_ip(&address.public_ip),
                };
                req.send()
                    .await
                    .map_err(|e| crate::aws::error("disassociate-address", e))?;
            }
            Call::Associate {
                address,
                instance,
                allow_reassociation,
                ..
            } => {
                let mut req = self
                    .client
                    .associate_address()
                    .instance_id(instance)
                    .allow_reassociation(*allow_reassociation);
                req = match &address.allocation_id {
                    Some(id) => req.allocation_id(id),
                    None => req.public_ip(&address.public_ip),
                };
                req.send()
                    .await
                    .map_err(|e| crate::aws::error("associate-address", e))?;
            }
        }
        Ok(())
    }
}
