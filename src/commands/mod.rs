//! One file per command.

pub mod export_realm;
mod export_summary;
pub mod extract;
pub mod human_accesses;
pub mod realms;
pub mod testbed;
pub mod verify;
