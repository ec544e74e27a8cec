//! Litestream 0.5.17's restore plan, computed here: which files `litestream restore` downloads
//! for a target, and whether it can reach it at all.
//!
//! A port of `CalcRestorePlan` (replica.go) and the bounds check of `CalcRestoreTarget`, rule
//! for rule; the differential test in `tests/it/restore_points.rs` holds it to
//! `litestream restore -dry-run -json` for every TXID of real replicas.
//!
//! The algorithm, in Litestream's words turned into one sentence: start from the newest L9
//! snapshot at or before the target, then keep taking, from levels 8 down to 0, the file that
//! starts no later than one past what is covered so far and reaches furthest without passing
//! the target (ties: the lower start, then the higher level).

use jiff::Timestamp;

use super::ReplicaFile;

/// Litestream's snapshot level (`litestream.SnapshotLevel`).
pub const SNAPSHOT_LEVEL: u8 = 9;

/// What a restore aims at: `restore` with no `-txid`/`-timestamp`, with `-txid`, or with
/// `-timestamp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Latest,
    Txid(u64),
    /// Files created strictly before this time (Litestream's `CreatedAt.Before`).
    Before(Timestamp),
}

/// Why Litestream would refuse a restore, in its own words where it has them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// `ErrTxNotAvailable`.
    #[error("no matching backup files available")]
    NotAvailable,
    /// "latest" with a hole: files exist past a TXID nothing reaches.
    #[error("non-contiguous ltx files: have up to {have:016x} but next file starts at {next:016x}")]
    Gap { have: u64, next: u64 },
    /// `CalcRestoreTarget`: the replica holds no file at all.
    #[error("no backups found")]
    NoBackups,
    /// `CalcRestoreTarget`: the time lies outside the replica's first and last file times.
    #[error("timestamp does not exist")]
    TimestampOutside,
}

/// The files a restore to `target` downloads, in the order it applies them.
///
/// `files` may come in any order. For [`Target::Before`] the bounds check that
/// `litestream restore -timestamp` makes first is included; the plan itself is what
/// `CalcRestorePlan` computes.
pub fn plan(files: &[ReplicaFile], target: Target) -> Result<Vec<&ReplicaFile>, PlanError> {
    if let Target::Before(time) = target {
        check_time_bounds(files, time)?;
    }
    Levels::new(files).plan(target)
}

/// `CalcRestoreTarget`'s check: a time before the first file or after the last is refused.
fn check_time_bounds(files: &[ReplicaFile], time: Timestamp) -> Result<(), PlanError> {
    let first = files.iter().map(|f| f.created).min().ok_or(PlanError::NoBackups)?;
    let last = files.iter().map(|f| f.created).max().ok_or(PlanError::NoBackups)?;
    if time < first || time > last {
        return Err(PlanError::TimestampOutside);
    }
    Ok(())
}

/// Whether the target lets a restore use `file` at all.
fn allowed(file: &ReplicaFile, target: Target) -> bool {
    match target {
        Target::Latest => true,
        Target::Txid(txid) => file.max_txid <= txid,
        Target::Before(time) => file.created < time,
    }
}

/// `restoreCandidateBetter`: further first, then the lower start, then the higher level. Two
/// files equal on all three are one file (its name and level), so creation time never decides.
fn better(current: &ReplicaFile, next: &ReplicaFile) -> bool {
    (next.max_txid, std::cmp::Reverse(next.min_txid), next.level)
        > (current.max_txid, std::cmp::Reverse(current.min_txid), current.level)
}

/// The files of levels 0..=9, each level in name order (start, then end TXID), as Litestream's
/// iterators return them.
pub(super) struct Levels<'a> {
    levels: [Level<'a>; SNAPSHOT_LEVEL as usize + 1],
    /// The compaction levels that hold files, highest first: the ones a plan extends through.
    chain: Vec<usize>,
}

#[derive(Default)]
struct Level<'a> {
    files: Vec<&'a ReplicaFile>,
    /// No two files overlap, so ends rise with starts. A replica written by one Litestream
    /// always is; one that two writers shared may not be, and then every file is looked at.
    disjoint: bool,
}

impl<'a> Levels<'a> {
    pub(super) fn new(files: &'a [ReplicaFile]) -> Self {
        let mut levels: [Level; SNAPSHOT_LEVEL as usize + 1] = Default::default();
        for file in files.iter().filter(|f| f.level <= SNAPSHOT_LEVEL) {
            levels[usize::from(file.level)].files.push(file);
        }
        for level in &mut levels {
            level.files.sort_by_key(|f| (f.min_txid, f.max_txid));
            level.disjoint = level.files.windows(2).all(|pair| pair[0].max_txid < pair[1].min_txid);
        }
        let chain = (0..usize::from(SNAPSHOT_LEVEL)).rev().filter(|&l| !levels[l].files.is_empty()).collect();
        Levels { levels, chain }
    }

