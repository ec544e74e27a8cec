//! `scrub`: every file of every level of a replica read and checked, and what the damage
//! breaks, told by restore point.
//!
//! Checked, per file (`cargo_litestream_ltx::check`): the header, every page frame (both LZ4
//! encodings), the page index, the trailer and the CRC-64/ISO file checksum; a snapshot holds
//! every page; the TXIDs in the header are those in the name. Across files: no level has a hole
//! or an overlap between its files, snapshots start at TXID 1, and consecutive level-0 files
//! continue the WAL where the one before stopped (the same salts, the next offset), which is how
//! frames that were never shipped show. What the level folders hold besides LTX files (another
//! name, a directory) is a finding too. Each damaged file is mapped to the restore points whose
//! plan reads it (Litestream's own plan, [`mod@super::plan`]).
//!
//! Nothing is written to the replica. What was verified is remembered beside the project's
//! generated config (name, size, and the object's ETag or the file's time and inode), so the
//! next run reads only new or changed files; `--subset N/T` reads one T-th of the files by name,
//! for rotations as restic's `--read-data-subset`.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ReplicaFile;
use super::plan::{PlanError, SNAPSHOT_LEVEL};
use super::points::restore_points_given;
use super::store::{Store, StoredFile};
use crate::json;

/// What `scrub` concluded about one replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Sound,
    /// Could not be checked (the replica unreachable, a file unreadable): exit 3.
    Unchecked,
    /// At least one finding: exit 1.
    Damaged,
}

impl Outcome {
    /// Its [`Standing`](crate::assurance::Standing)'s: 0 passed, 1 failed, 3 unchecked.
    pub fn exit_code(self) -> u8 {
        crate::assurance::Verdict::standing(self).exit_code()
    }

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Sound => "sound",
            Outcome::Damaged => "DAMAGED",
            Outcome::Unchecked => "could not check",
        }
    }

    /// The outcome of several replicas: damage first, then anything unchecked.
    pub fn worst(outcomes: impl IntoIterator<Item = Outcome>) -> Outcome {
        crate::assurance::Verdict::worst(outcomes).unwrap_or(Outcome::Sound)
    }
}

/// One thing wrong with a replica.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `<level>/<file name>`, or `<level>/` for a level's hole.
    pub file: String,
    pub problem: String,
}

#[derive(Clone, Debug, Default)]
pub struct ScrubOptions {
    /// Read only the files whose name falls in part N of T (1-based).
    pub subset: Option<(u32, u32)>,
    /// Read every file, also those verified before.
    pub reread: bool,
    /// Where verified files are remembered (`None`: nothing is).
    pub memory: Option<PathBuf>,
}

/// The report of one replica.
#[derive(Clone, Debug, Serialize)]
pub struct ScrubReport {
    pub outcome: Outcome,
    /// `file://…` or `s3://…`.
    pub replica: String,
    pub duration_ms: u64,
    pub files: usize,
    /// Read now, remembered as verified from an earlier run, and left to another subset.
    pub files_read: usize,
    pub files_remembered: usize,
    pub files_in_other_subsets: usize,
    pub bytes_read: u64,
    /// Decompressed page bytes of the files read.
    pub page_bytes: u64,
    pub findings: Vec<Finding>,
    /// Files that could not be read (the outcome is then at best unchecked).
    pub unreadable: Vec<Finding>,
    /// What `restore` with no target does: `sound`, `broken`, or why it fails.
    pub latest: String,
    #[serde(serialize_with = "json::serialize_optional_txid")]
    pub latest_txid: Option<u64>,
    pub points: usize,
    /// Restore points whose plan reads a damaged file, as ranges of TXIDs.
    #[serde(serialize_with = "txid_ranges")]
    pub broken: Vec<RangeInclusive<u64>>,
}

