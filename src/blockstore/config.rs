//! The `--blockstore` option, spelled as Parsec's server accepts it (reference §5.1).

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockstoreConfig {
    /// Blocks in the `block_data` table of the `--db` database.
    Postgresql,
}

/// Parses every value given (the option may be repeated; the environment variable may hold
/// several values separated by whitespace).
pub fn parse_blockstore_configs(values: &[String]) -> Result<Vec<BlockstoreConfig>> {
    let values: Vec<&str> = values.iter().flat_map(|v| v.split_whitespace()).collect();
    if values.is_empty() {
        return Err(Error::Usage(
            "missing --blockstore: give the blockstore configuration of the Parsec server (e.g. --blockstore POSTGRESQL)".into(),
        ));
    }
    if values.len() > 1 {
        return Err(Error::BlockstoreConfig(format!(
            "{} --blockstore values given: RAID configurations are not supported yet; only POSTGRESQL is",
            values.len()
        )));
    }
    parse_one(values[0]).map(|c| vec![c])
}

fn parse_one(value: &str) -> Result<BlockstoreConfig> {
    // Only the type prefix is ever shown: the rest can hold credentials.
    let kind = value.split(':').next().unwrap_or("");
    match kind.to_ascii_uppercase().as_str() {
        "POSTGRESQL" if value.len() == kind.len() => Ok(BlockstoreConfig::Postgresql),
        "MOCKED" => Err(Error::BlockstoreConfig(
            "--blockstore MOCKED is an in-memory store for Parsec's tests: it holds no data to export. Give the server's real blockstore configuration".into(),
        )),
        "S3" | "SWIFT" | "RAID0" | "RAID1" | "RAID5" => Err(Error::BlockstoreConfig(format!(
            "--blockstore {kind}:… is not supported yet; only POSTGRESQL is in this version"
        ))),
        _ => Err(Error::BlockstoreConfig(format!(
            "invalid blockstore type `{kind}`: expected POSTGRESQL, s3:…, swift:… or RAID0/RAID1/RAID5:…"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgresql_is_case_insensitive() {
        assert_eq!(
            parse_blockstore_configs(&["postgresql".into()]).unwrap(),
            vec![BlockstoreConfig::Postgresql]
        );
    }

    #[test]
    fn unsupported_and_invalid_values_never_echo_secrets() {
        for v in [
            "s3::region:bucket:key:TopSecret",
            "swift:u:t:c:u:TopSecret",
            "foo:TopSecret",
        ] {
            let err = parse_blockstore_configs(&[v.into()])
                .unwrap_err()
                .to_string();
            assert!(!err.contains("TopSecret"), "{err}");
        }
        let err = parse_blockstore_configs(&["MOCKED".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("MOCKED"), "{err}");
        assert!(parse_blockstore_configs(&[]).is_err());
    }
}
