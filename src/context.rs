//! The variables a host's templates see: its merged vars (lazy), magic vars
//! (`inventory_hostname`, `group_names`, `groups`, `hostvars`...), extra vars on top.

use crate::inventory::{ALL, HostId, Inventory};
use crate::source::Diagnostic;
use crate::template::{Frame, HostvarsSource, Scope, engine, native_frame};
use crate::value::{Map, Value};
use crate::vars::{HostVarsQuery, Vars, VarsCache};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Everything needed to build any host's scope; shared by all hosts of a run.
#[derive(Debug)]
pub(crate) struct Fleet {
    pub inventory: Arc<Inventory>,
    pub query: HostVarsQuery,
    pub extra: Arc<Vars>,
    /// Play-level vars (play `vars:`, `vars_files`), raw.
    pub play_vars: Arc<Vars>,
    /// A host's own play vars, where a `vars_files` name was templated with its vars.
    host_play_vars: Arc<HashMap<HostId, Arc<Vars>>>,
    pub playbook_dir: Option<PathBuf>,
    pub check_mode: bool,
    pub diff_mode: bool,
    cache: Mutex<VarsCache>,
    host_vars: Mutex<HashMap<HostId, SplitVars>>,
    groups: Arc<Map>,
    /// `groups` converted once for templates: it lists every host, so converting it per
    /// host would cost hosts² work.
    groups_mj: minijinja::Value,
    /// The play's magic vars (`ansible_play_hosts`, `ansible_play_batch`, ...), set by
    /// the runner as the play goes on; converted once, since the host lists in them
    /// would cost hosts² work per task if converted per host.
    play_magic: std::sync::RwLock<indexmap::IndexMap<String, minijinja::Value>>,
    /// Each host's facts and registered results as of its last task, for `hostvars`:
    /// one store for the whole run, shared by every play's copy (a fact set in one play
    /// is in `hostvars` in the next, as in Ansible).
    host_facts: Arc<std::sync::RwLock<HashMap<HostId, HostFacts>>>,
}

/// A host's inventory vars, and the same with the play's vars over them.
type SplitVars = (Arc<Vars>, Arc<Vars>);

/// One host's facts and registered results (converted for templates) and the vars its
/// `include_vars` tasks loaded.
type HostFacts = (
    Arc<indexmap::IndexMap<String, minijinja::Value>>,
    Arc<crate::vars::Vars>,
);

impl Fleet {
    pub(crate) fn new(inventory: Arc<Inventory>, query: HostVarsQuery, extra: Vars) -> Arc<Fleet> {
        let groups = groups_dict(&inventory);
        let groups_mj = crate::template::to_mj(&Value::Map(groups.clone()));
        Arc::new(Fleet {
            inventory,
            query,
            extra: Arc::new(extra),
            play_vars: Arc::new(Vars::default()),
            host_play_vars: Arc::default(),
            playbook_dir: None,
            check_mode: false,
            diff_mode: false,
            cache: Mutex::new(VarsCache::new()),
            host_vars: Mutex::new(HashMap::default()),
            groups: Arc::new(groups),
            groups_mj,
            play_magic: std::sync::RwLock::default(),
            host_facts: Arc::default(),
        })
    }

    /// A copy for one play: its vars, its directory, the run's modes.
    pub(crate) fn for_play(
        &self,
        play_vars: Vars,
        host_play_vars: HashMap<HostId, Arc<Vars>>,
        playbook_dir: Option<PathBuf>,
        query: HostVarsQuery,
        check: bool,
        diff: bool,
    ) -> Arc<Fleet> {
        Arc::new(Fleet {
            inventory: self.inventory.clone(),
            query,
            extra: self.extra.clone(),
            play_vars: Arc::new(play_vars),
            host_play_vars: Arc::new(host_play_vars),
            playbook_dir,
            check_mode: check,
            diff_mode: diff,
            cache: Mutex::new(VarsCache::new()),
            host_vars: Mutex::new(HashMap::default()),
            groups: self.groups.clone(),
            groups_mj: self.groups_mj.clone(),
            play_magic: std::sync::RwLock::default(),
            host_facts: self.host_facts.clone(),
        })
    }

