//! `cargo litestream init`: add a commented `[package.metadata.litestream]` table to
//! Cargo.toml, with the databases found in the project and the replica of the user's choice.
//!
//! The table is appended as text, so every byte of the existing manifest (formatting,
//! comments, key order) stays as it was; `toml_edit` checks beforehand that no such table
//! exists and afterwards that the result parses and holds exactly the new table, and the
//! project's configuration is loaded from the result before it is written.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use cargo_litestream_command::anyhow::{self, Context as _, bail};
use cargo_litestream_command::clap::{Arg, ArgAction, ArgMatches, Command};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};
use cargo_litestream_config::{
    Env, Manifest, Project, find_database_url, locate_manifest, sqlite_path, url_scheme,
};

/// Folders never searched for databases.
const SKIP_DIRS: &[&str] = &["target", "node_modules", ".git", ".tools", "vendor"];
/// How deep below the manifest's folder databases are looked for.
const MAX_DEPTH: usize = 4;

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
    let original = std::fs::read_to_string(&manifest_path)
        .with_context(|| format!("could not read {}", manifest_path.display()))?;
    let document: toml_edit::DocumentMut = original
        .parse()
        .with_context(|| format!("{} is not valid TOML; fix it first", manifest_path.display()))?;
    let table = table_name(&document, &manifest_path)?;
    let dir = manifest_path.parent().unwrap_or(Path::new(".")).to_path_buf();

    let replica = matches.get_one::<String>("replica").map(String::as_str);
    if let Some(replica) = replica {
        check_replica(replica)?;
    }
    let default = find_database_url(&ctx.env, &dir)
        .ok()
        .flatten()
        .and_then(|(url, source)| sqlite_path(&url).ok().map(|path| (url, source, dir.join(path))));
    let found = find_databases(&dir, default.as_ref().map(|(_, _, path)| path.as_path()));
    let prefix = path_prefix(&document, &dir);
    let snippet = render(
        table,
        &prefix,
        replica,
        default.as_ref().map(|(url, source, _)| (url.as_str(), source.to_string())),
        &found,
    );

    let json = json_output.map(|output| {
        let body = serde_json::json!({
            "manifest": manifest_path,
            "table": table,
            "replica": replica,
            "database_url": default.as_ref().map(|(url, source, path)| serde_json::json!({
                "url": url, "source": source.to_string(), "path": path,
            })),
            "databases": found.iter().map(|(alias, path)| serde_json::json!({"alias": alias, "path": path})).collect::<Vec<_>>(),
            "snippet": snippet,
            "written": !matches.get_flag("dry-run"),
        });
        (output, body)
    });
    if matches.get_flag("dry-run") {
        match &json {
            Some((output, body)) => output.print(body)?,
            None => {
                print!("{snippet}");
                std::io::stdout().flush().context("could not write to stdout")?;
            }
        }
        return Ok(0);
    }

    let separator = if original.is_empty() || original.ends_with("\n\n") {
        ""
    } else if original.ends_with('\n') {
        "\n"
    } else {
        "\n\n"
    };
    let updated = format!("{original}{separator}{snippet}");
    check_result(&updated, table, &manifest_path, &ctx.env)?;
    write_preserving_permissions(&manifest_path, &updated)?;

    ctx.shell.status("Added", format!("[{table}] to {}", manifest_path.display()));
    for (alias, path) in &found {
        ctx.shell.status("Found", format!("`{alias}` = {}", path.display()));
    }
    if let Some((url, source, _)) = &default {
        ctx.shell.status("Found", format!("`default` from {source} ({url})"));
    }
    if found.is_empty() && default.is_none() {
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

/// `package.metadata.litestream`, or `workspace.metadata.litestream` in a virtual manifest;
/// refused when it exists already.
fn table_name(document: &toml_edit::DocumentMut, path: &Path) -> anyhow::Result<&'static str> {
    let (name, exists) = if document.contains_key("package") {
        (
            "package.metadata.litestream",
            document
                .get("package")
                .and_then(|p| p.get("metadata"))
                .and_then(|m| m.get("litestream"))
                .is_some(),
        )
    } else if document.contains_key("workspace") {
        (
            "workspace.metadata.litestream",
            document
                .get("workspace")
                .and_then(|w| w.get("metadata"))
                .and_then(|m| m.get("litestream"))
                .is_some(),
        )
    } else {
        bail!("{} has neither [package] nor [workspace]; run init in a Cargo project", path.display());
    };
    if exists {
        bail!(
            "{} already has [{name}]; edit it there (`cargo litestream config` shows what it generates)",
            path.display()
        );
    }
    Ok(name)
}

fn check_replica(replica: &str) -> anyhow::Result<()> {
    if replica.trim().is_empty() {
        bail!("--replica is empty; give a URL such as s3://bucket/prefix or a folder");
    }
    if let Some(rest) = replica.strip_prefix("file://")
        && !rest.starts_with('/')
    {
        bail!(
            "--replica {replica} means /{rest} to Litestream; write file:///absolute/path or a relative folder"
        );
    }
    if replica.contains("://") && url_scheme(replica).is_none() {
        bail!("--replica {replica} is not a URL; write e.g. s3://bucket/prefix");
    }
    Ok(())
}

