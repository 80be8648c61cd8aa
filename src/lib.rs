//! tprov: converge Token of Trust's Node.js fleet over SSH, reading Ansible's files with
//! Ansible's meaning.

pub mod inventory;
pub mod source;
pub mod value;
pub mod yaml;
