//! The statuses of flow runs, of the steps they execute and of the tasks they leave for people.
//! They are stored and answered as their snake_case names (`as_str`, `parse`).

use serde::{Deserialize, Serialize};
use strum::{Display, EnumString, IntoStaticStr, VariantArray};
use utoipa::ToSchema;

/// Where a flow run is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
    Display,
    EnumString,
    IntoStaticStr,
    VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RunStatus {
    /// Due to be driven (now, or at its wake time).
    Runnable,
    /// Waiting for an event, a task, a hold's release or a deadline.
    Waiting,
    /// A call to another system is in progress under a lease.
    External,
    Completed,
    Failed,
    /// Ended on hold; a person releases the order or retries the run.
    Held,
    Cancelled,
    /// Waiting for supply; resumed where it planned when stock arrives.
    Backordered,
}

/// What became of one execution of a step.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
    Display,
    EnumString,
    IntoStaticStr,
    VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum StepStatus {
    Started,
    Waiting,
    Succeeded,
    Failed,
    Skipped,
    TimedOut,
}

/// A task a flow left for a person (`manual-review`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
    Display,
    EnumString,
    IntoStaticStr,
    VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum TaskStatus {
    Open,
    Completed,
}

macro_rules! names {
    ($($t:ty),*) => {$(
        impl $t {
            pub const ALL: &'static [Self] = <Self as VariantArray>::VARIANTS;

            pub fn as_str(self) -> &'static str {
                self.into()
            }

            pub fn parse(name: &str) -> Option<Self> {
                name.parse().ok()
            }
        }
    )*};
}
names!(RunStatus, StepStatus, TaskStatus);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_are_the_wire_names() {
        for status in RunStatus::VARIANTS {
            let wire = serde_json::to_value(status).unwrap();
            assert_eq!(wire, status.as_str());
            assert_eq!(RunStatus::parse(status.as_str()), Some(*status));
        }
        for status in StepStatus::VARIANTS {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        assert_eq!(StepStatus::TimedOut.as_str(), "timed_out");
        assert_eq!(TaskStatus::parse("open"), Some(TaskStatus::Open));
        assert_eq!(RunStatus::parse("done"), None);
    }
}
