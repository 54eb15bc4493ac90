//! Test-data generator: fills a real PostgreSQL database with Parsec v3 organizations, for
//! integration tests, demos and benchmarks.
//!
//! Typical use on an empty database:
//! 1. [`create_schema`] (tables as in a Parsec v3 server at migration 26, plus `migration` rows);
//! 2. optionally [`load_sql_dump`] with the fixture dump (must come before any [`populate`]: the
//!    dump inserts fixed `_id`s and moves the sequences past them);
//! 3. [`populate`] / [`populate_with_sink`] once per organization.
//!
//! A generated organization follows Parsec's server rules (reference sections 1 and 11) so that
//! exporting one of its realms exercises every part of the export: common, sequester and realm
//! certificates, several key rotations, accesses from rotations and from sharings (including an
//! unsharing followed by a new sharing), a revoked user re-invited as a new user, profile
//! changes, a revoked sequester service, an archived realm, many vlob versions and blocks.
//! Every byte is real: certificates are signed, keys bundles and accesses open with the
//! users' and sequester services' keys, vlobs are signed and encrypted manifests of a
//! workspace history (`history`), blocks are encrypted content; `record` is the
//! generator's own account of it.

mod certificates;
mod history;
mod keyring;
pub mod keys_dir;
mod plan;
mod random;
pub mod record;
mod stores;
mod writer;

pub use stores::{upload_sink, BlockUploader};

use anyhow::{ensure, Context, Result};
use chrono::{DateTime, TimeZone, Utc};
use tokio_postgres::Client;
use uuid::Uuid;

/// DDL of the test schema (no `migration` rows: see [`create_schema`]).
pub const SCHEMA_SQL: &str = include_str!("../../testbed/parsec_v3_schema.sql");

/// Names of Parsec's PostgreSQL migrations 1 to 26 (`NNNN_<name>.sql`), as recorded in the
/// `migration` table of a real database.
pub const MIGRATIONS: [&str; 26] = [
    "initial",
    "user_human_always_present",
    "user_current_profile",
    "non_blocking_invitation",
    "remove_old_invite_transport",
    "tos",
    "shamir",
    "fix_sequester_service",
    "external_service_for_invitation",
    "always_kept_realm_key_bundle_access",
    "remove_realm_created_by_outsider",
    "allowed_client_agent_and_account_vault_strategy",
    "account",
    "block_realm_based_unique_index",
    "drop_email_unicode_support",
    "pki_enrollment_add_sign_algo",
    "rm_pki_enrollment_submit_der_cert_sha1",
    "remove_per_organization_config",
    "certificate_table",
    "async_enrollment",
    "totp",
    "realm_archiving_flags",
    "remove_legacy_pki",
    "rename_minimum_archiving_period",
    "remove_realm_user_change_table",
    "cryptpad",
];

/// Receives the bytes of every generated block (see [`populate_with_sink`]).
pub type BlockSink<'a> = dyn FnMut(Uuid, &[u8]) -> Result<()> + Send + 'a;

/// Creates the enum types and tables of [`SCHEMA_SQL`] and records migrations 1 to 26 in
/// `migration` (`applied` one second apart, the last one at `now()`: Parsec takes the most
/// recently applied row as the current level), in one transaction.
pub async fn create_schema(client: &Client) -> Result<()> {
    client
        .batch_execute("BEGIN")
        .await
        .context("starting a transaction")?;
    let result = async {
        client
            .batch_execute(SCHEMA_SQL)
            .await
            .context("creating the Parsec v3 test schema")?;
        let numbers: Vec<i32> = (1..=MIGRATIONS.len() as i32).collect();
        client
            .execute(
                "INSERT INTO migration (_id, name, applied)
                 SELECT number, name, now() - make_interval(secs => $3::integer - number)
                 FROM unnest($1::integer[], $2::text[]) AS m(number, name)",
                &[&numbers, &MIGRATIONS.as_slice(), &(MIGRATIONS.len() as i32)],
            )
            .await
            .context("recording migrations")?;
        Ok(())
    }
    .await;
    finish_transaction(client, result).await
}

