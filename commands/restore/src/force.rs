//! `restore -force` onto an existing database, without ever losing it.
//!
//! What Litestream 0.5.17 does with `-force` (cmd/litestream/restore.go, `prepareOutputPath`,
//! and checked with the binary): it *removes* the output file and its `-wal`, `-shm` and
//! `-journal` first, then restores. A restore that then fails (a wrong `-txid`, an unreachable
//! or empty replica, bad credentials) leaves no database at all, and until it succeeds there is
//! none at that path.
//!
//! Here instead:
//! 1. a database being replicated (its replicate lock is held) is refused: replacing it under
//!    litestream would corrupt the replica; so is one another process has open in WAL mode
//!    (its writes would go to the replaced file and be lost);
//! 2. litestream restores into a private folder beside the output (same file system), without
//!    `-force`; if it fails, its exit code is returned and the old files were never touched;
//! 3. the old `-wal`, `-shm` and `-journal` are moved into that folder (so no old WAL can ever
//!    be applied to the new file), then the new file is renamed over the old one: one atomic
//!    `rename(2)`; a reader sees the old database or the new one, never a mix or nothing;
//! 4. the folder, with the old sidecars, is removed. A failed step moves what it moved back.
//!
//! The new file gets the old file's permissions. With `-json`, `db_path` is the real output.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use cargo_litestream_command::anyhow::{self, Context as _, bail};
use cargo_litestream_command::clap::ArgMatches;
use cargo_litestream_command::clap::parser::ValueSource;
use cargo_litestream_command::{Ctx, DatabaseArg, Lookup};

use cargo_litestream_api::child::{Child, ChildOptions, signal};
use cargo_litestream_config::{SQLITE_SIDECARS as SIDECARS, sidecar};

/// `-force` that would replace something: not with `-dry-run` or `-f` (follow mode never
/// removes), nor `-if-db-not-exists` (which never replaces).
pub fn applies(matches: &ArgMatches) -> bool {
    let on =
        |name: &str| matches.value_source(name) == Some(ValueSource::CommandLine) && matches.get_flag(name);
    on("force") && !on("dry-run") && !on("f") && !on("if-db-not-exists")
}

/// A restore to a path whose database is gone but whose `-wal`, `-shm` or `-journal` remain
/// (the database deleted by hand, or lost without its sidecars): Litestream 0.5.17 restores
/// beside them and leaves them there, and the first open of the restored file applies that old
/// WAL over it (checked with the binary: a replica of 600 rows opened as the stale WAL's 100,
/// or as "database disk image is malformed"). Returns the output and its leftovers.
/// `-dry-run` writes nothing and is never stopped.
pub fn leftovers(
    args: &[OsString],
    matches: &ArgMatches,
    ctx: &Ctx,
) -> anyhow::Result<Option<(PathBuf, Vec<PathBuf>)>> {
    if matches.value_source("dry-run") == Some(ValueSource::CommandLine) && matches.get_flag("dry-run") {
        return Ok(None);
    }
    let Some(output) = output_path(args, matches, ctx)? else { return Ok(None) };
    // An existing database follows Litestream's own rules: refused without -force, or skipped.
    let stale = cargo_litestream_config::orphaned_sidecars(&output);
    Ok((!stale.is_empty()).then_some((output, stale)))
}

