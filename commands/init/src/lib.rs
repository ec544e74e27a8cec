//! `cargo litestream init`: add a commented `[package.metadata.litestream]` table to
//! Cargo.toml, with the databases found in the project and the replica of the user's choice
//! (`cargo_litestream_config::init`, which appends it without touching the manifest's text).

use std::io::Write as _;

use cargo_litestream_command::anyhow::{self, Context as _};
use cargo_litestream_command::clap::{Arg, ArgAction, ArgMatches, Command};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};
use cargo_litestream_config::init::Init;
use cargo_litestream_config::locate_manifest;

/// The schema version of `init --json` (README.md, "JSON output").
const JSON_VERSION: u32 = 1;

fn cli() -> Command {
    Command::new("init")
        .arg(
            Arg::new("replica")
                .long("replica")
                .value_name("URL")
                .help("Where backups go: s3://bucket/prefix, gs://…, sftp://…, file:///abs/dir, or a folder"),
        )
        .arg(
            Arg::new("dry-run")
                .long("dry-run")
                .action(ArgAction::SetTrue)
                .help("Print the table that would be added; change nothing"),
        )
        .arg(Arg::new("json").long("json").action(ArgAction::SetTrue).help(
            "Print what was found and added as JSON: manifest, table, replica, databases, snippet, written",
        ))
}

fn run(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<u8> {
    let json_output = ctx.json(matches, JSON_VERSION);
    let manifest_path = locate_manifest(ctx.manifest_path.as_deref(), &ctx.env)?;
    let replica = matches.get_one::<String>("replica").map(String::as_str);
    let init = Init::plan(&manifest_path, replica, &ctx.env)?;

    let json = json_output.map(|output| {
        let body = serde_json::json!({
            "manifest": init.manifest,
            "table": init.table,
            "replica": init.replica,
            "database_url": init.database_url.as_ref().map(|found| serde_json::json!({
                "url": found.url, "source": found.source, "path": found.path,
            })),
            "databases": init.databases.iter().map(|(alias, path)| serde_json::json!({"alias": alias, "path": path})).collect::<Vec<_>>(),
            "snippet": init.snippet,
            "written": !matches.get_flag("dry-run"),
        });
        (output, body)
    });
    if matches.get_flag("dry-run") {
        match &json {
            Some((output, body)) => output.print(body)?,
            None => {
                print!("{}", init.snippet);
                std::io::stdout().flush().context("could not write to stdout")?;
            }
        }
        return Ok(0);
    }

    init.write(&ctx.env)?;
    ctx.shell.status("Added", format!("[{}] to {}", init.table, manifest_path.display()));
    for (alias, path) in &init.databases {
        ctx.shell.status("Found", format!("`{alias}` = {}", path.display()));
    }
    if let Some(found) = &init.database_url {
        ctx.shell.status("Found", format!("`default` from {} ({})", found.source, found.url));
    }
    if init.databases.is_empty() && init.database_url.is_none() {
        ctx.shell.note("no database found: add aliases to the `databases` table, or set DATABASE_URL");
    }
    if replica.is_none() {
        ctx.shell.note("no --replica given: backups go to S3 bucket $LITESTREAM_REPLICA_BUCKET; set `replica` to change that");
    }
    if let Some(replica) = replica.filter(|r| cargo_litestream_config::redact_url_password(r) != *r) {
        ctx.shell.warn(format!(
            "the replica URL holds a password, now written into {}: replace it with a $VARIABLE reference ({})",
            manifest_path.display(),
            cargo_litestream_config::redact_url_password(replica)
        ));
    }
    ctx.shell.note(
        "open the application's connections with `cargo_litestream_api::sqlite::open` (rusqlite) or `configure_sqlx` (sqlx): \
         WAL, busy_timeout = 5000 and wal_autocheckpoint = 0, so that no commit can miss the backup",
    );
    ctx.shell.note("check the result with `cargo litestream config`");
    if let Some((output, body)) = json {
        output.print(&body)?;
    }
    Ok(0)
}

register_command!(CommandSpec {
    name: "init",
    about: "Add a commented [package.metadata.litestream] table to Cargo.toml, with the databases found",
    cli,
    run,
    passthrough: None,
    usage_error: cargo_litestream_command::USAGE_ERROR,
});
