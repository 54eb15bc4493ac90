//! Entry names on disk (README "extract: names"). Parsec allows names that are unsafe or
//! illegal on common file systems; they are escaped by one reversible scheme:
//!
//! - `%` and the characters `\ : * ? " < > |`, control characters (U+0000–U+001F, U+007F)
//!   become `%XX` per UTF-8 byte (upper-case hex). `/` and NUL cannot occur (invalid in
//!   Parsec) but would be escaped the same way;
//! - a trailing `.` or space is escaped (`%2E`, `%20`);
//! - a Windows reserved name (CON, PRN, AUX, NUL, COM1–9, LPT1–9, any case, with or without
//!   an extension) gets its first character escaped;
//! - names whose escaped form exceeds 255 bytes are cut at 200 bytes and suffixed with `~`
//!   and 16 hex digits of the original name's SHA-256 (not reversible: the report lists it).
//!
//! Decoding every `%XX` gives the original name back. Then, within one folder, names that
//! become equal once lower-cased and NFC-normalised (case-insensitive or normalising file
//! systems) get a deterministic suffix: children are taken in the order of their original
//! names (bytes); the first keeps its name, the next ones get `~2`, `~3`… before the
//! extension. Every mapping is listed in the report.

use std::collections::HashSet;

use unicode_normalization::UnicodeNormalization;

const MAX_BYTES: usize = 255;
const RESERVED: [&str; 4] = ["CON", "PRN", "AUX", "NUL"];

fn needs_escape(c: char) -> bool {
    matches!(
        c,
        '%' | '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|'
    ) || c.is_control()
}

fn push_escaped(out: &mut String, c: char) {
    let mut buf = [0u8; 4];
    for b in c.encode_utf8(&mut buf).bytes() {
        out.push_str(&format!("%{b:02X}"));
    }
}

fn is_reserved(name: &str) -> bool {
    let base = name.split('.').next().unwrap_or(name).to_ascii_uppercase();
    if RESERVED.contains(&base.as_str()) {
        return true;
    }
    let b = base.as_bytes();
    b.len() == 4
        && (base.starts_with("COM") || base.starts_with("LPT"))
        && (b'1'..=b'9').contains(&b[3])
}

/// The escaped form of one entry name.
pub fn escape(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let reserved = is_reserved(name);
    let mut out = String::with_capacity(name.len());
    for (i, &c) in chars.iter().enumerate() {
        let last = i + 1 == chars.len();
        if needs_escape(c) || (last && (c == '.' || c == ' ')) || (i == 0 && reserved) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    if out.len() > MAX_BYTES {
        let mut cut = 200;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        let digest = crate::parsec::crypto::hash::sha256(name.as_bytes());
        let hex = base16ct::lower::encode_string(&digest[..8]);
        out = format!("{}~{hex}", &out[..cut]);
    }
    out
}

/// The inverse of `escape` (for names it did not shorten).
pub fn unescape(escaped: &str) -> Option<String> {
    let bytes = escaped.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A path as written in the tables (`--list`, `history.tsv`): `%`, `|` (the separator of
/// several paths) and control characters (tabs, line breaks) become `%XX`, so that one
/// line stays one entry.
pub fn table_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c == '%' || c == '|' || c.is_control() {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

fn fold(name: &str) -> String {
    name.nfc()
        .collect::<String>()
        .to_lowercase()
        .nfc()
        .collect()
}

/// Names of one folder's children, in order: the on-disk name of each, unique once
/// case-folded and normalised.
pub fn assign(names: &[&str]) -> Vec<String> {
    let mut taken: HashSet<String> = HashSet::new();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let escaped = escape(name);
        let mut candidate = escaped.clone();
        let mut n = 2;
        while !taken.insert(fold(&candidate)) {
            candidate = with_suffix(&escaped, n);
            n += 1;
        }
        out.push(candidate);
    }
    out
}

fn with_suffix(name: &str, n: usize) -> String {
    match name.rfind('.').filter(|&i| i > 0) {
        Some(i) => format!("{}~{n}{}", &name[..i], &name[i..]),
        None => format!("{name}~{n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_escaped_reversibly() {
        for (name, escaped) in [
            ("plain.txt", "plain.txt"),
            ("a:b", "a%3Ab"),
            ("100%", "100%25"),
            ("back\\slash", "back%5Cslash"),
            ("q?*\"<>|", "q%3F%2A%22%3C%3E%7C"),
            ("dot.", "dot%2E"),
            ("space ", "space%20"),
            ("CON", "%43ON"),
            ("lpt1.txt", "%6Cpt1.txt"),
            ("COM10", "COM10"),
            ("tab\there", "tab%09here"),
            ("é", "é"),
        ] {
            assert_eq!(escape(name), escaped, "{name}");
            assert_eq!(unescape(escaped).as_deref(), Some(name));
        }
    }

    #[test]
    fn table_paths_stay_on_one_line() {
        assert_eq!(table_path("/tab\tname|x%"), "/tab%09name%7Cx%25");
        assert_eq!(table_path("/a:b"), "/a:b");
    }

    #[test]
    fn long_names_are_shortened() {
        let name = ":".repeat(200);
        let e = escape(&name);
        assert!(e.len() <= 255);
        assert!(e.contains('~'));
    }

    #[test]
    fn collisions_get_a_deterministic_suffix() {
        assert_eq!(
            assign(&["A.txt", "a.txt", "a.TXT", "b"]),
            ["A.txt", "a~2.txt", "a~3.TXT", "b"]
        );
        // NFD and NFC forms of é
        assert_eq!(assign(&["e\u{301}", "é"]), ["e\u{301}", "é~2"]);
    }
}
