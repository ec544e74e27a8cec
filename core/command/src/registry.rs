//! The command registry: every `commands/<name>` crate submits a [`CommandSpec`].
//!
//! `inventory` collects the submissions before `main` runs. A crate nothing references is never
//! linked and its submission silently vanishes, so the binary's `src/main.rs` names every
//! command crate (`use cmd_x as _;`) and a test asserts the exact set of names.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::Ctx;

/// One `cargo litestream <name>` subcommand.
pub struct CommandSpec {
    pub name: &'static str,
    /// One line for `cargo litestream --help`.
    pub about: &'static str,
    /// The command's arguments (name and about are set from this spec).
    pub cli: fn() -> clap::Command,
    /// Does the work and returns the process exit code (Litestream's own, for passthroughs).
    pub run: fn(&clap::ArgMatches, &Ctx) -> anyhow::Result<u8>,
    /// The Litestream command this one passes through, as declared (`None`: a command of our
    /// own). Its flags are Litestream's: the integration test runs each of them against
    /// litestream itself, so a flag declared here is compared with Litestream automatically.
    pub passthrough: Option<&'static crate::passthrough::Passthrough>,
    /// The exit code of a command line the argument parser refuses (an unknown flag, a bad or
    /// missing value): [`USAGE_ERROR`] but where the command's exit codes say otherwise
    /// (`check`'s are Nagios's, where 2 is CRITICAL).
    pub usage_error: u8,
}

/// The exit code of a usage error, as cargo's and Go's flag package's (Litestream's own).
pub const USAGE_ERROR: u8 = 2;

inventory::collect!(CommandSpec);

/// Registers a command; use once per command crate.
///
/// ```ignore
/// cargo_litestream_command::register_command!(CommandSpec {
///     name: "databases", about: "…", cli, run, passthrough: Some(&LITESTREAM),
///     usage_error: cargo_litestream_command::USAGE_ERROR,
/// });
/// ```
#[macro_export]
macro_rules! register_command {
    ($spec:expr) => {
        $crate::inventory::submit! { $spec }
    };
}

/// A command of Litestream's, passed through: its crate is this one declaration (the command's
/// help line, whether it is hidden, and its [`Passthrough`](crate::passthrough::Passthrough)
/// table), from which its clap definition, its run and its registration follow.
///
/// ```ignore
/// cargo_litestream_command::passthrough_command! {
///     about: "Show the running replicate daemon (through the control socket)",
///     table: Passthrough {
///         command: "info",
///         needs: Needs::Socket(SocketTimeout::TenSeconds),
///         flags: &[Flag::switch("json", "Print JSON")],
///         positionals: &[],
///     },
/// }
/// ```
#[macro_export]
macro_rules! passthrough_command {
    (about: $about:expr, table: $declaration:expr $(, hidden: $hidden:expr)? $(,)?) => {
        #[allow(unused_imports)]
        use $crate::passthrough::{Flag, Kind, Needs, Passthrough, Positional, Role, SocketTimeout};
        #[allow(unused_imports)]
        use $crate::Lookup;

        const LITESTREAM: $crate::passthrough::Passthrough = $declaration;

        fn cli() -> $crate::clap::Command {
            LITESTREAM.cli()$(.hide($hidden))?
        }

        fn run(matches: &$crate::clap::ArgMatches, ctx: &$crate::Ctx) -> $crate::anyhow::Result<u8> {
            LITESTREAM.run(matches, ctx)
        }

        $crate::register_command!($crate::CommandSpec {
            name: LITESTREAM.command,
            about: $about,
            cli,
            run,
            passthrough: Some(&LITESTREAM),
            usage_error: $crate::USAGE_ERROR,
        });
    };
}

/// A registry that cannot be built: a bug of the binary, not of its user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    #[error("two commands are registered as `{name}`")]
    Duplicate { name: &'static str },
}

/// Every registered command, sorted by name. Two commands with one name are refused: the
/// second would otherwise shadow the first depending on link order.
pub fn commands() -> Result<&'static BTreeMap<&'static str, &'static CommandSpec>, RegistryError> {
    static REGISTRY: OnceLock<Result<BTreeMap<&'static str, &'static CommandSpec>, RegistryError>> =
        OnceLock::new();
    REGISTRY
        .get_or_init(|| {
            let mut map = BTreeMap::new();
            for spec in inventory::iter::<CommandSpec> {
                if map.insert(spec.name, spec).is_some() {
                    return Err(RegistryError::Duplicate { name: spec.name });
                }
            }
            Ok(map)
        })
        .as_ref()
        .map_err(Clone::clone)
}
