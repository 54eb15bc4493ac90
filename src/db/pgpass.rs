//! libpq's password file (`PGPASSFILE`, default `~/.pgpass`): lines
//! `hostname:port:database:username:password`, `*` matching anything in the first four
//! fields, `\` escaping `:` and `\`, `#` starting a comment, the first match winning. Like
//! libpq, a file that is not a regular file or that others may read is ignored with a warning.

use std::path::{Path, PathBuf};
use std::sync::Once;

/// The URL is parsed more than once per run (the secrets to scrub, then the command): the
/// file's warnings are said once.
static WARNED: Once = Once::new();

fn warn_once(message: String) {
    WARNED.call_once(|| tracing::warn!("{message}"));
}

/// What a connection is looking for.
pub struct Wanted<'a> {
    pub host: &'a str,
    pub port: u16,
    pub database: &'a str,
    pub user: &'a str,
}

/// The password file libpq would read.
pub fn location(env: &dyn Fn(&str) -> Option<String>, home: Option<&Path>) -> Option<PathBuf> {
    match env("PGPASSFILE").filter(|v| !v.is_empty()) {
        Some(p) => Some(PathBuf::from(p)),
        None => home.map(|h| h.join(".pgpass")),
    }
}

/// The password for `wanted` in `file`, if the file exists, is private and has a match.
pub fn lookup(file: &Path, wanted: &Wanted<'_>) -> Option<String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(file).ok()?;
    if !meta.is_file() {
        warn_once(format!(
            "password file \"{}\" is not a plain file: ignored",
            file.display()
        ));
        return None;
    }
    if meta.permissions().mode() & 0o077 != 0 {
        warn_once(format!(
            "password file \"{}\" has group or world access (mode {:o}): ignored; permissions should be u=rw (0600) or less",
            file.display(),
            meta.mode() & 0o777
        ));
        return None;
    }
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            warn_once(format!(
                "cannot read password file \"{}\": {e}",
                file.display()
            ));
            return None;
        }
    };
    find(&text, wanted)
}

fn find(text: &str, wanted: &Wanted<'_>) -> Option<String> {
    let port = wanted.port.to_string();
    let targets = [wanted.host, port.as_str(), wanted.database, wanted.user];
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .find_map(|line| {
            let fields = split(line);
            if fields.len() < 5 {
                return None;
            }
            let matches = fields
                .iter()
                .zip(targets)
                .all(|(field, target)| field == "*" || field == target);
            // As libpq, the password ends at the next unescaped `:`.
            matches.then(|| fields[4].clone())
        })
}

/// Splits on unescaped `:`, removing the escapes.
fn split(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut chars = line.trim_end_matches('\r').chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            ':' => fields.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    fields.push(current);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Wanted<'static> = Wanted {
        host: "db.example",
        port: 5433,
        database: "parsec",
        user: "alice",
    };

    #[test]
    fn libpq_matching_rules() {
        let text = "# comment\n\
                    other:5433:parsec:alice:no\n\
                    db.example:5432:parsec:alice:wrong-port\n\
                    db.example:5433:*:alice:p\\:w\\\\d\n\
                    *:*:*:*:fallback\n";
        assert_eq!(find(text, &W).as_deref(), Some("p:w\\d"));
        assert_eq!(find("*:*:*:*:fallback\n", &W).as_deref(), Some("fallback"));
        assert_eq!(find("db.example:5433:parsec:bob:x\n", &W), None);
        // An escaped `:` in a host name field.
        let v6 = Wanted { host: "::1", ..W };
        assert_eq!(
            find("\\:\\:1:5433:parsec:alice:six\n", &v6).as_deref(),
            Some("six")
        );
        assert_eq!(find("short:line\n", &W), None);
    }

    #[test]
    fn a_file_others_can_read_is_ignored() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(&file, "*:*:*:*:secret\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(lookup(&file, &W), None);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(lookup(&file, &W).as_deref(), Some("secret"));
        assert_eq!(lookup(dir.path(), &W), None);
    }
}
