//! The Elastic IP swap of seed 001: two EC2 instances, two Elastic IPs. The production
//! address points at one instance and the staging address at the other; after the new
//! code is deployed to the staging instance, the two addresses trade places.
//!
//! The swap is planned from the addresses as EC2 holds them right now, towards one end
//! state (production on the instance named by `to`, staging on the other), so that a swap
//! interrupted anywhere is finished by running it again, and a swap already done changes
//! nothing. The calls are seed 001's, in its order: disassociate the staging address,
//! move the production address with `AllowReassociation` (one call: production is never
//! without an instance), then give the staging address to the instance production left,
//! without reassociation (it must be free by then).

mod ec2;

pub(crate) use ec2::Ec2;

/// One Elastic IP as `DescribeAddresses` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Address {
    pub public_ip: String,
    /// Set for VPC addresses, which are associated by allocation id.
    pub allocation_id: Option<String>,
    pub association_id: Option<String>,
    pub instance_id: Option<String>,
}

/// One EC2 call of a swap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Call {
    Disassociate {
        role: Role,
        address: Address,
    },
    Associate {
        role: Role,
        address: Address,
        instance: String,
        allow_reassociation: bool,
    },
}

/// Which of the two addresses a call is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Prod,
    Stage,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Prod => "prod",
            Role::Stage => "stage",
        }
    }
}

impl Call {
    /// The call as the AWS CLI spells it, then what it does.
    pub(crate) fn describe(&self) -> String {
        fn target(a: &Address) -> String {
            match &a.allocation_id {
                Some(id) => format!("--allocation-id {id}"),
                None => format!("--public-ip {}", a.public_ip),
            }
        }
        match self {
            Call::Disassociate { role, address } => {
                let target = match &address.association_id {
                    Some(id) => format!("--association-id {id}"),
                    None => format!("--public-ip {}", address.public_ip),
                };
                format!(
                    "aws ec2 disassociate-address {target}   # {} {} off {}",
                    role.name(),
                    address.public_ip,
                    address.instance_id.as_deref().unwrap_or("-")
                )
            }
            Call::Associate {
                role,
                address,
                instance,
                allow_reassociation,
            } => format!(
                "aws ec2 associate-address {} --instance-id {instance} {}   # {} {} to {instance}",
                target(address),
                if *allow_reassociation {
                    "--allow-reassociation"
                } else {
                    "--no-allow-reassociation"
                },
                role.name(),
                address.public_ip,
            ),
        }
    }
}

/// The two instances of the pair, and which one is to serve production.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pair {
    /// The instance production moves to (seed 001's `serverName`).
    pub to: String,
    /// The other one, which gets the staging address.
    pub other: String,
}

/// Picks the pair from what is configured, or from live state: without configured
/// instances, the two addresses must each be on an instance, and production moves to
/// the one behind staging (the instance just deployed to).
pub(crate) fn pair(
    prod: &Address,
    stage: &Address,
    instances: Option<(&str, &str)>,
    to: Option<&str>,
) -> Result<Pair, String> {
    if prod.public_ip == stage.public_ip {
        return Err(format!(
            "production and staging are the same address ({})",
            prod.public_ip
        ));
    }
    let Some((a, b)) = instances else {
        let (Some(p), Some(s)) = (&prod.instance_id, &stage.instance_id) else {
            return Err(format!(
                "prod {} is on {} and stage {} on {}: with an address unassociated, name the \
                 two instances (--instances A,B) so the swap knows the pair",
                prod.public_ip,
                prod.instance_id.as_deref().unwrap_or("no instance"),
                stage.public_ip,
                stage.instance_id.as_deref().unwrap_or("no instance"),
            ));
        };
        if p == s {
            return Err(format!(
                "prod {} and stage {} are both on {p}: there is no second instance to swap to",
                prod.public_ip, stage.public_ip
            ));
        }
        return match to {
            None => Ok(Pair {
                to: s.clone(),
                other: p.clone(),
            }),
            Some(t) if t == s => Ok(Pair {
                to: s.clone(),
                other: p.clone(),
            }),
            Some(t) if t == p => Ok(Pair {
                to: p.clone(),
                other: s.clone(),
            }),
            Some(t) => Err(format!(
                "{t} is neither of the two instances the addresses are on ({p}, {s})"
            )),
        };
    };
    if a == b {
        return Err(format!("the two instances are the same ({a})"));
    }
    for (role, addr) in [(Role::Prod, prod), (Role::Stage, stage)] {
        if let Some(i) = &addr.instance_id
            && i != a
            && i != b
        {
            return Err(format!(
                "{} {} is on {i}, which is neither configured instance ({a}, {b}): refusing \
                 to move an address away from an instance this swap does not own",
                role.name(),
                addr.public_ip
            ));
        }
    }
    let to = match to {
        Some(t) if t == a || t == b => t.to_string(),
        Some(t) => {
            return Err(format!("{t} is neither configured instance ({a}, {b})"));
        }
        // Production moves to the instance it is not on now; unassociated, to the one
        // staging is not on.
        None => match (&prod.instance_id, &stage.instance_id) {
            (Some(p), _) => if p == a { b } else { a }.to_string(),
            (None, Some(s)) => s.clone(),
            (None, None) => {
                return Err(format!(
                    "neither address is on an instance: say which instance production goes \
                     to (--to {a} or --to {b})"
                ));
            }
        },
    };
    let other = if to == a { b } else { a }.to_string();
    Ok(Pair { to, other })
}

