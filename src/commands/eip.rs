//! `tprov eip status|swap --prod IP --stage IP`: seed 001's Elastic IP swap, planned from
//! the addresses as EC2 holds them, printed call by call, verified by a last describe.

use super::runtime;
use crate::cli::{EipAction, EipCmd};
use crate::eip::{self, Address, Ec2, Pair};
use crate::error::{Error, exit};
use crate::output::Printer;

pub(crate) fn run(cmd: &EipCmd, printer: &Printer) -> Result<u8, Error> {
    let (Some(prod_ip), Some(stage_ip)) = (cmd.prod.as_deref(), cmd.stage.as_deref()) else {
        return Err(Error::Usage(
            "eip: name both addresses, --prod IP and --stage IP".to_string(),
        ));
    };
    for ip in [prod_ip, stage_ip] {
        if ip.parse::<std::net::Ipv4Addr>().is_err() {
            return Err(Error::Usage(format!("eip: {ip} is not an IPv4 address")));
        }
    }
    let instances = match &cmd.action {
        EipAction::Swap { instances, .. } => instances.as_slice(),
        EipAction::Status => &[],
    };
    let pair_given = match instances {
        [] => None,
        [a, b] => Some((a.as_str(), b.as_str())),
        _ => {
            return Err(Error::Usage(format!(
                "eip: --instances takes two instances, A,B (got {})",
                instances.join(",")
            )));
        }
    };
    runtime()?.block_on(async {
        let ec2 = Ec2::connect(cmd.region.as_deref())
            .await
            .map_err(Error::Usage)?;
        let (prod, stage) = describe(&ec2, prod_ip, stage_ip).await?;
        let EipAction::Swap { to, dry_run, .. } = &cmd.action else {
            printer.out(&eip::table(&prod, &stage));
            return Ok(exit::OK);
        };
        let pair = eip::pair(&prod, &stage, pair_given, to.as_deref()).map_err(Error::Usage)?;
        printer.out(&eip::table(&prod, &stage));
        let calls = eip::plan(&prod, &stage, &pair);
        if calls.is_empty() {
            printer.out(&format!(
                "nothing to swap: prod is on {} and stage on {}\n",
                pair.to, pair.other
            ));
            return Ok(exit::OK);
        }
        if *dry_run {
            for call in &calls {
                printer.out(&format!("would call: {}\n", call.describe()));
            }
            printer.out("--dry-run: no call made\n");
            return Ok(exit::OK);
        }
        for call in &calls {
            printer.out(&format!("{}\n", call.describe()));
            if let Err(e) = ec2.call(call).await {
                // The order keeps production on an instance throughout; what is left is
                // finished by the same command, or undone by swapping back.
                let now = describe(&ec2, prod_ip, stage_ip).await.map_or_else(
                    |e| format!("(describing again failed too: {e})\n"),
                    |(p, s)| eip::table(&p, &s),
                );
                return Err(Error::Failed(format!(
                    "{e}\nthe addresses now:\n{now}run the same command again to finish the \
                     swap, or `tprov eip swap --prod {prod_ip} --stage {stage_ip} --to {} \
                     --instances {},{}` to put production back",
                    pair.other, pair.to, pair.other
                )));
            }
        }
        let (prod, stage) = describe(&ec2, prod_ip, stage_ip).await?;
        verify(&prod, &stage, &pair)?;
        printer.out(&format!(
            "verified: prod {prod_ip} on {}, stage {stage_ip} on {}\n",
            pair.to, pair.other
        ));
        Ok(exit::OK)
    })
}

async fn describe(ec2: &Ec2, prod: &str, stage: &str) -> Result<(Address, Address), Error> {
    let mut found = ec2
        .describe(&[prod, stage])
        .await
        .map_err(Error::Internal)?;
    let stage = found.pop();
    let prod = found.pop();
    match (prod, stage) {
        (Some(p), Some(s)) => Ok((p, s)),
        _ => Err(Error::Internal(
            "EC2 answered with fewer addresses than asked".into(),
        )),
    }
}

/// The last describe must show the end state: EC2 may have answered each call and
/// still not hold it (a concurrent change, an emulator's quirk).
fn verify(prod: &Address, stage: &Address, pair: &Pair) -> Result<(), Error> {
    if prod.instance_id.as_deref() == Some(pair.to.as_str())
        && stage.instance_id.as_deref() == Some(pair.other.as_str())
    {
        return Ok(());
    }
    Err(Error::Failed(format!(
        "the swap did not hold: the last describe shows\n{}",
        eip::table(prod, stage)
    )))
}
