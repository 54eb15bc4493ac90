//! Defence in depth: whatever a library puts in an error message, the database password
//! never reaches the terminal or the logs.

use crate::cli::{Cli, Command};
use crate::db::DbTarget;

pub fn collect(cli: &Cli) -> Vec<String> {
    let mut out = Vec::new();
    match &cli.command {
        Command::ExportRealm(args) => {
            if let Ok(t) = DbTarget::parse(&args.db.db) {
                out.extend(t.secret().map(str::to_owned));
            }
        }
    }
    out
}

pub fn scrub(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| s.len() >= 3)
        .fold(text.to_owned(), |acc, s| acc.replace(s.as_str(), "***"))
}
