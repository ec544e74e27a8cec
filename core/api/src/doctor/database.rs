//! The database checks: at least one database, each file SQLite and in WAL mode, not through a
//! symlink, not on a network filesystem; and the connection advice for the application.

use std::path::Path;

use cargo_litestream_config::{Database, Location, Project};

use super::filesystem::{Filesystem, filesystem};
use super::{Check, Status};

/// Every database check of `project`, in the configuration's order, then the advice.
pub(super) fn checks(project: &Project) -> Vec<Check> {
    let mut checks = Vec::new();
    if project.databases.is_empty() {
        checks.push(
            Check::new(
                "database",
                "databases",
                Status::Fail,
                crate::replicate::nothing_to_replicate(project).to_string(),
            )
            .fix("add a database alias, or set DATABASE_URL to a SQLite file"),
        );
    }
    for db in &project.databases {
        if let Some(why) = db.path().and_then(cargo_litestream_config::symlinked_database) {
            checks.push(
                Check::new("database", db.name(), Status::Fail, why.to_string())
                    .fix("configure the real path"),
            );
        }
        checks.extend(database(db));
    }
    if project.databases.iter().any(|db| db.path().is_some()) {
        checks.push(
            Check::new(
                "database",
                "connections",
                Status::Info,
                "each connection of the application needs journal_mode = WAL, busy_timeout = 5000 (litestream takes brief \
                 write locks) and wal_autocheckpoint = 0 (its own checkpoints can restart the WAL before litestream has \
                 copied it: commits then miss the backup); cannot be seen from outside",
            )
            .fix(
                "open them with `cargo_litestream_api::sqlite::open` (rusqlite) or pass sqlx's `SqliteConnectOptions` \
                 through `cargo_litestream_api::sqlite::configure_sqlx` (feature `sqlx`)",
            ),
        );
    }
    checks
}

fn database(db: &Database) -> Vec<Check> {
    let name = db.name();
    let path = match &db.location {
        Location::File(path) => path,
        Location::Dir(dir) => {
            let mut checks = vec![Check::new(
                "database",
                &name,
                if dir.is_dir() { Status::Pass } else { Status::Warn },
                if dir.is_dir() {
                    format!(
                        "{} is a folder (`dir` entry: every matching SQLite file below it)",
                        dir.display()
                    )
                } else {
                    format!("{} does not exist", dir.display())
                },
            )];
            if dir.is_dir() {
                checks.push(filesystem_check(&name, dir));
            }
            return checks;
        }
    };
    let mut checks = Vec::new();
    let header = match read_header(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let stale = cargo_litestream_config::orphaned_sidecars(path);
            if stale.is_empty() {
                checks.push(
                    Check::new("database", &name, Status::Warn, format!("{} does not exist yet", path.display())).fix(
                        "nothing is replicated until the application creates it; on a new machine restore it first (`cargo litestream restore -if-replica-exists …`, or `restore_if_missing()` in the app)",
                    ),
                );
            } else {
                let names: Vec<String> = stale.iter().map(|p| p.display().to_string()).collect();
                checks.push(
                    Check::new(
                        "database",
                        &name,
                        Status::Fail,
                        format!("{} does not exist, but {} of an earlier one remain", path.display(), names.join(" and ")),
                    )
                    .fix("move them away before restoring (SQLite would apply the old WAL to the restored file), or restore with `cargo litestream restore -force`"),
                );
            }
            if let Some(dir) = path.parent().filter(|d| d.is_dir()) {
                checks.push(filesystem_check(&name, dir));
            }
            return checks;
        }
        Err(error) => {
            checks.push(
                Check::new(
                    "database",
                    &name,
                    Status::Fail,
                    format!("cannot read {}: {error}", path.display()),
                )
                .fix("make it readable and writable by the user running litestream"),
            );
            return checks;
        }
        Ok(header) => header,
    };
    if header.len() < 100 || !header.starts_with(b"SQLite format 3\0") {
        let what = if header.is_empty() { "is empty" } else { "is not a SQLite database" };
        checks.push(
            Check::new("database", &name, Status::Fail, format!("{} {what}", path.display()))
                .fix("point the alias at the application's SQLite file"),
        );
        return checks;
    }
    checks.push(Check::new(
        "database",
        &name,
        Status::Pass,
        format!("{} is a SQLite database", path.display()),
    ));
    // Bytes 18 and 19: the file format write and read versions, 2 in WAL mode.
    checks.push(if header[18] == 2 && header[19] == 2 {
        Check::new("database", &name, Status::Pass, "in WAL mode")
    } else {
        Check::new("database", &name, Status::Fail, "not in WAL mode (rollback journal)").fix(
            "run `PRAGMA journal_mode = WAL` once (it persists) and never switch it back in the application; litestream replicates only the WAL",
        )
    });
    checks.push(filesystem_check(&name, path));
    checks
}

fn read_header(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut header = Vec::with_capacity(100);
    std::fs::File::open(path)?.take(100).read_to_end(&mut header)?;
    Ok(header)
}

fn filesystem_check(name: &str, path: &Path) -> Check {
    match filesystem(path) {
        Filesystem::Local(kind) => Check::new("database", name, Status::Pass, format!("on a local filesystem ({kind})")),
        Filesystem::Network(kind) => Check::new(
            "database",
            name,
            Status::Fail,
            format!("on a network filesystem ({kind}): SQLite's locks and WAL shared memory do not work reliably there"),
        )
        .fix("keep the database on a local disk (a volume of the machine); replicate it to object storage instead"),
        Filesystem::Unknown(why) => {
            Check::new("database", name, Status::Warn, format!("filesystem not recognised ({why})"))
                .fix("make sure it is a local filesystem: SQLite needs working POSIX locks and shared memory")
        }
    }
}