/// Restores with litestream's argv `args` (built once by the caller), safely over an existing
/// database.
pub fn run(args: &[OsString], matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<u8> {
    let Some(output) = output_path(args, matches, ctx)? else {
        // A replica URL without -o: Litestream explains.
        return super::exec(args, ctx);
    };
    // A symlink stays one (in a container the data lives where it points, on the volume): the
    // database replaced is its target, and SQLite keeps its sidecars there too.
    let output = match std::fs::symlink_metadata(&output) {
        Ok(meta) if meta.file_type().is_symlink() => std::fs::canonicalize(&output)
            .with_context(|| format!("{} is a symlink to nothing: fix or remove it", output.display()))?,
        _ => output,
    };
    let existing: Vec<PathBuf> = std::iter::once(output.clone())
        .chain(SIDECARS.iter().map(|s| sidecar(&output, s)))
        .filter(|p| p.symlink_metadata().is_ok())
        .collect();
    let dir = output.parent().unwrap_or(Path::new("/"));
    if existing.is_empty() || output.is_dir() || !dir.is_dir() {
        // Nothing to replace (or Litestream's own error to give).
        return super::exec(args, ctx);
    }
    if let Some(pid) = cargo_litestream_runner::lock::replicating(&output) {
        let by = if pid > 0 { format!(" by process {pid}") } else { String::new() };
        bail!(
            "{} is being replicated{by}; restoring over it would corrupt its replica: stop `cargo litestream replicate` first, or restore elsewhere with -o",
            output.display()
        );
    }

    if let Some(pid) = cargo_litestream_runner::lock::database_opener(&output) {
        bail!(
            "{} is open in process {pid} (an app or a litestream); replacing it now would lose that process's later writes: stop it first, or restore elsewhere with -o",
            output.display()
        );
    }

    let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    remove_dead_stagings(dir, &name, ctx);
    let staging = tempfile::Builder::new()
        .prefix(&staging_prefix(&name))
        .tempdir_in(dir)
        .with_context(|| format!("cannot create a staging folder in {}", dir.display()))?;
    // Held for as long as this run lives: a later run that can take it knows this one is dead.
    let _alive = alive_lock(staging.path())?;
    let restored = staging.path().join(&name);

    let litestream = ctx.litestream()?;
    let staged_args = retarget(args, &restored);
    ctx.shell.verbose("Running", cargo_litestream_runner::display_command(&litestream.path, &staged_args));
    let stdout_path = staging.path().join(".stdout");
    let stdout_file = std::fs::File::create(&stdout_path)
        .with_context(|| format!("cannot create {}", stdout_path.display()))?;
    let mut command = litestream.command(&ctx.env);
    command.args(&staged_args).stdin(Stdio::null()).stdout(stdout_file).stderr(Stdio::inherit());
    // Killed with us (Linux): a restore nobody waits for must not go on filling the disk.
    let options = ChildOptions { parent_death_signal: Some(signal::SIGKILL), ..ChildOptions::default() };
    let child = Child::spawn(command, options, None)
        .with_context(|| format!("could not run `{}`", litestream.path.display()))?;
    let status = child.wait();
    let stdout = std::fs::read(&stdout_path).unwrap_or_default();
    let code = cargo_litestream_runner::exit_code(status);
    let json = matches.get_flag("json");
    if code != 0 || !restored.is_file() {
        print_stdout(&stdout, None);
        if code == 0 {
            // -if-replica-exists with no backup: nothing restored, nothing replaced.
            return Ok(0);
        }
        return Ok(code);
    }
    if let Some(extra) = SIDECARS.iter().map(|s| sidecar(&restored, s)).find(|p| p.exists()) {
        bail!(
            "the restored database came with {}, which cargo-litestream does not expect from Litestream 0.5.17; {} was left as it was",
            extra.display(),
            output.display()
        );
    }
    if let Ok(metadata) = std::fs::metadata(&output) {
        let _ = std::fs::set_permissions(&restored, metadata.permissions());
    }
    swap(&restored, &output, staging.path())?;
    drop(staging);
    print_stdout(&stdout, json.then_some(&output));
    Ok(0)
}

/// Staging folders are `.<file>.restore-XXXXXX` beside the output.
fn staging_prefix(name: &str) -> String {
    format!(".{name}.restore-")
}

const ALIVE_LOCK: &str = ".alive";

fn alive_lock(staging: &Path) -> anyhow::Result<std::fs::File> {
    let path = staging.join(ALIVE_LOCK);
    let file = std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    file.lock().with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(file)
}

/// Removes the staging folders of `restore -force` runs that died (`kill -9`, a crash) beside
/// the output: those whose `.alive` lock nobody holds. A folder without one (being created
/// right now, or left by an older version) is left alone.
fn remove_dead_stagings(dir: &Path, name: &str, ctx: &Ctx) {
    let prefix = staging_prefix(name);
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(&prefix) || !entry.path().is_dir() {
            continue;
        }
        let Ok(lock) = std::fs::File::open(entry.path().join(ALIVE_LOCK)) else { continue };
        if lock.try_lock().is_ok() && std::fs::remove_dir_all(entry.path()).is_ok() {
            ctx.shell
                .status("Removed", format!("{} (left by an interrupted restore)", entry.path().display()));
        }
    }
}