/// Loads a `pg_dump --data-only` SQL text (such as the fixture `testbed-data.sql`) into a
/// database made by [`create_schema`], in one transaction:
/// - lines starting with `\` (psql meta-commands such as `\restrict`) are dropped;
/// - the dump's session settings (`SET ...`, `set_config(..., false)`) are made
///   transaction-local, so the connection is left as it was (pg_dump empties `search_path`);
/// - triggers and foreign-key checks are off (`session_replication_role = replica`), as
///   `user_` and `device` reference each other;
/// - the `migration` rows of [`create_schema`] are deleted first, as the dump has its own.
pub async fn load_sql_dump(client: &Client, dump: &str) -> Result<()> {
    let sql = transaction_local_dump(dump);
    client
        .batch_execute(
            "BEGIN; SET LOCAL session_replication_role = replica; DELETE FROM migration;",
        )
        .await
        .context("preparing to load the SQL dump")?;
    let result = client
        .batch_execute(&sql)
        .await
        .context("loading the SQL dump");
    finish_transaction(client, result).await
}

fn transaction_local_dump(dump: &str) -> String {
    let mut sql = String::with_capacity(dump.len() + 1024);
    for line in dump.lines().filter(|line| !line.starts_with('\\')) {
        if let Some(setting) = line.strip_prefix("SET ") {
            sql.push_str("SET LOCAL ");
            sql.push_str(setting);
        } else if line.starts_with("SELECT pg_catalog.set_config(") && line.ends_with(", false);") {
            sql.push_str(&line[..line.len() - ", false);".len()]);
            sql.push_str(", true);");
        } else {
            sql.push_str(line);
        }
        sql.push('\n');
    }
    sql
}

/// Commits on success; on failure rolls back and returns the original error.
async fn finish_transaction<T>(client: &Client, result: Result<T>) -> Result<T> {
    match result {
        Ok(value) => {
            client.batch_execute("COMMIT").await.context("committing")?;
            Ok(value)
        }
        Err(error) => {
            // The original error is the one worth reporting; a failed rollback only means
            // the connection is already unusable.
            let _ = client.batch_execute("ROLLBACK").await;
            Err(error)
        }
    }
}

/// What to generate for one organization.
#[derive(Clone, Debug)]
pub struct OrgSpec {
    /// 1 to 32 bytes of word characters or `-`; must not exist yet in the database.
    pub organization_id: String,
    /// Sequester authority plus two services, the first one revoked later.
    pub sequestered: bool,
    /// At least 3. One human gets two users (the first revoked); so there are `humans + 1`
    /// users.
    pub humans: usize,
    /// At least 1.
    pub realms: usize,
    /// At least 1 (version 1 of the workspace manifest).
    pub vlob_versions_per_realm: usize,
    pub blocks_per_realm: usize,
    /// Encrypted block sizes in bytes (cleartext + 40), uniform in [min, max]; min >= 41.
    pub block_size_min: usize,
    /// Parsec's blocks are at most 512 KiB (plus encryption overhead).
    pub block_size_max: usize,
    /// Bootstrap time (first event); truncated to µs.
    pub start: DateTime<Utc>,
    /// Everything but `_id` values is determined by the spec, this seed included.
    pub seed: u64,
    /// Write block bytes to `block_data` (the POSTGRESQL blockstore).
    pub store_blocks_in_db: bool,
    /// Devices' clocks run up to this many seconds ahead or behind the server's (Parsec
    /// accepts −320 s to +300 s): vlob timestamps are the client's, so versions written in
    /// one order get timestamps out of order. Blocks keep the server's time. 0: in step.
    pub clock_skew_s: u32,
    /// Size of the sequester RSA keys (authority and services): 1024, 2048, 3072 or 4096.
    pub sequester_key_bits: usize,
    /// Build [`GeneratedOrg::record`] (costs a re-read of every file version's content).
    pub record: bool,
    /// File content (and folder and file names) from this directory tree
    /// (`testbed populate --from-dir`); seeded content otherwise.
    pub from_dir: Option<std::path::PathBuf>,
}

/// Parsec's default sequester key size.
pub const DEFAULT_SEQUESTER_KEY_BITS: usize = 2048;

