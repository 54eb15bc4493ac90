//! The `--blockstore` option, spelled exactly as Parsec's server accepts it (reference §5.1):
//! `POSTGRESQL`, `MOCKED` (refused), `s3:[<endpoint>]:<region>:<bucket>:<key>:<secret>`,
//! `swift:<auth_url>:<tenant>:<container>:<user>:<password>`, and repeated
//! `RAID0|RAID1|RAID5:<node index>:<single store>` values. Error messages never echo a value
//! past its type prefix: the rest can hold credentials.

use std::fmt;

use crate::error::{Error, Result};

#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    /// None: the provider's default (AWS).
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    pub key: String,
    pub secret: String,
}

#[derive(Clone, PartialEq, Eq)]
pub struct SwiftConfig {
    pub auth_url: String,
    pub tenant: String,
    pub container: String,
    pub user: String,
    pub password: String,
}

#[derive(Clone, PartialEq, Eq)]
pub enum SingleStore {
    /// Blocks in the `block_data` table of the `--db` database.
    Postgresql,
    S3(S3Config),
    Swift(SwiftConfig),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RaidMode {
    Raid0,
    Raid1,
    Raid5,
}

#[derive(Clone, PartialEq, Eq)]
pub enum BlockstoreConfig {
    Single(SingleStore),
    /// Nodes in index order (0..n-1).
    Raid(RaidMode, Vec<SingleStore>),
}

// Debug and Display show where a store is, never its credentials.
impl fmt::Display for SingleStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SingleStore::Postgresql => f.write_str("POSTGRESQL"),
            SingleStore::S3(c) => write!(
                f,
                "s3 bucket `{}` at {} (region {})",
                c.bucket,
                c.endpoint.as_deref().unwrap_or("AWS"),
                c.region
            ),
            SingleStore::Swift(c) => {
                write!(f, "swift container `{}` at {}", c.container, c.auth_url)
            }
        }
    }
}

impl fmt::Debug for SingleStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for BlockstoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockstoreConfig::Single(s) => fmt::Display::fmt(s, f),
            BlockstoreConfig::Raid(mode, nodes) => write!(f, "{mode:?} of {} nodes", nodes.len()),
        }
    }
}

