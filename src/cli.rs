//! Command-line definitions (clap). Option names accept both the design document's and
//! Parsec's own server CLI spellings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::report::style::ColorMode;

#[derive(Debug, Parser)]
#[command(
    name = "parsec-sequester",
    version,
    about = "Export a Parsec v3 realm (a workspace and its whole history) from a Parsec server's database and blockstore, for a sequester authority",
    propagate_version = true
)]
pub struct Cli {
    /// Log level for diagnostics on stderr (error, warn, info, debug, trace); RUST_LOG also works.
    #[arg(long, global = true, env = "PARSEC_LOG_LEVEL", default_value = "warn")]
    pub log_level: String,

    /// PEM file of the CAs that S3 and Swift endpoints over HTTPS are verified against,
    /// instead of the OS trust store (default: AWS_CA_BUNDLE for S3, else SSL_CERT_FILE).
    #[arg(
        long,
        global = true,
        env = "PARSEC_BLOCKSTORE_CA_BUNDLE",
        value_name = "FILE"
    )]
    pub blockstore_ca_bundle: Option<std::path::PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Export one realm into a realm-export SQLite file (resumable).
    #[command(alias = "export_realm")]
    ExportRealm(ExportRealmArgs),

    /// Who had access to which realm, and when: per human and user, the profile history and
    /// every role certificate in every realm (find what to export).
    #[command(alias = "human_accesses")]
    HumanAccesses(HumanAccessesArgs),

    /// The realms of an organization: creation date, status, current owners, and what an
    /// export of each would weigh now.
    Realms(RealmsArgs),

    /// Check an export file (ours or Parsec's) without modifying it; optionally compare it
    /// with its source and print its digest.
    Verify(VerifyArgs),

    /// Turn an export file into the workspace's files (at a time, or every version), with a
    /// sequester service's private key, checking every signature; writes a report.
    Extract(ExtractArgs),

    /// Generate Parsec data in a staging database, to rehearse an export.
    #[command(subcommand)]
    Testbed(crate::commands::testbed::TestbedCommand),
}

#[derive(Debug, Args)]
pub struct DbArgs {
    /// PostgreSQL URL of the Parsec server's database: postgresql://USER:PASSWORD@HOST:PORT/DB
    /// (postgres:// too; unix socket: postgresql:///DB?host=/run/postgresql).
    #[arg(long, env = "PARSEC_DB", hide_env_values = true, value_name = "URL")]
    pub db: String,

    /// Connections to open to the database for reading block data (POSTGRESQL blockstore).
    /// Default from BENCHMARKS.md: more connections only add server processes competing
    /// for the same cores.
    #[arg(
        long,
        env = "PARSEC_DB_MAX_CONNECTIONS",
        default_value_t = 4,
        value_name = "N"
    )]
    pub db_max_connections: usize,

    /// Accepted for compatibility with Parsec's CLI; not used.
    #[arg(long, env = "PARSEC_DB_MIN_CONNECTIONS", hide = true)]
    pub db_min_connections: Option<usize>,
}