/// Where the restore goes: `-o`, else the database's own path (config mode).
pub fn output_path(args: &[OsString], matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<Option<PathBuf>> {
    if let Some(at) = args.iter().position(|a| a == "-o") {
        return Ok(args.get(at + 1).map(PathBuf::from));
    }
    let Some(text) = matches.get_one::<String>("DB_PATH") else { return Ok(None) };
    let arg = match ctx.project_if_any()? {
        Some(project) => project.resolve_database_arg(text, &ctx.env, Lookup::Configured)?,
        None => DatabaseArg::Url(text.clone()),
    };
    Ok(match arg {
        DatabaseArg::Path { path, .. } => Some(path),
        DatabaseArg::Url(_) => None,
    })
}

/// The same litestream argv, restoring to `to` instead, without `-force`.
fn retarget(args: &[OsString], to: &Path) -> Vec<OsString> {
    let mut out: Vec<OsString> = Vec::with_capacity(args.len() + 2);
    let mut skip_value = false;
    for (index, arg) in args.iter().enumerate() {
        if skip_value {
            skip_value = false;
            continue;
        }
        if arg == "-o" {
            skip_value = true;
            continue;
        }
        if arg == "-force" {
            continue;
        }
        out.push(arg.clone());
        if index == 0 {
            out.extend(["-o".into(), to.as_os_str().to_owned()]);
        }
    }
    out
}

/// Old sidecars aside, then the new file over the old one; undone on failure.
fn swap(restored: &Path, output: &Path, staging: &Path) -> anyhow::Result<()> {
    let mut moved: Vec<(PathBuf, PathBuf)> = Vec::new();
    let undo = |moved: &[(PathBuf, PathBuf)]| {
        for (from, to) in moved.iter().rev() {
            let _ = std::fs::rename(to, from);
        }
    };
    for suffix in SIDECARS {
        let old = sidecar(output, suffix);
        if old.symlink_metadata().is_err() {
            continue;
        }
        let aside = staging.join(format!("old{suffix}"));
        if let Err(error) = std::fs::rename(&old, &aside) {
            undo(&moved);
            bail!("cannot move {} aside ({error}); {} was left as it was", old.display(), output.display());
        }
        moved.push((old, aside));
    }
    if let Err(error) = std::fs::rename(restored, output) {
        undo(&moved);
        bail!("cannot replace {} ({error}); it was left as it was", output.display());
    }
    #[cfg(unix)]
    if let Some(dir) = output.parent()
        && let Ok(dir) = std::fs::File::open(dir)
    {
        // Make the rename durable before the old sidecars are deleted.
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Litestream's stdout, with `db_path` of the `-json` summary set to the real output.
fn print_stdout(stdout: &[u8], json_output: Option<&PathBuf>) {
    use std::io::Write as _;
    if let Some(output) = json_output
        && let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(stdout)
        && let Some(object) = value.as_object_mut()
    {
        object.insert("db_path".into(), output.to_string_lossy().into_owned().into());
        if let Ok(text) = serde_json::to_string_pretty(&value) {
            println!("{text}");
            return;
        }
    }
    let _ = std::io::stdout().write_all(stdout);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retargeting_drops_force_and_the_old_output() {
        let args: Vec<OsString> =
            ["restore", "-config", "c.yml", "-o", "/a/app.db", "-force", "-json", "/a/app.db"]
                .iter()
                .map(OsString::from)
                .collect();
        let out = retarget(&args, Path::new("/a/.stage/app.db"));
        let out: Vec<&str> = out.iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(out, ["restore", "-o", "/a/.stage/app.db", "-config", "c.yml", "-json", "/a/app.db"]);
    }

    #[test]
    fn swap_moves_old_sidecars_away_first() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("app.db");
        let staging = dir.path().join("stage");
        std::fs::create_dir(&staging).unwrap();
        let restored = staging.join("app.db");
        std::fs::write(&output, "old").unwrap();
        std::fs::write(sidecar(&output, "-wal"), "old wal").unwrap();
        std::fs::write(sidecar(&output, "-shm"), "old shm").unwrap();
        std::fs::write(&restored, "new").unwrap();
        swap(&restored, &output, &staging).unwrap();
        assert_eq!(std::fs::read_to_string(&output).unwrap(), "new");
        assert!(!sidecar(&output, "-wal").exists() && !sidecar(&output, "-shm").exists());
        assert_eq!(std::fs::read_to_string(staging.join("old-wal")).unwrap(), "old wal");
    }

    #[test]
    fn a_failed_swap_puts_everything_back() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("app.db");
        let staging = dir.path().join("stage");
        std::fs::create_dir(&staging).unwrap();
        std::fs::write(&output, "old").unwrap();
        std::fs::write(sidecar(&output, "-wal"), "old wal").unwrap();
        let missing = staging.join("never-restored.db");
        assert!(swap(&missing, &output, &staging).is_err());
        assert_eq!(std::fs::read_to_string(&output).unwrap(), "old");
        assert_eq!(std::fs::read_to_string(sidecar(&output, "-wal")).unwrap(), "old wal");
    }
}
