//! The facts tasks need, gathered in one round trip (a small fraction of Ansible's
//! `setup`: identity, OS, hardware basics, environment, the default IPv4 route and
//! addresses, the date).

use crate::transport::Connection;
use crate::value::{Map, Value};

const SCRIPT: &str = r#"
echo "hostname=$(hostname -s 2>/dev/null || hostname)"
echo "fqdn=$(hostname -f 2>/dev/null || hostname)"
echo "nodename=$(uname -n)"
echo "user_id=$(id -un)"
echo "user_uid=$(id -u)"
echo "user_gid=$(id -g)"
echo "user_dir=$HOME"
echo "user_shell=$(getent passwd "$(id -un)" | cut -d: -f7)"
echo "architecture=$(uname -m)"
echo "kernel=$(uname -r)"
echo "system=$(uname -s)"
echo "processor_vcpus=$(nproc 2>/dev/null || echo 1)"
echo "memtotal_mb=$(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo 2>/dev/null)"
if [ -r /etc/os-release ]; then . /etc/os-release; echo "os_id=$ID"; echo "os_version=$VERSION_ID"; echo "os_codename=$VERSION_CODENAME"; echo "os_name=$NAME"; echo "os_like=$ID_LIKE"; fi
echo "env_HOME=$HOME"; echo "env_PATH=$PATH"; echo "env_USER=$(id -un)"
echo "route=$(ip -4 route get 1.0.0.0 2>/dev/null | head -n1)"
echo "ipv4=$(ip -4 -o addr show scope global 2>/dev/null | awk '{split($4, a, "/"); printf "%s ", a[1]}')"
echo "date=$(date '+%s %Y %m %d %H %M %S %A %Z %z %j %u')"
echo "iso8601=$(date -u '+%Y-%m-%dT%H:%M:%SZ')"
echo "kernel_version=$(uname -v)"
echo "memfree_mb=$(awk '/MemFree/ {print int($2/1024)}' /proc/meminfo 2>/dev/null)"
echo "swaptotal_mb=$(awk '/SwapTotal/ {print int($2/1024)}' /proc/meminfo 2>/dev/null)"
echo "swapfree_mb=$(awk '/SwapFree/ {print int($2/1024)}' /proc/meminfo 2>/dev/null)"
echo "processor_count=$(grep -c '^physical id' /proc/cpuinfo 2>/dev/null | awk '{print ($1 > 0) ? $1 : 1}')"
echo "processor_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null)"
echo "uptime=$(cut -d' ' -f1 /proc/uptime 2>/dev/null)"
echo "init=$(cat /proc/1/comm 2>/dev/null)"
echo "user_gecos=$(getent passwd "$(id -un)" | cut -d: -f5)"
echo "nameservers=$(awk '/^nameserver/ {printf "%s ", $2}' /etc/resolv.conf 2>/dev/null)"
echo "search=$(awk '/^search/ {$1=""; print}' /etc/resolv.conf 2>/dev/null)"
echo "apt=$(command -v apt-get)"
for py in python3 /usr/bin/python3 python; do if command -v $py >/dev/null 2>&1; then $py -c 'import sys; v=sys.version_info; print("python=%s %d %d %d %s %d %s" % (sys.executable, v[0], v[1], v[2], v[3], v[4], sys.implementation.name))' 2>/dev/null && break; fi; done
"#;

