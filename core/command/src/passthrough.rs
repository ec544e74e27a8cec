//! Litestream commands passed through: declared as data, parsed by clap, handed to litestream
//! with the generated config or socket, aliases resolved, flags first.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::bail;
use cargo_litestream_api::targets;
use cargo_litestream_config::{DatabaseArg, Lookup};
use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::Ctx;

/// What a Litestream command needs from the project.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Nothing (`version`).
    Nothing,
    /// The config file: gets `-config <generated>` unless a replica URL is given instead.
    Config,
    /// The control socket of a running `replicate`: gets `-socket <project socket>`. Litestream's
    /// `-timeout` default differs by command (`info`, `list`: 10 s; the others: 30 s).
    Socket(SocketTimeout),
}

/// The default of Litestream's `-timeout` on a control-socket command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketTimeout {
    TenSeconds,
    ThirtySeconds,
}

/// How a flag's value is treated on its way to Litestream.
#[derive(Clone, Copy)]
pub enum Role {
    /// Passed as written.
    Pass,
    /// A database path: aliases resolve, relative paths become absolute.
    Database,
    /// Rewritten by the function (which explains what it could not convert).
    Convert(fn(&str) -> Result<String, String>),
    /// A flag Litestream 0.5 dropped, accepted for old docs and passed as another flag.
    Rename(&'static str, fn(&str) -> Result<String, String>),
    /// A flag Litestream 0.5 dropped with no equivalent: refused with this message.
    Refuse(&'static str),
    /// cargo-litestream's own flag: never passed to Litestream.
    Local,
}

/// A flag as Litestream spells it: `-name` (a one-letter name is a short flag, `-o`).
#[derive(Clone, Copy)]
pub struct Flag {
    pub name: &'static str,
    /// The value's placeholder, or `None` for a boolean flag.
    pub value: Option<&'static str>,
    pub help: &'static str,
    pub role: Role,
}

impl Flag {
    pub const fn switch(name: &'static str, help: &'static str) -> Flag {
        Flag { name, value: None, help, role: Role::Pass }
    }

    pub const fn value(name: &'static str, value: &'static str, help: &'static str) -> Flag {
        Flag { name, value: Some(value), help, role: Role::Pass }
    }

    pub const fn role(mut self, role: Role) -> Flag {
        self.role = role;
        self
    }

    fn hidden(&self) -> bool {
        matches!(self.role, Role::Rename(..) | Role::Refuse(_))
    }

    pub fn arg(&self) -> Arg {
        let mut arg = Arg::new(self.name).help(self.help).hide(self.hidden());
        let mut letters = self.name.chars();
        arg = match (letters.next(), letters.next()) {
            (Some(letter), None) => arg.short(letter),
            _ => arg.long(self.name),
        };
        match self.value {
            Some(value) => arg.value_name(value).action(ArgAction::Set).allow_hyphen_values(true),
            None => arg.action(ArgAction::SetTrue),
        }
    }
}

/// What a positional argument is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A database: alias or path.
    Database(Lookup),
    /// A database or a replica URL.
    DatabaseOrUrl(Lookup),
    /// A replica URL.
    Url,
}

#[derive(Clone, Copy, Debug)]
pub struct Positional {
    pub name: &'static str,
    pub help: &'static str,
    pub required: bool,
    pub kind: Kind,
}

impl Positional {
    /// `[DB_PATH]` of a command that reads replicas (`drill`, `restore-points`): a database's
    /// alias or path, or a replica URL, as [`Passthrough::replicas`] takes it.
    pub const REPLICA: Positional = Positional {
        name: "DB_PATH",
        help: "Database alias or path, or a replica URL (default: every configured database)",
        required: false,
        kind: Kind::DatabaseOrUrl(Lookup::Configured),
    };
}

/// The flags every config-reading Litestream command has.
const CONFIG_FLAGS: [Flag; 2] = [
    Flag::value("config", "PATH", "Use this Litestream YAML instead of the one generated from Cargo.toml"),
    Flag::switch("no-expand-env", "Do not expand $VAR references in the configuration"),
];

/// The flags every control-socket command has (with its own `-timeout` default).
const SOCKET_FLAGS_10: [Flag; 2] = [
    Flag::value("socket", "PATH", "Control socket of the running replicate (default: the project's)"),
    Flag::value("timeout", "SECONDS", "Give up after this many seconds (default: 10)"),
];
const SOCKET_FLAGS_30: [Flag; 2] = [
    Flag::value("socket", "PATH", "Control socket of the running replicate (default: the project's)"),
    Flag::value("timeout", "SECONDS", "Give up after this many seconds (default: 30)"),
];

/// `ltx` (and its deprecated name `wal`, which differs only in `command`): one table.
pub const LTX: Passthrough = Passthrough {
    command: "ltx",
    needs: Needs::Config,
    flags: &[
        Flag::value("level", "LEVEL", "Compaction level 0-9, or `all` (default: 0)"),
        Flag::switch("json", "Print JSON"),
        Flag::value("replica", "NAME", "").role(Role::Refuse(
            "Litestream 0.5 has one replica per database; give the database, or the replica URL instead of it",
        )),
    ],
    positionals: &[Positional {
        name: "DB_PATH",
        help: "Database alias or path, or a replica URL",
        required: true,
        kind: Kind::DatabaseOrUrl(Lookup::Configured),
    }],
};

/// `start` and `stop` take the same arguments.
pub const START_STOP: Passthrough = Passthrough {
    command: "start",
    needs: Needs::Socket(SocketTimeout::ThirtySeconds),
    flags: &[Flag::switch("json", "Print JSON")],
    positionals: &[Positional {
        name: "DB_PATH",
        help: "Database alias or path",
        required: true,
        kind: Kind::Database(Lookup::Any),
    }],
};

/// A Litestream command passed through.
pub struct Passthrough {
    /// Litestream's name for it.
    pub command: &'static str,
    pub needs: Needs,
    /// In the order Litestream's help lists them.
    pub flags: &'static [Flag],
    pub positionals: &'static [Positional],
}

impl Passthrough {
    /// The clap command: Litestream's flags (plus `-config`/`-no-expand-env` for config commands).
    pub fn cli(&self) -> Command {
        let mut command = Command::new(self.command);
        for flag in self.all_flags() {
            command = command.arg(flag.arg());
        }
        for (index, positional) in self.positionals.iter().enumerate() {
            command = command.arg(
                Arg::new(positional.name)
                    .value_name(positional.name)
                    .help(positional.help)
                    .required(positional.required)
                    .index(index + 1),
            );
        }
        command
    }

