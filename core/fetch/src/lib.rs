//! Verified downloads of release assets. Whose releases they are is the caller's to say (a
//! [`Publisher`]: the base URL, the mirror variable, where a pin is written): the litestream CLI
//! and the VFS extension each have a release crate that does.
//!
//! [`Fetcher::ensure`] makes a pinned file available in the cache, in this order:
//!
//! 1. **the cache**: a receipt and a file whose identity on disk (device, inode, size, mtime,
//!    ctime) is the one recorded when it was hashed; a file with any other identity (replaced,
//!    restored from a CI cache, an old receipt) is hashed against the pin again before use, and
//!    a symlink is never used. A full re-hash every time with `verify`;
//! 2. **adoption**: a candidate file (e.g. a `litestream` on `PATH`) whose sha256 equals the
//!    pin is copied into the cache, with no download;
//! 3. **download** from the asset's [`Publisher`] or the mirror its variable names, streamed: bytes (at most 512 MiB)
//!    → gunzip (at most 512 MiB inflated) → tar → the one wanted entry → a temporary file in
//!    the cache entry, hashed on the way. Only when the hash equals the pin is the file made
//!    executable and renamed into place.
//!
//! Changes to an entry happen under a lock file (`Blocking waiting for file lock on …`), and
//! whoever gets the lock first re-checks the cache, so concurrent runs download once. Cargo's
//! timeout and low-speed limit bound how long a slow server can keep that lock.

mod archive;
mod cache;
mod hash;
mod net;
mod progress;

use std::cell::OnceCell;
use std::fs;
use std::io::{self, Read, Seek};
use std::path::{Path, PathBuf};
use std::time::Duration;

use cargo_litestream_env::Env;
use cargo_litestream_shell::Shell;

pub use archive::ArchiveKind;
pub use cache::{Entry, Identity, Lookup, Receipt, cache_root, copy_to};
pub use hash::{hex, is_sha256, sha256_file};
pub use net::{Base, Location};

use archive::ExtractError;
use hash::{HashingReader, HashingWriter};
use net::{AttemptError, Http};
use progress::Progress;

/// The target triple this program was built for: the platform a plain lookup fetches for.
pub const HOST_TARGET: &str = env!("CARGO_LITESTREAM_HOST_TARGET");

/// No release archive is anywhere near this size; a server streaming more is refused.
const ARCHIVE_LIMIT: u64 = 512 * 1024 * 1024;

/// Nor does any release inflate to this much (the archives hold one 36–84 MB file and a few
/// small ones): a cap on what gunzip produces, and on a zip entry, against decompression
/// bombs, which the compressed cap alone lets through (deflate inflates up to ~1000 times).
const INFLATED_LIMIT: u64 = 512 * 1024 * 1024;

/// One row of a compiled-in pin table: the sha256 and size of the file extracted from the
/// release asset (not of the archive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pin {
    pub version: &'static str,
    pub target: &'static str,
    pub sha256: &'static str,
    pub size: u64,
}

impl Pin {
    /// What this compiled-in row vouches for: the file's sha256 and size.
    pub fn trust(&self) -> Trust {
        Trust::Pin { sha256: self.sha256.to_owned(), size: Some(self.size), origin: PinOrigin::Compiled }
    }
}