impl ScrubReport {
    /// Nothing read or found yet, of a replica holding `files` files.
    fn new(replica: String, files: usize) -> ScrubReport {
        ScrubReport {
            outcome: Outcome::Sound,
            replica,
            duration_ms: 0,
            files,
            files_read: 0,
            files_remembered: 0,
            files_in_other_subsets: 0,
            bytes_read: 0,
            page_bytes: 0,
            findings: Vec::new(),
            unreadable: Vec::new(),
            latest: String::new(),
            latest_txid: None,
            points: 0,
            broken: Vec::new(),
        }
    }

    /// Damaged when anything was found; else unchecked when a file could not be read.
    fn judged(&self) -> Outcome {
        if !self.findings.is_empty() {
            Outcome::Damaged
        } else if !self.unreadable.is_empty() {
            Outcome::Unchecked
        } else {
            Outcome::Sound
        }
    }
}

/// What `restore` with no target does: `sound`, `broken` (its plan reads a damaged file), or why
/// it fails.
fn latest_label(latest: &Result<u64, PlanError>, broken: bool, no_files: bool) -> String {
    match latest {
        _ if broken => "broken".to_owned(),
        Ok(_) => "sound".to_owned(),
        Err(PlanError::NotAvailable) if no_files => "no backup yet".to_owned(),
        Err(why) => format!("not restorable: {why}"),
    }
}

fn txid_ranges<S: serde::Serializer>(
    ranges: &[RangeInclusive<u64>],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq as _;
    let mut seq = serializer.serialize_seq(Some(ranges.len()))?;
    for range in ranges {
        seq.serialize_element(&serde_json::json!({
            "from": json::txid(*range.start()),
            "to": json::txid(*range.end()),
        }))?;
    }
    seq.end()
}

/// Where the files of `store` verified in this project are remembered: one file per replica
/// location, named by a hash of it, in the project's state folder.
pub fn memory_path(state_dir: &Path, store: &Store) -> PathBuf {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in store.describe().bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    state_dir.join("scrub").join(format!("{hash:016x}.json"))
}

/// What one read file told, kept between runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Verified {
    size: u64,
    tag: String,
    /// Level-0 files: the WAL segment they hold (offset, size, salts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wal: Option<[u64; 4]>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Memory {
    version: u32,
    replica: String,
    files: BTreeMap<String, Verified>,
}

const MEMORY_VERSION: u32 = 1;

/// Told how much a scrub will read, then the bytes as they arrive (a progress bar).
pub trait Progress {
    fn begin(&mut self, _files: usize, _bytes: u64) {}
    fn read(&mut self, _bytes: u64) {}
}

/// No progress shown.
impl Progress for () {}

/// The bytes to read, and read, on a terminal's bar.
impl Progress for cargo_litestream_shell::Bar {
    fn begin(&mut self, _files: usize, bytes: u64) {
        self.set_length(bytes);
    }

    fn read(&mut self, bytes: u64) {
        self.inc(bytes);
    }
}