impl OrgSpec {
    /// A few users (5 humans, 6 users), 3 realms with 14 vlob versions and 10 blocks of
    /// 1 to 64 KiB each (about 40 vlob versions and 30 blocks in all), not sequestered, blocks in
    /// `block_data`, starting 2024-01-08 09:00 UTC, seed derived from the organization ID (so
    /// that two organizations get different IDs, keys and payloads).
    pub fn small(organization_id: &str) -> Self {
        Self {
            organization_id: organization_id.to_owned(),
            sequestered: false,
            humans: 5,
            realms: 3,
            vlob_versions_per_realm: 14,
            blocks_per_realm: 10,
            block_size_min: 1024,
            block_size_max: 64 * 1024,
            start: Utc
                .with_ymd_and_hms(2024, 1, 8, 9, 0, 0)
                .single()
                .expect("valid date"),
            seed: random::fnv1a(organization_id.as_bytes()),
            store_blocks_in_db: true,
            clock_skew_s: 0,
            sequester_key_bits: DEFAULT_SEQUESTER_KEY_BITS,
            record: false,
            from_dir: None,
        }
    }

    /// Benchmark scale: 12 humans, 2 realms with 12 500 vlob versions and 10 000 blocks of
    /// 4 to 512 KiB each (25 000 vlob versions, 20 000 blocks, about 5 GiB of block data).
    pub fn large(organization_id: &str) -> Self {
        Self {
            humans: 12,
            realms: 2,
            vlob_versions_per_realm: 12_500,
            blocks_per_realm: 10_000,
            block_size_min: 4 * 1024,
            block_size_max: 512 * 1024,
            ..Self::small(organization_id)
        }
    }

    pub fn validate(&self) -> Result<()> {
        let id = &self.organization_id;
        ensure!(
            (1..=32).contains(&id.len())
                && id
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-'),
            "invalid organization ID {id:?}"
        );
        ensure!(self.humans >= 3, "at least 3 humans are needed");
        ensure!(
            crate::parsec::crypto::rsa_key::ALLOWED_BITS.contains(&self.sequester_key_bits),
            "sequester keys are 1024, 2048, 3072 or 4096 bits, not {}",
            self.sequester_key_bits
        );
        ensure!(self.realms >= 1, "at least 1 realm is needed");
        ensure!(
            self.vlob_versions_per_realm >= 1,
            "each realm needs at least 1 vlob version"
        );
        ensure!(
            self.block_size_min > crate::parsec::crypto::secretbox::OVERHEAD
                && self.block_size_min <= self.block_size_max
                && self.block_size_max <= i32::MAX as usize,
            "invalid block size range {}..={} (encrypted sizes: at least 41 bytes, 40 of them encryption)",
            self.block_size_min,
            self.block_size_max
        );
        Ok(())
    }
}

/// What [`populate`] generated.
#[derive(Debug)]
pub struct GeneratedOrg {
    pub organization_id: String,
    /// `organization._id`
    pub internal_id: i32,
    pub sequestered: bool,
    /// Timestamp of the bootstrap (first user, sequester authority).
    pub bootstrapped_on: DateTime<Utc>,
    pub realms: Vec<GeneratedRealm>,
    /// Timestamp of the last generated event (a certificate; every vlob and block is older).
    pub end: DateTime<Utc>,
    /// (block ID, bytes) of every block, only when `!spec.store_blocks_in_db` and only from
    /// [`populate`] (holds all block data in memory: use [`populate_with_sink`] at scale).
    pub blocks: Vec<(Uuid, Vec<u8>)>,
    /// The sequester services, with their private keys.
    pub services: Vec<GeneratedService>,
    /// What was written, when `spec.record` (see [`record`]).
    pub record: Option<record::OrgRecord>,
}

#[derive(Debug)]
pub struct GeneratedService {
    pub service_id: Uuid,
    pub label: String,
    pub created_on: DateTime<Utc>,
    pub revoked_on: Option<DateTime<Utc>>,
    pub key: crate::parsec::crypto::rsa_key::SequesterPrivateKey,
    /// (realm, highest readable key index): keys 1 to that index, from its last keys-bundle
    /// access; realms it has no access to are absent.
    pub readable: Vec<(Uuid, u32)>,
}