/// The pin for `version` on `target` in `table`.
pub fn find_pin(table: &'static [Pin], version: &str, target: &str) -> Option<&'static Pin> {
    table.iter().find(|pin| pin.version == version && pin.target == target)
}

/// The versions `table` pins for `target`, in table order, for the message that refuses an
/// unpinned one: `0.5.16, 0.5.17`, or `no version for this target`.
pub fn pinned_versions(table: &[Pin], target: &str) -> String {
    let mut versions: Vec<&str> = Vec::new();
    for pin in table.iter().filter(|pin| pin.target == target) {
        if !versions.contains(&pin.version) {
            versions.push(pin.version);
        }
    }
    if versions.is_empty() { "no version for this target".to_owned() } else { versions.join(", ") }
}

/// Where upstream publishes the archive's own checksum (the only check for unpinned versions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamChecksum {
    /// One file for the whole release, e.g. `checksums.txt` (goreleaser).
    File(&'static str),
    /// `<asset>.sha256` beside each asset.
    Sidecar,
}

/// Who publishes an asset: where its releases are downloaded from, and the names a user meets
/// in messages (this crate knows nothing of any one program).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Publisher {
    /// The base of the release downloads: an asset is at `<releases>/v<version>/<file>`.
    pub releases: &'static str,
    /// The environment variable naming a mirror of `releases` (http, https or `file://`).
    pub mirror_var: &'static str,
    /// Where a user writes a pin for a version without one (`sha256 = "…"`), for the warning
    /// an unpinned download gives.
    pub pin_table: &'static str,
}

/// A release asset and the file wanted from it.
#[derive(Clone, Debug)]
pub struct Asset {
    /// Where it is published.
    pub publisher: Publisher,
    /// Cache folder name and receipt field: `litestream`, `litestream-vfs`.
    pub artifact: &'static str,
    /// How messages name it: `Litestream`, `Litestream VFS`.
    pub title: &'static str,
    /// Without a leading `v`.
    pub version: String,
    pub target: String,
    /// The upstream asset's file name.
    pub file_name: String,
    pub kind: ArchiveKind,
    /// The entry to extract.
    pub member: String,
    /// The name it gets in the cache.
    pub install_name: String,
    pub executable: bool,
    pub checksum: UpstreamChecksum,
    /// What a user can do when the cache is empty and nothing may be downloaded.
    pub fill_hint: String,
}

impl Asset {
    /// `Litestream 0.5.17 (x86_64-unknown-linux-gnu)`.
    pub fn describe(&self) -> String {
        format!("{} {} ({})", self.title, self.version, self.target)
    }
}

/// What a downloaded file must hash to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trust {
    /// A pin: the file's sha256 must equal it.
    Pin { sha256: String, size: Option<u64>, origin: PinOrigin },
    /// No pin (`--allow-unpinned`): the archive is checked against upstream's published
    /// checksum, fetched from the same place, which catches corruption but not tampering.
    Upstream,
}

/// Who vouches for a pin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PinOrigin {
    /// The table compiled into cargo-litestream.
    Compiled,
    /// `sha256 = …` in this `Cargo.toml`.
    Config(PathBuf),
}

impl PinOrigin {
    fn receipt_name(&self) -> &'static str {
        match self {
            PinOrigin::Compiled => "pin",
            PinOrigin::Config(_) => "config",
        }
    }

    fn describe(&self) -> String {
        match self {
            PinOrigin::Compiled => "cargo-litestream's pin".to_owned(),
            PinOrigin::Config(path) => format!("the sha256 in {}", path.display()),
        }
    }
}

impl Trust {
    /// Whether a cache entry's receipt satisfies this trust.
    fn accepts(&self, receipt: &Receipt) -> bool {
        match self {
            Trust::Pin { sha256, .. } => receipt.sha256.eq_ignore_ascii_case(sha256),
            Trust::Upstream => true,
        }
    }

    /// What a cached file must hash to: the pin; for an unpinned install (accepted with
    /// `--allow-unpinned` when it was downloaded) the receipt's hash is all there is.
    fn expected<'r>(&'r self, receipt: &'r Receipt) -> &'r str {
        match self {
            Trust::Pin { sha256, .. } => sha256,
            Trust::Upstream => &receipt.sha256,
        }
    }
}

/// What [`Fetcher::check`] found in the cache.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // one per lookup, returned and matched at once
pub enum CacheState {
    /// The verified file.
    Hit(Installed),
    /// Nothing usable: no receipt the trust accepts, or no file of its size.
    Miss,
    /// A file under the installed name with a receipt the trust accepts, but other bytes, or a
    /// symlink: never used.
    Mismatch(PathBuf),
}

