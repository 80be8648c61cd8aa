//! Command-line types only (clap). `settings` turns them into validated settings.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "tprov",
    version,
    about = "Converge the Token of Trust fleet over SSH, reading Ansible's files with Ansible's meaning"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    #[command(flatten)]
    pub vault: VaultArgs,
}

/// Where Ansible Vault passwords come from (ansible-playbook's options).
#[derive(Debug, Args, Clone, Default)]
pub struct VaultArgs {
    /// A vault identity, `label@source` or `source`: a password file, an executable that
    /// prints the password, or `prompt` (repeatable).
    #[arg(long = "vault-id", global = true, value_name = "ID")]
    pub vault_ids: Vec<String>,

    /// A file holding the vault password, or an executable printing it (repeatable).
    #[arg(
        long = "vault-password-file",
        alias = "vault-pass-file",
        global = true,
        value_name = "FILE"
    )]
    pub password_files: Vec<PathBuf>,

    /// Ask for the vault password.
    #[arg(
        short = 'J',
        long = "ask-vault-pass",
        alias = "ask-vault-password",
        global = true
    )]
    pub ask_vault_pass: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct InventoryArgs {
    /// Inventory source: a file, a directory, or a comma-separated host list (repeatable).
    #[arg(short = 'i', long = "inventory", global = true, env = "TPROV_INVENTORY", value_delimiter = None)]
    pub inventory: Vec<PathBuf>,

    /// Host pattern to further limit the selected hosts (Ansible's --limit grammar).
    #[arg(short = 'l', long = "limit", global = true)]
    pub limit: Option<String>,

    /// The host group to act on: sets `hostGroup` and is the default host pattern.
    #[arg(short = 'g', long = "group", global = true)]
    pub group: Option<String>,

    /// Extra variables, `key=value` or YAML/JSON or `@file` (repeatable).
    #[arg(short = 'e', long = "extra-vars", global = true)]
    pub extra_vars: Vec<String>,

    /// Directory whose group_vars/ and host_vars/ are read as the playbook's.
    #[arg(long = "playbook-dir", global = true)]
    pub playbook_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the inventory as Ansible reads it (same output as ansible-inventory).
    Inventory(InventoryCmd),
    /// Check inventories, vars files, templates and playbooks without touching a host.
    Validate(ValidateCmd),
    /// Render templates for one host, as its tasks would see them (a debugging aid).
    Eval(EvalCmd),
    /// Start or stop the lab fleet: real sshd hosts in namespaces on this machine.
    Lab(LabCmd),
    /// Run one command on every selected host in parallel (like `ansible -a`).
    Run(RunCmd),
    /// Converge hosts to what a playbook declares (like ansible-playbook).
    Apply(ApplyCmd),
    /// Show what `apply` would change, changing nothing (`apply --check --diff`).
    Diff(ApplyCmd),
    /// Weighted DNS in Route53 for the rolling migration: list, add, drain, restore,
    /// remove a server's record, never leaving fewer than two servers taking traffic.
    Dns(DnsCmd),
    /// Wait until nginx on HOST has at most THRESHOLD requests in flight (seed 000's
    /// check-nginx-drain.sh): polls stub_status over SSH; exits 1 at the timeout.
    DrainWait(DrainWaitCmd),
    /// Move HOST to the environment's new user, server by server, with no request lost
    /// (seed 000): drain it in DNS, wait for nginx, stop the old PM2, deploy the new
    /// user, move it in the inventory, restore its weight, check it answers. Resumable:
    /// a journal records each step. Environments come from migrate.toml.
    Migrate(MigrateCmd),
    /// Encrypt, decrypt, view and edit Ansible Vault files and strings (like
    /// ansible-vault, whose files it reads and writes).
    Vault(VaultCmd),
    /// Timestamped releases behind `current` (the `release` module's layout): list
    /// them on each host, or roll back to the previous good one.
    Release(ReleaseCmd),
    /// Elastic IPs for the two-instance switch of seed 001: show the production and
    /// staging addresses, or swap them (production to the instance just deployed).
    Eip(EipCmd),
}

