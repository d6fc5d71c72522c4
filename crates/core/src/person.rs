//! People in custody. Synthetic people only, anywhere in code, tests or demos.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::error::ensure;
use crate::{AgencyId, CountryCode, DomainError, GroupId, PersonId, SiteId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
}

/// Categories fly apart, each with its own escorts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    AdultMale,
    AdultFemale,
    Minor,
}

/// Risk class; drives the guard ratio on a sortie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskClass {
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscortNeed {
    None,
    Medical,
    Stretcher,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegalStatus {
    Detained,
    AwaitingTrial,
    Charged,
    Convicted,
    ForRepatriation,
}

macro_rules! str_enum {
    ($t:ty { $($v:ident => $s:literal),+ $(,)? }) => {
        impl $t {
            pub const ALL: &'static [$t] = &[$(<$t>::$v),+];
            pub fn as_str(self) -> &'static str {
                match self { $(<$t>::$v => $s),+ }
            }
            /// Parse the snake_case name used in files and the database.
            pub fn parse(s: &str) -> Result<Self, DomainError> {
                match s {
                    $($s => Ok(<$t>::$v),)+
                    _ => Err(DomainError::new(
                        "",
                        format!("unknown value {s:?}; expected one of: {}", [$($s),+].join(", ")),
                    )),
                }
            }
        }
    };
}

str_enum!(Sex { Male => "male", Female => "female" });
str_enum!(Category { AdultMale => "adult_male", AdultFemale => "adult_female", Minor => "minor" });
str_enum!(RiskClass { Low => "low", Medium => "medium", High => "high", Critical => "critical" });
str_enum!(EscortNeed { None => "none", Medical => "medical", Stretcher => "stretcher" });
str_enum!(LegalStatus {
    Detained => "detained",
    AwaitingTrial => "awaiting_trial",
    Charged => "charged",
    Convicted => "convicted",
    ForRepatriation => "for_repatriation",
});

/// A date of birth that may be known only to the year or month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApproxDate {
    pub year: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub month: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<u8>,
}

impl ApproxDate {
    pub fn validate(&self) -> Result<(), DomainError> {
        ensure((1900..=2100).contains(&self.year), "year", || format!("{} is not a plausible birth year", self.year))?;
        match (self.month, self.day) {
            (None, Some(_)) => Err(DomainError::new("day", "a day needs a month")),
            (Some(m), d) => {
                ensure((1..=12).contains(&m), "month", || format!("{m} is not a month"))?;
                if let Some(d) = d {
                    ensure(NaiveDate::from_ymd_opt(self.year.into(), m.into(), d.into()).is_some(), "day", || {
                        format!("{}-{m:02}-{d:02} is not a date", self.year)
                    })?;
                }
                Ok(())
            }
            (None, None) => Ok(()),
        }
    }

    /// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let bad = || DomainError::new("", format!("{s:?} is not YYYY, YYYY-MM or YYYY-MM-DD"));
        let mut parts = s.split('-');
        let num = |p: Option<&str>, len: usize| -> Result<Option<u16>, DomainError> {
            match p {
                None => Ok(None),
                Some(p) if p.len() == len && p.bytes().all(|b| b.is_ascii_digit()) => Ok(p.parse().ok()),
                Some(_) => Err(bad()),
            }
        };
        let year = num(parts.next(), 4)?.ok_or_else(bad)?;
        let month = num(parts.next(), 2)?.map(|m| m as u8);
        let day = num(parts.next(), 2)?.map(|d| d as u8);
        if parts.next().is_some() {
            return Err(bad());
        }
        let d = ApproxDate { year, month, day };
        d.validate()?;
        Ok(d)
    }

    /// Age in whole years at `on`, taking the earliest possible birth date.
    pub fn max_age_on(&self, on: NaiveDate) -> i32 {
        let (m, d) = (self.month.unwrap_or(1) as u32, self.day.unwrap_or(1) as u32);
        let mut age = on.year() - self.year as i32;
        if (on.month(), on.day()) < (m, d) {
            age -= 1;
        }
        age
    }
}

