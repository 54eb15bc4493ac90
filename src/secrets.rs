//! Defence in depth: whatever a library puts in an error message, the database password
//! never reaches the terminal or the logs.

use crate::blockstore::{parse_blockstore_configs, BlockstoreConfig, SingleStore};
use crate::cli::Cli;
use crate::db::DbTarget;

pub fn collect(cli: &Cli) -> Vec<String> {
    collect_from(cli.command.db_url(), cli.command.blockstore_values())
}

/// The secrets in a database URL and `--blockstore` values.
pub fn collect_from(db_url: Option<&str>, blockstore: &[String]) -> Vec<String> {
    let mut out: Vec<String> = db_url
        .and_then(|url| DbTarget::parse(url).ok())
        .and_then(|t| t.secret().map(str::to_owned))
        .into_iter()
        .collect();
    if let Ok(config) = parse_blockstore_configs(blockstore) {
        let nodes = match config {
            BlockstoreConfig::Single(s) => vec![s],
            BlockstoreConfig::Raid(_, nodes) => nodes,
        };
        for node in nodes {
            match node {
                SingleStore::S3(c) => out.push(c.secret),
                SingleStore::Swift(c) => out.push(c.password),
                SingleStore::Postgresql => {}
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
