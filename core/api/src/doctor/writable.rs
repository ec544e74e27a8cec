//! Whether each replica accepts writes, seen from here without a daemon. Litestream 0.5.17 meets
//! a read-only or full replica with an ERROR in its log and runs on; without this, doctor would
//! see it only through a running daemon's `sync`.
//!
//! - `file` replicas: the folder, or before the first sync the nearest folder above it that
//!   exists (Litestream creates the rest), must be writable by this user (`access(2)` with
//!   `W_OK`, which also sees a read-only mount, for root too), and its filesystem must have free
//!   space and free inodes (`statvfs`). Nothing is written.
//! - S3 replicas whose credentials are at hand ([`S3Location::of`]): one small object,
//!   `<path>/.cargo-litestream-probe-<random>`, is written and deleted at once. Litestream's own
//!   keys are `<path>/<level as 4 hex digits>/<txids>.ltx`: a name beginning with a dot at the
//!   top of the path cannot be one of them, and the random part keeps two doctors apart.
//! - Other replicas are not probed (the listing check still says whether they answer).

use std::path::Path;
use std::time::Duration;

use cargo_litestream_config::{Database, Env, TomlTable};

use super::{Check, Status};
use crate::backups::report::bytes;
use crate::backups::store::S3Location;

/// The prefix of the probe object of S3 replicas.
pub const S3_PROBE_PREFIX: &str = ".cargo-litestream-probe-";

/// The writability check of `db`'s replica, `None` for a kind that is not probed.
pub fn check(db: &Database, globals: &TomlTable, env: &Env, timeout: Duration) -> Option<Check> {
    let name = db.name();
    if let Some(dir) = cargo_litestream_config::file_replica_dir(&db.replica, env) {
        return Some(folder(&name, &dir, database_size(db)));
    }
    let s3 = S3Location::of(&db.replica, globals, env)?;
    Some(s3_probe(&name, &s3, timeout))
}

/// The size of the database file, which the next snapshot roughly needs.
fn database_size(db: &Database) -> Option<u64> {
    std::fs::metadata(db.path()?).ok().map(|m| m.len())
}

const FIX_ACCESS: &str =
    "give the user running litestream write access to it, or point the replica at a writable folder";

fn folder(name: &str, dir: &Path, database_size: Option<u64>) -> Check {
    let Some(existing) = dir.ancestors().find(|a| a.exists()) else {
        return Check::new(
            "replica",
            name,
            Status::Warn,
            format!("{}: no folder of it exists", dir.display()),
        );
    };
    if !existing.is_dir() {
        return Check::new(
            "replica",
            name,
            Status::Fail,
            format!(
                "{} is a file, so the replica folder {} cannot be created",
                existing.display(),
                dir.display()
            ),
        )
        .fix("point the replica at a folder");
    }
    let shown = if existing == dir {
        dir.display().to_string()
    } else {
        format!("{} (created below {} on the first sync)", dir.display(), existing.display())
    };
    if let Err(error) = sys::writable(existing) {
        let read_only = error.raw_os_error() == Some(sys::EROFS);
        let (what, fix) = if read_only {
            (
                "is on a read-only filesystem".to_owned(),
                "mount it read-write, or point the replica at a writable folder",
            )
        } else {
            (format!("is not writable by this user ({error})"), FIX_ACCESS)
        };
        return Check::new(
            "replica",
            name,
            Status::Fail,
            format!("{shown} {what}: litestream cannot write backups there"),
        )
        .fix(fix);
    }
    let space = match sys::space(existing) {
        Ok(space) => space,
        Err(error) => {
            return Check::new(
                "replica",
                name,
                Status::Warn,
                format!("{shown}: free space unknown ({error})"),
            );
        }
    };
    if space.bytes == 0 || space.inodes == Some(0) {
        let what = if space.bytes == 0 { "no free space" } else { "no free inodes" };
        return Check::new(
            "replica",
            name,
            Status::Fail,
            format!("{shown} is on a full filesystem ({what}): litestream cannot write backups there"),
        )
        .fix("free space on that filesystem or grow it, or point the replica at another one");
    }
    if let Some(size) = database_size.filter(|size| *size > space.bytes) {
        return Check::new(
            "replica",
            name,
            Status::Warn,
            format!(
                "{shown} has {} free, less than the database ({}): the next snapshot may not fit",
                bytes(space.bytes),
                bytes(size)
            ),
        )
        .fix("free space on that filesystem or grow it");
    }
    Check::new("replica", name, Status::Pass, format!("{shown} is writable, {} free", bytes(space.bytes)))
}

