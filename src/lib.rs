//! tprov: converge Token of Trust's Node.js fleet over SSH, reading Ansible's files with
//! Ansible's meaning.

pub mod inventory;
pub mod source;
pub mod template;
pub mod value;
pub mod vars;
pub mod yaml;
