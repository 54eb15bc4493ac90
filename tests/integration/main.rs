//! Integration tests: the real binary against a real PostgreSQL server.

mod existing_file;
mod export_errors;
mod export_fixture;
mod export_generated;
mod export_resume;
mod harness;
mod oracle;
mod rows;
mod schema;
mod verify_db;
mod verify_file;
