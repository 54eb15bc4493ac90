//! Secrets must never be shown: not in output, errors, logs, files or the process title.

use std::path::Path;

/// Panics when any secret appears in any of the texts.
pub fn assert_no_secret(texts: &[&str], secrets: &[&str], context: &str) {
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        for text in texts {
            assert!(
                !text.contains(secret),
                "{context}: a secret ({}…) was shown:\n{text}",
                &secret[..secret.len().min(4)]
            );
        }
    }
}

/// Panics when any secret appears in the bytes of a file (and its journal, if any).
pub fn assert_file_has_no_secret(path: &Path, secrets: &[&str], context: &str) {
    let mut paths = vec![path.to_owned()];
    paths.push(crate::kill::journal_of(path));
    for p in paths.iter().filter(|p| p.exists()) {
        let bytes = std::fs::read(p).unwrap();
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{context}: a secret is in {}",
                p.display()
            );
        }
    }
}