impl fmt::Debug for BlockstoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Parses every value given (the option may be repeated; the environment variable may hold
/// several values separated by whitespace).
pub fn parse_blockstore_configs(values: &[String]) -> Result<BlockstoreConfig> {
    let values: Vec<&str> = values.iter().flat_map(|v| v.split_whitespace()).collect();
    let Some(first) = values.first() else {
        return Err(Error::Usage(
            "missing --blockstore: give the blockstore configuration of the Parsec server (e.g. --blockstore POSTGRESQL)".into(),
        ));
    };
    let raid_word = |v: &str| {
        let word = prefix(v);
        match word.to_ascii_uppercase().as_str() {
            "RAID0" => Some((RaidMode::Raid0, word.to_owned())),
            "RAID1" => Some((RaidMode::Raid1, word.to_owned())),
            "RAID5" => Some((RaidMode::Raid5, word.to_owned())),
            _ => None,
        }
    };
    let Some((mode, spelling)) = raid_word(first) else {
        if values.len() > 1 {
            return Err(bad(format!(
                "{} --blockstore values given but the first is not RAID0/RAID1/RAID5: a plain store may appear only once",
                values.len()
            )));
        }
        return parse_single(first).map(BlockstoreConfig::Single);
    };
    let mut nodes: Vec<Option<SingleStore>> = vec![None; values.len()];
    for value in &values {
        match raid_word(value) {
            Some((m, s)) if m == mode && s == spelling => {}
            Some(_) => {
                return Err(bad(format!(
                    "mixed RAID modes or spellings (`{spelling}` and `{}`): every --blockstore value must use the same RAID mode",
                    prefix(value)
                )))
            }
            None => {
                return Err(bad(format!(
                    "`{}` cannot be mixed with {spelling} values: give every node as {spelling}:<index>:<store>",
                    prefix(value)
                )))
            }
        }
        // `<raid>:<index>:<rest>`: the first two parts split on the first two colons only.
        let mut parts = value.splitn(3, ':');
        let _ = parts.next();
        let index_text = parts.next().unwrap_or("");
        let rest = parts.next().ok_or_else(|| {
            bad(format!("`{spelling}:{index_text}` has no store: expected {spelling}:<node index>:<store config>"))
        })?;
        let index: usize = index_text.parse().map_err(|_| {
            bad(format!(
                "`{spelling}:{index_text}:…`: the node index must be a number from 0"
            ))
        })?;
        if index >= values.len() {
            return Err(bad(format!(
                "{spelling} node index {index} is out of range: {} nodes given, so indexes must be 0 to {}",
                values.len(),
                values.len() - 1
            )));
        }
        if raid_word(rest).is_some() {
            return Err(bad("nested RAID is not possible".into()));
        }
        if nodes[index].is_some() {
            return Err(bad(format!("{spelling} node index {index} is given twice")));
        }
        nodes[index] = Some(parse_single(rest)?);
    }
    let nodes: Vec<SingleStore> = nodes.into_iter().flatten().collect();
    if mode == RaidMode::Raid5 && nodes.len() < 3 {
        return Err(bad(format!(
            "RAID5 needs at least 3 nodes, {} given",
            nodes.len()
        )));
    }
    Ok(BlockstoreConfig::Raid(mode, nodes))
}

fn bad(message: String) -> Error {
    Error::BlockstoreConfig(format!("invalid --blockstore: {message}"))
}

/// The type word of a value, the only part ever shown in messages.
fn prefix(value: &str) -> &str {
    value.split(':').next().unwrap_or("")
}

fn parse_single(value: &str) -> Result<SingleStore> {
    let kind = prefix(value);
    match kind.to_ascii_uppercase().as_str() {
        "POSTGRESQL" if value.len() == kind.len() => Ok(SingleStore::Postgresql),
        "MOCKED" if value.len() == kind.len() => Err(Error::BlockstoreConfig(
            "--blockstore MOCKED is an in-memory store for Parsec's tests: it holds no data to export. Give the server's real blockstore configuration".into(),
        )),
        "S3" => {
            let f = fields(&value[kind.len()..], 5, "s3:[<endpoint_url>]:<region>:<bucket>:<key>:<secret>")?;
            let endpoint = (!f[0].is_empty()).then(|| with_scheme(&f[0]));
            Ok(SingleStore::S3(S3Config {
                endpoint,
                region: f[1].clone(),
                bucket: non_empty(&f[2], "s3 bucket")?,
                key: f[3].clone(),
                secret: f[4].clone(),
            }))
        }
        "SWIFT" => {
            let f = fields(
                &value[kind.len()..],
                5,
                "swift:<auth_url>:<tenant>:<container>:<user>:<password>",
            )?;
            Ok(SingleStore::Swift(SwiftConfig {
                auth_url: with_scheme(&non_empty(&f[0], "swift auth URL")?),
                tenant: f[1].clone(),
                container: non_empty(&f[2], "swift container")?,
                user: f[3].clone(),
                password: f[4].clone(),
            }))
        }
        _ => Err(bad(format!(
            "invalid blockstore type `{kind}`: expected POSTGRESQL, s3:…, swift:… or RAID0/RAID1/RAID5:…"
        ))),
    }
}

fn non_empty(value: &str, what: &str) -> Result<String> {
    if value.is_empty() {
        Err(bad(format!("the {what} is empty")))
    } else {
        Ok(value.to_owned())
    }
}

/// A URL without `http://` or `https://` gets `https://`, as in Parsec (a custom scheme must
/// therefore be written escaped: `http\://host\:9000`).
fn with_scheme(url: &str) -> String {
    if url.starts_with("http://") || url.starts_with("https://") {
        url.to_owned()
    } else {
        format!("https://{url}")
    }
}

/// `rest` starts with the `:` after the type word. Splits on `:` with backslash escapes
/// (`\:` → `:`, `\\` → `\`, a backslash before anything else is kept, as is a trailing one).
fn fields(rest: &str, count: usize, form: &str) -> Result<Vec<String>> {
    let Some(rest) = rest.strip_prefix(':') else {
        return Err(bad(format!("expected {form}")));
    };
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some(&next)) if next == ':' || next == '\\' => {
                current.push(next);
                chars.next();
            }
            (':', _) => out.push(std::mem::take(&mut current)),
            (c, _) => current.push(c),
        }
    }
    out.push(current);
    if out.len() != count {
        return Err(bad(format!(
            "{} fields after the type where {count} are expected: {form} (escape a `:` inside a field as `\\:`)",
            out.len()
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(values: &[&str]) -> Result<BlockstoreConfig> {
        parse_blockstore_configs(&values.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn s3(c: &BlockstoreConfig) -> &S3Config {
        match c {
            BlockstoreConfig::Single(SingleStore::S3(c)) => c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parsecs_own_examples() {
        let c = parse(&["s3:s3.example.com:region1:bucketA:key123:S3cr3t"]).unwrap();
        let c = s3(&c);
        assert_eq!(c.endpoint.as_deref(), Some("https://s3.example.com"));
        assert_eq!(
            (
                c.region.as_str(),
                c.bucket.as_str(),
                c.key.as_str(),
                c.secret.as_str()
            ),
            ("region1", "bucketA", "key123", "S3cr3t")
        );
        let c = parse(&["s3::region1:bucketA:key123:S3cr3t"]).unwrap();
        assert_eq!(s3(&c).endpoint, None);
        let c = parse(&[r"s3:http\://s3.example.com:region1:bucketA:key123:\:S3cr3t\\"]).unwrap();
        assert_eq!(s3(&c).endpoint.as_deref(), Some("http://s3.example.com"));
        assert_eq!(s3(&c).secret, r":S3cr3t\");
        let c = parse(&[r"swift:http\://auth.example.com:tenant2:containerB:user123:P@ssw0rd"])
            .unwrap();
        match c {
            BlockstoreConfig::Single(SingleStore::Swift(s)) => {
                assert_eq!(s.auth_url, "http://auth.example.com");
                assert_eq!(
                    (
                        s.tenant.as_str(),
                        s.container.as_str(),
                        s.user.as_str(),
                        s.password.as_str()
                    ),
                    ("tenant2", "containerB", "user123", "P@ssw0rd")
                );
            }
            other => panic!("{other:?}"),
        }
        let c = parse(&[
            "raid0:1:POSTGRESQL",
            "raid0:0:postgresql",
            "raid0:2:s3::r:b:k:s",
            "raid0:3:swift:a:t:c:u:p",
        ])
        .unwrap();
        match c {
            BlockstoreConfig::Raid(RaidMode::Raid0, nodes) => {
                assert_eq!(nodes.len(), 4);
                assert!(matches!(nodes[2], SingleStore::S3(_)));
                assert!(matches!(nodes[3], SingleStore::Swift(_)));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse(&["postgresql"]).unwrap(),
            BlockstoreConfig::Single(SingleStore::Postgresql)
        );
        // The environment variable form: whitespace-separated.
        assert!(matches!(
            parse(&["RAID1:0:POSTGRESQL RAID1:1:POSTGRESQL"]).unwrap(),
            BlockstoreConfig::Raid(RaidMode::Raid1, _)
        ));
    }

    #[test]
    fn parsecs_rejected_cases_are_rejected() {
        for values in [
            vec!["foo"],
            vec!["s3:"],
            vec!["s3:a:b:c:d:e:f"],
            vec!["MOCKED"],
            vec!["MOCKED", "MOCKED"],
            vec!["raid0:0:MOCKED", "MOCKED"],
            vec!["raid0:0:POSTGRESQL", "raid1:1:POSTGRESQL"],
            vec!["raid0:1", "raid0:2"],
            vec!["raid0:0:POSTGRESQL", "raid0:2:POSTGRESQL"],
            vec!["raid0:0:POSTGRESQL", "raid0:0:POSTGRESQL"],
            vec!["RAID0:0:POSTGRESQL", "raid0:1:POSTGRESQL"],
            vec!["raid0:x:POSTGRESQL"],
            vec!["raid5:0:POSTGRESQL", "raid5:1:POSTGRESQL"],
            vec!["raid1:0:raid1:0:POSTGRESQL"],
            vec![],
        ] {
            assert!(parse(&values).is_err(), "{values:?} was accepted");
        }
    }

    #[test]
    fn errors_name_the_culprit_without_secrets() {
        let cases = [
            vec!["s3:host:r:b:key:TopSecret:extra"],
            vec!["swift:h:t:c:u"],
            vec![
                "raid0:0:s3:h:r:b:k:TopSecret",
                "raid0:0:s3:h:r:b:k:TopSecret",
            ],
            vec![
                "raid0:0:s3:h:r:b:k:TopSecret",
                "raid1:1:s3:h:r:b:k:TopSecret",
            ],
            vec!["nope:TopSecret"],
        ];
        for values in cases {
            let err = parse(&values).unwrap_err().to_string();
            assert!(!err.contains("TopSecret"), "{err}");
            assert!(err.starts_with("invalid --blockstore"), "{err}");
        }
        let err = parse(&["s3:host:r:b:key:TopSecret:extra"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("6 fields") && err.contains("s3:[<endpoint_url>]"),
            "{err}"
        );
        let err = parse(&["raid0:0:POSTGRESQL", "raid0:0:POSTGRESQL"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("index 0 is given twice"), "{err}");
        let c = parse(&["s3:h:r:b:k:TopSecret"]).unwrap();
        assert!(!format!("{c:?} {c}").contains("TopSecret"));
    }
}
