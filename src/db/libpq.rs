//! libpq's TLS options, which tokio-postgres does not know: `sslmode` `verify-ca` and
//! `verify-full`, `sslrootcert`, `sslcert` and `sslkey`, read from the URL's query, then from
//! `PGSSLMODE`, `PGSSLROOTCERT`, `PGSSLCERT`, `PGSSLKEY`, then libpq's default files under
//! `~/.postgresql/`. They are taken out of the URL before tokio-postgres parses the rest.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str, from: &str) -> Result<Self> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            "allow" => {
                return Err(Error::Usage(format!(
                    "sslmode=allow ({from}) is not supported: use prefer, require, verify-ca or verify-full"
                )))
            }
            other => {
                return Err(Error::Usage(format!(
                    "invalid sslmode `{other}` ({from}): expected disable, prefer, require, verify-ca or verify-full"
                )))
            }
        })
    }
}

/// Where trusted CA certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    File(PathBuf),
    /// `sslrootcert=system`: the operating system's trust store.
    System,
}

/// How the server's certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verify {
    /// Encryption only (libpq's `prefer`/`require` without a root certificate file).
    Nothing,
    /// The chain up to a trusted CA (`verify-ca`, or `require` with a root file, as libpq).
    Chain(Roots),
    /// The chain and the host name (`verify-full`).
    Full(Roots),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SslSettings {
    pub mode: SslMode,
    pub verify: Verify,
    /// Client certificate chain and its private key.
    pub client: Option<(PathBuf, PathBuf)>,
}

impl SslSettings {
    /// What the server's certificate is checked against, for messages.
    pub fn trusted(&self) -> String {
        match &self.verify {
            Verify::Nothing => "nothing (the certificate is not verified)".to_owned(),
            Verify::Chain(Roots::File(p)) | Verify::Full(Roots::File(p)) => {
                format!("sslrootcert `{}`", p.display())
            }
            Verify::Chain(Roots::System) | Verify::Full(Roots::System) => {
                "the operating system's trust store (sslrootcert=system)".to_owned()
            }
        }
    }
}

/// Splits libpq's TLS options out of `url`: returns the URL tokio-postgres can parse and
/// the options found (still percent-encoded values decoded).
pub fn take_ssl_params(url: &str) -> (String, Vec<(String, String)>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), Vec::new());
    };
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if matches!(key, "sslmode" | "sslrootcert" | "sslcert" | "sslkey") {
            let value = percent_encoding::percent_decode_str(value)
                .decode_utf8_lossy()
                .into_owned();
            taken.push((key.to_owned(), value));
        } else {
            kept.push(pair);
        }
    }
    if kept.is_empty() {
        (base.to_owned(), taken)
    } else {
        (format!("{base}?{}", kept.join("&")), taken)
    }
}

