use iom_domain::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum InsightsError {
    /// A request or definition is invalid; each field says what is wrong.
    #[error("invalid: {}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
}

impl InsightsError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        InsightsError::Invalid(vec![FieldError::new(field, message)])
    }
}