    pub(super) fn of(&self, level: u8) -> &[&'a ReplicaFile] {
        &self.levels[usize::from(level)].files
    }

    /// `CalcRestorePlan` for `target` (without the time-bounds check of [`plan()`]).
    pub(super) fn plan(&self, target: Target) -> Result<Vec<&'a ReplicaFile>, PlanError> {
        let mut plan = Vec::new();

        // The newest snapshot the target allows. Snapshot files are named 1-N, so name order is
        // TXID order and the last eligible one is the newest.
        if let Some(snapshot) = self.of(SNAPSHOT_LEVEL).iter().rev().find(|f| allowed(f, target)) {
            plan.push(*snapshot);
        }
        let mut covered = plan.last().map_or(0, |f| f.max_txid);
        if let Target::Txid(txid) = target
            && covered >= txid
        {
            return Ok(plan);
        }

        while let Some(next) = self.best_next(covered, target) {
            plan.push(next);
            covered = next.max_txid;
            if let Target::Txid(txid) = target
                && covered >= txid
            {
                break;
            }
        }

        if target == Target::Latest
            && !plan.is_empty()
            && let Some(next) = self.first_start_after(covered.saturating_add(1))
        {
            return Err(PlanError::Gap { have: covered, next });
        }
        match (plan.last(), target) {
            (None, _) => Err(PlanError::NotAvailable),
            (Some(last), Target::Txid(txid)) if last.max_txid < txid => Err(PlanError::NotAvailable),
            _ => Ok(plan),
        }
    }

    /// The compaction levels a plan extends through, highest first (`SnapshotLevel - 1` down
    /// to 0; empty ones are skipped, which changes nothing).
    fn chain_levels(&self) -> impl Iterator<Item = &Level<'a>> {
        self.chain.iter().map(|&l| &self.levels[l])
    }

    /// The best file, over levels 8..0, that extends a plan covering up to `covered`.
    ///
    /// Litestream walks a cursor per level; the files a cursor passes over either end at or
    /// before what is covered or lose to the level's best, so looking at every file that starts
    /// no later than `covered + 1` picks the same one. Within a level those are a prefix in name
    /// order, found by binary search; in a disjoint level the furthest-reaching allowed one is
    /// found by a second search instead of a scan.
    pub(super) fn best_next(&self, covered: u64, target: Target) -> Option<&'a ReplicaFile> {
        let reach = covered.saturating_add(1);
        let mut best: Option<&ReplicaFile> = None;
        let mut consider = |file: &'a ReplicaFile| {
            if file.max_txid > covered && allowed(file, target) && best.is_none_or(|b| better(b, file)) {
                best = Some(file);
            }
        };
        for level in self.chain_levels() {
            let files = &level.files[..level.files.partition_point(|f| f.min_txid <= reach)];
            match target {
                Target::Latest if level.disjoint => files.last().copied().into_iter().for_each(&mut consider),
                Target::Txid(txid) if level.disjoint => {
                    let upto = files.partition_point(|f| f.max_txid <= txid);
                    files[..upto].last().copied().into_iter().for_each(&mut consider);
                }
                _ => files.iter().copied().for_each(&mut consider),
            }
        }
        best
    }

    /// The smallest start TXID after `after` in levels 8..0 (Litestream's check that "latest"
    /// has no hole: every cursor's next unread file).
    fn first_start_after(&self, after: u64) -> Option<u64> {
        self.chain_levels()
            .filter_map(|level| {
                let files = &level.files;
                files.get(files.partition_point(|f| f.min_txid <= after)).map(|f| f.min_txid)
            })
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn file(level: u8, min: u64, max: u64) -> ReplicaFile {
        ReplicaFile {
            level,
            min_txid: min,
            max_txid: max,
            size: 100 * (max - min + 1),
            created: Timestamp::from_second(1_700_000_000 + max as i64).unwrap(),
        }
    }

    fn names(plan: &[&ReplicaFile]) -> Vec<(u8, u64, u64)> {
        plan.iter().map(|f| (f.level, f.min_txid, f.max_txid)).collect()
    }

    #[test]
    fn latest_starts_from_the_newest_snapshot_and_follows_the_furthest_files() {
        let files = [
            file(9, 1, 1),
            file(9, 1, 5),
            file(1, 1, 5),
            file(1, 6, 9),
            file(0, 6, 6),
            file(0, 7, 7),
            file(0, 8, 8),
            file(0, 9, 9),
            file(0, 10, 10),
        ];
        assert_eq!(names(&plan(&files, Target::Latest).unwrap()), [(9, 1, 5), (1, 6, 9), (0, 10, 10)]);
    }

    #[test]
    fn a_txid_inside_a_compacted_range_needs_its_level_0_files() {
        // The example: `L9 1-1` and `L1 2-7` restore to 1 and 7 only.
        let files = [file(9, 1, 1), file(1, 2, 7)];
        assert_eq!(names(&plan(&files, Target::Txid(1)).unwrap()), [(9, 1, 1)]);
        assert_eq!(names(&plan(&files, Target::Txid(7)).unwrap()), [(9, 1, 1), (1, 2, 7)]);
        for txid in 2..=6 {
            assert_eq!(plan(&files, Target::Txid(txid)), Err(PlanError::NotAvailable), "{txid}");
        }
        let with_l0 = [file(9, 1, 1), file(1, 2, 7), file(0, 2, 2), file(0, 3, 3), file(0, 4, 4)];
        assert_eq!(names(&plan(&with_l0, Target::Txid(3)).unwrap()), [(9, 1, 1), (0, 2, 2), (0, 3, 3)]);
        assert_eq!(plan(&with_l0, Target::Txid(5)), Err(PlanError::NotAvailable));
    }

    #[test]
    fn without_a_snapshot_a_plan_starts_at_txid_1() {
        let files = [file(0, 1, 1), file(0, 2, 2)];
        assert_eq!(names(&plan(&files, Target::Latest).unwrap()), [(0, 1, 1), (0, 2, 2)]);
        let late = [file(0, 3, 3)];
        assert_eq!(plan(&late, Target::Latest), Err(PlanError::NotAvailable));
        assert_eq!(plan(&[], Target::Latest), Err(PlanError::NotAvailable));
    }

    #[test]
    fn latest_refuses_a_hole_that_a_txid_target_does_not_see() {
        let files = [file(9, 1, 3), file(0, 4, 4), file(0, 6, 6)];
        assert_eq!(plan(&files, Target::Latest), Err(PlanError::Gap { have: 4, next: 6 }));
        assert_eq!(names(&plan(&files, Target::Txid(4)).unwrap()), [(9, 1, 3), (0, 4, 4)]);
        assert_eq!(plan(&files, Target::Txid(6)), Err(PlanError::NotAvailable));
        assert_eq!(
            PlanError::Gap { have: 4, next: 6 }.to_string(),
            "non-contiguous ltx files: have up to 0000000000000004 but next file starts at 0000000000000006"
        );
    }

    #[test]
    fn ties_go_to_the_lower_start_then_the_higher_level() {
        let files = [file(0, 1, 1), file(0, 2, 4), file(1, 2, 4), file(2, 1, 4)];
        // From nothing: 1-4 (L2) starts lower than 2-4.
        assert_eq!(names(&plan(&files, Target::Latest).unwrap()), [(2, 1, 4)]);
        let files = [file(9, 1, 1), file(0, 2, 4), file(1, 2, 4)];
        assert_eq!(names(&plan(&files, Target::Latest).unwrap()), [(9, 1, 1), (1, 2, 4)]);
    }

    #[test]
    fn a_time_target_uses_files_created_before_it_and_checks_the_bounds() {
        let files = [file(9, 1, 1), file(0, 2, 2), file(0, 3, 3)];
        let at = |txid: i64| Timestamp::from_second(1_700_000_000 + txid).unwrap();
        assert_eq!(names(&plan(&files, Target::Before(at(3))).unwrap()), [(9, 1, 1), (0, 2, 2)]);
        assert_eq!(plan(&files, Target::Before(at(0))), Err(PlanError::TimestampOutside));
        assert_eq!(plan(&files, Target::Before(at(4))), Err(PlanError::TimestampOutside));
        assert_eq!(plan(&[], Target::Before(at(1))), Err(PlanError::NoBackups));
        // At the first file's own time nothing is strictly before it.
        assert_eq!(plan(&files, Target::Before(at(1))), Err(PlanError::NotAvailable));
    }

    #[test]
    fn overlapping_files_in_one_level_are_all_considered() {
        // Two writers left 1-5 and 2-3 in one level: name order puts 1-5 first.
        let files = [file(1, 1, 5), file(1, 2, 3), file(0, 6, 6)];
        assert_eq!(names(&plan(&files, Target::Latest).unwrap()), [(1, 1, 5), (0, 6, 6)]);
        // 2-3 starts past what nothing covers (1), and 1-5 passes TXID 3.
        assert_eq!(plan(&files, Target::Txid(3)), Err(PlanError::NotAvailable));
    }
}
