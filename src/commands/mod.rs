//! One file per command.

pub mod export_realm;
pub mod testbed;
pub mod verify;