    /// The same fleet over a changed inventory (`group_by`, `add_host`): groups and
    /// host vars computed afresh, the play's vars, magic vars and facts kept.
    pub(crate) fn with_inventory(&self, inventory: Arc<Inventory>) -> Arc<Fleet> {
        let groups = groups_dict(&inventory);
        let groups_mj = crate::template::to_mj(&Value::Map(groups.clone()));
        Arc::new(Fleet {
            inventory,
            query: self.query.clone(),
            extra: self.extra.clone(),
            play_vars: self.play_vars.clone(),
            host_play_vars: self.host_play_vars.clone(),
            playbook_dir: self.playbook_dir.clone(),
            check_mode: self.check_mode,
            diff_mode: self.diff_mode,
            cache: Mutex::new(VarsCache::new()),
            host_vars: Mutex::new(HashMap::default()),
            groups: Arc::new(groups),
            groups_mj,
            play_magic: std::sync::RwLock::new(
                self.play_magic
                    .read()
                    .map(|m| m.clone())
                    .unwrap_or_default(),
            ),
            host_facts: self.host_facts.clone(),
        })
    }

    /// The play's vars as `host` sees them.
    pub(crate) fn play_vars_of(&self, host: HostId) -> &Arc<Vars> {
        self.host_play_vars.get(&host).unwrap_or(&self.play_vars)
    }

    /// A host's raw merged vars (inventory, group_vars, host_vars, play vars).
    pub(crate) fn raw_vars(&self, host: HostId) -> Result<Arc<Vars>, Diagnostic> {
        self.split_vars(host).map(|(_, merged)| merged)
    }

    /// The host's inventory vars (without the play's), where gathered facts rank: above
    /// them and below the play's vars, as in Ansible.
    pub(crate) fn inventory_vars(&self, host: HostId) -> Result<Arc<Vars>, Diagnostic> {
        self.split_vars(host).map(|(inventory, _)| inventory)
    }

    /// (inventory vars, inventory vars with the play's over them), computed once.
    fn split_vars(&self, host: HostId) -> Result<SplitVars, Diagnostic> {
        if let Some(v) = self
            .host_vars
            .lock()
            .ok()
            .and_then(|m| m.get(&host).cloned())
        {
            return Ok(v);
        }
        let inventory = {
            let mut cache = self.cache.lock().map_err(|_| {
                Diagnostic::error(crate::source::Origin::file("<vars>"), "vars cache poisoned")
            })?;
            crate::vars::host_vars(&self.inventory, host, &self.query, &mut cache)?
        };
        let inventory = Arc::new(inventory);
        let play = self.play_vars_of(host);
        let merged = if play.is_empty() {
            inventory.clone()
        } else {
            let mut merged = (*inventory).clone();
            crate::vars::merge_into(&mut merged, play);
            Arc::new(merged)
        };
        let both = (inventory, merged);
        if let Ok(mut m) = self.host_vars.lock() {
            m.insert(host, both.clone());
        }
        Ok(both)
    }

    /// Sets play-level magic vars for every host's templates from now on.
    pub(crate) fn set_play_magic(&self, vars: impl IntoIterator<Item = (String, Value)>) {
        if let Ok(mut m) = self.play_magic.write() {
            for (k, v) in vars {
                m.insert(k, crate::template::to_mj(&v));
            }
        }
    }

    /// A host's facts, registered results and included vars, seen by other hosts (and
    /// by its own `hostvars[inventory_hostname]`) through `hostvars`.
    pub(crate) fn set_host_facts(
        &self,
        host: HostId,
        facts: &indexmap::IndexMap<String, minijinja::Value>,
        included: &Arc<crate::vars::Vars>,
    ) {
        if let Ok(mut m) = self.host_facts.write() {
            m.insert(host, (Arc::new(facts.clone()), included.clone()));
        }
    }

    /// Drops a host's cached vars (a pass over many hosts that visits each once keeps
    /// its memory, and the pages it must fault in, small).
    pub(crate) fn forget(&self, host: HostId) {
        if let Ok(mut m) = self.host_vars.lock() {
            m.remove(&host);
        }
    }

    pub(crate) fn warnings(&self) -> Vec<Diagnostic> {
        self.cache
            .lock()
            .map(|c| c.warnings.clone())
            .unwrap_or_default()
    }

