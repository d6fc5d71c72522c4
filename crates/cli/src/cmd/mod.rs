//! One module per command group. Capability modules (`bio`, `threat`, `plan`,
//! `ledger`, `access`, `serve`) each belong to their capability crate's owner.

pub mod access;
pub mod bio;
pub mod demo;
pub mod disrupt;
pub mod io;
pub mod ledger;
pub mod plan;
pub mod run;
pub mod scenario;
pub mod serve;
pub mod status;
pub mod threat;