/// Writes and deletes a probe object.
fn s3_probe(name: &str, s3: &S3Location, timeout: Duration) -> Check {
    use rusty_s3::S3Action as _;
    let mut random = [0u8; 8];
    if getrandom::fill(&mut random).is_err() {
        return Check::new("replica", name, Status::Warn, "writability not probed: no randomness available");
    }
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let object = s3.object(&format!("{S3_PROBE_PREFIX}{suffix}"));
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .user_agent(concat!("cargo-litestream/", env!("CARGO_PKG_VERSION")))
            .build(),
    );
    let put = s3.bucket.put_object(Some(&s3.credentials), &object).sign(timeout);
    let status =
        match agent.put(put.as_str()).send(&b"cargo-litestream doctor: a write probe, deleted at once\n"[..])
        {
            Ok(response) => response.status().as_u16(),
            // Unreachable: the listing check says so already.
            Err(error) => {
                return Check::new("replica", name, Status::Warn, format!("writability not probed: {error}"));
            }
        };
    if !(200..300).contains(&status) {
        return Check::new(
            "replica",
            name,
            Status::Fail,
            format!(
                "{} refuses writes (a probe object answered HTTP {status}): litestream cannot write backups there",
                s3.shown
            ),
        )
        .fix("give the replica's credentials write access (s3:PutObject and s3:DeleteObject) to the bucket and path, and check the bucket's quota");
    }
    let delete = s3.bucket.delete_object(Some(&s3.credentials), &object).sign(timeout);
    let deleted = agent.delete(delete.as_str()).call().is_ok_and(|r| r.status().is_success());
    if !deleted {
        return Check::new(
            "replica",
            name,
            Status::Warn,
            format!("{} accepts writes, but the probe object {object} could not be deleted", s3.shown),
        )
        .fix(format!("delete {object} (litestream ignores it); retention needs s3:DeleteObject"));
    }
    Check::new(
        "replica",
        name,
        Status::Pass,
        format!("{} accepts writes (a probe object written and deleted)", s3.shown),
    )
}

/// Free space where a replica folder is, for this user.
struct Space {
    bytes: u64,
    /// `None` where the filesystem has no inode count (`f_files` 0: btrfs, …).
    inodes: Option<u64>,
}

#[cfg(unix)]
mod sys {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    pub const EROFS: i32 = libc::EROFS;

    fn c_path(path: &Path) -> std::io::Result<CString> {
        CString::new(path.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::other("the path holds a NUL byte"))
    }

    /// `access(path, W_OK)`: the caller's permission, and a read-only mount (`EROFS`).
    pub fn writable(path: &Path) -> std::io::Result<()> {
        let c_path = c_path(path)?;
        #[allow(unsafe_code)]
        // SAFETY: `c_path` is a valid NUL-terminated string that outlives the call.
        let result = unsafe { libc::access(c_path.as_ptr(), libc::W_OK) };
        if result == -1 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
    }

    pub fn space(path: &Path) -> std::io::Result<super::Space> {
        let c_path = c_path(path)?;
        #[allow(unsafe_code)]
        // SAFETY: `c_path` is a valid NUL-terminated string; `stat` is a zeroed statvfs struct
        // the call fills in and does not keep.
        let (result, stat) = unsafe {
            let mut stat: libc::statvfs = std::mem::zeroed();
            (libc::statvfs(c_path.as_ptr(), &mut stat), stat)
        };
        if result == -1 {
            return Err(std::io::Error::last_os_error());
        }
        #[allow(clippy::unnecessary_cast, clippy::useless_conversion)] // the widths differ between targets
        let (available, fragment, files, free_files) =
            (stat.f_bavail as u64, stat.f_frsize as u64, stat.f_files as u64, stat.f_favail as u64);
        Ok(super::Space {
            bytes: available.saturating_mul(fragment),
            inodes: (files > 0).then_some(free_files),
        })
    }
}

#[cfg(not(unix))]
mod sys {
    use std::path::Path;

    pub const EROFS: i32 = -1;

    pub fn writable(path: &Path) -> std::io::Result<()> {
        if std::fs::metadata(path)?.permissions().readonly() {
            Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied))
        } else {
            Ok(())
        }
    }

    pub fn space(_: &Path) -> std::io::Result<super::Space> {
        Err(std::io::Error::other("only checked on Unix"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_replica_folder_is_judged_by_the_folder_above_it() {
        let dir = tempfile::tempdir().unwrap();
        let check = folder("db", &dir.path().join("a/b"), Some(1));
        assert_eq!(check.status, Status::Pass, "{check:?}");
        assert!(check.message.contains("created below"), "{check:?}");
        std::fs::write(dir.path().join("file"), "").unwrap();
        let check = folder("db", &dir.path().join("file/b"), None);
        assert_eq!(check.status, Status::Fail, "{check:?}");
        let huge = folder("db", dir.path(), Some(u64::MAX));
        assert_eq!(huge.status, Status::Warn, "{huge:?}");
        assert!(huge.message.contains("less than the database"), "{huge:?}");
    }
}