/// How the file came to be in the cache on this call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Provenance {
    Cached,
    Adopted(PathBuf),
    Downloaded(String),
}

/// A verified file in the cache.
#[derive(Clone, Debug)]
pub struct Installed {
    pub path: PathBuf,
    pub receipt: Receipt,
    pub provenance: Provenance,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(
        "cannot find a cache folder (HOME is not set); set CARGO_LITESTREAM_CACHE_DIR to a writable folder"
    )]
    NoCacheDir,

    #[error(
        "cannot use the cache folder {}: {error}; make it writable or set CARGO_LITESTREAM_CACHE_DIR to a writable folder",
        path.display()
    )]
    CacheDir { path: PathBuf, error: io::Error },

    #[error("cannot lock {}: {error}", path.display())]
    Lock { path: PathBuf, error: io::Error },

    #[error("cannot {action} {}: {error}", path.display())]
    Io { action: &'static str, path: PathBuf, error: io::Error },

    #[error("{var}=`{value}` is not usable: {reason}")]
    BadMirror { var: &'static str, value: String, reason: String },

    #[error("{what} is not in the cache ({}) and --offline forbids downloading it; {hint}", dir.display())]
    Offline { what: String, dir: PathBuf, hint: String },

    #[error(
        "no {title} {version} asset for {target}: {url} answered {why}; check the version, or the mirror's contents"
    )]
    AssetMissing { title: String, version: String, target: String, url: String, why: String },

    #[error("could not download {url}: {why} ({attempts} attempt{}); {hint}", if *attempts == 1 { "" } else { "s" })]
    Download { url: String, why: String, attempts: u32, hint: String },

    #[error(
        "{url} is too slow: {why} ({attempts} attempt{}); point {mirror_var} at a mirror that answers, or raise CARGO_HTTP_TIMEOUT (now {timeout} s) or lower CARGO_HTTP_LOW_SPEED_LIMIT (now {low_speed_limit} bytes/s)",
        if *attempts == 1 { "" } else { "s" }
    )]
    TooSlow {
        url: String,
        why: String,
        attempts: u32,
        timeout: u64,
        low_speed_limit: u64,
        mirror_var: &'static str,
    },

    #[error(
        "sha256 mismatch for `{file}` from {url}: expected {expected} ({origin}), got {actual}; nothing was installed or run (the download is corrupt, or not upstream's release: a mirror must serve upstream's files unchanged)"
    )]
    ChecksumMismatch { file: String, url: String, expected: String, actual: String, origin: String },

    #[error("{url} is not a usable release asset: {why}")]
    BadAsset { url: String, why: String },

    #[error("refusing the unpinned {asset}: {why}; nothing was installed")]
    UpstreamChecksum { asset: String, why: String },
}

impl FetchError {
    pub(crate) fn io(action: &'static str, path: &Path, error: io::Error) -> FetchError {
        FetchError::Io { action, path: path.to_path_buf(), error }
    }
}

/// Why one download attempt ended.
enum Failure {
    Attempt(AttemptError),
    Final(Box<FetchError>),
}

impl From<AttemptError> for Failure {
    fn from(error: AttemptError) -> Failure {
        Failure::Attempt(error)
    }
}

impl From<FetchError> for Failure {
    fn from(error: FetchError) -> Failure {
        Failure::Final(Box::new(error))
    }
}

/// Fetches and caches verified files. Cheap to create; reads its settings from `env`.
pub struct Fetcher<'a> {
    pub env: &'a Env,
    pub shell: &'a Shell,
    /// `--offline` / `CARGO_NET_OFFLINE`: no network (a `file://` mirror is still allowed).
    pub offline: bool,
    /// Re-hash a cached file on every use, not only when its identity on disk changed.
    pub verify: bool,
    http: OnceCell<Http>,
}