/// SQLite files below `dir` (by header, not only by name), as `(alias, path)` pairs, skipping
/// the one `DATABASE_URL` already names.
fn find_databases(dir: &Path, default: Option<&Path>) -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    walk(dir, 0, &mut files);
    files.sort();
    let default = default.map(cargo_litestream_config::normalize);
    let mut taken: BTreeSet<String> = BTreeSet::from(["default".to_owned()]);
    let mut found = Vec::new();
    for path in files {
        if default.as_deref() == Some(path.as_path()) {
            continue;
        }
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let base: String =
            stem.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '-' }).collect();
        let base = if base.is_empty() || base == "default" { "db".to_owned() } else { base };
        let mut alias = base.clone();
        let mut n = 2;
        while !taken.insert(alias.clone()) {
            alias = format!("{base}-{n}");
            n += 1;
        }
        let relative = path.strip_prefix(dir).map(Path::to_path_buf).unwrap_or(path);
        found.push((alias, relative));
    }
    found
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            if depth < MAX_DEPTH && !name.starts_with('.') && !SKIP_DIRS.contains(&name.as_str()) {
                walk(&path, depth + 1, out);
            }
        } else if kind.is_file()
            && ["db", "sqlite", "sqlite3"].iter().any(|ext| path.extension().is_some_and(|e| e == *ext))
            && is_sqlite(&path)
        {
            out.push(path);
        }
    }
}

fn is_sqlite(path: &Path) -> bool {
    use std::io::Read;
    let mut header = [0u8; 16];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut header)).is_ok()
        && &header == b"SQLite format 3\0"
}

/// The package's name (the folder's in a virtual manifest): the `path-prefix` init writes, so
/// that two projects whose databases share a file name never share a replica location.
fn path_prefix(document: &toml_edit::DocumentMut, dir: &Path) -> String {
    let name = document.get("package").and_then(|p| p.get("name")).and_then(|n| n.as_str());
    let folder = || {
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "app".to_owned())
    };
    name.map_or_else(folder, str::to_owned)
}

fn render(
    table: &str,
    prefix: &str,
    replica: Option<&str>,
    default: Option<(&str, String)>,
    found: &[(String, PathBuf)],
) -> String {
    let mut text = format!(
        "# Litestream: continuous SQLite backups (`cargo litestream replicate`).\n\
         # Reference: `cargo litestream --help` and cargo-litestream's README.\n\
         [{table}]\n\
         # Where backups go: a URL (s3://bucket/prefix, gs://bucket/prefix, sftp://user@host/path,\n\
         # file:///absolute/dir) or a folder; each database gets its own sub-path.\n"
    );
    match replica {
        Some(replica) => text.push_str(&format!("replica = {}\n", toml_edit::Value::from(replica))),
        None => text.push_str(
            "# Without it: S3 bucket $LITESTREAM_REPLICA_BUCKET, credentials $LITESTREAM_ACCESS_KEY_ID\n\
             # and $LITESTREAM_SECRET_ACCESS_KEY.\n\
             # replica = \"s3://my-bucket/my-service\"\n",
        ),
    }
    text.push_str(&format!(
        "# Backups go to <replica>/{prefix}/<file name>: without a prefix, another project's database\n\
         # of the same file name in the same replica would overwrite this one's backups.\n\
         path-prefix = {}\n",
        toml_edit::Value::from(prefix)
    ));
    text.push_str(
        "# Any Litestream setting can go here too, e.g.:\n\
         # l0-retention = \"10m\"\n\
         # dbs = [{ path = \"default\", monitor-interval = \"1s\" }]   # default: every alias\n\
         \n\
         # Database aliases: use them wherever a command takes a database.\n",
    );
    if let Some((url, source)) = &default {
        text.push_str(&format!("# `default` comes from {source} ({url}).\n"));
    }
    text.push_str(&format!("[{table}.databases]\n"));
    for (alias, path) in found {
        let path = path.to_string_lossy().replace('\\', "/");
        text.push_str(&format!(
            "{} = {}\n",
            toml_edit::Key::new(alias.as_str()),
            toml_edit::Value::from(path)
        ));
    }
    if found.is_empty() && default.is_none() {
        text.push_str("# default = \"data/app.db\"\n");
    }
    text
}

/// The updated manifest parses, holds the new table, and loads as a valid configuration.
fn check_result(updated: &str, table: &str, path: &Path, env: &Env) -> anyhow::Result<()> {
    let document: toml_edit::DocumentMut = updated.parse().map_err(|e: toml_edit::TomlError| {
        anyhow::anyhow!(
            "adding [{table}] would make {} invalid ({}); add it by hand (see `cargo litestream init --dry-run`)",
            path.display(),
            e.message()
        )
    })?;
    let mut item = document.as_item();
    for part in table.split('.') {
        item =
            item.get(part).ok_or_else(|| anyhow::anyhow!("internal error: [{table}] missing after init"))?;
    }
    let manifest = Manifest::parse(path, updated)?;
    Project::from_manifest(manifest, env)
        .map(|_| ())
        .context("internal error: the table init generated is not a valid configuration; please report it")
}

/// Replaces the manifest atomically, keeping its permissions.
fn write_preserving_permissions(path: &Path, text: &str) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let permissions =
        std::fs::metadata(path).with_context(|| format!("could not read {}", path.display()))?.permissions();
    let mut temp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("could not write in {}", dir.display()))?;
    temp.write_all(text.as_bytes())?;
    temp.as_file().set_permissions(permissions)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error).with_context(|| format!("could not write {}", path.display()))?;
    Ok(())
}

register_command!(CommandSpec {
    name: "init",
    about: "Add a commented [package.metadata.litestream] table to Cargo.toml, with the databases found",
    cli,
    run,
    passthrough: None,
    usage_error: cargo_litestream_command::USAGE_ERROR,
});
