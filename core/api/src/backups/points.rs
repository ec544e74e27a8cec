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

use super::plan::{PlanError, Target, plan};
use super::{ReplicaFile, txid_hex};

/// A TXID a restore can reach.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RestorePoint {
    #[serde(serialize_with = "txid_hex")]
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
    let points = first_written
        .iter()
        .filter_map(|(&txid, &time)| {
            let plan = plan(files, Target::Txid(txid)).ok()?;
            Some(RestorePoint { txid, time, files: plan.len(), bytes: plan.iter().map(|f| f.size).sum() })
        })
        .collect();
    let latest = plan(files, Target::Latest).map(|plan| plan.last().map_or(0, |f| f.max_txid));
    RestorePoints { points, latest, newest_txid: first_written.keys().next_back().copied() }
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

    #[test]
    fn an_empty_replica_has_no_points() {
        let points = restore_points(&[]);
        assert!(points.points.is_empty());
        assert_eq!(points.latest, Err(PlanError::NotAvailable));
        assert!(points.unreachable().is_empty());
    }
}