/// The calls that take the two addresses from where they are to production on `to` and
/// staging on `other`, in seed 001's order. Empty when they are there already.
pub(crate) fn plan(prod: &Address, stage: &Address, pair: &Pair) -> Vec<Call> {
    let mut calls = Vec::new();
    let prod_done = prod.instance_id.as_deref() == Some(pair.to.as_str());
    let stage_done = stage.instance_id.as_deref() == Some(pair.other.as_str());
    if prod_done && stage_done {
        return calls;
    }
    // Staging first leaves the instance production moves to, so that the instance is
    // never behind two addresses at once.
    if !stage_done && stage.instance_id.is_some() {
        calls.push(Call::Disassociate {
            role: Role::Stage,
            address: stage.clone(),
        });
    }
    if !prod_done {
        calls.push(Call::Associate {
            role: Role::Prod,
            address: prod.clone(),
            instance: pair.to.clone(),
            allow_reassociation: true,
        });
    }
    if !stage_done {
        let mut free = stage.clone();
        free.association_id = None;
        free.instance_id = None;
        calls.push(Call::Associate {
            role: Role::Stage,
            address: free,
            instance: pair.other.clone(),
            allow_reassociation: false,
        });
    }
    calls
}

/// The two addresses as a small table.
pub(crate) fn table(prod: &Address, stage: &Address) -> String {
    let mut out = String::new();
    for (role, a) in [(Role::Prod, prod), (Role::Stage, stage)] {
        out.push_str(&format!(
            "{:<6} {:<16} {:<22} {}\n",
            role.name(),
            a.public_ip,
            a.instance_id.as_deref().unwrap_or("-"),
            a.association_id.as_deref().unwrap_or("-"),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(ip: &str, on: Option<&str>) -> Address {
        Address {
            public_ip: ip.into(),
            allocation_id: Some(format!("eipalloc-{ip}")),
            association_id: on.map(|i| format!("eipassoc-{i}")),
            instance_id: on.map(Into::into),
        }
    }

    #[test]
    fn a_swap_is_seed_001s_three_calls_and_a_second_run_none() {
        let prod = addr("1.1.1.1", Some("i-a"));
        let stage = addr("2.2.2.2", Some("i-b"));
        let p = pair(&prod, &stage, None, None).expect("a pair");
        assert_eq!(p.to, "i-b");
        let calls = plan(&prod, &stage, &p);
        assert_eq!(calls.len(), 3);
        assert!(matches!(
            &calls[0],
            Call::Disassociate {
                role: Role::Stage,
                ..
            }
        ));
        assert!(
            matches!(&calls[1], Call::Associate { role: Role::Prod, instance, allow_reassociation: true, .. } if instance == "i-b")
        );
        assert!(
            matches!(&calls[2], Call::Associate { role: Role::Stage, instance, allow_reassociation: false, .. } if instance == "i-a")
        );
        // Done: prod on i-b, stage on i-a, with the same --to.
        let prod = addr("1.1.1.1", Some("i-b"));
        let stage = addr("2.2.2.2", Some("i-a"));
        let p = pair(&prod, &stage, None, Some("i-b")).expect("a pair");
        assert!(plan(&prod, &stage, &p).is_empty());
    }

    #[test]
    fn an_interrupted_swap_is_finished_from_live_state() {
        // Stopped after the disassociation: prod still on i-a, stage nowhere.
        let prod = addr("1.1.1.1", Some("i-a"));
        let stage = addr("2.2.2.2", None);
        assert!(pair(&prod, &stage, None, Some("i-b")).is_err());
        let p = pair(&prod, &stage, Some(("i-a", "i-b")), Some("i-b")).expect("a pair");
        let calls = plan(&prod, &stage, &p);
        assert_eq!(calls.len(), 2);
        // Stopped after prod moved: only staging is left.
        let prod = addr("1.1.1.1", Some("i-b"));
        let p = pair(&prod, &stage, Some(("i-a", "i-b")), Some("i-b")).expect("a pair");
        let calls = plan(&prod, &stage, &p);
        assert!(matches!(
            calls.as_slice(),
            [Call::Associate {
                role: Role::Stage,
                ..
            }]
        ));
    }

    #[test]
    fn foreign_instances_and_one_address_twice_are_refused() {
        let prod = addr("1.1.1.1", Some("i-a"));
        let stage = addr("2.2.2.2", Some("i-x"));
        let e = pair(&prod, &stage, Some(("i-a", "i-b")), None).expect_err("foreign");
        assert!(e.contains("i-x"), "{e}");
        assert!(pair(&prod, &prod.clone(), None, None).is_err());
        let both = addr("2.2.2.2", Some("i-a"));
        assert!(pair(&prod, &both, None, None).is_err());
        assert!(pair(&prod, &stage, None, Some("i-z")).is_err());
    }
}
