//! PostgreSQL access: read-only connections to a Parsec server's database, the schema-level
//! check, and (in `queries`) every SQL statement the tool runs.

mod libpq;
mod pgpass;
pub mod queries;
pub mod schema;
mod tls;

use std::str::FromStr;

use tokio_postgres::{Client, Config};

use crate::error::{Error, Result};

/// A parsed `--db` URL. Its `Display` never shows the password.
#[derive(Clone)]
pub struct DbTarget {
    config: Config,
    display: String,
    password: Option<String>,
    ssl: libpq::SslSettings,
}

impl std::fmt::Debug for DbTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

impl std::fmt::Display for DbTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

impl DbTarget {
    pub fn parse(url: &str) -> Result<Self> {
        let url = url.trim();
        if !(url.starts_with("postgresql://") || url.starts_with("postgres://")) {
            let shown = if url.eq_ignore_ascii_case("MOCKED") {
                "MOCKED (an in-memory test database has nothing to export)".to_owned()
            } else {
                "a value that is not a postgresql:// or postgres:// URL".to_owned()
            };
            return Err(Error::Usage(format!(
                "invalid --db: got {shown}; expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
            )));
        }
        let (pg_url, ssl_params) = libpq::take_ssl_params(url);
        let env = |name: &str| std::env::var(name).ok();
        let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
        let ssl = libpq::resolve(&ssl_params, &env, home.as_deref())?;
        let mut config = Config::from_str(&pg_url).map_err(|e| {
            Error::Usage(format!(
                "invalid --db URL ({}): expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE, or ?host=/run/postgresql for a unix socket",
                scrub_text(&e.to_string(), url)
            ))
        })?;
        config.ssl_mode(match ssl.mode {
            libpq::SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            libpq::SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        let password = match config.get_password() {
            Some(p) => Some(String::from_utf8_lossy(p).into_owned()),
            None => {
                let found = password_from_environment(&config, &env, home.as_deref());
                if let Some(p) = &found {
                    config.password(p.as_str());
                }
                found
            }
        };
        // The server sees who we are, and every transaction is read-only: the tool must never
        // modify the server's data, even by mistake.
        config.application_name("parsec-sequester");
        config.options("-c default_transaction_read_only=on");
        let display = describe_config(&config);
        Ok(DbTarget {
            config,
            display,
            password,
            ssl,
        })
    }

    /// The password, to scrub it from any text that might echo it.
    pub fn secret(&self) -> Option<&str> {
        self.password.as_deref().filter(|p| !p.is_empty())
    }

    /// A read-only session: every command that reads a Parsec server uses this.
    pub async fn connect(&self) -> Result<Client> {
        Self::connect_with(&self.config, self).await
    }

    /// A writable session, for `testbed` only (it fills staging databases).
    pub async fn connect_read_write(&self) -> Result<Client> {
        let mut config = self.config.clone();
        config.options("");
        Self::connect_with(&config, self).await
    }

    async fn connect_with(config: &Config, target: &DbTarget) -> Result<Client> {
        let (client, connection) = config
            .connect(tls::connector(&target.ssl)?)
            .await
            .map_err(|e| target.connect_error(e))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("database connection closed: {}", describe_pg_error(&e));
            }
        });
        Ok(client)
    }

    fn connect_error(&self, err: tokio_postgres::Error) -> Error {
        let target = self.display.clone();
        if let Some(problem) = crate::trust::describe_rejection(&err) {
            return Error::DbUnreachable {
                target,
                reason: format!(
                    "TLS (sslmode={}): {problem}; trusted: {}",
                    libpq::mode_name(self.ssl.mode),
                    self.ssl.trusted()
                ),
            };
        }
        let reason = self.scrub(&describe_pg_error(&err));
        match err.as_db_error().map(|e| e.code().code()) {
            // invalid_password, invalid_authorization_specification
            Some("28P01") | Some("28000") => Error::DbAuth { target, reason },
            _ => Error::DbUnreachable { target, reason },
        }
    }

    pub fn scrub(&self, text: &str) -> String {
        match self.secret() {
            Some(secret) => text.replace(secret, "***"),
            None => text.to_owned(),
        }
    }
}

