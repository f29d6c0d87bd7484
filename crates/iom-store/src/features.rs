//! What features keep for the length of a write job, held by the writer without its knowing what
//! is in it.
//!
//! The store's core (the connections of [`crate::db`], the group-commit writer and its `Tx` in
//! [`crate::writer`]) names no feature: a feature that needs state of its own per job (what it
//! read once and may trust until the job ends, changes it holds back to write once per
//! transaction) defines a [`JobPart`] in its own module and is listed in [`JobState`] and
//! [`GroupState`] here, the one place that knows which features there are. The writer only calls
//! their hooks at the points of a job's life that matter to such state: a savepoint taken
//! ([`JobState::mark`]) and rolled back ([`JobState::rolled_back`]), a job that succeeded
//! ([`JobState::merge_into`] its group's state), and the moment before `COMMIT`
//! ([`GroupState::before_commit`]).
//!
//! The parts are fields of fixed structs, so the hooks are plain calls, a few per job, and nothing
//! is added to a statement's path: a connection that serves a job hands its part to the feature
//! through [`crate::Conn::job_state`], and a `Tx` through `Tx::job_mut`.

use crate::StoreError;
use crate::db::Conn;
use crate::{insights, inventory};

/// A feature's state for one write job, and what it keeps for the group commit the job is part
/// of. Created empty ([`Default`]) for each job and each group.
pub(crate) trait JobPart: Default {
    /// Where the job stood when a savepoint was taken.
    type Mark: Copy;
    /// The state kept for the whole transaction, from every job of it that succeeded.
    type Group: Default;

    fn mark(&self) -> Self::Mark;

    /// The savepoint taken at `mark` was rolled back: what the work inside it did to the database
    /// is undone, and so must be what the part learnt or held back since.
    fn rolled_back(&mut self, mark: Self::Mark);

    /// The job succeeded: its state joins the group's. A failed job's state is dropped.
    fn merge_into(self, group: &mut Self::Group);

    /// Just before the transaction commits, on the writer's connection: writes what the jobs
    /// held back. An error rolls the transaction back.
    fn before_commit(group: Self::Group, conn: &mut dyn Conn) -> Result<(), StoreError>;
}

/// The mark or the group state of a part that needs none.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Nothing;

/// Every feature's state for one write job.
#[derive(Default)]
pub struct JobState {
    /// Roll-up changes held back until the commit.
    pub(crate) rollups: insights::DeferredRollups,
    /// Balance rows the job locked, and how often it wrote balances.
    pub(crate) positions: inventory::JobPositions,
}

/// Where a job stood when a savepoint was taken, for every feature.
#[derive(Clone, Copy)]
pub(crate) struct JobMark {
    rollups: <insights::DeferredRollups as JobPart>::Mark,
    positions: <inventory::JobPositions as JobPart>::Mark,
}

/// Every feature's state for one transaction (one group commit).
#[derive(Default)]
pub(crate) struct GroupState {
    rollups: <insights::DeferredRollups as JobPart>::Group,
    positions: <inventory::JobPositions as JobPart>::Group,
}

impl JobState {
    pub(crate) fn mark(&self) -> JobMark {
        JobMark {
            rollups: self.rollups.mark(),
            positions: self.positions.mark(),
        }
    }

    pub(crate) fn rolled_back(&mut self, mark: JobMark) {
        self.rollups.rolled_back(mark.rollups);
        self.positions.rolled_back(mark.positions);
    }

    pub(crate) fn merge_into(self, group: &mut GroupState) {
        self.rollups.merge_into(&mut group.rollups);
        self.positions.merge_into(&mut group.positions);
    }
}

impl GroupState {
    pub(crate) fn before_commit(self, conn: &mut dyn Conn) -> Result<(), StoreError> {
        insights::DeferredRollups::before_commit(self.rollups, conn)?;
        inventory::JobPositions::before_commit(self.positions, conn)
    }
}