impl std::fmt::Display for ApproxDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}", self.year)?;
        if let Some(m) = self.month {
            write!(f, "-{m:02}")?;
        }
        if let Some(d) = self.day {
            write!(f, "-{d:02}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    /// The alias in Arabic script, if recorded.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name_ar: String,
    /// The alias in Latin transliteration.
    pub name_latin: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// Full name in Arabic script.
    pub name_ar: String,
    /// Latin transliteration of `name_ar`.
    pub name_latin: String,
    #[serde(default)]
    pub aliases: Vec<Alias>,
    pub date_of_birth: ApproxDate,
    pub sex: Sex,
    pub nationality: CountryCode,
}

/// True for letters of the Arabic Unicode blocks.
pub fn is_arabic_letter(c: char) -> bool {
    matches!(c, '\u{0600}'..='\u{06FF}' | '\u{0750}'..='\u{077F}' | '\u{08A0}'..='\u{08FF}' | '\u{FB50}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFF}')
}

fn check_arabic(field: &str, s: &str) -> Result<(), DomainError> {
    ensure(!s.trim().is_empty(), field, || "must not be blank".into())?;
    ensure(s.chars().count() <= 200, field, || "must be at most 200 characters".into())?;
    match s.chars().find(|&c| !(is_arabic_letter(c) || c == ' ')) {
        Some(c) => Err(DomainError::new(field, format!("must be in Arabic script (found {c:?})"))),
        None => Ok(()),
    }
}

fn check_latin(field: &str, s: &str) -> Result<(), DomainError> {
    ensure(!s.trim().is_empty(), field, || "must not be blank".into())?;
    ensure(s.chars().count() <= 200, field, || "must be at most 200 characters".into())?;
    match s.chars().find(|&c| !(c.is_alphabetic() || matches!(c, ' ' | '\'' | '-' | 'ʿ' | 'ʾ' | '.'))) {
        Some(c) => Err(DomainError::new(field, format!("must be a Latin transliteration (found {c:?})"))),
        None => Ok(()),
    }
}

impl Identity {
    pub fn validate(&self) -> Result<(), DomainError> {
        check_arabic("name_ar", &self.name_ar)?;
        check_latin("name_latin", &self.name_latin)?;
        for (i, a) in self.aliases.iter().enumerate() {
            if !a.name_ar.is_empty() {
                check_arabic("name_ar", &a.name_ar).map_err(|e| e.within(format!("aliases[{i}]")))?;
            }
            check_latin("name_latin", &a.name_latin).map_err(|e| e.within(format!("aliases[{i}]")))?;
        }
        self.date_of_birth.validate().map_err(|e| e.within("date_of_birth"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Medical {
    pub fit_to_fly: bool,
    pub escort: EscortNeed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub id: PersonId,
    pub identity: Identity,
    pub category: Category,
    pub risk: RiskClass,
    /// People sharing a group must never share a sortie or holding area.
    #[serde(default)]
    pub separation_groups: Vec<GroupId>,
    pub medical: Medical,
    pub legal_status: LegalStatus,
    /// The one agency holding this person now.
    pub custodian: AgencyId,
    /// Where this person is now.
    pub site: SiteId,
}

impl Person {
    /// Check the record on its own; `on` is the reference date for age rules.
    pub fn validate(&self, on: NaiveDate) -> Result<(), DomainError> {
        self.identity.validate().map_err(|e| e.within("identity"))?;
        let age = self.identity.date_of_birth.max_age_on(on);
        ensure(age >= 0, "identity.date_of_birth", || format!("{} is after {on}", self.identity.date_of_birth))?;
        match self.category {
            Category::Minor => ensure(age < 18, "category", || format!("a minor must be under 18 on {on}, this person may be {age}")),
            Category::AdultMale => ensure(
                self.identity.sex == Sex::Male && age >= 17,
                "category",
                || "adult_male needs sex male and age 18 or over (17 allowed for an uncertain date)".into(),
            ),
            Category::AdultFemale => ensure(
                self.identity.sex == Sex::Female && age >= 17,
                "category",
                || "adult_female needs sex female and age 18 or over (17 allowed for an uncertain date)".into(),
            ),
        }?;
        let mut groups = self.separation_groups.clone();
        groups.sort();
        groups.dedup();
        ensure(groups.len() == self.separation_groups.len(), "separation_groups", || "lists a group twice".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approx_dates() {
        assert_eq!(ApproxDate::parse("1990").unwrap().to_string(), "1990");
        assert_eq!(ApproxDate::parse("1990-02").unwrap().to_string(), "1990-02");
        assert!(ApproxDate::parse("1990-02-30").is_err());
        assert!(ApproxDate::parse("1990-2").is_err());
        assert!(ApproxDate::parse("90").is_err());
        assert!(ApproxDate::parse("1990-01-01-01").is_err());
        let on = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
        assert_eq!(ApproxDate::parse("2008-01-16").unwrap().max_age_on(on), 17);
        assert_eq!(ApproxDate::parse("2008-01-15").unwrap().max_age_on(on), 18);
    }

    #[test]
    fn scripts() {
        assert!(check_arabic("n", "أحمد سالم").is_ok());
        assert!(check_arabic("n", "Ahmad").is_err());
        assert!(check_latin("n", "Ahmad Salim al-Ubaydi").is_ok());
        assert!(check_latin("n", "Ahmad1").is_err());
    }

    #[test]
    fn enum_parse_lists_choices() {
        assert_eq!(RiskClass::parse("high").unwrap(), RiskClass::High);
        let e = RiskClass::parse("extreme").unwrap_err();
        assert!(e.rule.contains("low, medium, high, critical"), "{e}");
    }
}
