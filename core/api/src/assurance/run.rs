//! One verify, scrub or drill of one replica, judged and recorded the same way whoever runs it:
//! the commands (`cargo litestream verify|scrub|drill`) and the schedule ([`super::start`]).

use std::path::Path;
use std::time::Duration;

use cargo_litestream_config::{Env, Project};
use cargo_litestream_runner::Litestream;
use cargo_litestream_shell::Shell;
use serde::Serialize;

use crate::backups::history::{self, Entry, Kind};
use crate::backups::store::StoreError;
use crate::backups::{ListError, drill, scrub};
use crate::targets::{Chosen, Replica};
use crate::verify;
use crate::verify::verify as verify_database;

/// Where a check's outcome stands, whichever check it was: what its exit code is, whether the
/// history records it, and how several combine (the worst wins: failed, then unchecked).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Standing {
    Passed,
    /// Proved nothing either way (the replica unreachable, no replicate running): exit 3, and
    /// not recorded.
    Unchecked,
    Failed,
}

impl Standing {
    pub const fn exit_code(self) -> u8 {
        match self {
            Standing::Passed => 0,
            Standing::Failed => 1,
            Standing::Unchecked => 3,
        }
    }
}

/// The outcome of one kind of check (`verify::Outcome`, `scrub::Outcome`, `drill::Outcome`):
/// each has its own words, and the same [`Standing`].
pub trait Verdict: Copy + Ord + Serialize {
    /// A target that could not be checked at all.
    const UNCHECKED: Self;
    fn standing(self) -> Standing;
    fn label(self) -> &'static str;

    /// The outcome of several targets: the worst (the enums are ordered by their standing);
    /// `None` for none.
    fn worst(outcomes: impl IntoIterator<Item = Self>) -> Option<Self> {
        outcomes.into_iter().max()
    }
}

/// A check's report of one target.
pub trait Assured: Serialize {
    type Outcome: Verdict;
    const KIND: Kind;
    fn outcome(&self) -> Self::Outcome;
    fn duration_ms(&self) -> u64;
}

/// Appends `report` of the target `name` to the history in `state_dir`, unless it proved
/// nothing; `Some` says in one line why it could not be recorded (the check itself stands).
pub fn record<R: Assured>(state_dir: &Path, name: &str, report: &R) -> Option<String> {
    let standing = report.outcome().standing();
    if standing == Standing::Unchecked {
        return None;
    }
    let detail = serde_json::to_value(report).unwrap_or_default();
    let entry = Entry::new(R::KIND, name, standing == Standing::Passed, report.duration_ms(), detail);
    history::record(state_dir, &entry)
}

/// Why a scrub or a drill could not check its target at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AssuranceError {
    /// The replica, read natively, could not be listed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// litestream could not list the replica.
    #[error(transparent)]
    List(#[from] ListError),
    /// A replica that is not read natively, and no litestream to read it with (the caller
    /// locates one when [`Checks::needs_litestream`] says so).
    #[error("litestream is needed to read this replica, and none was given")]
    NoLitestream,
    /// The work folder for private restores could not be made.
    #[error("cannot create {}: {source}", path.display())]
    WorkDir { path: std::path::PathBuf, source: std::io::Error },
}

/// What the checks of a run share.
pub struct Checks<'a> {
    pub env: &'a Env,
    /// The project, when there is one: its state folder keeps scrub's memory of verified
    /// files, the private restores and the history.
    pub project: Option<&'a Project>,
    /// litestream, for drills, verifies and replicas not read natively.
    pub litestream: Option<&'a Litestream>,
    /// For notes (how a replica is checked).
    pub shell: &'a Shell,
}