#[derive(Debug, Args)]
pub struct ExportRealmArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// Blockstore configuration, as given to the Parsec server: POSTGRESQL,
    /// s3:[<endpoint>]:<region>:<bucket>:<key>:<secret>,
    /// swift:<auth_url>:<tenant>:<container>:<user>:<password>, or repeated
    /// RAID0|RAID1|RAID5:<node>:<store> (env: values separated by whitespace).
    #[arg(
        short = 'b',
        long = "blockstore",
        env = "PARSEC_BLOCKSTORE",
        hide_env_values = true,
        value_name = "CONFIG",
        required = true
    )]
    pub blockstore: Vec<String>,

    /// Organization ID.
    #[arg(
        long = "organization",
        visible_alias = "organization-id",
        value_name = "ORG"
    )]
    pub organization: String,

    /// Realm ID: 32 hex digits or a hyphenated UUID.
    #[arg(long = "realm", visible_alias = "realm-id", value_name = "ID")]
    pub realm: String,

    /// Snapshot time (RFC 3339, e.g. 2024-05-01T12:00:00Z). Default: the existing export's
    /// snapshot when resuming, else now − 320 s. `latest` forces a new snapshot at now − 320 s.
    #[arg(long, value_name = "TIMESTAMP")]
    pub snapshot_timestamp: Option<String>,

    /// Output file, or a directory where the default name
    /// parsec-export-<ORG>-realm-<ID>-<YYYYMMDDTHHMMSSZ>.sqlite is used [default: .]
    #[arg(value_name = "OUTPUT", conflicts_with = "output_opt")]
    pub output: Option<PathBuf>,

    /// Same as the positional OUTPUT.
    #[arg(long = "output", value_name = "OUTPUT")]
    pub output_opt: Option<PathBuf>,

    /// Concurrent block reads from the blockstore.
    #[arg(short = 'j', long, default_value_t = 32, value_name = "N")]
    pub jobs: usize,

    /// Memory budget for block data being downloaded or awaiting its write (e.g. 64MiB).
    #[arg(long, default_value = "64MiB", value_name = "SIZE")]
    pub buffer_size: bytesize::ByteSize,

    /// Block data is committed to the file every second or every SIZE, whichever comes first:
    /// a kill loses at most what was fetched since (refetched by the next run).
    #[arg(long, default_value = "256MiB", value_name = "SIZE")]
    pub commit_size: bytesize::ByteSize,

    /// Retries of a block read when the store is unavailable (exponential backoff from 0.5 s,
    /// capped at 30 s). "Not found" is never retried.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub retries: u32,

    /// Time limit for one block read attempt, in seconds.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub block_timeout: u64,

    /// No progress display (errors and the final summary are still printed).
    #[arg(short, long)]
    pub quiet: bool,

    /// Print the summary as one JSON object on stdout (also on failure, with the exit code
    /// and the error); progress and warnings stay on stderr. Shape in the README.
    #[arg(long)]
    pub json: bool,
}

/// Options shared by the read-only reports (`human-accesses`, `realms`).
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// PostgreSQL URL of the Parsec server's database: postgresql://USER:PASSWORD@HOST:PORT/DB
    /// (postgres:// too; unix socket: postgresql:///DB?host=/run/postgresql).
    #[arg(long, env = "PARSEC_DB", hide_env_values = true, value_name = "URL")]
    pub db: String,

    /// Organization ID.
    #[arg(
        long = "organization",
        visible_alias = "organization-id",
        value_name = "ORG"
    )]
    pub organization: String,

    /// Print one JSON document instead of the text report (shape documented in the README).
    #[arg(long)]
    pub json: bool,

    /// Colours in the text report: auto = only on a terminal, and not when NO_COLOR is set.
    #[arg(long, value_enum, default_value_t = ColorMode::Auto, value_name = "WHEN")]
    pub color: ColorMode,

    /// Accepted for compatibility with Parsec's CLI; not used (a report uses one connection).
    #[arg(long, hide = true)]
    pub db_min_connections: Option<usize>,

    /// Accepted for compatibility with Parsec's CLI; not used (a report uses one connection).
    #[arg(long, hide = true)]
    pub db_max_connections: Option<usize>,
}

#[derive(Debug, Args)]
pub struct HumanAccessesArgs {
    #[command(flatten)]
    pub report: ReportArgs,

    /// Only users whose human name, email or user ID (32 hex or hyphenated) contains every
    /// whitespace-separated term of TEXT, ignoring case.
    #[arg(long = "query", visible_alias = "filter", value_name = "TEXT")]
    pub query: Option<String>,
}

#[derive(Debug, Args)]
pub struct RealmsArgs {
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The export file to check (opened read-only; never modified).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Also print a SHA-256 of the export's logical content (its rows, independent of the
    /// SQLite layout), to compare exports or write into a hand-over record.
    #[arg(long)]
    pub digest: bool,

    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,

    /// Require the file's vlob and block bytes to equal the totals of `info` exactly (true of
    /// every export made by parsec-sequester; Parsec's exporter may export more than it counts).
    #[arg(long)]
    pub exact_totals: bool,

    /// Do not check certificate signatures. Only for unsigned test data (certificates with
    /// placeholder signatures); real exports, and those of `testbed populate`, are checked.
    #[arg(long)]
    pub no_signatures: bool,

    /// Also compare the file with the database and blockstore it was exported from, for the
    /// file's snapshot (needs --db and --blockstore).
    #[arg(long, requires_all = ["db", "blockstore"])]
    pub against_db: bool,

