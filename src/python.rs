//! Python's behaviours that Ansible's files and templates rely on, in one bottom layer
//! used by inventory, templates and tasks alike: `ast.literal_eval` (inventory values),
//! `shlex` (splitting host lines, quoting for the shell), printf-style `%` formatting,
//! `str.splitlines`.
//! The value model's own Python spellings (`repr` of floats, `json.dumps`, datetimes)
//! live with it in `value/`.

pub(crate) mod literal;
pub(crate) mod printf;
pub(crate) mod shlex;
pub(crate) mod strings;
