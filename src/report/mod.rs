//! Read-only reports that help an operator find what to export: who had access to which
//! realm and when (`human_accesses`), and what each realm is and weighs (`realms`).
//!
//! Each report is read from one REPEATABLE READ READ ONLY transaction (see `session`), built
//! into a plain data model, then rendered as text or as one JSON document.

pub mod human_accesses;
pub(crate) mod json;
pub mod output;
pub mod realms;
pub mod session;
pub mod style;