impl Checks<'_> {
    /// Whether scrubbing `replicas` needs litestream (some replica is not read natively).
    pub fn needs_litestream(replicas: &[Replica<'_>]) -> bool {
        replicas.iter().any(|r| r.store.is_err())
    }

    fn litestream(&self) -> Result<&Litestream, AssuranceError> {
        self.litestream.ok_or(AssuranceError::NoLitestream)
    }

    /// Where private restores go: the project's state folder, else the system's temporary one.
    fn work_dir(&self) -> Result<std::path::PathBuf, AssuranceError> {
        let dir = self.project.map_or_else(std::env::temp_dir, |p| p.state_dir.clone());
        std::fs::create_dir_all(&dir)
            .map_err(|source| AssuranceError::WorkDir { path: dir.clone(), source })?;
        Ok(dir)
    }

    /// Scrubs `replica`: natively when it can be (remembering verified files in the project),
    /// else by restoring its latest and oldest points with litestream (`timeout` bounds each
    /// litestream run).
    pub fn scrub(
        &self,
        replica: &Replica<'_>,
        options: &scrub::ScrubOptions,
        timeout: Duration,
        progress: &mut dyn scrub::Progress,
    ) -> Result<scrub::ScrubReport, AssuranceError> {
        match &replica.store {
            Ok(store) => {
                let options = scrub::ScrubOptions {
                    memory: self.project.map(|p| scrub::memory_path(&p.state_dir, store)),
                    ..options.clone()
                };
                Ok(scrub::scrub(store, &options, progress)?)
            }
            Err(why) => {
                self.shell.note(format!(
                    "{}: {why}; checking by restoring the latest and the oldest restore point with \
                     -integrity-check full",
                    replica.name
                ));
                let (litestream, work) = (self.litestream()?, self.work_dir()?);
                Ok(scrub::by_restoring(litestream, self.env, &replica.litestream_target, &work, timeout)?)
            }
        }
    }

    /// Rehearses a restore of `replica` ([`drill::drill`]).
    pub fn drill(
        &self,
        replica: &Replica<'_>,
        options: &drill::DrillOptions,
    ) -> Result<drill::DrillReport, AssuranceError> {
        let (litestream, work) = (self.litestream()?, self.work_dir()?);
        Ok(drill::drill(litestream, self.env, &replica.litestream_target, &work, options)?)
    }

    /// Verifies the configured database `chosen` against its replica ([`verify::verify`]).
    pub fn verify(&self, chosen: &Chosen<'_>, options: &verify::VerifyOptions) -> verify::Verification {
        let (Some(project), Some(litestream)) = (self.project, self.litestream) else {
            let why = "verify needs the project and litestream, and was given neither";
            return verify::not_verifiable(chosen.name.clone(), chosen.path.clone(), why.to_owned());
        };
        let mut verification = verify_database(project, self.env, litestream, &chosen.path, options);
        verification.database.clone_from(&chosen.name);
        verification
    }
}

impl Verdict for verify::Outcome {
    const UNCHECKED: Self = verify::Outcome::Inconclusive;

    fn standing(self) -> Standing {
        match self {
            verify::Outcome::InSync => Standing::Passed,
            verify::Outcome::Inconclusive => Standing::Unchecked,
            verify::Outcome::OutOfSync => Standing::Failed,
        }
    }

    fn label(self) -> &'static str {
        verify::Outcome::label(self)
    }
}

impl Verdict for scrub::Outcome {
    const UNCHECKED: Self = scrub::Outcome::Unchecked;

    fn standing(self) -> Standing {
        match self {
            scrub::Outcome::Sound => Standing::Passed,
            scrub::Outcome::Unchecked => Standing::Unchecked,
            scrub::Outcome::Damaged => Standing::Failed,
        }
    }

    fn label(self) -> &'static str {
        scrub::Outcome::label(self)
    }
}

impl Verdict for drill::Outcome {
    const UNCHECKED: Self = drill::Outcome::Unchecked;

    fn standing(self) -> Standing {
        match self {
            drill::Outcome::Passed => Standing::Passed,
            drill::Outcome::Unchecked => Standing::Unchecked,
            drill::Outcome::Failed => Standing::Failed,
        }
    }

    fn label(self) -> &'static str {
        drill::Outcome::label(self)
    }
}

impl Assured for verify::Verification {
    type Outcome = verify::Outcome;
    const KIND: Kind = Kind::Verify;

    fn outcome(&self) -> verify::Outcome {
        self.outcome
    }

    fn duration_ms(&self) -> u64 {
        self.duration_ms
    }
}

impl Assured for scrub::ScrubReport {
    type Outcome = scrub::Outcome;
    const KIND: Kind = Kind::Scrub;

    fn outcome(&self) -> scrub::Outcome {
        self.outcome
    }

    fn duration_ms(&self) -> u64 {
        self.duration_ms
    }
}

impl Assured for drill::DrillReport {
    type Outcome = drill::Outcome;
    const KIND: Kind = Kind::Drill;

    fn outcome(&self) -> drill::Outcome {
        self.outcome
    }

    fn duration_ms(&self) -> u64 {
        self.duration_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each kind's outcomes are ordered as their standing, so the worst is the same rule for
    /// all three, and each exit code is its standing's.
    #[test]
    fn every_outcome_ranks_and_exits_as_its_standing() {
        fn check<V: Verdict + std::fmt::Debug>(all: [V; 3]) {
            let standings = all.map(V::standing);
            assert_eq!(standings, [Standing::Passed, Standing::Unchecked, Standing::Failed], "{all:?}");
            assert!(all.windows(2).all(|w| w[0] < w[1]), "{all:?}");
            assert_eq!(V::worst(all), Some(all[2]));
            assert_eq!(V::UNCHECKED.standing(), Standing::Unchecked);
        }
        check([verify::Outcome::InSync, verify::Outcome::Inconclusive, verify::Outcome::OutOfSync]);
        check([scrub::Outcome::Sound, scrub::Outcome::Unchecked, scrub::Outcome::Damaged]);
        check([drill::Outcome::Passed, drill::Outcome::Unchecked, drill::Outcome::Failed]);
        assert_eq!(
            [Standing::Passed, Standing::Failed, Standing::Unchecked].map(Standing::exit_code),
            [0, 1, 3]
        );
    }
}
