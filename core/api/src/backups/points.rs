//! Restore points: every TXID a restore can reach, by Litestream's own plan.
//!
//! A restore to TXID T succeeds only when some chain of files ends exactly at T, so the
//! candidates are the end TXIDs of the replica's files; each is kept when its plan succeeds.
//! After `l0-retention` removes the level-0 files a compaction covered, the TXIDs inside that
//! compaction are gone: users otherwise learn it at restore time (Litestream #1038, #1084).

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use jiff::Timestamp;
use serde::Serialize;

use super::ReplicaFile;
use super::plan::{Levels, PlanError, SNAPSHOT_LEVEL, Target};
use crate::json;

/// A TXID a restore can reach.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RestorePoint {
    #[serde(serialize_with = "json::serialize_txid")]
    pub txid: u64,
    /// When this state was first written: the earliest time of a file ending at this TXID
    /// (see [`ReplicaFile::created`]).
    pub time: Timestamp,
    /// How many files a restore to this point downloads, and their bytes.
    pub files: usize,
    pub bytes: u64,
}

/// What a replica can be restored to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestorePoints {
    /// Oldest first.
    pub points: Vec<RestorePoint>,
    /// Where `restore` with no target lands, or why it fails.
    pub latest: Result<u64, PlanError>,
    /// The newest TXID any file holds.
    pub newest_txid: Option<u64>,
}

impl RestorePoints {
    /// The newest point at or before `time`.
    pub fn at_or_before(&self, time: Timestamp) -> Option<&RestorePoint> {
        self.points.iter().filter(|p| p.time <= time).max_by_key(|p| p.txid)
    }

    /// The point for `txid`, when a restore can reach it.
    pub fn get(&self, txid: u64) -> Option<&RestorePoint> {
        self.points.binary_search_by_key(&txid, |p| p.txid).ok().map(|i| &self.points[i])
    }

    /// The TXIDs from 1 to the newest that no restore reaches, as ranges.
    pub fn unreachable(&self) -> Vec<RangeInclusive<u64>> {
        let Some(newest) = self.newest_txid else { return Vec::new() };
        let mut ranges = Vec::new();
        let mut next = 1;
        for point in &self.points {
            if point.txid > next {
                ranges.push(next..=point.txid - 1);
            }
            next = point.txid.saturating_add(1);
        }
        if next <= newest {
            ranges.push(next..=newest);
        }
        ranges
    }
}

/// Every restore point of a replica holding `files`.
pub fn restore_points(files: &[ReplicaFile]) -> RestorePoints {
    restore_points_given(files, &|_| false).0
}

/// [`restore_points`], and the TXIDs of the points whose plan reads a file `damaged` says is
/// damaged (ascending).
pub(crate) fn restore_points_given(
    files: &[ReplicaFile],
    damaged: &dyn Fn(&ReplicaFile) -> bool,
) -> (RestorePoints, Vec<u64>) {
    // A point's time is when its state was first written: the earliest file ending there (its
    // level-0 file, while it exists). A snapshot or compaction ending at the same TXID is
    // written later, of the same state.
    let mut first_written: BTreeMap<u64, Timestamp> = BTreeMap::new();
    for file in files {
        first_written
            .entry(file.max_txid)
            .and_modify(|time| *time = (*time).min(file.created))
            .or_insert(file.created);
    }
    let levels = Levels::new(files);
    let mut sweep = Sweep::new(&levels, files, damaged);
    let mut broken = Vec::new();
    let points = first_written
        .iter()
        .filter_map(|(&txid, &time)| {
            let plan = sweep.plan(txid)?;
            if plan.damaged > 0 {
                broken.push(txid);
            }
            Some(RestorePoint { txid, time, files: plan.files, bytes: plan.bytes })
        })
        .collect();
    let latest = levels.plan(Target::Latest).map(|plan| plan.last().map_or(0, |f| f.max_txid));
    (RestorePoints { points, latest, newest_txid: first_written.keys().next_back().copied() }, broken)
}

/// What a plan downloads, and how many of its files are damaged.
struct PlanCost {
    files: usize,
    bytes: u64,
    damaged: usize,
}

