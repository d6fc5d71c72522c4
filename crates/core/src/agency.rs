//! Agencies and partners: custodians of people and users of the system.

use serde::{Deserialize, Serialize};

use crate::error::ensure;
use crate::{AgencyId, CountryCode, DomainError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgencyKind {
    Intelligence,
    Military,
    Police,
    Diplomatic,
    PartnerForce,
    ReceivingGovernment,
    Humanitarian,
}

impl AgencyKind {
    pub const ALL: [AgencyKind; 7] = [
        Self::Intelligence,
        Self::Military,
        Self::Police,
        Self::Diplomatic,
        Self::PartnerForce,
        Self::ReceivingGovernment,
        Self::Humanitarian,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Intelligence => "intelligence",
            Self::Military => "military",
            Self::Police => "police",
            Self::Diplomatic => "diplomatic",
            Self::PartnerForce => "partner_force",
            Self::ReceivingGovernment => "receiving_government",
            Self::Humanitarian => "humanitarian",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agency {
    pub id: AgencyId,
    pub name: String,
    pub kind: AgencyKind,
    /// The country the agency belongs to (drives REL TO releasability).
    pub country: CountryCode,
}

impl Agency {
    pub fn validate(&self) -> Result<(), DomainError> {
        ensure(!self.name.trim().is_empty(), "name", || "must not be blank".into())
    }
}
