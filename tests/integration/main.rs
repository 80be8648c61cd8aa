//! tprov's integration tests: one binary (see Cargo.toml), modules by area.

mod apply;
mod cli_errors;
mod conformance;
mod deploy;
mod dns;
mod drain_wait;
mod eip;
mod faults;
mod injections;
mod inventory_move;
mod jobs;
mod load;
mod migrate;
mod readme;
mod release;
mod socket_switch;
mod ssh;
mod support;
mod validate;
mod vault;