    /// Every flag the command takes: those its kind of command always has (`-config`,
    /// `-no-expand-env`; `-socket`, `-timeout`), then its own.
    pub fn all_flags(&self) -> impl Iterator<Item = &Flag> {
        let common: &[Flag] = match self.needs {
            Needs::Nothing => &[],
            Needs::Config => &CONFIG_FLAGS,
            Needs::Socket(SocketTimeout::TenSeconds) => &SOCKET_FLAGS_10,
            Needs::Socket(SocketTimeout::ThirtySeconds) => &SOCKET_FLAGS_30,
        };
        common.iter().chain(self.flags)
    }

    /// Builds litestream's argv and hands the process over to it.
    pub fn run(&self, matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<u8> {
        let args = self.litestream_args(matches, ctx)?;
        // Litestream's own answer to a missing daemon is a raw `dial unix … connect` error.
        let previews = matches.try_get_one::<bool>("dry-run").ok().flatten().copied().unwrap_or(false);
        if matches!(self.needs, Needs::Socket(_)) && !previews {
            let socket = socket(matches, ctx)?;
            if !cargo_litestream_api::replicate::socket_answers(&socket) {
                bail!(no_daemon(&socket));
            }
        }
        let litestream = ctx.litestream()?;
        Ok(litestream.exec(&args, &ctx.env, &ctx.shell)?)
    }

    /// Litestream's argv: the command, the injected `-config`/`-socket`, every flag given, then
    /// the positionals (Go's flag package stops at the first positional).
    pub fn litestream_args(&self, matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<Vec<OsString>> {
        self.litestream_args_with(matches, ctx, Vec::new())
    }

    /// What `litestream ltx` is given to list the replica this command's positional names:
    /// the replica URL, or `-config FILE DB_PATH` (the generated config, or the user's own).
    pub fn replica_target(&self, matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<Vec<OsString>> {
        let listing =
            Passthrough { command: "ltx", needs: Needs::Config, flags: &[], positionals: self.positionals };
        let mut args = listing.litestream_args(matches, ctx)?;
        args.remove(0);
        Ok(args)
    }

    /// The replicas this command's `DB_PATH` names, or every configured database when none is
    /// given ([`Ctx::replicas`]); with the user's own `-config`, the one database it names
    /// there, which litestream alone reads.
    pub fn replicas<'c>(
        &self,
        matches: &ArgMatches,
        ctx: &'c Ctx,
    ) -> anyhow::Result<Vec<targets::Replica<'c>>> {
        let arg = matches.get_one::<String>("DB_PATH");
        if matches.get_one::<String>("config").is_none() {
            let named: Vec<&str> = arg.map(String::as_str).into_iter().collect();
            return ctx.replicas(&named, targets::Urls::Take, matches.get_flag("no-expand-env"));
        }
        let Some(arg) = arg else {
            bail!(
                "with -config, name the database: `cargo litestream {} -config FILE DB_PATH`",
                self.command
            );
        };
        let name = match ctx.project_if_any()?.map(|p| p.resolve_database_arg(arg, &ctx.env, Lookup::Any)) {
            Some(Ok(DatabaseArg::Path { alias: Some(alias), .. })) => alias,
            _ => cargo_litestream_config::redact_url_password(arg),
        };
        Ok(vec![targets::Replica::in_config_file(name, self.replica_target(matches, ctx)?)])
    }

    /// [`litestream_args`](Self::litestream_args) with `extra` flags (already spelled as
    /// Litestream reads them) after the given ones, before the positionals.
    pub fn litestream_args_with(
        &self,
        matches: &ArgMatches,
        ctx: &Ctx,
        extra: Vec<OsString>,
    ) -> anyhow::Result<Vec<OsString>> {
        let given = |name: &str| matches.value_source(name) == Some(clap::parser::ValueSource::CommandLine);
        // With the user's own `-config`, the databases it lists are not the ones in Cargo.toml:
        // aliases still resolve, but nothing is checked against the generated list.
        let own_config = self.needs == Needs::Config && given("config");
        let mut positionals = Vec::new();
        for positional in self.positionals {
            let Some(text) = matches.get_one::<String>(positional.name) else { continue };
            positionals.push(resolve_positional(positional, text, own_config, ctx)?);
        }
        let url_mode = positionals.iter().any(|p| matches!(p, DatabaseArg::Url(_)));

        let mut flags: Vec<OsString> = Vec::new();
        for flag in self.all_flags() {
            if !matches.contains_id(flag.name)
                || matches.value_source(flag.name) != Some(clap::parser::ValueSource::CommandLine)
            {
                continue;
            }
            let value = if flag.value.is_some() { matches.get_one::<String>(flag.name) } else { None };
            let (name, value): (&str, Option<OsString>) = match (flag.role, value) {
                (Role::Local, _) => continue,
                (Role::Refuse(message), _) => bail!("-{} is not a Litestream 0.5 flag: {message}", flag.name),
                (_, None) => (flag.name, None),
                (Role::Pass, Some(v)) => (flag.name, Some(v.into())),
                (Role::Database, Some(v)) => {
                    (flag.name, Some(resolve_database(v, Lookup::Any, ctx)?.to_arg()))
                }
                (Role::Convert(convert), Some(v)) => {
                    (flag.name, Some(convert_value(flag.name, v, convert)?.into()))
                }
                (Role::Rename(to, convert), Some(v)) => {
                    let converted = convert_value(flag.name, v, convert)?;
                    ctx.shell
                        .note(format!("-{} is gone in Litestream 0.5; passing -{to} {converted}", flag.name));
                    (to, Some(converted.into()))
                }
            };
            flags.push(format!("-{name}").into());
            flags.extend(value);
        }

        let mut args: Vec<OsString> = vec![self.command.into()];
        match self.needs {
            Needs::Config if !url_mode && !given("config") => {
                let no_expand_env = matches.get_flag("no-expand-env");
                // A database inside a `dir` entry gets a config listing it alone: Litestream's
                // config commands find databases by `path:` entries only.
                let database = positionals.iter().find_map(|p| match p {
                    DatabaseArg::Path { path, .. } => Some(path.as_path()),
                    DatabaseArg::Url(_) => None,
                });
                let path = ctx.write_litestream_config_for(no_expand_env, database)?;
                args.extend(["-config".into(), path.into_os_string()]);
            }
            Needs::Socket(_) if !given("socket") => {
                if let Some(socket) = project_socket(ctx)? {
                    args.extend(["-socket".into(), socket.into_os_string()]);
                }
            }
            _ => {}
        }
        args.extend(flags);
        args.extend(extra);
        args.extend(positionals.iter().map(DatabaseArg::to_arg));
        Ok(args)
    }
}

/// The whole seconds a local flag such as `-timeout` gives (at least 1), if given.
pub fn seconds(matches: &ArgMatches, flag: &str) -> anyhow::Result<Option<std::time::Duration>> {
    let Some(text) = matches.get_one::<String>(flag) else { return Ok(None) };
    match text.parse::<u64>() {
        Ok(seconds) if seconds > 0 => Ok(Some(std::time::Duration::from_secs(seconds))),
        _ => bail!("invalid value {text:?} for -{flag}: expected a whole number of seconds, at least 1"),
    }
}

/// The control socket a socket command talks to: `-socket` as given, else the project's (when
/// its configuration enables one), else Litestream's own default.
pub fn socket(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<PathBuf> {
    if let Some(given) = matches.get_one::<String>("socket") {
        return Ok(PathBuf::from(given));
    }
    Ok(project_socket(ctx)?.unwrap_or_else(|| PathBuf::from(LITESTREAM_DEFAULT_SOCKET)))
}

/// The one line for a control-socket command with nothing listening on `socket`.
pub fn no_daemon(socket: &std::path::Path) -> String {
    format!(
        "no replicate is running: nothing answers on the control socket {}; start one with \
         `cargo litestream replicate` (or pass the socket it uses with -socket)",
        socket.display()
    )
}

/// `socket.path` when Litestream's default is not given to it.
pub const LITESTREAM_DEFAULT_SOCKET: &str = "/var/run/litestream.sock";

fn project_socket(ctx: &Ctx) -> anyhow::Result<Option<PathBuf>> {
    Ok(ctx.project_if_any()?.filter(|p| p.socket_enabled()).map(|p| p.socket_path(&ctx.env)))
}

/// The database a positional names (alias or path), as the absolute path Litestream is given.
pub fn database_path(positional: &Positional, text: &str, ctx: &Ctx) -> anyhow::Result<PathBuf> {
    match resolve_positional(positional, text, false, ctx)? {
        DatabaseArg::Path { path, .. } => Ok(path),
        DatabaseArg::Url(url) => bail!("{} takes a database, not the replica URL `{url}`", positional.name),
    }
}

fn convert_value(
    name: &str,
    value: &str,
    convert: fn(&str) -> Result<String, String>,
) -> anyhow::Result<String> {
    convert(value).map_err(|why| anyhow::anyhow!("invalid value {value:?} for -{name}: {why}"))
}

fn resolve_positional(
    positional: &Positional,
    text: &str,
    own_config: bool,
    ctx: &Ctx,
) -> anyhow::Result<DatabaseArg> {
    let kind = match positional.kind {
        Kind::Database(_) if own_config => Kind::Database(Lookup::Any),
        Kind::DatabaseOrUrl(_) if own_config => Kind::DatabaseOrUrl(Lookup::Any),
        kind => kind,
    };
    if let Some(problem) = cargo_litestream_config::raw_password_problem(text) {
        bail!(problem);
    }
    match kind {
        Kind::Url => Ok(DatabaseArg::Url(text.to_owned())),
        Kind::DatabaseOrUrl(lookup) => {
            if cargo_litestream_config::url_scheme(text).is_some() {
                return Ok(DatabaseArg::Url(text.to_owned()));
            }
            resolve_database(text, lookup, ctx)
        }
        Kind::Database(lookup) => {
            let resolved = resolve_database(text, lookup, ctx)?;
            if let DatabaseArg::Url(url) = &resolved {
                bail!(
                    "{} takes a database, not the replica URL `{url}`; give an alias or a path",
                    positional.name
                );
            }
            Ok(resolved)
        }
    }
}

/// An alias or path, resolved against the project when there is one.
fn resolve_database(text: &str, lookup: Lookup, ctx: &Ctx) -> anyhow::Result<DatabaseArg> {
    match ctx.project_if_any()? {
        Some(project) => Ok(project.resolve_database_arg(text, &ctx.env, lookup)?),
        None => Ok(DatabaseArg::Path { path: ctx.env.absolute(std::path::Path::new(text)), alias: None }),
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;
    use crate::Ctx;

    const RESTORE: Passthrough = Passthrough {
        command: "restore",
        needs: Needs::Config,
        flags: &[
            Flag::value("o", "PATH", "").role(Role::Database),
            Flag::value("txid", "TXID", ""),
            Flag::switch("force", ""),
            Flag::value("index", "N", "").role(Role::Rename("txid", |n| {
                Ok(format!("{:016x}", n.parse::<u64>().map_err(|e| e.to_string())?))
            })),
            Flag::value("generation", "ID", "").role(Role::Refuse("no generations")),
            Flag::value("at", "TIME", "").role(Role::Local),
        ],
        positionals: &[Positional {
            name: "DB_PATH",
            help: "",
            required: true,
            kind: Kind::DatabaseOrUrl(Lookup::Configured),
        }],
    };

    /// A project in a temp folder with the alias `default`, and a context over it.
    fn context() -> (tempfile::TempDir, Ctx) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n[package.metadata.litestream]\nreplica = \"r\"\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
        )
        .unwrap();
        let env = cargo_litestream_config::Env::empty(dir.path()).with("HOME", dir.path());
        let ctx = Ctx::new(env, cargo_litestream_shell::Shell::quiet(), None, true);
        (dir, ctx)
    }

    fn argv(args: &[&str]) -> anyhow::Result<Vec<String>> {
        let (dir, ctx) = context();
        let matches =
            RESTORE.cli().try_get_matches_from(std::iter::once("restore").chain(args.iter().copied()))?;
        let argv = RESTORE.litestream_args(&matches, &ctx)?;
        let root = dir.path().to_string_lossy().into_owned();
        Ok(argv.iter().map(|a: &OsString| a.to_string_lossy().replace(&root, "<DIR>")).collect())
    }

    #[test]
    fn config_then_flags_then_the_positional_with_aliases_resolved() {
        assert_eq!(
            argv(&["default", "--txid", "0000000000000003", "-o", "out.db", "--force"]).unwrap(),
            [
                "restore",
                "-config",
                "<DIR>/target/litestream/app/litestream.yml",
                "-o",
                "<DIR>/out.db",
                "-txid",
                "0000000000000003",
                "-force",
                "<DIR>/app.db",
            ]
        );
    }

    #[test]
    fn local_flags_stay_ours_renamed_ones_convert_refused_ones_fail() {
        let argv = argv(&["--at", "2h ago", "--index", "26", "default"]).unwrap();
        assert!(!argv.iter().any(|a| a == "-at" || a == "2h ago"), "{argv:?}");
        assert!(argv.windows(2).any(|w| w == ["-txid", "000000000000001a"]), "{argv:?}");
        let error = argv_error(&["--generation", "x", "default"]);
        assert!(error.contains("-generation is not a Litestream 0.5 flag: no generations"), "{error}");
        let error = argv_error(&["--index", "zz", "default"]);
        assert!(error.contains("invalid value \"zz\" for -index"), "{error}");
        let error = argv_error(&["nosuch"]);
        assert!(error.contains("nosuch"), "{error}");
    }

    #[test]
    fn a_replica_url_needs_no_config() {
        assert_eq!(
            argv(&["-o", "x.db", "s3://bucket/db"]).unwrap(),
            ["restore", "-o", "<DIR>/x.db", "s3://bucket/db"]
        );
    }

    fn argv_error(args: &[&str]) -> String {
        format!("{:#}", argv(args).unwrap_err())
    }
}
