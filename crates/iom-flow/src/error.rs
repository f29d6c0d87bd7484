use std::fmt;

use serde::{Deserialize, Serialize};

use crate::source::Pos;

/// One problem of a definition, at the place it was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("line {line}, column {column}: {}{message}", path_prefix(.path))]
pub struct CompileError {
    pub line: usize,
    pub column: usize,
    /// Where in the document, e.g. `steps[2].with.node`; empty for the document itself.
    pub path: String,
    pub message: String,
}

fn path_prefix(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

impl CompileError {
    pub fn new(pos: Pos, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            line: pos.line,
            column: pos.column,
            path: path.into(),
            message: message.into(),
        }
    }

    pub fn pos(&self) -> Pos {
        Pos::new(self.line, self.column)
    }
}

/// Every problem of a definition at once, in the order they appear in the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct CompileErrors(pub Vec<CompileError>);

impl fmt::Display for CompileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl CompileErrors {
    pub fn iter(&self) -> impl Iterator<Item = &CompileError> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Collects errors while a pass goes on, so that one run reports them all.
#[derive(Debug, Default)]
pub(crate) struct Errors(Vec<CompileError>);

impl Errors {
    pub fn push(&mut self, pos: Pos, path: &str, message: impl Into<String>) {
        self.0.push(CompileError::new(pos, path, message));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_result<T>(mut self, value: T) -> Result<T, CompileErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            // Stable order by place, so that output and tests do not depend on pass order.
            self.0.sort_by_key(|e| (e.line, e.column));
            self.0.dedup();
            Err(CompileErrors(self.0))
        }
    }
}

/// Errors of evaluating a policy or an expression against an order.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error("expression {expression:?} failed: {message}")]
    Execution { expression: String, message: String },
    #[error("expression {expression:?} returned {found}, expected {expected}")]
    WrongType {
        expression: String,
        expected: &'static str,
        found: String,
    },
    #[error("expression {expression:?} does not compile: {message}")]
    Compile { expression: String, message: String },
    #[error("cannot present the order to expressions: {0}")]
    Order(String),
}