#[derive(Debug, Args)]
pub struct EipCmd {
    #[command(subcommand)]
    pub action: EipAction,

    /// The production Elastic IP.
    #[arg(long, global = true, value_name = "IP")]
    pub prod: Option<String>,

    /// The staging Elastic IP.
    #[arg(long, global = true, value_name = "IP")]
    pub stage: Option<String>,

    /// The AWS region (else AWS_REGION or the profile's).
    #[arg(long, global = true)]
    pub region: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum EipAction {
    /// Each address: role, public IP, instance, association.
    Status,
    /// Move production to `--to` (default: the instance behind staging) and staging to
    /// the other instance, in seed 001's calls; finishes an interrupted swap; verifies
    /// with a final describe.
    Swap {
        /// The instance production moves to.
        #[arg(long, value_name = "INSTANCE")]
        to: Option<String>,
        /// The pair of instances (`i-aaa,i-bbb`): refuses when an address is on any
        /// other, and lets a swap with an address unassociated be finished.
        #[arg(long, value_name = "A,B", value_delimiter = ',')]
        instances: Vec<String>,
        /// Print the calls and make none.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Args)]
pub struct ReleaseCmd {
    #[command(flatten)]
    pub inv: InventoryArgs,

    #[command(flatten)]
    pub connect: ConnectArgs,

    #[command(subcommand)]
    pub action: ReleaseAction,
}

#[derive(Debug, Subcommand)]
pub enum ReleaseAction {
    /// Each host's releases, oldest first, `*` on the current one.
    List {
        /// The deploy root on the hosts: `releases/`, `shared/` and `current`.
        path: String,
    },
    /// Point `current` back at the previous good release (or `--to NAME`) and reload
    /// the app as the last deploy did; the release left is marked bad.
    Rollback {
        /// The deploy root on the hosts: `releases/`, `shared/` and `current`.
        path: String,
        /// The release to go back to (a name `release list` shows).
        #[arg(long)]
        to: Option<String>,
        /// Show what would change, and change nothing.
        #[arg(short = 'C', long)]
        check: bool,
    },
}

#[derive(Debug, Args)]
pub struct VaultCmd {
    #[command(subcommand)]
    pub action: VaultAction,
}

#[derive(Debug, Args, Clone, Default)]
pub struct EncryptId {
    /// The vault id to encrypt with (needed when several are given).
    #[arg(long = "encrypt-vault-id", value_name = "ID")]
    pub encrypt_vault_id: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum VaultAction {
    /// Encrypt files in place (or stdin, or to --output).
    Encrypt {
        files: Vec<PathBuf>,
        #[arg(long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        id: EncryptId,
    },
    /// Decrypt files in place (or stdin, or to --output).
    Decrypt {
        files: Vec<PathBuf>,
        #[arg(long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print the plaintext of vault files.
    View {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Edit vault files in $EDITOR; saved encrypted again with the same vault id.
    Edit {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Create a new vault file in $EDITOR.
    Create {
        file: PathBuf,
        #[command(flatten)]
        id: EncryptId,
        /// Open the editor even when stdout is not a terminal.
        #[arg(long = "skip-tty-check")]
        skip_tty_check: bool,
    },
    /// Encrypt strings into `!vault |` YAML values (args, --prompt, or stdin).
    #[command(name = "encrypt_string", alias = "encrypt-string")]
    EncryptString {
        strings: Vec<String>,
        /// The variable name of each string, in order (repeatable).
        #[arg(short = 'n', long = "name", value_name = "NAME")]
        names: Vec<String>,
        /// The variable name of the string read from stdin.
        #[arg(long = "stdin-name", value_name = "NAME")]
        stdin_name: Option<String>,
        /// Prompt for the string (and its name).
        #[arg(short = 'p', long = "prompt")]
        prompt: bool,
        /// Show the string as it is typed at the prompt.
        #[arg(long = "show-input")]
        show_input: bool,
        #[arg(long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        id: EncryptId,
    },
    /// Encrypt vault files again with a new password.
    Rekey {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The new vault identity, `label@source`.
        #[arg(long = "new-vault-id", value_name = "ID")]
        new_vault_id: Option<String>,
        /// The file (or executable) holding the new password.
        #[arg(long = "new-vault-password-file", value_name = "FILE")]
        new_vault_password_file: Option<PathBuf>,
        #[command(flatten)]
        id: EncryptId,
    },
}

#[derive(Debug, Args)]
pub struct MigrateCmd {
    #[command(flatten)]
    pub inv: InventoryArgs,

    /// The server to migrate (its inventory name or short alias).
    #[arg(required_unless_present = "status")]
    pub host: Option<String>,

    /// The environment (a section of the config file: `sandbox`, `production`).
    #[arg(long)]
    pub env: String,

    /// The environments' configuration.
    #[arg(long, default_value = "migrate.toml")]
    pub config: PathBuf,

    /// Print the plan (live DNS, the journal, every command in order) and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Show the environment's servers: DNS weight, group, last journal step.
    #[arg(long)]
    pub status: bool,
}

#[derive(Debug, Args)]
pub struct DrainWaitCmd {
    #[command(flatten)]
    pub inv: InventoryArgs,

    #[command(flatten)]
    pub connect: ConnectArgs,

    /// The inventory host (or a short alias).
    pub host: String,

    /// Seconds to wait.
    #[arg(id = "drain_timeout", value_name = "TIMEOUT", default_value_t = 180)]
    pub timeout: u64,

    /// Requests in flight that count as drained.
    #[arg(default_value_t = 0)]
    pub threshold: u64,

    /// Seconds between polls.
    #[arg(long, default_value_t = 2.0)]
    pub interval: f64,
}

#[derive(Debug, Args)]
pub struct DnsCmd {
    #[command(flatten)]
    pub inv: InventoryArgs,

    #[command(subcommand)]
    pub action: DnsAction,

    /// Print the plan (the records now and the change) and send nothing.
    #[arg(long, global = true)]
    pub dry_run: bool,

    /// Seconds to wait for Route53 to report a change INSYNC.
    #[arg(long, global = true, default_value_t = 120)]
    pub wait: u64,
}

#[derive(Debug, Subcommand)]
pub enum DnsAction {
    /// The name's weighted records: identifier, address, weight, TTL, active.
    List {
        /// The record name (`sandbox.tokenoftrust.com`).
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create HOST's record (its address: --address, HOST itself if an IP, else the
    /// inventory's `ansible_host`).
    Add {
        name: String,
        host: String,
        #[arg(long)]
        address: Option<String>,
        #[arg(long, default_value_t = crate::dns::FULL_WEIGHT)]
        weight: i64,
        #[arg(long, default_value_t = 60)]
        ttl: i64,
    },
    /// Set HOST's weight to 0; refused if fewer than two servers would stay active.
    Drain {
        name: String,
        host: String,
        /// Allow leaving a single active server (never none).
        #[arg(long)]
        force: bool,
    },
    /// Give HOST its weight back (100).
    Restore {
        name: String,
        host: String,
        #[arg(long, default_value_t = crate::dns::FULL_WEIGHT)]
        weight: i64,
    },
    /// Delete HOST's record; refused as a drain would be.
    Remove {
        name: String,
        host: String,
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub struct ApplyCmd {
    #[command(flatten)]
    pub inv: InventoryArgs,

    #[command(flatten)]
    pub connect: ConnectArgs,

    /// The playbook (default: playbooks/site.yml).
    pub playbook: Option<PathBuf>,

    /// Change nothing; report what would change.
    #[arg(short = 'C', long)]
    pub check: bool,

    /// Show the changes as unified diffs.
    #[arg(short = 'D', long)]
    pub diff: bool,

    /// Only tasks with these tags (comma-separated, repeatable).
    #[arg(short = 't', long, value_delimiter = ',')]
    pub tags: Vec<String>,

    /// Skip tasks with these tags.
    #[arg(long = "skip-tags", value_delimiter = ',')]
    pub skip_tags: Vec<String>,

    /// Output format: Ansible's text, or one JSON event per line.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Show every task's result (`-v`; repeatable, as ansible-playbook's `-vvvv`).
    #[arg(short = 'v', long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// The connection type (`local`, `ssh`), as ansible-playbook's `-c`: under every
    /// `ansible_connection` a host or group sets.
    #[arg(short = 'c', long = "connection")]
    pub connection: Option<String>,

    /// Run the handlers a failed host was notified for anyway (as every play's
    /// `force_handlers: true`; also ANSIBLE_FORCE_HANDLERS).
    #[arg(long = "force-handlers")]
    pub force_handlers: bool,

    /// Delete the fact cache of every host in the inventory before the run (with
    /// `fact_caching = jsonfile`; ansible-playbook's --flush-cache).
    #[arg(long = "flush-cache")]
    pub flush_cache: bool,

    /// List the tasks each play would run (with --tags/--skip-tags), and run nothing.
    #[arg(long = "list-tasks")]
    pub list_tasks: bool,

    /// List the tags of each play's tasks, and run nothing.
    #[arg(long = "list-tags")]
    pub list_tags: bool,

    /// List the hosts each play selects, and run nothing.
    #[arg(long = "list-hosts")]
    pub list_hosts: bool,

    /// Only read the playbook (and every file it brings in), and run nothing.
    #[arg(long = "syntax-check")]
    pub syntax_check: bool,

    /// Run the hosts of --limit that are outside -g GROUP as its members (the migration
    /// step: deploy the new group's service onto a host the inventory still lists in the
    /// old group). Each such host leaves the groups it is listed in that share a parent
    /// with GROUP, as `inventory move` would; the inventory file is not changed.
    #[arg(long, requires_all = ["group", "limit"])]
    pub adopt: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ConnectArgs {
    /// Run as another user with sudo (`become`).
    #[arg(short = 'b', long = "become", global = true)]
    pub become_: bool,

    /// The user to become (default root); implies --become.
    #[arg(long = "become-user", global = true)]
    pub become_user: Option<String>,

    /// Ask once for the sudo password, used for every host.
    #[arg(short = 'K', long = "ask-become-pass", global = true)]
    pub ask_become_pass: bool,

    /// How many hosts to work on at once.
    #[arg(short = 'f', long = "forks", global = true)]
    pub forks: Option<usize>,

    /// Seconds to wait for a connection.
    #[arg(short = 'T', long = "timeout", global = true)]
    pub timeout: Option<u64>,
}

#[derive(Debug, Args)]
pub struct RunCmd {
    #[command(flatten)]
    pub inv: InventoryArgs,

    #[command(flatten)]
    pub connect: ConnectArgs,

    /// Give up on a command after this many seconds.
    #[arg(long = "command-timeout")]
    pub command_timeout: Option<u64>,

    /// Run the command with /bin/sh -c even as a --become-user (by default a become user's
    /// login shell runs it, `bash -ilc`, so nvm's node and pm2 are on its PATH).
    #[arg(long)]
    pub no_login: bool,

    /// The command, run with /bin/sh -c on each host (as a --become-user: in that user's
    /// interactive login shell, which reads ~/.profile and ~/.bashrc).
    #[arg(required = true, last = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LabCmd {
    #[command(subcommand)]
    pub action: LabAction,

    /// Where the lab keeps its key, known_hosts and state.
    #[arg(long, default_value = ".lab", global = true)]
    pub dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum LabAction {
    /// Start hosts and write an inventory for them.
    Up {
        /// Host names (default: the fleet's six, in their inventory/tot groups).
        #[arg(long, value_delimiter = ',')]
        hosts: Vec<String>,

        /// Instead of names: this many hosts, lab1..labN, all in tot20-sandbox.
        #[arg(long, conflicts_with = "hosts")]
        count: Option<usize>,

        /// Where to write the inventory.
        #[arg(long, default_value = "inventory/lab")]
        inventory: PathBuf,

        /// The port each sshd listens on.
        #[arg(long, default_value_t = 22)]
        port: u16,

        /// Do not build and serve the Node mirror (real Node binaries for the hosts).
        #[arg(long)]
        no_node: bool,

        /// Give each host its own network namespace (its own ports and firewall, a
        /// link that can be cut), reached at 198.18.<slot>.<n>; hosts then reach the
        /// machine only at 198.18.<slot>.254, not the registries.
        #[arg(long)]
        own_network: bool,
    },
    /// Stop every host and remove every trace.
    Down,
    /// List the hosts and whether they run.
    Status,
}

#[derive(Debug, Args)]
pub struct EvalCmd {
    #[command(flatten)]
    pub inv: InventoryArgs,

    /// The host (or a short alias of it).
    pub host: String,

    /// Templates to render, e.g. '{{ totService.node_version }}'.
    #[arg(required = true)]
    pub templates: Vec<String>,

    /// Print JSON (`{template: {"value": ...} | {"error": ...}}`) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InventoryCmd {
    #[command(flatten)]
    pub inv: InventoryArgs,

    /// Print the whole inventory as JSON (`ansible-inventory --list`).
    #[arg(long, group = "action")]
    pub list: bool,

    /// Print the group tree, from GROUP (default all).
    #[arg(long, group = "action", num_args = 0..=1, default_missing_value = "all", value_name = "GROUP")]
    pub graph: Option<String>,

    /// Print one host's merged vars as JSON.
    #[arg(long, group = "action", value_name = "HOST")]
    pub host: Option<String>,

    /// Print the selected hosts, one per line.
    #[arg(long = "list-hosts", group = "action")]
    pub list_hosts: bool,

    /// With --graph, show vars too.
    #[arg(long)]
    pub vars: bool,

    /// Host pattern for --list-hosts (default: the group, or all).
    pub pattern: Option<String>,

    #[command(subcommand)]
    pub edit: Option<InventoryEdit>,
}

/// Changes to the inventory file.
#[derive(Debug, Subcommand)]
pub enum InventoryEdit {
    /// Move a host from one group to another in its INI file, as seed 000's migration
    /// does: added after the new group's last host, the old line commented out
    /// (`# HOST # migrated to GROUP`), every other byte kept, written atomically.
    Move(MoveCmd),
}

#[derive(Debug, Args)]
pub struct MoveCmd {
    /// The host: its inventory name or a short alias (`sandbox3`).
    pub host: String,

    /// The group it is in now.
    #[arg(long)]
    pub from: String,

    /// The group it moves to.
    #[arg(long)]
    pub to: String,

    /// Show the change as a diff and write nothing.
    #[arg(long, alias = "dry-run")]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct ValidateCmd {
    #[command(flatten)]
    pub inv: InventoryArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// The vars contract to check hosts against.
    #[arg(long, default_value = "schema/fleet.yaml")]
    pub schema: PathBuf,

    /// Directory of templates to render for every host.
    #[arg(long, default_value = "templates")]
    pub templates: PathBuf,

    /// Treat warnings (ambiguous YAML 1.1 scalars, shadowed files) as errors.
    #[arg(long)]
    pub strict: bool,

    /// Playbooks to check (default: every playbooks/*.yml).
    #[arg(long = "playbook")]
    pub playbooks: Vec<PathBuf>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