impl<'a> Fetcher<'a> {
    pub fn new(env: &'a Env, shell: &'a Shell, offline: bool) -> Fetcher<'a> {
        Fetcher { env, shell, offline, verify: false, http: OnceCell::new() }
    }

    pub fn verify(mut self, verify: bool) -> Fetcher<'a> {
        self.verify = verify;
        self
    }

    fn http(&self) -> &Http {
        self.http.get_or_init(|| Http::new(self.env))
    }

    /// The cache entry of `asset`.
    pub fn entry(&self, asset: &Asset) -> Result<Entry, FetchError> {
        let root = cache_root(self.env)?;
        Ok(Entry::new(&root, asset.artifact, &asset.version, &asset.target, &asset.install_name))
    }

    /// The cached file, if it is the one verified: no lock, no network, and no hashing while
    /// its identity on disk is the one recorded (one `lstat`); otherwise it is hashed against
    /// the pin first, and used only if it matches.
    pub fn cached(&self, asset: &Asset, trust: &Trust) -> Result<Option<Installed>, FetchError> {
        Ok(match self.check(asset, trust)? {
            CacheState::Hit(installed) => Some(installed),
            CacheState::Miss | CacheState::Mismatch(_) => None,
        })
    }

    /// [`Fetcher::cached`], telling a file that failed its hash apart from an empty entry (for
    /// `doctor`).
    pub fn check(&self, asset: &Asset, trust: &Trust) -> Result<CacheState, FetchError> {
        Ok(self.check_cache(&self.entry(asset)?, asset, trust))
    }

    fn check_cache(&self, entry: &Entry, asset: &Asset, trust: &Trust) -> CacheState {
        let (receipt, unchanged) = match entry.lookup() {
            Lookup::Missing => return CacheState::Miss,
            Lookup::Unchanged(receipt) => (receipt, true),
            Lookup::Changed(receipt) => (receipt, false),
        };
        if !trust.accepts(&receipt) || !matches_asset(&receipt, asset) {
            return CacheState::Miss;
        }
        let path = entry.path();
        if unchanged && !self.verify {
            return CacheState::Hit(Installed { path, receipt, provenance: Provenance::Cached });
        }
        let expected = trust.expected(&receipt).to_ascii_lowercase();
        let identity = match entry.rehash(&expected) {
            Ok(Some(identity)) => identity,
            Ok(None) => return CacheState::Mismatch(path),
            Err(error) => {
                self.shell.verbose("Skipping", format!("{} (cannot read it: {error})", path.display()));
                return CacheState::Mismatch(path);
            }
        };
        let why = if self.verify {
            "fully re-hashed"
        } else {
            "re-hashed: not the file on disk its receipt recorded (replaced, copied or restored, or an older receipt)"
        };
        self.shell.status("Verified", format!("{} (sha256 {expected}, {why})", path.display()));
        let receipt = if receipt.identity.as_ref() == Some(&identity) {
            receipt
        } else {
            let receipt = Receipt { identity: Some(identity), ..receipt };
            // A read-only cache (a shared mount) just stays slower: every use re-hashes.
            if let Err(error) = entry.write_receipt(&receipt) {
                self.shell.verbose("Skipping", format!("updating the receipt: {error}"));
            }
            receipt
        };
        CacheState::Hit(Installed { path, receipt, provenance: Provenance::Cached })
    }

    /// Makes `asset` available in the cache and returns it: from the cache, by adopting one of
    /// `candidates` whose hash equals the pin, or by downloading it.
    pub fn ensure(
        &self,
        asset: &Asset,
        trust: &Trust,
        candidates: &[PathBuf],
    ) -> Result<Installed, FetchError> {
        let entry = self.entry(asset)?;
        if let CacheState::Hit(installed) = self.check_cache(&entry, asset, trust) {
            return Ok(installed);
        }

        // Refuse early what could only end in a refusal, before touching the cache.
        let base = Base::from_env(self.env, &asset.publisher)?;
        if self.offline && base.is_network() && candidates.is_empty() {
            return Err(self.offline_error(asset, &entry));
        }

        entry.create()?;
        let _lock = entry.lock(self.shell)?;
        // Whoever held the lock may have installed it meanwhile.
        match self.check_cache(&entry, asset, trust) {
            CacheState::Hit(installed) => return Ok(installed),
            CacheState::Miss => {}
            CacheState::Mismatch(_) => self.shell.warn(format!(
                "{} in the cache does not match its receipt (its sha256 is not {}, or it is a \
                 symlink); it was not run; replacing it",
                entry.path().display(),
                match trust {
                    Trust::Pin { sha256, .. } => sha256.to_ascii_lowercase(),
                    Trust::Upstream => "the receipt's".to_owned(),
                }
            )),
        }
        entry.remove_temporaries();
        entry.remove()?;

        if let Trust::Pin { sha256, size, origin } = trust {
            for candidate in candidates {
                if let Some(installed) = self.adopt(&entry, asset, sha256, *size, origin, candidate)? {
                    return Ok(installed);
                }
            }
        }
        self.download(&entry, asset, trust, &base)
    }

    fn offline_error(&self, asset: &Asset, entry: &Entry) -> FetchError {
        FetchError::Offline { what: asset.describe(), dir: entry.dir.clone(), hint: asset.fill_hint.clone() }
    }

    /// Copies `candidate` into the cache if its sha256 equals the pin (hashing the copy itself,
    /// so what is installed is what was checked).
    fn adopt(
        &self,
        entry: &Entry,
        asset: &Asset,
        pin: &str,
        size: Option<u64>,
        origin: &PinOrigin,
        candidate: &Path,
    ) -> Result<Option<Installed>, FetchError> {
        let Ok(meta) = fs::metadata(candidate) else { return Ok(None) };
        if !meta.is_file() || size.is_some_and(|size| size != meta.len()) {
            self.shell.verbose("Skipping", format!("{} (not the pinned build)", candidate.display()));
            return Ok(None);
        }
        let Ok(mut input) = fs::File::open(candidate) else { return Ok(None) };
        let mut temp = entry.temp_file()?;
        let mut out = HashingWriter::new(temp.as_file_mut());
        hash::copy(&mut input, &mut out).map_err(|e| FetchError::io("copy", candidate, e))?;
        let (sha256, size, _) = out.finish();
        if !sha256.eq_ignore_ascii_case(pin) {
            self.shell
                .verbose("Skipping", format!("{} (sha256 {sha256} is not the pin)", candidate.display()));
            return Ok(None);
        }
        let mut receipt =
            self.receipt(asset, sha256, size, candidate.display().to_string(), origin.receipt_name());
        let path = entry.install(temp, asset.executable, &mut receipt)?;
        self.shell.status(
            "Adopted",
            format!(
                "{} into {} ({}, sha256 {} matches {})",
                candidate.display(),
                path.display(),
                asset.describe(),
                receipt.sha256,
                origin.describe()
            ),
        );
        Ok(Some(Installed { path, receipt, provenance: Provenance::Adopted(candidate.to_path_buf()) }))
    }

    fn receipt(
        &self,
        asset: &Asset,
        sha256: String,
        size: u64,
        source: String,
        verified_by: &str,
    ) -> Receipt {
        Receipt {
            artifact: asset.artifact.to_owned(),
            version: asset.version.clone(),
            target: asset.target.clone(),
            file: asset.install_name.clone(),
            sha256,
            size,
            source,
            verified_by: verified_by.to_owned(),
            identity: None,
        }
    }

    /// Downloads, verifies and installs `asset`, retrying what is worth retrying.
    fn download(
        &self,
        entry: &Entry,
        asset: &Asset,
        trust: &Trust,
        base: &Base,
    ) -> Result<Installed, FetchError> {
        if self.offline && base.is_network() {
            return Err(self.offline_error(asset, entry));
        }
        let location = base.locate(&asset.version, &asset.file_name);
        let url = location.url();
        let attempts = retries(self.env) + 1;
        let mut attempt = 1;
        loop {
            let (why, too_slow) = match self.attempt(entry, asset, trust, &location) {
                Ok(installed) => return Ok(installed),
                Err(Failure::Final(error)) => return Err(*error),
                Err(Failure::Attempt(AttemptError::NotFound(why))) => {
                    return Err(FetchError::AssetMissing {
                        title: asset.title.to_owned(),
                        version: asset.version.clone(),
                        target: asset.target.clone(),
                        url,
                        why,
                    });
                }
                Err(Failure::Attempt(AttemptError::Fatal(why))) => {
                    return Err(FetchError::Download {
                        url,
                        why,
                        attempts: attempt,
                        hint: asset.fill_hint.clone(),
                    });
                }
                Err(Failure::Attempt(AttemptError::Transient(why))) => (why, false),
                Err(Failure::Attempt(AttemptError::TooSlow(why))) => (why, true),
            };
            entry.remove_temporaries();
            if attempt >= attempts && too_slow {
                let limits = self.http().limits;
                return Err(FetchError::TooSlow {
                    url,
                    why,
                    attempts: attempt,
                    timeout: limits.timeout,
                    low_speed_limit: limits.low_speed_limit,
                    mirror_var: asset.publisher.mirror_var,
                });
            }
            if attempt >= attempts {
                return Err(FetchError::Download {
                    url,
                    why,
                    attempts: attempt,
                    hint: asset.fill_hint.clone(),
                });
            }
            let delay = Duration::from_millis(500 << (attempt - 1).min(4));
            self.shell.warn(format!(
                "{why} while downloading {url}; retrying in {:.1} s (attempt {} of {attempts})",
                delay.as_secs_f64(),
                attempt + 1
            ));
            std::thread::sleep(delay);
            attempt += 1;
        }
    }

    /// One download attempt: stream, extract, hash, compare, install.
    fn attempt(
        &self,
        entry: &Entry,
        asset: &Asset,
        trust: &Trust,
        location: &Location,
    ) -> Result<Installed, Failure> {
        let url = location.url();
        let opened = self.http().open(location, ARCHIVE_LIMIT)?;
        let too_slow = opened.too_slow.clone();
        // A failed read is the low-speed check's verdict when it gave one.
        let read_error =
            |e: &io::Error| too_slow.get().map_or_else(|| AttemptError::io(e), AttemptError::TooSlow);
        let label = format!("{} {}", asset.title, asset.version);
        let progress = Progress::start(self.shell, &asset.describe(), &label, &url, opened.length);
        let mut raw = HashingReader::new(progress.wrap(opened.reader));
        let size_limit = match trust {
            Trust::Pin { size, .. } => *size,
            Trust::Upstream => None,
        };
        let mut payload = entry.temp_file()?;
        let mut out = HashingWriter::new(payload.as_file_mut());
        let extracted = match asset.kind {
            ArchiveKind::TarGz => {
                archive::extract_tar_gz(&mut raw, &asset.member, size_limit, INFLATED_LIMIT, &mut out)
                    .and_then(|rest| io::copy(rest, &mut io::sink()).map(drop).map_err(ExtractError::Read))
            }
            ArchiveKind::Zip => {
                // The zip's directory is at its end: the archive goes to disk first.
                let mut archive = entry.temp_file()?;
                hash::copy(&mut raw, archive.as_file_mut()).map_err(|e| read_error(&e))?;
                check_length(raw.len(), opened.length)?;
                archive.as_file_mut().rewind().map_err(|e| FetchError::io("read", archive.path(), e))?;
                archive::extract_zip(
                    archive.as_file_mut(),
                    &asset.member,
                    size_limit,
                    INFLATED_LIMIT,
                    &mut out,
                )
            }
        };
        match extracted {
            Ok(()) => {}
            Err(ExtractError::Read(e)) => return Err(read_error(&e).into()),
            Err(ExtractError::Write(e)) => return Err(FetchError::io("write to", &entry.dir, e).into()),
            Err(ExtractError::Missing(why) | ExtractError::Corrupt(why)) => {
                return Err(FetchError::BadAsset { url, why }.into());
            }
            Err(ExtractError::Inflated { limit }) => {
                let why = format!(
                    "it inflates to more than {} MiB, which no release comes near (a decompression bomb?)",
                    limit >> 20
                );
                return Err(FetchError::BadAsset { url, why }.into());
            }
            Err(ExtractError::TooLarge { size, limit }) => {
                let why = format!("`{}` is {size} bytes, the pinned file {limit}", asset.member);
                return Err(FetchError::BadAsset { url, why }.into());
            }
        }
        let (sha256, size, _) = out.finish();
        let (archive_sha256, archive_len) = raw.finish();
        check_length(archive_len, opened.length)?;
        progress.finish(self.shell, &asset.describe(), archive_len);

        let verified_by = match trust {
            Trust::Pin { sha256: expected, origin, .. } => {
                if !sha256.eq_ignore_ascii_case(expected) {
                    return Err(FetchError::ChecksumMismatch {
                        file: asset.member.clone(),
                        url,
                        expected: expected.to_ascii_lowercase(),
                        actual: sha256,
                        origin: origin.describe(),
                    }
                    .into());
                }
                self.shell
                    .status("Verified", format!("{} sha256 {sha256} ({})", asset.member, origin.describe()));
                origin.receipt_name()
            }
            Trust::Upstream => {
                self.check_upstream(asset, location, &archive_sha256, &sha256)?;
                "upstream-checksum"
            }
        };
        let mut receipt = self.receipt(asset, sha256, size, url.clone(), verified_by);
        let path = entry.install(payload, asset.executable, &mut receipt)?;
        self.shell.status("Installed", format!("{} at {}", asset.describe(), path.display()));
        Ok(Installed { path, receipt, provenance: Provenance::Downloaded(url) })
    }

    /// For an unpinned version: the archive's hash must be the one upstream publishes.
    fn check_upstream(
        &self,
        asset: &Asset,
        location: &Location,
        archive_sha256: &str,
        payload_sha256: &str,
    ) -> Result<(), Failure> {
        let checksum_location = match asset.checksum {
            UpstreamChecksum::File(name) => location.sibling(name),
            UpstreamChecksum::Sidecar => location.sibling(&format!("{}.sha256", asset.file_name)),
        };
        let checksum_url = checksum_location.url();
        let refuse = |why: String| FetchError::UpstreamChecksum { asset: asset.describe(), why };
        let text = match self.http().open(&checksum_location, 1024 * 1024) {
            Ok(mut opened) => {
                let mut text = String::new();
                opened.reader.read_to_string(&mut text).map_err(|e| {
                    refuse(format!("could not read {checksum_url}: {}", net::describe_io(&e)))
                })?;
                text
            }
            Err(
                AttemptError::NotFound(why)
                | AttemptError::Fatal(why)
                | AttemptError::Transient(why)
                | AttemptError::TooSlow(why),
            ) => {
                return Err(refuse(format!(
                    "upstream's checksum {checksum_url} could not be fetched ({why})"
                ))
                .into());
            }
        };
        let Some(expected) =
            checksum_for(&text, &asset.file_name, asset.checksum == UpstreamChecksum::Sidecar)
        else {
            return Err(refuse(format!("{checksum_url} has no sha256 for {}", asset.file_name)).into());
        };
        if !expected.eq_ignore_ascii_case(archive_sha256) {
            return Err(refuse(format!(
                "{} has sha256 {archive_sha256}, but {checksum_url} says {expected}",
                asset.file_name
            ))
            .into());
        }
        self.shell.warn(format!(
            "{} has NO PIN in cargo-litestream: it was checked only against upstream's {checksum_url}, \
             fetched from the same place as the file itself (this catches corruption, not tampering); \
             to pin it, add sha256 = \"{payload_sha256}\" to {}",
            asset.describe(),
            asset.publisher.pin_table
        ));
        Ok(())
    }
}

