//! Integration tests: the real binary against a real PostgreSQL server.

mod access_facts;
mod existing_file;
mod export_errors;
mod export_fixture;
mod export_generated;
mod export_resume;
mod export_s3;
mod export_swift;
mod garage;
mod golden;
mod harness;
mod human_accesses_fixture;
mod human_accesses_generated;
mod oracle;
mod realms_report;
mod reports_common;
mod reports_errors;
mod rows;
mod schema;
mod swift;
mod testbed_cmd;
mod tls;
mod verify_db;
mod verify_file;
