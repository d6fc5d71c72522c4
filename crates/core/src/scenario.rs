//! A whole operation as one document: `scenarios/*.toml`.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ensure;
use crate::{
    Agency, Aircraft, AircraftType, AircraftTypeId, ConvoyRoute, DomainError, Operation, Site, SiteId,
    TailNumber,
};

/// Movement rules every plan must respect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferRules {
    /// Guards per detainee on board, by risk class (`low`, `medium`, `high`, `critical`).
    pub guards_per_detainee: BTreeMap<String, f64>,
    /// Escorts on every sortie carrying women or minors (they fly apart from men).
    pub escorts_for_women_and_minors: u32,
    /// Seats a stretcher case takes.
    pub stretcher_seats: u32,
    /// Average mass per seat (person plus kit), kg.
    pub kg_per_seat: u32,
    /// Latest local hour a non-night-capable aircraft may land (day flying only).
    pub day_start_hour: u32,
    pub day_end_hour: u32,
}

impl Default for TransferRules {
    fn default() -> Self {
        TransferRules {
            guards_per_detainee: [("low", 0.1), ("medium", 0.2), ("high", 0.34), ("critical", 0.5)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            escorts_for_women_and_minors: 2,
            stretcher_seats: 3,
            kg_per_seat: 110,
            day_start_hour: 6,
            day_end_hour: 18,
        }
    }
}

impl TransferRules {
    pub fn validate(&self) -> Result<(), DomainError> {
        for r in crate::RiskClass::ALL {
            let v = self.guards_per_detainee.get(r.as_str()).copied();
            ensure(matches!(v, Some(x) if x.is_finite() && (0.0..=4.0).contains(&x)), "guards_per_detainee", || {
                format!("needs a ratio within 0..=4 for risk class {}", r.as_str())
            })?;
        }
        ensure(self.day_start_hour < self.day_end_hour && self.day_end_hour <= 24, "day_end_hour", || {
            "day hours must satisfy start < end <= 24".into()
        })
    }
}

/// A group of identical airframes at one base: expands to `count` tails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetGroup {
    #[serde(rename = "type")]
    pub type_id: AircraftTypeId,
    pub base: SiteId,
    pub count: u32,
    pub tail_prefix: String,
}

/// How the synthetic population is drawn; see [`crate::synth`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PopulationSpec {
    pub seed: u64,
    /// Nationality weights by ISO alpha-3 code.
    pub nationality: BTreeMap<String, f64>,
    /// Risk class weights.
    pub risk: BTreeMap<String, f64>,
    /// Share of people in a separation group.
    pub separated_share: f64,
    /// Share of people with at least one alias.
    pub alias_share: f64,
}

/// Per-site category mix and deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OriginSpec {
    pub site: SiteId,
    /// Category weights (`adult_male`, `adult_female`, `minor`).
    pub categories: BTreeMap<String, f64>,
    /// Site must be empty by then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    pub operation: Operation,
    #[serde(default)]
    pub rules: TransferRules,
    pub agencies: Vec<Agency>,
    pub sites: Vec<Site>,
    pub aircraft_types: Vec<AircraftType>,
    pub fleet: Vec<FleetGroup>,
    #[serde(default)]
    pub convoys: Vec<ConvoyRoute>,
    pub origins: Vec<OriginSpec>,
    pub population: PopulationSpec,
}

impl Scenario {
    /// Every aircraft of the fleet groups, tails `<prefix><nn>`.
    pub fn aircraft(&self) -> Result<Vec<Aircraft>, DomainError> {
        let mut out = Vec::new();
        for g in &self.fleet {
            for n in 1..=g.count {
                out.push(Aircraft {
                    tail: TailNumber::new(format!("{}{n:02}", g.tail_prefix))?,
                    type_id: g.type_id.clone(),
                    base: g.base.clone(),
                    availability: Vec::new(),
                });
            }
        }
        Ok(out)
    }

