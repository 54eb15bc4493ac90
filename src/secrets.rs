//! Defence in depth: whatever a library puts in an error message, the database password
//! never reaches the terminal or the logs.

use crate::cli::Cli;
use crate::db::DbTarget;

pub fn collect(cli: &Cli) -> Vec<String> {
    cli.command
        .db_url()
        .and_then(|url| DbTarget::parse(url).ok())
        .and_then(|t| t.secret().map(str::to_owned))
        .into_iter()
        .collect()
}

pub fn scrub(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| s.len() >= 3)
        .fold(text.to_owned(), |acc, s| acc.replace(s.as_str(), "***"))
}