/// Runs the probe and returns `ansible_facts` (the keys without `ansible_`).
pub(super) async fn gather(conn: &Connection) -> Result<Map, crate::transport::TransportError> {
    let out = conn.exec(SCRIPT, None, None, None).await?;
    let mut raw: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for line in out.stdout_str().lines() {
        if let Some((k, v)) = line.split_once('=') {
            raw.insert(k.to_string(), v.to_string());
        }
    }
    let get = |k: &str| Value::str(raw.get(k).cloned().unwrap_or_default());
    let num = |k: &str| {
        raw.get(k)
            .and_then(|v| v.parse::<i64>().ok())
            .map_or(Value::Null, Value::Int)
    };
    let mut f = Map::default();
    for k in [
        "hostname",
        "fqdn",
        "nodename",
        "user_id",
        "user_dir",
        "user_shell",
        "architecture",
        "kernel",
        "system",
    ] {
        f.insert(k.into(), get(k));
    }
    f.insert("machine".into(), get("architecture"));
    for k in ["user_uid", "user_gid", "processor_vcpus", "memtotal_mb"] {
        f.insert(k.into(), num(k));
    }
    let os_id = raw.get("os_id").cloned().unwrap_or_default();
    let distribution = match os_id.as_str() {
        "debian" => "Debian".to_string(),
        "ubuntu" => "Ubuntu".to_string(),
        "centos" => "CentOS".to_string(),
        "rhel" => "RedHat".to_string(),
        "amzn" => "Amazon".to_string(),
        other => {
            let mut c = other.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        }
    };
    let family = match os_id.as_str() {
        "debian" | "ubuntu" => "Debian",
        "centos" | "rhel" | "fedora" | "amzn" | "rocky" | "almalinux" => "RedHat",
        _ => "Linux",
    };
    let version = raw.get("os_version").cloned().unwrap_or_default();
    f.insert("distribution".into(), Value::str(distribution));
    f.insert("distribution_version".into(), Value::str(version.clone()));
    f.insert(
        "distribution_major_version".into(),
        Value::str(version.split('.').next().unwrap_or_default()),
    );
    f.insert("distribution_release".into(), get("os_codename"));
    f.insert("os_family".into(), Value::str(family));
    let mut env = Map::default();
    for k in ["HOME", "PATH", "USER"] {
        env.insert(k.into(), get(&format!("env_{k}")));
    }
    f.insert("env".into(), Value::Map(env));
    let fqdn = raw.get("fqdn").cloned().unwrap_or_default();
    f.insert(
        "domain".into(),
        Value::str(fqdn.split_once('.').map(|(_, d)| d).unwrap_or_default()),
    );
    // `ip -4 route get`: the interface and source address of the default route (a route
    // lookup, no packet sent), as Ansible's default_ipv4.
    let route: Vec<&str> = raw
        .get("route")
        .map(|r| r.split_whitespace().collect())
        .unwrap_or_default();
    let after = |key: &str| {
        route
            .iter()
            .position(|w| *w == key)
            .and_then(|i| route.get(i + 1))
            .map(|v| Value::str(*v))
    };
    let mut v4 = Map::default();
    if let Some(a) = after("src") {
        v4.insert("address".into(), a);
    }
    if let Some(i) = after("dev") {
        v4.insert("interface".into(), i.clone());
        v4.insert("alias".into(), i);
    }
    if let Some(g) = after("via") {
        v4.insert("gateway".into(), g);
    }
    f.insert("default_ipv4".into(), Value::Map(v4));
    f.insert(
        "all_ipv4_addresses".into(),
        Value::List(
            raw.get("ipv4")
                .map(|a| a.split_whitespace().map(Value::str).collect())
                .unwrap_or_default(),
        ),
    );
    let d: Vec<String> = raw
        .get("date")
        .map(|d| d.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    if let [
        epoch,
        year,
        month,
        day,
        hour,
        minute,
        second,
        weekday,
        tz,
        offset,
        julian,
        wday,
    ] = d.as_slice()
    {
        let mut dt = Map::default();
        for (k, v) in [
            ("epoch", epoch),
            ("year", year),
            ("month", month),
            ("day", day),
            ("hour", hour),
            ("minute", minute),
            ("second", second),
            ("weekday", weekday),
            ("tz", tz),
            ("tz_offset", offset),
            ("julian_day", julian),
            ("weekday_number", wday),
        ] {
            dt.insert(k.into(), Value::str(v.clone()));
        }
        dt.insert("date".into(), Value::str(format!("{year}-{month}-{day}")));
        dt.insert(
            "time".into(),
            Value::str(format!("{hour}:{minute}:{second}")),
        );
        dt.insert("iso8601".into(), get("iso8601"));
        f.insert("date_time".into(), Value::Map(dt));
    }
    more_facts(&raw, &mut f);
    Ok(f)
}

/// The rest of the commonly read facts: memory, processors, the service and package
/// managers, DNS, Python, uptime.
fn more_facts(raw: &std::collections::HashMap<String, String>, f: &mut Map) {
    let get = |k: &str| Value::str(raw.get(k).cloned().unwrap_or_default());
    let num = |k: &str| {
        raw.get(k)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map_or(Value::Null, Value::Int)
    };
    f.insert("kernel_version".into(), get("kernel_version"));
    for k in [
        "memfree_mb",
        "swaptotal_mb",
        "swapfree_mb",
        "processor_count",
    ] {
        f.insert(k.into(), num(k));
    }
    let vcpus = f.get("processor_vcpus").cloned().unwrap_or(Value::Int(1));
    f.insert("processor_cores".into(), vcpus.clone());
    f.insert("processor_threads_per_core".into(), Value::Int(1));
    f.insert("processor_nproc".into(), vcpus.clone());
    let model = raw.get("processor_model").cloned().unwrap_or_default();
    let n = match vcpus {
        Value::Int(n) => n.max(1),
        _ => 1,
    };
    f.insert(
        "processor".into(),
        Value::List(
            (0..n)
                .flat_map(|i| {
                    [
                        Value::str(i.to_string()),
                        Value::str("GenuineIntel"),
                        Value::str(model.clone()),
                    ]
                })
                .collect(),
        ),
    );
    let mut memory = Map::default();
    let mut real = Map::default();
    real.insert(
        "total".into(),
        f.get("memtotal_mb").cloned().unwrap_or(Value::Null),
    );
    real.insert("free".into(), num("memfree_mb"));
    memory.insert("real".into(), Value::Map(real));
    f.insert("memory_mb".into(), Value::Map(memory));
    if let Some(Ok(up)) = raw.get("uptime").map(|u| u.trim().parse::<f64>()) {
        f.insert("uptime_seconds".into(), Value::Int(up as i64));
    }
    // As Ansible's service_mgr facts: PID 1's name, unless it is a generic init.
    let service_mgr = match raw.get("init").map(|s| s.trim()) {
        Some("systemd") => "systemd",
        Some("" | "init" | "sh" | "bash" | "runit-init") | None => "sysvinit",
        Some(other) => other,
    };
    f.insert("service_mgr".into(), Value::str(service_mgr));
    let apt = raw.get("apt").is_some_and(|a| !a.is_empty());
    f.insert(
        "pkg_mgr".into(),
        Value::str(if apt { "apt" } else { "unknown" }),
    );
    f.insert("user_gecos".into(), get("user_gecos"));
    let words = |k: &str| {
        Value::List(
            raw.get(k)
                .map(|a| a.split_whitespace().map(Value::str).collect())
                .unwrap_or_default(),
        )
    };
    let mut dns = Map::default();
    dns.insert("nameservers".into(), words("nameservers"));
    dns.insert("search".into(), words("search"));
    f.insert("dns".into(), Value::Map(dns));
    let mut selinux = Map::default();
    selinux.insert("status".into(), Value::str("disabled"));
    f.insert("selinux".into(), Value::Map(selinux));
    f.insert("fips".into(), Value::Bool(false));
    f.insert("userspace_bits".into(), Value::str("64"));
    f.insert(
        "userspace_architecture".into(),
        f.get("architecture").cloned().unwrap_or(Value::Null),
    );
    f.insert("distribution_file_variety".into(), Value::str("Debian"));
    let py: Vec<&str> = raw
        .get("python")
        .map(|p| p.split_whitespace().collect())
        .unwrap_or_default();
    if let [exe, major, minor, micro, level, serial, implementation] = py.as_slice() {
        let int = |s: &str| Value::Int(s.parse().unwrap_or(0));
        let mut version = Map::default();
        version.insert("major".into(), int(major));
        version.insert("minor".into(), int(minor));
        version.insert("micro".into(), int(micro));
        version.insert("releaselevel".into(), Value::str(*level));
        version.insert("serial".into(), int(serial));
        let mut python = Map::default();
        python.insert("executable".into(), Value::str(*exe));
        python.insert("has_sslcontext".into(), Value::Bool(true));
        python.insert(
            "type".into(),
            Value::str(if *implementation == "cpython" {
                "CPython"
            } else {
                implementation
            }),
        );
        python.insert("version".into(), Value::Map(version));
        python.insert(
            "version_info".into(),
            Value::List(vec![
                int(major),
                int(minor),
                int(micro),
                Value::str(*level),
                int(serial),
            ]),
        );
        f.insert("python".into(), Value::Map(python));
        f.insert(
            "python_version".into(),
            Value::str(format!("{major}.{minor}.{micro}")),
        );
    }
}
