//! What can go wrong reading Parsec's data: one variant per kind of failure, each naming
//! what failed, so a caller can report the culprit (and tests can check the right cause).

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    #[error("{what} is truncated: {got} bytes, at least {need} expected")]
    Truncated {
        what: &'static str,
        need: usize,
        got: usize,
    },
    #[error("unknown serialization format {0:#04x} (Parsec's format v0 starts with 0x00)")]
    UnknownFormat(u8),
    #[error("the zstd frame cannot be decompressed ({0})")]
    Decompress(String),
    #[error("the payload decompresses to more than {limit} bytes (refused, to bound memory)")]
    TooLarge { limit: usize },
    #[error("the payload is not valid msgpack ({0})")]
    Msgpack(String),
    #[error("the payload is not a msgpack map")]
    NotAMap,
    #[error("unknown type tag `{found}` (expected {expected})")]
    UnknownType { found: String, expected: String },
    #[error("field `{0}` is missing")]
    MissingField(&'static str),
    #[error("field `{field}` is not {expected}")]
    BadField {
        field: &'static str,
        expected: &'static str,
    },
    #[error("unknown algorithm {0:?}")]
    UnknownAlgorithm(String),
    #[error("bad signature of the {0}")]
    BadSignature(&'static str),
    #[error("the {what} is signed by {found}, expected {expected}")]
    WrongAuthor {
        what: &'static str,
        expected: String,
        found: String,
    },
    #[error("key {key_index} does not open the canary of its key rotation certificate")]
    BadCanary { key_index: u64 },
    #[error("the {0} cannot be decrypted with this key (wrong key or damaged data)")]
    WrongKey(&'static str),
    #[error("{field} is {found}, expected {expected}")]
    Mismatch {
        field: &'static str,
        expected: String,
        found: String,
    },
    #[error("invalid entry name {name:?}: {why}")]
    InvalidEntryName { name: String, why: &'static str },
    #[error("invalid {what}: {why}")]
    Invalid { what: &'static str, why: String },
    #[error("key: {0}")]
    Key(String),
}

pub type DataResult<T> = std::result::Result<T, DataError>;