    /// Check every record and every reference between them.
    pub fn validate(&self) -> Result<(), DomainError> {
        self.operation.validate().map_err(|e| e.within("operation"))?;
        self.rules.validate().map_err(|e| e.within("rules"))?;
        let agencies = unique("agencies", self.agencies.iter().map(|a| &a.id))?;
        for (i, a) in self.agencies.iter().enumerate() {
            a.validate().map_err(|e| e.within(format!("agencies[{i}]")))?;
        }
        let sites = unique("sites", self.sites.iter().map(|s| &s.id))?;
        for (i, s) in self.sites.iter().enumerate() {
            let at = || format!("sites[{i}]");
            s.validate().map_err(|e| e.within(at()))?;
            known(&agencies, &s.operator, "operator", "agency").map_err(|e| e.within(at()))?;
        }
        let types = unique("aircraft_types", self.aircraft_types.iter().map(|t| &t.id))?;
        for (i, t) in self.aircraft_types.iter().enumerate() {
            t.validate().map_err(|e| e.within(format!("aircraft_types[{i}]")))?;
        }
        for (i, g) in self.fleet.iter().enumerate() {
            let at = || format!("fleet[{i}]");
            known(&types, &g.type_id, "type", "aircraft type").map_err(|e| e.within(at()))?;
            known(&sites, &g.base, "base", "site").map_err(|e| e.within(at()))?;
            ensure(g.count > 0, "count", || "must be at least 1".into()).map_err(|e| e.within(at()))?;
        }
        unique("fleet tails", self.aircraft()?.iter().map(|a| &a.tail))?;
        for (i, c) in self.convoys.iter().enumerate() {
            let at = || format!("convoys[{i}]");
            c.validate().map_err(|e| e.within(at()))?;
            known(&sites, &c.from, "from", "site").map_err(|e| e.within(at()))?;
            known(&sites, &c.to, "to", "site").map_err(|e| e.within(at()))?;
        }
        unique("origins", self.origins.iter().map(|o| &o.site))?;
        for (i, o) in self.origins.iter().enumerate() {
            let at = || format!("origins[{i}]");
            known(&sites, &o.site, "site", "site").map_err(|e| e.within(at()))?;
            let kind = self.sites.iter().find(|s| s.id == o.site).map(|s| s.kind);
            ensure(kind.is_some_and(|k| k.is_origin()), "site", || "must be a detention facility or camp".into())
                .map_err(|e| e.within(at()))?;
            weights(&o.categories, &["adult_male", "adult_female", "minor"]).map_err(|e| e.within(format!("{}.categories", at())))?;
        }
        ensure(self.sites.iter().any(|s| s.kind == crate::SiteKind::Destination), "sites", || {
            "needs a destination".into()
        })?;
        let p = &self.population;
        weights(&p.risk, &["low", "medium", "high", "critical"]).map_err(|e| e.within("population.risk"))?;
        ensure(!p.nationality.is_empty(), "population.nationality", || "needs at least one nationality".into())?;
        for (k, v) in &p.nationality {
            crate::CountryCode::new(k).map_err(|e| e.within("population.nationality"))?;
            ensure(v.is_finite() && *v >= 0.0, "population.nationality", || format!("weight of {k} must be >= 0"))?;
        }
        for (f, v) in [("separated_share", p.separated_share), ("alias_share", p.alias_share)] {
            ensure((0.0..=1.0).contains(&v), &format!("population.{f}"), || "must be within 0..=1".into())?;
        }
        Ok(())
    }

    pub fn site(&self, id: &SiteId) -> Option<&Site> {
        self.sites.iter().find(|s| &s.id == id)
    }

    /// Total reported population of the origin sites.
    pub fn total_population(&self) -> u64 {
        self.origins.iter().filter_map(|o| self.site(&o.site)).map(|s| s.population as u64).sum()
    }
}

fn unique<'a, T: std::fmt::Display + Eq + std::hash::Hash + 'a>(
    what: &str,
    ids: impl Iterator<Item = &'a T>,
) -> Result<HashSet<&'a T>, DomainError> {
    let mut seen = HashSet::new();
    for id in ids {
        if !seen.insert(id) {
            return Err(DomainError::new(what, format!("duplicate id {id}")));
        }
    }
    Ok(seen)
}

fn known<T: std::fmt::Display + Eq + std::hash::Hash>(
    set: &HashSet<&T>,
    id: &T,
    field: &str,
    what: &str,
) -> Result<(), DomainError> {
    ensure(set.contains(id), field, || format!("unknown {what} {id}"))
}

fn weights(w: &BTreeMap<String, f64>, allowed: &[&str]) -> Result<(), DomainError> {
    for (k, v) in w {
        ensure(allowed.contains(&k.as_str()), k, || format!("unknown key; expected one of {}", allowed.join(", ")))?;
        ensure(v.is_finite() && *v >= 0.0, k, || "weight must be >= 0".into())?;
    }
    ensure(w.values().sum::<f64>() > 0.0, "", || "weights must not all be zero".into())
}