    /// Magic vars Ansible sets for every host.
    pub(crate) fn magic(&self, host: HostId) -> Map {
        let inv = &self.inventory;
        let h = inv.host(host);
        let mut m = Map::default();
        m.insert("inventory_hostname".into(), Value::str(h.name.clone()));
        let short = if crate::inventory::parse_address(&h.name, false)
            .is_ok_and(|_| h.name.parse::<std::net::IpAddr>().is_ok())
        {
            h.name.clone()
        } else {
            h.name.split('.').next().unwrap_or_default().to_string()
        };
        m.insert("inventory_hostname_short".into(), Value::str(short));
        m.insert(
            "group_names".into(),
            Value::List(inv.group_names(host).into_iter().map(Value::Str).collect()),
        );
        let (file, dir) = match &h.source {
            Some(s) => (
                Value::str(s.display().to_string()),
                Value::str(
                    s.parent()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                ),
            ),
            None => (Value::Null, Value::Null),
        };
        m.insert("inventory_file".into(), file);
        m.insert("inventory_dir".into(), dir);
        let playbook_dir = self
            .playbook_dir
            .clone()
            .or_else(|| crate::source::cwd().map(std::path::Path::to_path_buf))
            .unwrap_or_default();
        m.insert(
            "playbook_dir".into(),
            Value::str(playbook_dir.display().to_string()),
        );
        m.insert(
            "ansible_playbook_python".into(),
            Value::str(crate::inventory::PLAYBOOK_PYTHON.as_str()),
        );
        m.insert("ansible_check_mode".into(), Value::Bool(self.check_mode));
        m.insert("ansible_diff_mode".into(), Value::Bool(self.diff_mode));
        m.insert("omit".into(), Value::str(OMIT));
        m
    }

    /// The scope a host's templates are rendered in.
    pub(crate) fn scope(self: &Arc<Self>, host: HostId) -> Result<Arc<Scope>, Diagnostic> {
        let raw = self.raw_vars(host)?;
        let Frame::Native(magic) = native_frame(self.magic(host)) else {
            unreachable!("native_frame gives a native frame")
        };
        let mut magic = (*magic).clone();
        magic.insert("groups".into(), self.groups_mj.clone());
        magic.insert("ansible_version".into(), ANSIBLE_VERSION_MJ.clone());
        if let Ok(play) = self.play_magic.read() {
            for (k, v) in play.iter() {
                magic.insert(k.clone(), v.clone());
            }
        }
        let frames = vec![
            Frame::Raw(self.extra.clone()),
            Frame::Native(Arc::new(magic)),
            Frame::Raw(raw),
        ];
        let source: Arc<dyn HostvarsSource> = Arc::new(FleetHostvars(self.clone()));
        Ok(Scope::new(engine(), frames, Some(source)))
    }
}

/// The ansible-core release whose behaviour tprov reproduces (`ansible_version`).
pub(crate) const ANSIBLE_VERSION: &str = "2.19.0";

/// `ansible_version` as templates see it (full, major, minor, revision, string).
static ANSIBLE_VERSION_MJ: std::sync::LazyLock<minijinja::Value> = std::sync::LazyLock::new(|| {
    let mut version = Map::default();
    version.insert("full".into(), Value::str(ANSIBLE_VERSION));
    version.insert("major".into(), Value::Int(2));
    version.insert("minor".into(), Value::Int(19));
    version.insert("revision".into(), Value::Int(0));
    version.insert("string".into(), Value::str(ANSIBLE_VERSION));
    crate::template::to_mj(&Value::Map(version))
});

/// The placeholder `omit` renders to; a module argument equal to it is dropped.
pub(crate) const OMIT: &str = "__omit_place_holder__tprov";

fn groups_dict(inv: &Inventory) -> Map {
    let mut m = Map::default();
    for (gid, g) in inv.groups().enumerate() {
        let hosts = inv
            .group_hosts(gid)
            .into_iter()
            .map(|h| Value::str(inv.host(h).name.clone()))
            .collect();
        m.insert(g.name.clone(), Value::List(hosts));
    }
    let _ = ALL;
    m
}

#[derive(Debug)]
struct FleetHostvars(Arc<Fleet>);

impl HostvarsSource for FleetHostvars {
    fn host_names(&self) -> Vec<String> {
        self.0.inventory.hosts().map(|h| h.name.clone()).collect()
    }

    fn scope_for(&self, host: &str) -> Option<Arc<Scope>> {
        let id = self.0.inventory.host_id(host)?;
        let base = self.0.scope(id).ok()?;
        let facts = self.0.host_facts.read().ok()?.get(&id).cloned();
        match facts {
            // Facts rank under extra vars and above everything else, as in a task, and
            // included vars just under facts.
            Some((f, inc)) if !f.is_empty() || !inc.is_empty() => {
                let all = base.frames();
                let mut frames = Vec::with_capacity(all.len() + 2);
                frames.extend(all.first().cloned());
                frames.push(Frame::Native(f));
                if !inc.is_empty() {
                    frames.push(Frame::Raw(inc));
                }
                frames.extend(all.iter().skip(1).cloned());
                Some(Scope::new(engine(), frames, base.hostvars()))
            }
            _ => Some(base),
        }
    }
}
