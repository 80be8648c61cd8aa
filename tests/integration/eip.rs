//! `tprov eip` against moto in server mode standing in for EC2 (the only EC2 reachable
//! here). moto routes no traffic, so the two instances' web servers are two local HTTP
//! servers and the client follows the production address by describing it before each
//! request (tests/fixtures/eip/follow.py): a request fails if production is ever on no
//! instance or on the wrong one.

use crate::dns::{Moto, against_moto, moto};
use crate::support::fixture;
use std::process::{Command, Stdio};

fn eip(m: &Moto, args: &[&str]) -> (i32, String, String) {
    against_moto(m, "eip", args, &[("AWS_REGION", "us-west-2")])
}

fn aws_env(m: &Moto) -> [(&'static str, String); 5] {
    [
        ("AWS_ENDPOINT_URL", m.url.clone()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_REGION", "us-west-2".into()),
        ("AWS_DEFAULT_REGION", "us-west-2".into()),
    ]
}

/// boto3 against moto, for setting up and for looking behind tprov's back.
fn boto(m: &Moto, code: &str) -> serde_json::Value {
    let script = format!(
        "import boto3, json\nec2 = boto3.client('ec2', endpoint_url={:?})\n{code}",
        m.url
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .envs(aws_env(m))
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json from boto3")
}

/// Where each address is: (prod's instance, stage's instance).
fn placed(m: &Moto, prod: &str, stage: &str) -> (String, String) {
    let v = boto(
        m,
        &format!(
            "a = {{x['PublicIp']: x.get('InstanceId', '-') for x in \
             ec2.describe_addresses(PublicIps=[{prod:?}, {stage:?}])['Addresses']}}\n\
             print(json.dumps([a[{prod:?}], a[{stage:?}]]))"
        ),
    );
    (
        v[0].as_str().unwrap_or_default().to_string(),
        v[1].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn eip_swap_on_moto_ec2_moves_production_with_no_failed_request_for_a_following_client() {
    let m = moto();
    let v = boto(
        &m,
        "img = ec2.describe_images()['Images'][0]['ImageId']\n\
         ids = [i['InstanceId'] for i in ec2.run_instances(ImageId=img, MinCount=3, MaxCount=3)['Instances']]\n\
         p = ec2.allocate_address(Domain='vpc'); s = ec2.allocate_address(Domain='vpc')\n\
         ec2.associate_address(AllocationId=p['AllocationId'], InstanceId=ids[0])\n\
         ec2.associate_address(AllocationId=s['AllocationId'], InstanceId=ids[1])\n\
         print(json.dumps({'a': ids[0], 'b': ids[1], 'c': ids[2], 'prod': p['PublicIp'], 'stage': s['PublicIp']}))",
    );
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    let (a, b, c, prod, stage) = (s("a"), s("b"), s("c"), s("prod"), s("stage"));
    let ips = ["--prod", prod.as_str(), "--stage", stage.as_str()];
    let with = |extra: &[&str]| -> Vec<String> {
        extra
            .iter()
            .chain(ips.iter())
            .map(|s| (*s).to_string())
            .collect()
    };
    let run = |extra: &[&str]| {
        let args = with(extra);
        eip(&m, &args.iter().map(String::as_str).collect::<Vec<_>>())
    };

    // Status: both addresses with their instances.
    let (rc, out, err) = run(&["status"]);
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains(&format!("prod   {prod:<16} {a}")), "{out}");
    assert!(out.contains(&format!("stage  {stage:<16} {b}")), "{out}");

    // The dry run prints seed 001's three calls in order and makes none.
    let (rc, out, err) = run(&["swap", "--dry-run"]);
    assert_eq!(rc, 0, "{err}");
    let calls: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("would call"))
        .collect();
    assert_eq!(calls.len(), 3, "{out}");
    assert!(
        calls[0].contains("disassociate-address --association-id eipassoc-"),
        "{out}"
    );
    assert!(
        calls[1].contains(&format!("--instance-id {b} --allow-reassociation")),
        "{out}"
    );
    assert!(
        calls[2].contains(&format!("--instance-id {a} --no-allow-reassociation")),
        "{out}"
    );
    assert_eq!(placed(&m, &prod, &stage), (a.clone(), b.clone()));

    // The swap, with a client following the production address the whole time.
    let dir = std::env::temp_dir().join(format!("tprov-eip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (ready, stop) = (dir.join("ready"), dir.join("stop"));
    let client = Command::new("python3")
        .arg(fixture("eip/follow.py"))
        .args([&m.url, &prod, &a, &b])
        .args([&ready, &stop])
        .envs(aws_env(&m))
        .stdout(Stdio::piped())
        .spawn()
        .expect("the client runs");
    for _ in 0..200 {
        if ready.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (rc, out, err) = run(&["swap"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    std::fs::write(&stop, "").expect("stop file");
    let client = client.wait_with_output().expect("the client ends");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "verified: prod {prod} on {b}, stage {stage} on {a}"
        )),
        "{out}"
    );
    assert_eq!(placed(&m, &prod, &stage), (b.clone(), a.clone()));
    let report: serde_json::Value = serde_json::from_slice(&client.stdout).expect("client json");
    assert!(report["sent"].as_u64().unwrap_or(0) > 10, "{report}");
    assert_eq!(report["failed"], 0, "{report}");
    assert_eq!(report["served"], serde_json::json!([a, b]), "{report}");

    // Done is done: the same swap towards b changes nothing.
    let (rc, out, _) = run(&["swap", "--to", &b]);
    assert_eq!(rc, 0);
    assert!(
        out.contains(&format!("nothing to swap: prod is on {b} and stage on {a}")),
        "{out}"
    );

    // A swap back cut short after its first call (staging left unassociated): without
    // the pair named it cannot tell, with it the same command finishes the swap.
    boto(
        &m,
        &format!(
            "x = ec2.describe_addresses(PublicIps=[{stage:?}])['Addresses'][0]\n\
             ec2.disassociate_address(AssociationId=x['AssociationId']); print('{{}}')"
        ),
    );
    let (rc, _, err) = run(&["swap", "--to", &a]);
    assert_eq!(rc, 5);
    assert!(err.contains("--instances"), "{err}");
    let pair = format!("{a},{b}");
    let (rc, out, err) = run(&["swap", "--to", &a, "--instances", &pair]);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(!out.contains("disassociate"), "{out}");
    assert_eq!(placed(&m, &prod, &stage), (a.clone(), b.clone()));

    // An address on an instance outside the pair is refused, and nothing moves.
    boto(
        &m,
        &format!(
            "x = ec2.describe_addresses(PublicIps=[{stage:?}])['Addresses'][0]\n\
             ec2.disassociate_address(AssociationId=x['AssociationId'])\n\
             ec2.associate_address(AllocationId=x['AllocationId'], InstanceId={c:?}); print('{{}}')"
        ),
    );
    let (rc, _, err) = run(&["swap", "--instances", &pair]);
    assert_eq!(rc, 5);
    assert!(err.contains(&c) && err.contains("refusing"), "{err}");
    assert_eq!(placed(&m, &prod, &stage), (a.clone(), c.clone()));

    // An address EC2 does not hold, and a missing one, are errors before any call.
    let (rc, _, err) = eip(&m, &["swap", "--prod", "192.0.2.1", "--stage", &stage]);
    assert_eq!(rc, 1);
    assert!(err.contains("192.0.2.1"), "{err}");
    let (rc, _, err) = eip(&m, &["swap", "--prod", &prod]);
    assert_eq!(rc, 5);
    assert!(err.contains("--stage"), "{err}");
}