/// Scrubs the replica in `store`. Fails only when the replica cannot be listed; everything
/// else is in the report.
pub fn scrub(
    store: &Store,
    options: &ScrubOptions,
    progress: &mut dyn Progress,
) -> Result<ScrubReport, super::store::StoreError> {
    let started = std::time::Instant::now();
    let listing = store.list()?;
    let mut memory = options.memory.as_deref().map(|path| load_memory(path, store)).unwrap_or_default();
    let mut findings: Vec<Finding> =
        listing.strays.iter().map(|s| Finding { file: s.shown.clone(), problem: s.why.clone() }).collect();
    findings.extend(level_findings(&listing.files));

    let mut report = ScrubReport::new(store.describe(), listing.files.len());
    let mut damaged: HashSet<(u8, u64, u64)> = HashSet::new();
    let mut wal: BTreeMap<u64, [u64; 4]> = BTreeMap::new();
    let mut to_read = Vec::new();
    for stored in &listing.files {
        let remembered =
            memory.files.get(&stored.shown).filter(|v| v.size == stored.file.size && v.tag == stored.tag);
        if let (Some(verified), false) = (remembered, options.reread) {
            report.files_remembered += 1;
            if let Some(segment) = verified.wal {
                wal.insert(stored.file.min_txid, segment);
            }
        } else if options.subset.is_some_and(|(part, of)| subset_of(&stored.shown, of) != part - 1) {
            report.files_in_other_subsets += 1;
        } else {
            to_read.push(stored);
        }
    }
    progress.begin(to_read.len(), to_read.iter().map(|f| f.file.size).sum());
    for stored in to_read {
        let key = (stored.file.level, stored.file.min_txid, stored.file.max_txid);
        report.files_read += 1;
        match check_file(store, stored, progress) {
            Ok((summary, bytes)) => {
                report.bytes_read += bytes;
                report.page_bytes += summary.page_bytes;
                let segment = (stored.file.level == 0).then(|| {
                    let h = &summary.header;
                    [h.wal_offset as u64, h.wal_size as u64, u64::from(h.wal_salt1), u64::from(h.wal_salt2)]
                });
                if let Some(segment) = segment {
                    wal.insert(stored.file.min_txid, segment);
                }
                match name_problem(&stored.file, &summary.header) {
                    Some(problem) => {
                        damaged.insert(key);
                        findings.push(Finding { file: stored.shown.clone(), problem });
                    }
                    None => {
                        memory.files.insert(
                            stored.shown.clone(),
                            Verified { size: stored.file.size, tag: stored.tag.clone(), wal: segment },
                        );
                    }
                }
            }
            Err(Failure::Damaged(problem)) => {
                damaged.insert(key);
                memory.files.remove(&stored.shown);
                findings.push(Finding { file: stored.shown.clone(), problem });
            }
            Err(Failure::Unreadable(problem)) => {
                report.unreadable.push(Finding { file: stored.shown.clone(), problem });
            }
        }
    }
    findings.extend(wal_findings(&listing.files, &wal));

    // Forget what the replica no longer holds (compacted away, or removed by retention).
    let present: HashSet<&str> = listing.files.iter().map(|f| f.shown.as_str()).collect();
    memory.files.retain(|name, _| present.contains(name.as_str()));
    if let Some(path) = &options.memory {
        save_memory(path, &memory);
    }

    let files: Vec<ReplicaFile> = listing.files.iter().map(|f| f.file.clone()).collect();
    let (points, broken) =
        restore_points_given(&files, &|f| damaged.contains(&(f.level, f.min_txid, f.max_txid)));
    report.points = points.points.len();
    report.broken = ranges(&broken);
    report.latest_txid = points.latest.as_ref().ok().copied();
    let latest_broken = points.latest.as_ref().is_ok_and(|txid| broken.contains(txid));
    report.latest = latest_label(&points.latest, latest_broken, files.is_empty());
    report.findings = findings;
    report.outcome = report.judged();
    report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(report)
}

/// For a replica that is not read natively (GCS, Azure Blob, SFTP, WebDAV, NATS): the latest
/// point and the oldest one restored by litestream itself with `-integrity-check full`, each
/// into a private folder under `work_dir` that is removed after. That reads the files of those
/// two chains, not every file: the report says so (`files_read` stays 0).
pub fn by_restoring(
    litestream: &cargo_litestream_runner::Litestream,
    env: &cargo_litestream_config::Env,
    target: &[std::ffi::OsString],
    work_dir: &Path,
    timeout: std::time::Duration,
) -> Result<ScrubReport, super::ListError> {
    let started = std::time::Instant::now();
    let files = super::list(litestream, env, target, timeout)?;
    let (points, _) = restore_points_given(&files, &|_| false);
    let replica = target.last().map(|t| t.to_string_lossy().into_owned()).unwrap_or_default();
    let mut report = ScrubReport::new(replica, files.len());
    report.latest_txid = points.latest.as_ref().ok().copied();
    report.points = points.points.len();
    let mut chains: Vec<Option<u64>> = vec![None];
    if let Some(oldest) = points.points.first().filter(|p| Some(p.txid) != report.latest_txid) {
        chains.push(Some(oldest.txid));
    }
    let mut latest_broken = false;
    for txid in chains {
        let shown =
            txid.map_or_else(|| "the latest point".to_owned(), |t| format!("point {}", json::txid(t)));
        match restore_checked(litestream, env, target, work_dir, txid, timeout) {
            Ok(()) => {}
            Err(Failure::Damaged(problem)) => {
                latest_broken |= txid.is_none();
                if let Some(t) = txid {
                    report.broken.push(t..=t);
                }
                report.findings.push(Finding { file: format!("restore of {shown}"), problem });
            }
            Err(Failure::Unreadable(problem)) => {
                report.unreadable.push(Finding { file: format!("restore of {shown}"), problem })
            }
        }
    }
    report.latest = latest_label(&points.latest, latest_broken, files.is_empty());
    report.outcome = report.judged();
    report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(report)
}