#[derive(Debug)]
pub struct GeneratedRealm {
    pub realm_id: Uuid,
    /// Timestamp of the realm's creation (its first role certificate).
    pub created_on: DateTime<Utc>,
    pub vlob_versions: usize,
    pub blocks: usize,
    /// `realm._id`
    pub internal_id: i32,
    /// Final key index (= number of key rotations).
    pub key_index: i32,
    /// Has an ARCHIVED archiving certificate (status ARCHIVED_OR_DELETION_PLANNED).
    pub archived: bool,
    /// Sum of `vlob_atom.size`.
    pub vlob_bytes: u64,
    /// Sum of `block.size`.
    pub block_bytes: u64,
}

/// Populates one organization (see the module documentation), in one transaction.
/// Block bytes are returned in [`GeneratedOrg::blocks`] when they are not stored in the
/// database.
pub async fn populate(client: &Client, spec: &OrgSpec) -> Result<GeneratedOrg> {
    let keep_blocks = !spec.store_blocks_in_db;
    let mut blocks = Vec::new();
    let mut org = populate_with_sink(client, spec, &mut |block_id, data| {
        if keep_blocks {
            blocks.push((block_id, data.to_vec()));
        }
        Ok(())
    })
    .await?;
    org.blocks = blocks;
    Ok(org)
}

/// Like [`populate`], but hands the bytes of every block to `sink` (whether or not they are
/// also stored in `block_data`) instead of keeping them, so memory stays bounded at any
/// scale. Blocks come in `block._id` order. A sink error aborts the generation (rolled back).
pub async fn populate_with_sink(
    client: &Client,
    spec: &OrgSpec,
    sink: &mut BlockSink<'_>,
) -> Result<GeneratedOrg> {
    spec.validate()?;
    let import = spec
        .from_dir
        .as_deref()
        .map(history::Import::read)
        .transpose()?;
    let plan = plan::plan(spec);
    client
        .batch_execute("BEGIN")
        .await
        .context("starting a transaction")?;
    let result = writer::write(client, spec, &plan, import.as_ref(), sink)
        .await
        .with_context(|| format!("generating organization {:?}", spec.organization_id));
    finish_transaction(client, result).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_settings_become_transaction_local() {
        let dump = "\\restrict abc\nSET lock_timeout = 0;\n\
                    SELECT pg_catalog.set_config('search_path', '', false);\n\
                    INSERT INTO public.x VALUES ('\\x00');\n\\unrestrict abc\n";
        assert_eq!(
            transaction_local_dump(dump),
            "SET LOCAL lock_timeout = 0;\n\
             SELECT pg_catalog.set_config('search_path', '', true);\n\
             INSERT INTO public.x VALUES ('\\x00');\n"
        );
    }

    #[test]
    fn spec_validation() {
        assert!(OrgSpec::small("Org-1_é").validate().is_ok());
        assert!(OrgSpec::large("Big").validate().is_ok());
        assert!(OrgSpec::small("").validate().is_err());
        assert!(OrgSpec::small("bad id").validate().is_err());
        assert!(OrgSpec::small(&"x".repeat(33)).validate().is_err());
        let mut spec = OrgSpec::small("Org");
        spec.humans = 2;
        assert!(spec.validate().is_err());
        let mut spec = OrgSpec::small("Org");
        spec.block_size_min = spec.block_size_max + 1;
        assert!(spec.validate().is_err());
    }

    /// Compile-time check: the generation futures can be spawned on a multi-threaded runtime.
    #[allow(dead_code)]
    fn futures_are_send(client: &Client, spec: &OrgSpec) {
        fn assert_send<T: Send>(_: &T) {}
        assert_send(&populate(client, spec));
        assert_send(&populate_with_sink(client, spec, &mut |_, _| Ok(())));
        assert_send(&create_schema(client));
        assert_send(&load_sql_dump(client, ""));
    }

    #[test]
    fn schema_has_no_migration_rows() {
        assert!(!SCHEMA_SQL.to_lowercase().contains("insert into"));
    }
}