/// Resolves the options as libpq does: URL, else environment (`env` looks a variable up),
/// else default files under `home`/.postgresql.
pub fn resolve(
    params: &[(String, String)],
    env: &dyn Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Result<SslSettings> {
    let pick = |key: &str, var: &str| -> Option<(String, String)> {
        let from_url = params
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| (v.clone(), format!("{key} in --db")));
        from_url.or_else(|| {
            env(var)
                .filter(|v| !v.is_empty())
                .map(|v| (v, var.to_owned()))
        })
    };
    let default_file = |name: &str| home.map(|h| h.join(".postgresql").join(name));
    let root = pick("sslrootcert", "PGSSLROOTCERT");
    let system = root.as_ref().is_some_and(|(v, _)| v == "system");
    let mode = match pick("sslmode", "PGSSLMODE") {
        Some((value, from)) => SslMode::parse(&value, &from)?,
        // libpq: sslrootcert=system defaults to the only safe mode with public CAs.
        None if system => SslMode::VerifyFull,
        None => SslMode::Prefer,
    };
    if system && mode != SslMode::VerifyFull {
        return Err(Error::Usage(format!(
            "sslmode={} may not be used with sslrootcert=system: any certificate a public CA issued would pass; use sslmode=verify-full",
            mode_name(mode)
        )));
    }
    let roots = match root {
        Some((v, _)) if v == "system" => Some(Roots::System),
        Some((v, from)) => {
            let path = PathBuf::from(&v);
            if mode != SslMode::Disable && !path.is_file() {
                return Err(Error::Usage(format!(
                    "root certificate file `{v}` ({from}) does not exist: give the CA certificate that signed the server's, or sslrootcert=system for the OS trust store"
                )));
            }
            Some(Roots::File(path))
        }
        None => default_file("root.crt")
            .filter(|p| p.is_file())
            .map(Roots::File),
    };
    let verify = match (mode, roots) {
        (SslMode::Disable, _) => Verify::Nothing,
        (SslMode::VerifyFull, Some(r)) => Verify::Full(r),
        (SslMode::VerifyCa, Some(r)) => Verify::Chain(r),
        (SslMode::VerifyFull | SslMode::VerifyCa, None) => {
            return Err(Error::Usage(format!(
                "sslmode={} needs the CA certificate to check the server against, and ~/.postgresql/root.crt does not exist: give sslrootcert=FILE in --db (or PGSSLROOTCERT), sslrootcert=system for the OS trust store, or a weaker sslmode",
                mode_name(mode)
            )))
        }
        // libpq's documented compatibility rule: a root certificate file makes require
        // check the chain, as verify-ca does. (With prefer, libpq retries in plain text
        // when that check fails; we do not go down to plain text, so prefer stays
        // encryption only.)
        (SslMode::Require, Some(r @ Roots::File(_))) => Verify::Chain(r),
        (SslMode::Require | SslMode::Prefer, _) => Verify::Nothing,
    };
    let client = if mode == SslMode::Disable {
        None
    } else {
        client_files(
            pick("sslcert", "PGSSLCERT"),
            pick("sslkey", "PGSSLKEY"),
            default_file,
        )?
    };
    Ok(SslSettings {
        mode,
        verify,
        client,
    })
}

fn client_files(
    cert: Option<(String, String)>,
    key: Option<(String, String)>,
    default_file: impl Fn(&str) -> Option<PathBuf>,
) -> Result<Option<(PathBuf, PathBuf)>> {
    let cert = match cert {
        Some((v, from)) => {
            let path = PathBuf::from(&v);
            if !path.is_file() {
                return Err(Error::Usage(format!(
                    "client certificate file `{v}` ({from}) does not exist"
                )));
            }
            path
        }
        // libpq: the default certificate is used only when it exists.
        None => match default_file("postgresql.crt").filter(|p| p.is_file()) {
            Some(p) => p,
            None => return Ok(None),
        },
    };
    let (key, from) = match key {
        Some((v, from)) => (PathBuf::from(v), from),
        None => (
            default_file("postgresql.key").unwrap_or_default(),
            "the default".to_owned(),
        ),
    };
    if !key.is_file() {
        return Err(Error::Usage(format!(
            "client certificate `{}` is given but its private key file `{}` ({from}) does not exist: give sslkey=FILE",
            cert.display(),
            key.display()
        )));
    }
    check_key_permissions(&key)?;
    Ok(Some((cert, key)))
}

/// libpq refuses a private key others can read: u=rw (0600) or less, or u=rw,g=r (0640)
/// when root owns it.
fn check_key_permissions(key: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(key).map_err(|e| {
        Error::Usage(format!(
            "cannot read private key file `{}`: {e}",
            key.display()
        ))
    })?;
    let mode = meta.mode() & 0o777;
    let allowed = if meta.uid() == 0 { 0o640 } else { 0o600 };
    if mode & !allowed != 0 {
        return Err(Error::Usage(format!(
            "private key file `{}` has group or world access (mode {mode:o}): it must be u=rw (0600) or less (chmod 600 it)",
            key.display()
        )));
    }
    Ok(())
}

