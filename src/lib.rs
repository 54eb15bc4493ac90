//! parsec-sequester: export a Parsec v3 realm out of a server's PostgreSQL database and
//! blockstore into one realm-export SQLite file.

pub mod blockstore;
pub mod cli;
pub mod commands;
pub mod db;
pub mod error;
pub mod export;
pub mod extract;
pub mod format;
pub mod ids;
pub mod parsec;
pub mod progress;
pub mod report;
pub mod secrets;
pub mod testbed;
pub mod trust;
pub mod verify;