/// One `litestream restore -integrity-check full` into a private folder, removed after.
fn restore_checked(
    litestream: &cargo_litestream_runner::Litestream,
    env: &cargo_litestream_config::Env,
    target: &[std::ffi::OsString],
    work_dir: &Path,
    txid: Option<u64>,
    timeout: std::time::Duration,
) -> Result<(), Failure> {
    let _ = std::fs::create_dir_all(work_dir);
    let folder = tempfile::Builder::new()
        .prefix("scrub-")
        .tempdir_in(work_dir)
        .map_err(|e| Failure::Unreadable(format!("cannot create a folder in {}: {e}", work_dir.display())))?;
    let (positional, options) =
        target.split_last().ok_or_else(|| Failure::Unreadable("no replica".to_owned()))?;
    let mut command = litestream.command(env);
    command
        .arg("restore")
        .args(options)
        .args(["-integrity-check", "full", "-o"])
        .arg(folder.path().join("db"));
    if let Some(txid) = txid {
        command.args(["-txid", &json::txid(txid)]);
    }
    command.arg(positional);
    let done = crate::process::output_within(&mut command, None, timeout)
        .map_err(|e| Failure::Unreadable(e.to_string()))?;
    if done.status.success() {
        return Ok(());
    }
    let error = crate::process::last_error_line(&done.stderr);
    // What the files themselves are to blame for, as litestream words it; anything else (the
    // store unreachable, credentials) is "could not check".
    let damage =
        ["integrity check", "checksum mismatch", "decode", "malformed", "non-contiguous", "invalid ltx"];
    if damage.iter().any(|d| error.contains(d)) {
        Err(Failure::Damaged(error))
    } else {
        Err(Failure::Unreadable(error))
    }
}

enum Failure {
    Damaged(String),
    Unreadable(String),
}

/// Reads one file through the decoder; its byte count on success.
fn check_file(
    store: &Store,
    stored: &StoredFile,
    progress: &mut dyn Progress,
) -> Result<(cargo_litestream_ltx::Summary, u64), Failure> {
    let reader = store.open(stored).map_err(|e| Failure::Unreadable(e.to_string()))?;
    let mut counted = Counted { inner: reader, bytes: 0, progress };
    match cargo_litestream_ltx::check(&mut counted) {
        Ok(summary) => {
            if counted.bytes != stored.file.size {
                return Err(Failure::Damaged(format!(
                    "{} bytes read, but the replica lists {}",
                    counted.bytes, stored.file.size
                )));
            }
            Ok((summary, counted.bytes))
        }
        Err(error) if error.is_finding() => Err(Failure::Damaged(error.to_string())),
        Err(error) => Err(Failure::Unreadable(error.to_string())),
    }
}

struct Counted<'p, R> {
    inner: R,
    bytes: u64,
    progress: &'p mut dyn Progress,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        self.progress.read(n as u64);
        Ok(n)
    }
}

