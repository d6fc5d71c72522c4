//! Sallyport's domain model: the nouns every capability shares.
//!
//! - [`ids`]: opaque, validated identifiers ([`PersonId`], [`SiteId`], …).
//! - [`geo`]: WGS84 positions and great-circle distance.
//! - [`operation`], [`agency`], [`site`], [`person`], [`fleet`]: the records.
//! - [`scenario`]: a whole operation as one validated document (what
//!   `scenarios/*.toml` deserialise into).
//! - [`synth`]: the deterministic synthetic-population generator.
//!
//! Invariants at this boundary: this crate does no I/O. A value of a newtype
//! ([`PersonId`], [`LatLon`], …) is valid by construction; composite records
//! are checked by their `validate` method, and [`scenario::Scenario::validate`]
//! checks every record plus referential integrity. Everything that crosses into
//! the store or out to a user has passed through one of those.

pub mod agency;
pub mod error;
pub mod fleet;
pub mod geo;
pub mod ids;
pub mod operation;
pub mod person;
pub mod scenario;
pub mod site;
pub mod synth;

pub use agency::{Agency, AgencyKind};
pub use error::DomainError;
pub use fleet::{Aircraft, AircraftType, AvailabilityWindow, ConvoyRoute};
pub use geo::LatLon;
pub use ids::{AgencyId, AircraftTypeId, CountryCode, GroupId, PersonId, SiteId, TailNumber};
pub use operation::{Operation, OperationStatus};
pub use person::{
    Alias, ApproxDate, Category, EscortNeed, Identity, LegalStatus, Medical, Person, RiskClass, Sex,
};
pub use scenario::Scenario;
pub use site::{OperatingHours, Site, SiteKind};
