//! What a path is stored on: a local filesystem, or a network one where SQLite's locks and WAL
//! shared memory are unreliable.

use std::path::{Path, PathBuf};

/// What a path is stored on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filesystem {
    /// A local filesystem: its type (`ext4`, `xfs`, `overlay`, `tmpfs`, …).
    Local(String),
    /// NFS, SMB/CIFS, 9p, sshfs and other network or FUSE-network filesystems.
    Network(String),
    Unknown(String),
}

/// Filesystem types (statfs `f_type`) that are network filesystems.
#[cfg(target_os = "linux")]
const NETWORK_MAGIC: &[(u64, &str)] = &[
    (0x6969, "nfs"),
    (0x517b, "smb"),
    (0xff53_4d42, "cifs"),
    (0xfe53_4d42, "smb2"),
    (0x0102_1997, "9p"),
    (0x5346_414f, "afs"),
    (0x6b41_4653, "kafs"),
    (0x00c3_6400, "ceph"),
    (0x7375_7245, "coda"),
    (0x564c, "ncp"),
    (0x0bd0_0bd0, "lustre"),
    (0x4750_4653, "gpfs"),
    (0x0116_1970, "gfs2"),
    (0x7461_636f, "ocfs2"),
];

#[cfg(target_os = "linux")]
const FUSE_MAGIC: u64 = 0x6573_5546;

/// FUSE filesystems (`fuse.<name>` in /proc/self/mountinfo) that reach the network.
#[cfg(target_os = "linux")]
const NETWORK_FUSE: &[&str] = &[
    "sshfs",
    "s3fs",
    "rclone",
    "gcsfuse",
    "glusterfs",
    "juicefs",
    "goofys",
    "davfs",
    "davfs2",
    "smbnetfs",
    "cephfs",
    "ceph-fuse",
    "mountpoint-s3",
    "blobfuse",
    "blobfuse2",
    "seaweedfs",
    "moosefs",
    "mfs",
];

/// The filesystem `path` lives on (Linux: `statfs`, plus `/proc/self/mountinfo` to name a FUSE
/// filesystem). Elsewhere: unknown.
pub fn filesystem(path: &Path) -> Filesystem {
    #[cfg(target_os = "linux")]
    {
        let magic = match statfs_type(path) {
            Ok(magic) => magic,
            Err(error) => return Filesystem::Unknown(format!("statfs failed: {error}")),
        };
        if let Some((_, name)) = NETWORK_MAGIC.iter().find(|(m, _)| *m == magic) {
            return Filesystem::Network((*name).to_owned());
        }
        let fstype = mount_type(path).unwrap_or_else(|| format!("type {magic:#x}"));
        if magic == FUSE_MAGIC {
            let sub = fstype.strip_prefix("fuse.").unwrap_or(&fstype);
            if NETWORK_FUSE.contains(&sub) {
                return Filesystem::Network(fstype);
            }
        }
        Filesystem::Local(fstype)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        Filesystem::Unknown("only checked on Linux".to_owned())
    }
}

#[cfg(target_os = "linux")]
fn statfs_type(path: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::other("the path holds a NUL byte"))?;
    #[allow(unsafe_code)]
    // SAFETY: `c_path` is a valid NUL-terminated string for the call; `stat` is a zeroed,
    // properly aligned statfs struct that the call fills in and does not keep.
    let (result, stat) = unsafe {
        let mut stat: libc::statfs = std::mem::zeroed();
        (libc::statfs(c_path.as_ptr(), &mut stat), stat)
    };
    if result == -1 {
        return Err(std::io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)] // f_type's width differs between targets
    Ok((stat.f_type as u64) & 0xffff_ffff)
}

/// The type of the mount holding `path`, from `/proc/self/mountinfo` (longest mount point that
/// contains the canonical path).
#[cfg(target_os = "linux")]
fn mount_type(path: &Path) -> Option<String> {
    let path = std::fs::canonicalize(path).ok()?;
    let table = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mut best: Option<(usize, String)> = None;
    for line in table.lines() {
        let (left, right) = line.split_once(" - ")?;
        let mount_point = unescape_mount(left.split(' ').nth(4)?);
        let fstype = right.split(' ').next()?.to_owned();
        if path.starts_with(&mount_point) {
            let depth = mount_point.components().count();
            if best.as_ref().is_none_or(|(d, _)| depth >= *d) {
                best = Some((depth, fstype));
            }
        }
    }
    best.map(|(_, fstype)| fstype)
}

/// mountinfo escapes space, tab, newline and backslash as `\040` and so on.
#[cfg(target_os = "linux")]
fn unescape_mount(text: &str) -> PathBuf {
    let mut out = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 4], 8)
        {
            out.push(byte);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn filesystems_and_mountinfo_escapes() {
        assert!(matches!(filesystem(Path::new("/")), Filesystem::Local(_)));
        assert!(matches!(filesystem(Path::new("/nonexistent/x")), Filesystem::Unknown(_)));
        assert_eq!(unescape_mount(r"/mnt/my\040disk"), PathBuf::from("/mnt/my disk"));
    }
}
