//! One file per command.

pub mod export_realm;
pub mod extract;
mod export_summary;
pub mod human_accesses;
pub mod realms;
pub mod testbed;
pub mod verify;