/// The plans of ascending targets, each built from the one before.
///
/// A plan to T is Litestream's greedy walk from the newest snapshot at or before T. The walk
/// to the next target T' takes the same steps as far as no file ending in (T, T'] could be
/// chosen instead, that is, until the covered TXID reaches one before the lowest start of such a
/// file: only the rest is walked again. With a month of files at Litestream's default levels
/// that is a few steps per target instead of dozens (BENCHMARKS.md, measurement 6); the result
/// is the same plan, which a test checks against [`Levels::plan`] on random replicas.
struct Sweep<'l, 'a> {
    levels: &'l Levels<'a>,
    is_damaged: &'l dyn Fn(&ReplicaFile) -> bool,
    /// Files of levels 0..=8 by end TXID, and how many of them the previous target included.
    by_end: Vec<&'a ReplicaFile>,
    included: usize,
    /// The snapshot the current walk started from, and its steps.
    snapshot: Option<&'a ReplicaFile>,
    steps: Vec<Step<'a>>,
}

struct Step<'a> {
    file: &'a ReplicaFile,
    /// The TXID covered when the file was chosen.
    from: u64,
    /// The bytes, and the damaged files, of the walk up to and with this file.
    bytes: u64,
    damaged: usize,
}

impl<'l, 'a> Sweep<'l, 'a> {
    fn new(
        levels: &'l Levels<'a>,
        files: &'a [ReplicaFile],
        is_damaged: &'l dyn Fn(&ReplicaFile) -> bool,
    ) -> Self {
        let mut by_end: Vec<&ReplicaFile> = files.iter().filter(|f| f.level < SNAPSHOT_LEVEL).collect();
        by_end.sort_by_key(|f| f.max_txid);
        Sweep { levels, is_damaged, by_end, included: 0, snapshot: None, steps: Vec::new() }
    }

    fn covered(&self) -> u64 {
        self.steps.last().map_or_else(|| self.snapshot.map_or(0, |s| s.max_txid), |s| s.file.max_txid)
    }

    fn bytes(&self) -> u64 {
        self.steps.last().map_or_else(|| self.snapshot.map_or(0, |s| s.size), |s| s.bytes)
    }

    fn damaged(&self) -> usize {
        self.steps
            .last()
            .map_or_else(|| self.snapshot.map_or(0, |s| usize::from((self.is_damaged)(s))), |s| s.damaged)
    }

