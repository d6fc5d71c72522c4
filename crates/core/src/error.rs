//! The one error type of the domain model.

/// A domain rule was broken. `field` names where (e.g. `sites[3].position.lat`),
/// `rule` says what the value must satisfy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct DomainError {
    pub field: String,
    pub rule: String,
}

impl DomainError {
    pub fn new(field: impl Into<String>, rule: impl Into<String>) -> Self {
        DomainError { field: field.into(), rule: rule.into() }
    }

    /// Prefix the field path, e.g. `position.lat` becomes `sites[3].position.lat`.
    pub fn within(mut self, parent: impl std::fmt::Display) -> Self {
        self.field = if self.field.is_empty() { parent.to_string() } else { format!("{parent}.{}", self.field) };
        self
    }
}

/// Fail with `rule` at `field` unless `ok`.
pub(crate) fn ensure(ok: bool, field: &str, rule: impl FnOnce() -> String) -> Result<(), DomainError> {
    if ok { Ok(()) } else { Err(DomainError::new(field, rule())) }
}