fn check_length(got: u64, announced: Option<u64>) -> Result<(), AttemptError> {
    match announced {
        Some(length) if length != got => {
            Err(AttemptError::Transient(format!("the body ended after {got} of {length} bytes")))
        }
        _ => Ok(()),
    }
}

fn matches_asset(receipt: &Receipt, asset: &Asset) -> bool {
    receipt.artifact == asset.artifact && receipt.version == asset.version && receipt.target == asset.target
}

/// Retries after a failed attempt: cargo's `CARGO_NET_RETRY` (default 3).
fn retries(env: &Env) -> u32 {
    env.get("CARGO_NET_RETRY").and_then(|v| v.trim().parse().ok()).unwrap_or(3).min(10)
}

/// The sha256 for `file` in `sha256sum`-style text (`<hex>  <name>`, `<hex> *<name>`); a
/// sidecar may hold the bare hash.
fn checksum_for(text: &str, file: &str, sidecar: bool) -> Option<String> {
    let mut lone = None;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let Some(hash) = words.next().filter(|h| is_sha256(h)) else { continue };
        match words.next() {
            Some(name) => {
                let name = name.trim_start_matches('*');
                let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
                if base == file {
                    return Some(hash.to_ascii_lowercase());
                }
            }
            None => lone = Some(hash.to_ascii_lowercase()),
        }
    }
    if sidecar { lone } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_lines() {
        let a = "a".repeat(64);
        let b = "B".repeat(64);
        let text = format!(
            "{a}  litestream-0.5.16-linux-x86_64.tar.gz\n{b} *dist/litestream-0.5.16-darwin-arm64.tar.gz\n"
        );
        assert_eq!(checksum_for(&text, "litestream-0.5.16-linux-x86_64.tar.gz", false), Some(a.clone()));
        assert_eq!(checksum_for(&text, "litestream-0.5.16-darwin-arm64.tar.gz", false), Some("b".repeat(64)));
        assert_eq!(checksum_for(&text, "litestream-0.5.16-linux-arm64.tar.gz", false), None);
        assert_eq!(checksum_for(&format!("{a}\n"), "x.tar.gz", true), Some(a.clone()));
        assert_eq!(checksum_for(&format!("{a}\n"), "x.tar.gz", false), None);
        assert_eq!(checksum_for("not a hash  x.tar.gz", "x.tar.gz", true), None);
    }

    #[test]
    fn retry_count_follows_cargo() {
        assert_eq!(retries(&Env::empty("/")), 3);
        assert_eq!(retries(&Env::empty("/").with("CARGO_NET_RETRY", "0")), 0);
        assert_eq!(retries(&Env::empty("/").with("CARGO_NET_RETRY", "99")), 10);
    }

    /// Each version once, in table order, whatever the table's order; only the target's.
    #[test]
    fn pinned_versions_of_a_target() {
        let pin = |version, target| Pin { version, target, sha256: "", size: 0 };
        let table = [
            pin("0.5.16", "x86_64-unknown-linux-gnu"),
            pin("0.5.17", "aarch64-apple-darwin"),
            pin("0.5.17", "x86_64-unknown-linux-gnu"),
            pin("0.5.16", "x86_64-unknown-linux-gnu"),
        ];
        assert_eq!(pinned_versions(&table, "x86_64-unknown-linux-gnu"), "0.5.16, 0.5.17");
        assert_eq!(pinned_versions(&table, "aarch64-apple-darwin"), "0.5.17");
        assert_eq!(pinned_versions(&table, "riscv64gc-unknown-linux-gnu"), "no version for this target");
    }

    #[test]
    fn host_target_is_a_triple() {
        assert!(HOST_TARGET.split('-').count() >= 3, "{HOST_TARGET}");
    }
}
