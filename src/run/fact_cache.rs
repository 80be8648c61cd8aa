//! Ansible's fact cache as `fact_caching = jsonfile` keeps it: one JSON file per host in
//! `fact_caching_connection`, named `fact_caching_prefix`, then 2.19's schema key `s1_`,
//! then the host's name, holding `{"__payload__": "<the facts as JSON>"}` (2.19's cache
//! interposer; its tagged values, `{"value": .., "tags": .., "__ansible_type": ..}`, are
//! read as their values, and tprov writes plain ones, which Ansible reads back). Read
//! when a run first needs the host and replaced (atomically) each time its facts
//! change; a file older than `fact_caching_timeout` seconds (0: never) is expired.
//! `--flush-cache` deletes the inventory's hosts' files first, `meta: clear_facts` a
//! host's. Only host facts are kept: gathered ones, a module's, and set_fact's with
//! `cacheable: true` (its others live for the run only), as in Ansible.

use crate::value::{Map, Value};
use std::path::PathBuf;

/// ansible-core 2.19's cache schema, in front of every key (`_cache_persistence`'s
/// schema_id 1).
const SCHEMA: &str = "s1_";
const PAYLOAD: &str = "__payload__";

/// A value of 2.19's cache profile as plain JSON: a tagged value is its `value`.
fn untag(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(mut m) if m.contains_key("__ansible_type") => {
            if let Some(inner) = m.remove("value") {
                untag(inner)
            } else {
                m.remove("__ansible_type");
                serde_json::Value::Object(m)
            }
        }
        serde_json::Value::Object(m) => {
            serde_json::Value::Object(m.into_iter().map(|(k, v)| (k, untag(v))).collect())
        }
        serde_json::Value::Array(a) => serde_json::Value::Array(a.into_iter().map(untag).collect()),
        other => other,
    }
}

#[derive(Debug, Clone)]
pub(crate) struct FactCache {
    dir: PathBuf,
    prefix: String,
    timeout: u64,
}

impl FactCache {
    /// The cache the settings ask for: None for Ansible's default `memory` (facts live
    /// for the run). Another plugin than jsonfile is an error before anything runs.
    pub(crate) fn from_settings(
        s: &crate::settings::Settings,
    ) -> Result<Option<FactCache>, String> {
        let plugin = s.fact_caching.as_deref().unwrap_or("memory");
        match plugin.strip_prefix("ansible.builtin.").unwrap_or(plugin) {
            "memory" => Ok(None),
            "jsonfile" => {
                let Some(dir) = s.fact_caching_connection.clone() else {
                    return Err("error, 'jsonfile' cache plugin requires the \
                                'fact_caching_connection' config option to be set (to a \
                                writeable directory path)"
                        .to_string());
                };
                std::fs::create_dir_all(&dir).map_err(|e| {
                    format!(
                        "Error in 'jsonfile' cache plugin while trying to create cache dir {}: {e}",
                        dir.display()
                    )
                })?;
                Ok(Some(FactCache {
                    dir,
                    prefix: s.fact_caching_prefix.clone().unwrap_or_default(),
                    timeout: s.fact_caching_timeout.unwrap_or(86400),
                }))
            }
            other => Err(format!(
                "the fact cache plugin '{other}' is not one tprov has: use jsonfile or memory"
            )),
        }
    }

    fn file(&self, host: &str) -> PathBuf {
        self.dir.join(format!("{}{SCHEMA}{host}", self.prefix))
    }

    /// The host's cached facts; None when there are none or they expired. A file that
    /// is not a JSON object is removed, and said so, as Ansible does.
    pub(crate) fn load(&self, host: &str) -> Result<Option<Map>, String> {
        let path = self.file(host);
        let Ok(meta) = std::fs::metadata(&path) else {
            return Ok(None);
        };
        if self.timeout > 0
            && meta
                .modified()
                .ok()
                .and_then(|m| m.elapsed().ok())
                .is_some_and(|age| age.as_secs() > self.timeout)
        {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "Error while accessing the cache file {}: {e}",
                path.display()
            )
        })?;
        let payload = match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Object(mut outer)) => match outer.remove(PAYLOAD) {
                Some(serde_json::Value::String(inner)) => serde_json::from_str(&inner).ok(),
                _ => None,
            },
            _ => None,
        };
        if let Some(j @ serde_json::Value::Object(_)) = payload.map(untag)
            && let Value::Map(m) = crate::template::json_to_value(&j)
        {
            return Ok(Some(m));
        }
        let _ = std::fs::remove_file(&path);
        Err(format!(
            "The cache file {} was corrupt, or did not otherwise contain valid data. It has \
             been removed, so you can re-run your command now.",
            path.display()
        ))
    }

    /// Replaces the host's file: written beside it, then renamed over it.
    pub(crate) fn store(&self, host: &str, facts: &Map) -> Result<(), String> {
        let path = self.file(host);
        let tmp = self
            .dir
            .join(format!(".tprov-{host}.{}.tmp", std::process::id()));
        let text = serde_json::to_string(&Value::Map(facts.clone()))
            .and_then(|inner| {
                let mut outer = serde_json::Map::new();
                outer.insert(PAYLOAD.into(), serde_json::Value::String(inner));
                serde_json::to_string(&outer)
            })
            .map_err(|e| format!("the facts of {host} as JSON: {e}"))?;
        let written = std::fs::write(&tmp, text).and_then(|()| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644))?;
            std::fs::rename(&tmp, &path)
        });
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(format!(
                "Error in 'jsonfile' cache plugin while trying to write {}: {e}",
                path.display()
            ));
        }
        Ok(())
    }

    pub(crate) fn flush(&self, host: &str) {
        let _ = std::fs::remove_file(self.file(host));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_survive_a_run_and_expire_or_flush() {
        let dir = std::env::temp_dir().join(format!("tprov-factcache-{}", std::process::id()));
        let cache = FactCache {
            dir: dir.clone(),
            prefix: "prefix_".into(),
            timeout: 0,
        };
        std::fs::create_dir_all(&dir).expect("dir");
        let mut facts = Map::default();
        facts.insert("ansible_foobar".into(), Value::str("x"));
        cache.store("web1", &facts).expect("store");
        assert!(dir.join("prefix_s1_web1").is_file());
        assert_eq!(cache.load("web1").expect("load"), Some(facts));
        assert_eq!(cache.load("web2").expect("load"), None);
        std::fs::write(dir.join("prefix_s1_web2"), "{not json").expect("write");
        assert!(cache.load("web2").is_err());
        assert!(
            !dir.join("prefix_s1_web2").exists(),
            "a corrupt file is removed"
        );
        // As ansible-core 2.19 writes it: a payload of tagged values.
        std::fs::write(
            dir.join("prefix_s1_web3"),
            r#"{"__payload__": "{\"a\": {\"value\": \"b\", \"tags\": [], \"__ansible_type\": \"_AnsibleTaggedStr\"}, \"n\": [1]}"}"#,
        )
        .expect("write");
        let got = cache.load("web3").expect("load").expect("facts");
        assert_eq!(got.get("a"), Some(&Value::str("b")));
        cache.flush("web1");
        assert_eq!(cache.load("web1").expect("load"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
