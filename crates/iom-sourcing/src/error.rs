use thiserror::Error;

/// What can go wrong when the engine is given its data. Planning itself never fails: a line that
/// cannot be sourced is reported in the plan with its reason.
#[derive(Debug, Error, PartialEq)]
pub enum SourcingError {
    #[error("node code {0:?} appears more than once")]
    DuplicateNode(String),
    #[error("node code must not be empty")]
    EmptyNodeCode,
    #[error("unknown node {0:?}")]
    UnknownNode(String),
    #[error("node group {0:?} appears more than once")]
    DuplicateGroup(String),
    #[error("node group {group:?} names unknown node {node:?}")]
    UnknownGroupMember { group: String, node: String },
    #[error("node {node:?}: {message}")]
    InvalidNode { node: String, message: String },
    #[error("postal centroid table, line {line}: {message}")]
    CentroidCsv { line: usize, message: String },
    #[error("availability holds {actual} nodes but the network has {expected}")]
    NetworkMismatch { expected: usize, actual: usize },
    #[error("the MIP solver failed: {0}")]
    Solver(String),
}