/// The header against the name and the level: Litestream names a file by the TXIDs its header
/// holds, and a level-9 file is a snapshot.
fn name_problem(file: &ReplicaFile, header: &cargo_litestream_ltx::Header) -> Option<String> {
    if (header.min_txid.0, header.max_txid.0) != (file.min_txid, file.max_txid) {
        return Some(format!(
            "its header holds TXIDs {}-{}, not those of its name",
            header.min_txid, header.max_txid
        ));
    }
    if file.level == SNAPSHOT_LEVEL && !header.is_snapshot() {
        return Some("a level-9 file that is not a snapshot".to_owned());
    }
    None
}

/// Holes and overlaps within each level, and snapshots that do not start at TXID 1.
fn level_findings(files: &[StoredFile]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for level in 0..=SNAPSHOT_LEVEL {
        let in_level: Vec<&StoredFile> = files.iter().filter(|f| f.file.level == level).collect();
        if level == SNAPSHOT_LEVEL {
            for snapshot in in_level.iter().filter(|f| f.file.min_txid != 1) {
                findings.push(Finding {
                    file: snapshot.shown.clone(),
                    problem: "a snapshot that does not start at TXID 1".to_owned(),
                });
            }
            continue;
        }
        for pair in in_level.windows(2) {
            let (a, b) = (&pair[0].file, &pair[1].file);
            if b.min_txid > a.max_txid.saturating_add(1) {
                findings.push(Finding {
                    file: format!("{level}/"),
                    problem: format!(
                        "TXIDs {}-{} are missing between {} and {}",
                        json::txid(a.max_txid + 1),
                        json::txid(b.min_txid - 1),
                        a.name(),
                        b.name()
                    ),
                });
            } else if b.min_txid <= a.max_txid {
                findings.push(Finding {
                    file: pair[1].shown.clone(),
                    problem: format!("overlaps {} in the same level", a.name()),
                });
            }
        }
    }
    findings
}

/// SQLite's WAL header size: where a WAL's first frame starts.
const WAL_HEADER_SIZE: u64 = 32;

/// Consecutive level-0 files of one WAL (same salts) must continue where the previous ended:
/// a segment that starts later skipped frames no file holds. A new start (offset 32) is a
/// snapshot or a restarted WAL, never a gap.
fn wal_findings(files: &[StoredFile], wal: &BTreeMap<u64, [u64; 4]>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let level0: Vec<&StoredFile> = files.iter().filter(|f| f.file.level == 0).collect();
    for pair in level0.windows(2) {
        let (a, b) = (&pair[0].file, &pair[1].file);
        if b.min_txid != a.max_txid + 1 {
            continue;
        }
        let (Some(wa), Some(wb)) = (wal.get(&a.min_txid), wal.get(&b.min_txid)) else { continue };
        let same_wal = wa[2..] == wb[2..];
        let expected = wa[0] + wa[1];
        if same_wal && wb[0] != WAL_HEADER_SIZE && wb[0] != expected {
            findings.push(Finding {
                file: pair[1].shown.clone(),
                problem: format!(
                    "its WAL segment starts at offset {}, but the previous file ended at {expected}: the frames between were never shipped",
                    wb[0]
                ),
            });
        }
    }
    findings
}

fn ranges(txids: &[u64]) -> Vec<RangeInclusive<u64>> {
    let mut ranges: Vec<RangeInclusive<u64>> = Vec::new();
    for &txid in txids {
        match ranges.last_mut() {
            Some(last) if *last.end() + 1 == txid => *last = *last.start()..=txid,
            _ => ranges.push(txid..=txid),
        }
    }
    ranges
}

/// Which of `of` subsets a file belongs to: a hash of its name, so the split is stable across
/// runs and machines and new files spread over all subsets. FNV-1a, then MurmurHash3's
/// finaliser: FNV-1a alone keeps the low bits' parity of the bytes, so names that differ by
/// even digits would all fall in one half.
fn subset_of(name: &str, of: u32) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^= hash >> 33;
    (hash % u64::from(of.max(1))) as u32
}