    /// What the plan to `txid` downloads, or `None` when no restore reaches it. Called with
    /// ascending TXIDs.
    fn plan(&mut self, txid: u64) -> Option<PlanCost> {
        let target = Target::Txid(txid);
        let snapshot = self.levels.of(SNAPSHOT_LEVEL).iter().rev().find(|f| f.max_txid <= txid).copied();

        // The lowest start among files the previous target did not allow and this one does.
        let mut lowest_new_start = u64::MAX;
        while let Some(file) = self.by_end.get(self.included).filter(|f| f.max_txid <= txid) {
            lowest_new_start = lowest_new_start.min(file.min_txid);
            self.included += 1;
        }
        if snapshot.map(|s| s.name()) != self.snapshot.map(|s| s.name()) {
            self.snapshot = snapshot;
            self.steps.clear();
        } else {
            // Keep the steps chosen while no new file could compete: a file is a candidate
            // once the covered TXID reaches one before its start. `from` rises along the walk.
            let keep = self.steps.partition_point(|s| s.from.saturating_add(1) < lowest_new_start);
            self.steps.truncate(keep);
        }

        while self.covered() < txid {
            let from = self.covered();
            let Some(file) = self.levels.best_next(from, target) else { break };
            let bytes = self.bytes() + file.size;
            let damaged = self.damaged() + usize::from((self.is_damaged)(file));
            self.steps.push(Step { file, from, bytes, damaged });
        }
        if self.covered() != txid {
            return None;
        }
        let files = self.steps.len() + usize::from(self.snapshot.is_some());
        Some(PlanCost { files, bytes: self.bytes(), damaged: self.damaged() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(level: u8, min: u64, max: u64) -> ReplicaFile {
        ReplicaFile {
            level,
            min_txid: min,
            max_txid: max,
            size: 10 * (max - min + 1),
            created: Timestamp::from_second(1_700_000_000 + max as i64).unwrap(),
        }
    }

    #[test]
    fn after_l0_retention_only_chain_ends_are_points() {
        let points = restore_points(&[file(9, 1, 1), file(1, 2, 7)]);
        let txids: Vec<u64> = points.points.iter().map(|p| p.txid).collect();
        assert_eq!(txids, [1, 7]);
        assert_eq!(points.latest, Ok(7));
        assert_eq!(points.unreachable(), [2..=6]);
        assert_eq!(points.get(7).map(|p| (p.files, p.bytes)), Some((2, 10 + 60)));
        assert!(points.get(3).is_none());
    }

    #[test]
    fn level_0_files_make_every_txid_a_point() {
        let mut files = vec![file(9, 1, 1), file(1, 2, 4)];
        files.extend((2..=6).map(|t| file(0, t, t)));
        let points = restore_points(&files);
        assert_eq!(points.points.iter().map(|p| p.txid).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6]);
        assert!(points.unreachable().is_empty());
        // 4 through the compaction (one file), not three level-0 files.
        assert_eq!(points.get(4).map(|p| p.files), Some(2));
        assert_eq!(points.get(6).map(|p| p.files), Some(4));
    }

    #[test]
    fn a_hole_breaks_latest_but_not_the_points_before_it() {
        let points = restore_points(&[file(9, 1, 3), file(0, 4, 4), file(0, 6, 6)]);
        assert_eq!(points.points.iter().map(|p| p.txid).collect::<Vec<_>>(), [3, 4]);
        assert_eq!(points.latest, Err(PlanError::Gap { have: 4, next: 6 }));
        assert_eq!(points.unreachable(), [1..=2, 5..=6]);
    }

    #[test]
    fn a_points_time_is_its_first_file() {
        let mut snapshot = file(9, 1, 2);
        snapshot.created = Timestamp::from_second(1_800_000_000).unwrap();
        let points = restore_points(&[file(0, 1, 1), file(0, 2, 2), snapshot]);
        assert_eq!(points.get(2).map(|p| p.time), Some(Timestamp::from_second(1_700_000_002).unwrap()));
    }

    #[test]
    fn the_newest_point_at_or_before_a_time() {
        let points = restore_points(&[file(0, 1, 1), file(0, 2, 2), file(0, 3, 3)]);
        let at = |s: i64| Timestamp::from_second(1_700_000_000 + s).unwrap();
        assert_eq!(points.at_or_before(at(2)).map(|p| p.txid), Some(2));
        assert_eq!(points.at_or_before(at(10)).map(|p| p.txid), Some(3));
        assert_eq!(points.at_or_before(at(0)), None);
    }

    /// The sweep finds the very plans [`Levels::plan`] finds one target at a time, on random
    /// replicas: overlapping, gapped, multi-level, with and without snapshots.
    #[test]
    fn the_sweep_equals_one_plan_per_target() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % below
        };
        let mut found = 0;
        for _ in 0..300 {
            let mut files = Vec::new();
            for _ in 0..next(40) {
                let level = [0, 0, 0, 1, 1, 2, 3, 8, 9][next(9) as usize];
                let min = if level == 9 { 1 } else { 1 + next(30) };
                let max = min + next(if level == 0 { 2 } else { 10 });
                let mut f = file(level, min, max);
                f.size = 1 + next(1000);
                if !files.iter().any(|g: &ReplicaFile| (g.level, g.min_txid, g.max_txid) == (level, min, max))
                {
                    files.push(f);
                }
            }
            let levels = Levels::new(&files);
            let bad = |f: &ReplicaFile| f.size.is_multiple_of(7);
            let (points, broken) = restore_points_given(&files, &bad);
            found += points.points.len();
            let newest = files.iter().map(|f| f.max_txid).max().unwrap_or(0);
            for txid in 1..=newest {
                let one = levels.plan(Target::Txid(txid)).ok();
                let cost = one.as_ref().map(|plan| (plan.len(), plan.iter().map(|f| f.size).sum::<u64>()));
                assert_eq!(points.get(txid).map(|p| (p.files, p.bytes)), cost, "{txid} in {files:?}");
                let reads_bad = one.is_some_and(|plan| plan.iter().any(|f| bad(f)));
                assert_eq!(broken.contains(&txid), reads_bad, "{txid} in {files:?}");
            }
        }
        assert!(found > 1000, "the random replicas had only {found} restore points");
    }

    #[test]
    fn an_empty_replica_has_no_points() {
        let points = restore_points(&[]);
        assert!(points.points.is_empty());
        assert_eq!(points.latest, Err(PlanError::NotAvailable));
        assert!(points.unreachable().is_empty());
    }
}
