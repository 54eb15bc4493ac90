//! Defence in depth: whatever a library puts in an error message, the database password
//! never reaches the terminal or the logs.

use crate::cli::{Cli, Command};
use crate::db::DbTarget;

pub fn collect(cli: &Cli) -> Vec<String> {
    use crate::commands::testbed::TestbedCommand;
    let db_url = match &cli.command {
        Command::ExportRealm(args) => &args.db.db,
        Command::Testbed(TestbedCommand::Populate(args)) => &args.db,
    };
    DbTarget::parse(db_url)
        .ok()
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