/// A memory that cannot be read, is another replica's or another version's, starts empty:
/// the cost is a full read, never a skipped file.
fn load_memory(path: &Path, store: &Store) -> Memory {
    let replica = store.describe();
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Memory>(&bytes).ok())
        .filter(|m| m.version == MEMORY_VERSION && m.replica == replica)
        .unwrap_or(Memory { version: MEMORY_VERSION, replica, files: BTreeMap::new() })
}

/// Written atomically; a failure only costs the next run a full read.
fn save_memory(path: &Path, memory: &Memory) {
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let Ok(text) = serde_json::to_vec(memory) else { return };
    if let Ok(mut temp) = tempfile::NamedTempFile::new_in(dir)
        && std::io::Write::write_all(&mut temp, &text).is_ok()
    {
        let _ = temp.persist(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_split_names_stably() {
        let names: Vec<String> = (1..=1000u64).map(|t| format!("0/{t:016x}-{t:016x}.ltx")).collect();
        for of in [2, 3, 7] {
            let mut counts = vec![0; of as usize];
            for name in &names {
                counts[subset_of(name, of) as usize] += 1;
            }
            assert!(counts.iter().all(|&c| c > 1000 / of as usize / 2), "{of}: {counts:?}");
        }
        // Even the few files of a young replica fall in both halves.
        let few: Vec<u32> = names[..12].iter().map(|n| subset_of(n, 2)).collect();
        assert!(few.contains(&0) && few.contains(&1), "{few:?}");
        assert_eq!(subset_of(&names[0], 7), subset_of(&names[0], 7));
    }

    fn stored(level: u8, min: u64, max: u64) -> StoredFile {
        let file = ReplicaFile {
            level,
            min_txid: min,
            max_txid: max,
            size: 1,
            created: jiff::Timestamp::UNIX_EPOCH,
        };
        StoredFile { shown: format!("{level}/{}", file.name()), file, tag: String::new() }
    }

    #[test]
    fn level_zero_must_continue_the_wal() {
        let files = [stored(0, 1, 1), stored(0, 2, 2), stored(0, 3, 3), stored(0, 4, 4), stored(0, 5, 5)];
        let wal = BTreeMap::from([
            (1, [32, 4128, 7, 9]),
            (2, [4160, 8256, 7, 9]),  // continues
            (3, [16384, 4128, 7, 9]), // skips 12416..16384 of the same WAL
            (4, [32, 4128, 8, 9]),    // a restarted WAL: new salts, from the start
            (5, [32, 4128, 8, 9]),    // a snapshot from the start of the same WAL
        ]);
        let found = wal_findings(&files, &wal);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].file, files[2].shown);
        assert!(
            found[0].problem.contains("offset 16384") && found[0].problem.contains("ended at 12416"),
            "{found:?}"
        );
        // Unknown headers (files not read this run and not remembered) are not judged.
        assert!(wal_findings(&files, &BTreeMap::from([(3, [16384, 1, 7, 9])])).is_empty());
    }

    #[test]
    fn levels_have_no_holes_or_overlaps_and_snapshots_start_at_1() {
        let files = [stored(0, 3, 3), stored(0, 5, 5), stored(1, 1, 4), stored(1, 3, 8), stored(9, 2, 8)];
        let found: Vec<(String, String)> =
            level_findings(&files).into_iter().map(|f| (f.file, f.problem)).collect();
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(
            found[0].0 == "0/"
                && found[0].1.starts_with("TXIDs 0000000000000004-0000000000000004 are missing")
        );
        assert!(found[1].1.starts_with("overlaps"), "{found:?}");
        assert!(found[2].1.contains("snapshot that does not start at TXID 1"), "{found:?}");
    }

    #[test]
    fn txids_become_ranges() {
        assert_eq!(ranges(&[1, 2, 3, 5, 7, 8]), [1..=3, 5..=5, 7..=8]);
        assert!(ranges(&[]).is_empty());
    }
}