    /// With --against-db: PostgreSQL URL of the Parsec server's database.
    #[arg(long, env = "PARSEC_DB", hide_env_values = true, value_name = "URL")]
    pub db: Option<String>,

    /// With --against-db: the blockstore configuration, as given to the Parsec server.
    #[arg(
        short = 'b',
        long = "blockstore",
        env = "PARSEC_BLOCKSTORE",
        hide_env_values = true,
        value_name = "CONFIG"
    )]
    pub blockstore: Vec<String>,

    /// With --against-db: database connections used to read blocks (POSTGRESQL blockstore).
    #[arg(
        long,
        env = "PARSEC_DB_MAX_CONNECTIONS",
        default_value_t = 8,
        value_name = "N"
    )]
    pub db_max_connections: usize,

    /// With --against-db: compare this many blocks, chosen at random, byte for byte with the
    /// blockstore.
    #[arg(
        long,
        default_value_t = 100,
        value_name = "N",
        conflicts_with = "all_blocks"
    )]
    pub sample: usize,

    /// With --against-db: compare every block with the blockstore.
    #[arg(long)]
    pub all_blocks: bool,

    /// With --against-db: concurrent block reads.
    #[arg(short = 'j', long, default_value_t = 8, value_name = "N")]
    pub jobs: usize,

    /// With --key: also decrypt and check every version with this sequester service key
    /// (nothing written; report as `extract --history --list`).
    #[command(flatten)]
    pub key: KeyArgs,
}

/// The sequester service's private key (`extract`, `verify --key`).
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// The sequester service's RSA private key: PKCS#8 PEM (encrypted or not), PKCS#1 PEM
    /// or PKCS#8 DER. An encrypted key's passphrase comes from --key-passphrase-file, else
    /// PARSEC_SEQUESTER_KEY_PASSPHRASE, else a prompt on a terminal.
    #[arg(long, value_name = "KEY_FILE")]
    pub key: Option<PathBuf>,

    /// File holding the key's passphrase (its first line break ends it).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub key_passphrase_file: Option<PathBuf>,

    /// The service's ID (32 hex digits): checked against the key, which finds it anyway.
    #[arg(long, value_name = "ID", requires = "key")]
    pub service_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// The export file (opened read-only and immutable: never modified).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Where to write: a new or empty directory (or an interrupted extraction of the same
    /// file and options, which is continued).
    #[arg(value_name = "OUTPUT_DIR", required_unless_present = "list")]
    pub output: Option<PathBuf>,

    #[command(flatten)]
    pub key: KeyArgs,

    /// The time of the tree to extract (RFC 3339) [default: the export's snapshot].
    #[arg(long, value_name = "TIMESTAMP", conflicts_with = "history")]
    pub at: Option<String>,

    /// Every version of every file and folder, with its path(s) at that time.
    #[arg(long)]
    pub history: bool,

    /// Print the entries (and check everything) without writing any file.
    #[arg(long, conflicts_with = "output")]
    pub list: bool,

    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,

    /// Threads decrypting blocks [default: the number of CPUs].
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,

    /// No progress display.
    #[arg(short, long)]
    pub quiet: bool,
}

impl Command {
    /// The `--db` URL the command was given, so that its password can be scrubbed from any
    /// message (see `secrets`).
    pub fn db_url(&self) -> Option<&str> {
        match self {
            Command::ExportRealm(args) => Some(&args.db.db),
            Command::HumanAccesses(args) => Some(&args.report.db),
            Command::Realms(args) => Some(&args.report.db),

            Command::Verify(args) => args.db.as_deref(),
            Command::Extract(_) => None,
            Command::Testbed(crate::commands::testbed::TestbedCommand::Populate(args)) => {
                Some(&args.db)
            }
        }
    }

    /// The `--blockstore` values, whose credentials are scrubbed too.
    pub fn blockstore_values(&self) -> &[String] {
        match self {
            Command::ExportRealm(args) => &args.blockstore,
            Command::Testbed(crate::commands::testbed::TestbedCommand::Populate(args)) => {
                &args.blockstore
            }
            Command::Verify(args) => &args.blockstore,
            Command::HumanAccesses(_) | Command::Realms(_) | Command::Extract(_) => &[],
        }
    }
}