pub fn mode_name(mode: SslMode) -> &'static str {
    match mode {
        SslMode::Disable => "disable",
        SslMode::Prefer => "prefer",
        SslMode::Require => "require",
        SslMode::VerifyCa => "verify-ca",
        SslMode::VerifyFull => "verify-full",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn ssl_params_are_taken_out_of_the_url() {
        let (url, params) = take_ssl_params(
            "postgresql://u@h/db?sslmode=verify-full&application_name=x&sslrootcert=%2Ftmp%2Fca.pem",
        );
        assert_eq!(url, "postgresql://u@h/db?application_name=x");
        assert_eq!(
            params,
            vec![
                ("sslmode".to_owned(), "verify-full".to_owned()),
                ("sslrootcert".to_owned(), "/tmp/ca.pem".to_owned())
            ]
        );
        assert_eq!(
            take_ssl_params("postgresql://u@h/db?sslmode=disable").0,
            "postgresql://u@h/db"
        );
    }

    #[test]
    fn libpq_defaults_and_rules() {
        let s = resolve(&[], &no_env, None).unwrap();
        assert_eq!((s.mode, s.verify), (SslMode::Prefer, Verify::Nothing));
        // verify modes without any root certificate: refused, never unverified.
        let p = vec![("sslmode".to_owned(), "verify-ca".to_owned())];
        assert!(resolve(&p, &no_env, None).is_err());
        // system implies verify-full, and refuses weaker modes.
        let p = vec![("sslrootcert".to_owned(), "system".to_owned())];
        let s = resolve(&p, &no_env, None).unwrap();
        assert_eq!(s.verify, Verify::Full(Roots::System));
        let env = |v: &str| (v == "PGSSLMODE").then(|| "require".to_owned());
        assert!(resolve(&p, &env, None).is_err());
        // require with a root file checks the chain (libpq's compatibility rule); the URL
        // wins over the environment.
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "x").unwrap();
        let env = |v: &str| match v {
            "PGSSLMODE" => Some("verify-full".to_owned()),
            "PGSSLROOTCERT" => Some(ca.display().to_string()),
            _ => None,
        };
        let p = vec![("sslmode".to_owned(), "require".to_owned())];
        let s = resolve(&p, &env, None).unwrap();
        assert_eq!(s.verify, Verify::Chain(Roots::File(ca.clone())));
        let p = vec![("sslmode".to_owned(), "prefer".to_owned())];
        assert_eq!(resolve(&p, &env, None).unwrap().verify, Verify::Nothing);
        assert_eq!(
            resolve(&[], &env, None).unwrap().verify,
            Verify::Full(Roots::File(ca.clone()))
        );
        assert!(SslMode::parse("bogus", "x").is_err());
    }

    #[test]
    fn default_files_under_home() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let pg = home.path().join(".postgresql");
        std::fs::create_dir(&pg).unwrap();
        std::fs::write(pg.join("root.crt"), "x").unwrap();
        std::fs::write(pg.join("postgresql.crt"), "x").unwrap();
        let p = vec![("sslmode".to_owned(), "verify-full".to_owned())];
        // A certificate without its key is an error, not a silent anonymous connection.
        assert!(resolve(&p, &no_env, Some(home.path())).is_err());
        let key = pg.join("postgresql.key");
        std::fs::write(&key, "x").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = resolve(&p, &no_env, Some(home.path())).unwrap_err();
        assert!(err.to_string().contains("group or world access"), "{err}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let s = resolve(&p, &no_env, Some(home.path())).unwrap();
        assert_eq!(s.verify, Verify::Full(Roots::File(pg.join("root.crt"))));
        assert_eq!(s.client, Some((pg.join("postgresql.crt"), key)));
    }
}
