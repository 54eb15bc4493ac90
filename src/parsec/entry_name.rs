//! Entry names (reference §5.6): NFC-normalised, 1 to 255 UTF-8 bytes, not `.` or `..`,
//! no `/` nor NUL. Anything else is allowed (names invalid on Windows or macOS included).

use unicode_normalization::UnicodeNormalization;

use super::error::{DataError, DataResult};

pub const MAX_BYTES: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryName(String);

impl EntryName {
    pub fn parse(raw: &str) -> DataResult<Self> {
        let name: String = raw.nfc().collect();
        let why = if name.is_empty() {
            Some("empty")
        } else if name.len() > MAX_BYTES {
            Some("longer than 255 bytes")
        } else if name == "." || name == ".." {
            Some("`.` and `..` are not names")
        } else if name.contains('/') {
            Some("contains `/`")
        } else if name.contains('\0') {
            Some("contains NUL")
        } else {
            None
        };
        match why {
            Some(why) => Err(DataError::InvalidEntryName {
                name: raw.chars().take(64).collect(),
                why,
            }),
            None => Ok(EntryName(name)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for EntryName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
