//! Opaque identifiers. Each is a short ASCII token, valid by construction.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// Longest identifier accepted anywhere.
pub const MAX_ID_LEN: usize = 64;

fn check_token(kind: &str, s: &str) -> Result<(), DomainError> {
    if s.is_empty() {
        return Err(DomainError::new(kind, "must not be empty"));
    }
    if s.len() > MAX_ID_LEN {
        return Err(DomainError::new(kind, format!("must be at most {MAX_ID_LEN} characters, got {}", s.len())));
    }
    if let Some(c) = s.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))) {
        return Err(DomainError::new(kind, format!("may contain only ASCII letters, digits and - _ . : (found {c:?} in {s:?})")));
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn new(s: impl Into<String>) -> Result<Self, DomainError> {
                let s = s.into();
                check_token($kind, &s)?;
                Ok($name(s))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = DomainError;
            fn try_from(s: String) -> Result<Self, DomainError> {
                Self::new(s)
            }
        }
        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl std::str::FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, DomainError> {
                Self::new(s)
            }
        }
    };
}

id_type!(/// A person in custody. Opaque: carries no personal data.
    PersonId, "person id");
id_type!(/// A site (facility, camp, base, landing zone, destination).
    SiteId, "site id");
id_type!(/// An agency or partner (custodian and/or user organisation).
    AgencyId, "agency id");
id_type!(/// An aircraft type, e.g. `CH-47F`.
    AircraftTypeId, "aircraft type id");
id_type!(/// An airframe's tail number.
    TailNumber, "tail number");
id_type!(/// A separation group: people who must never share a sortie or holding area.
    GroupId, "separation group");

/// ISO 3166-1 alpha-3 country code (`SYR`, `IRQ`, …), upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode([u8; 3]);

impl CountryCode {
    pub fn new(s: &str) -> Result<Self, DomainError> {
        let b = s.as_bytes();
        if b.len() != 3 || !b.iter().all(u8::is_ascii_uppercase) {
            return Err(DomainError::new("country", format!("must be an ISO 3166-1 alpha-3 code like SYR, got {s:?}")));
        }
        Ok(CountryCode([b[0], b[1], b[2]]))
    }
    pub fn as_str(&self) -> &str {
        // Valid by construction: three ASCII upper-case letters.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}
impl TryFrom<String> for CountryCode {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, DomainError> {
        Self::new(&s)
    }
}
impl From<CountryCode> for String {
    fn from(c: CountryCode) -> String {
        c.as_str().to_string()
    }
}
impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_reject_bad_tokens() {
        assert!(PersonId::new("P-000001").is_ok());
        assert_eq!(PersonId::new("").unwrap_err().rule, "must not be empty");
        assert!(PersonId::new("a b").unwrap_err().rule.contains("' '"));
        assert!(PersonId::new("x".repeat(65)).is_err());
        assert!(SiteId::new("ghwayran;drop").is_err());
    }

    #[test]
    fn country_codes() {
        assert_eq!(CountryCode::new("IRQ").unwrap().as_str(), "IRQ");
        assert!(CountryCode::new("iq").is_err());
        assert!(CountryCode::new("IRQQ").is_err());
        let c: Result<CountryCode, _> = serde_json::from_str("\"SY1\"");
        assert!(c.is_err());
    }
}