/// libpq's order when the URL has no password: `PGPASSWORD`, then the password file.
fn password_from_environment(
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
    home: Option<&std::path::Path>,
) -> Option<String> {
    use tokio_postgres::config::Host;
    if let Some(p) = env("PGPASSWORD").filter(|p| !p.is_empty()) {
        return Some(p);
    }
    let file = pgpass::location(env, home)?;
    let user = config.get_user().unwrap_or("");
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        // libpq: the default socket directory matches `localhost` in the file.
        #[cfg(unix)]
        Some(Host::Unix(p))
            if p == std::path::Path::new("/var/run/postgresql")
                || p == std::path::Path::new("/tmp") =>
        {
            "localhost".to_owned()
        }
        #[cfg(unix)]
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_owned(),
    };
    let wanted = pgpass::Wanted {
        host: &host,
        port: config.get_ports().first().copied().unwrap_or(5432),
        database: config.get_dbname().unwrap_or(user),
        user,
    };
    pgpass::lookup(&file, &wanted)
}

/// Scrubs the password of a URL that the driver could not parse (so we cannot ask it).
fn scrub_text(text: &str, url: &str) -> String {
    let authority = url.split_once("://").map(|(_, rest)| rest).unwrap_or(url);
    let authority = authority.split('/').next().unwrap_or("");
    match authority
        .rsplit_once('@')
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
    {
        Some((_, password)) if !password.is_empty() => text.replace(password, "***"),
        _ => text.to_owned(),
    }
}

fn describe_config(config: &Config) -> String {
    use tokio_postgres::config::Host;
    let user = config.get_user().unwrap_or("");
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or(user);
    if user.is_empty() {
        format!("postgresql://{host}:{port}/{db}")
    } else {
        format!("postgresql://{user}@{host}:{port}/{db}")
    }
}

/// One consistent, read-only view of the database for everything a command reads:
/// `REPEATABLE READ READ ONLY`, so every query sees the same instant.
pub async fn snapshot(client: &mut Client) -> Result<tokio_postgres::Transaction<'_>> {
    client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(|e| Error::db("starting a read-only snapshot", e))
}

/// A one-line description of a PostgreSQL error: the server's message when there is one,
/// else the client library's (which never contains the password).
pub fn describe_pg_error(err: &tokio_postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_hides_the_password() {
        let t = DbTarget::parse("postgresql://alice:S3cr3t-pw@db.example:6543/parsec").unwrap();
        assert_eq!(t.to_string(), "postgresql://alice@db.example:6543/parsec");
        assert_eq!(
            format!("{t:?}"),
            "postgresql://alice@db.example:6543/parsec"
        );
        assert_eq!(t.secret(), Some("S3cr3t-pw"));
        assert_eq!(t.scrub("x S3cr3t-pw y"), "x *** y");
    }

    #[test]
    fn accepts_both_schemes_and_unix_sockets() {
        assert!(DbTarget::parse("postgres://u@h/db").is_ok());
        let t = DbTarget::parse("postgresql://u@%2Frun%2Fpostgresql/db").unwrap();
        assert_eq!(t.to_string(), "postgresql://u@/run/postgresql:5432/db");
        let t = DbTarget::parse("postgresql:///db?host=/tmp/pg&user=bob").unwrap();
        assert_eq!(t.to_string(), "postgresql://bob@/tmp/pg:5432/db");
    }

    #[test]
    fn unparsable_urls_do_not_echo_the_password() {
        let err = DbTarget::parse("postgresql://u:hunter2@h:notaport/db")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn rejects_other_schemes_without_echoing() {
        let err = DbTarget::parse("mysql://u:hunter2@h/db")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(DbTarget::parse("MOCKED")
            .unwrap_err()
            .to_string()
            .contains("MOCKED"));
    }
}
