//! `parsec-sequester testbed populate`: fill a staging database with a generated Parsec v3
//! organization, to rehearse an export (also used by the demo and the benchmarks).

use std::fmt::Write;

use bytesize::ByteSize;
use clap::builder::TypedValueParser;
use clap::{Args, Subcommand};

use crate::db::DbTarget;
use crate::error::{Error, Result};
use crate::ids::validate_organization_id;
use crate::testbed::{self, OrgSpec};

#[derive(Debug, Subcommand)]
pub enum TestbedCommand {
    /// Create an organization with realms, users, vlobs and blocks (blocks in block_data).
    Populate(PopulateArgs),
}

#[derive(Debug, Args)]
pub struct PopulateArgs {
    /// PostgreSQL URL of the staging database (it is written to).
    #[arg(long, env = "PARSEC_DB", hide_env_values = true, value_name = "URL")]
    pub db: String,
    /// Create the Parsec v3 tables first (the database must be empty).
    #[arg(long)]
    pub create_schema: bool,
    /// Add the organization even if the database already holds Parsec data.
    #[arg(long)]
    pub allow_existing_data: bool,
    #[arg(
        long = "organization",
        visible_alias = "organization-id",
        default_value = "DemoOrg"
    )]
    pub organization: String,
    /// Give the organization a sequester authority and two sequester services.
    #[arg(long)]
    pub sequestered: bool,
    /// Size of the generated sequester RSA keys (1024 makes tests faster).
    #[arg(long, default_value_t = testbed::DEFAULT_SEQUESTER_KEY_BITS, value_name = "BITS",
          value_parser = clap::builder::PossibleValuesParser::new(["1024", "2048", "3072", "4096"])
              .map(|s| s.parse::<usize>().unwrap_or(testbed::DEFAULT_SEQUESTER_KEY_BITS)))]
    pub sequester_key_bits: usize,
    #[arg(long, default_value_t = 5)]
    pub humans: usize,
    #[arg(long, default_value_t = 3)]
    pub realms: usize,
    #[arg(long, default_value_t = 200)]
    pub vlobs_per_realm: usize,
    #[arg(long, default_value_t = 100)]
    pub blocks_per_realm: usize,
    #[arg(long, default_value = "16KiB")]
    pub block_size_min: ByteSize,
    /// Parsec's blocks are at most 512 KiB.
    #[arg(long, default_value = "512KiB")]
    pub block_size_max: ByteSize,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Devices' clocks run up to this many seconds ahead of or behind the server's, so that
    /// vlob timestamps (the client's) are out of insertion order. At most 300 (Parsec's
    /// accepted window).
    #[arg(long, default_value_t = 0, value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(0..=300))]
    pub clock_skew: u32,
    /// Where to put the blocks: POSTGRESQL (block_data), or S3 stores (s3:…, RAID0/1/5 of
    /// s3:… nodes), laid out as Parsec's server writes them.
    #[arg(
        short = 'b',
        long = "blockstore",
        default_value = "POSTGRESQL",
        hide_default_value = true
    )]
    pub blockstore: Vec<String>,
    /// With an S3 blockstore, also keep a copy of the blocks in block_data.
    #[arg(long)]
    pub also_in_db: bool,
    /// Write the sequester services' private keys (DIR/<org>/sequester-services/<id>.pem)
    /// and the generator's record of what it wrote (DIR/<org>/record.json). Never
    /// overwrites a file.
    #[arg(long, value_name = "DIR")]
    pub keys_dir: Option<std::path::PathBuf>,
    /// Encrypt the key files with the passphrase in FILE (first line).
    #[arg(long, value_name = "FILE", requires = "keys_dir")]
    pub keys_passphrase_file: Option<std::path::PathBuf>,
    /// Take file content, file names and folders from this directory tree (imported, then
    /// edited); seeded content otherwise.
    #[arg(long, value_name = "DIR")]
    pub from_dir: Option<std::path::PathBuf>,
}

pub async fn run(command: TestbedCommand) -> Result<()> {
    match command {
        TestbedCommand::Populate(args) => populate(args).await,
    }
}

async fn populate(args: PopulateArgs) -> Result<()> {
    let db = DbTarget::parse(&args.db)?;
    let organization_id = validate_organization_id(&args.organization)?;
    let usage = |e: anyhow::Error| Error::Usage(format!("{e:#}"));
    let passphrase = args
        .keys_passphrase_file
        .as_deref()
        .map(testbed::keys_dir::read_passphrase)
        .transpose()
        .map_err(usage)?;
    if let Some(dir) = &args.keys_dir {
        testbed::keys_dir::check_free(dir, &organization_id).map_err(usage)?;
    }
    if let Some(dir) = &args.from_dir {
        if !dir.is_dir() {
            return Err(Error::Usage(format!(
                "--from-dir: {} is not a directory",
                dir.display()
            )));
        }
    }
    let client = db.connect_read_write().await?;
    let fail = |e: anyhow::Error| Error::Internal(db.scrub(&format!("{e:#}")));
    if args.create_schema {
        let has_tables: bool = client
            .query_one(crate::db::queries::TABLE_EXISTS, &[&"organization"])
            .await
            .map_err(|e| Error::db("inspecting the database", e))?
            .get(0);
        if has_tables {
            return Err(Error::Usage(format!(
                "--create-schema: {db} already has Parsec tables; drop --create-schema to add an organization"
            )));
        }
        testbed::create_schema(&client).await.map_err(fail)?;
    } else {
        crate::db::schema::check(&client).await?;
        let orgs: i64 = client
            .query_one("SELECT COUNT(*) FROM organization", &[])
            .await
            .map_err(|e| Error::db("inspecting the database", e))?
            .get(0);
        if orgs > 0 && !args.allow_existing_data {
            return Err(Error::Usage(format!(
                "{db} already holds {orgs} organization(s): it may be a real server's database. Pass --allow-existing-data to add a generated organization anyway"
            )));
        }
    }
    let mut spec = OrgSpec::small(&organization_id);
    spec.sequestered = args.sequestered;
    spec.sequester_key_bits = args.sequester_key_bits;
    spec.humans = args.humans;
    spec.realms = args.realms;
    spec.vlob_versions_per_realm = args.vlobs_per_realm;
    spec.blocks_per_realm = args.blocks_per_realm;
    spec.block_size_min = args.block_size_min.as_u64() as usize;
    spec.block_size_max = args.block_size_max.as_u64() as usize;
    if let Some(seed) = args.seed {
        spec.seed = seed;
    }
    spec.clock_skew_s = args.clock_skew;
    spec.record = args.keys_dir.is_some();
    spec.from_dir = args.from_dir.clone();
    let blockstore = crate::blockstore::parse_blockstore_configs(&args.blockstore)?;
    let uploader = testbed::BlockUploader::for_config(&blockstore).map_err(fail)?;
    spec.store_blocks_in_db = uploader.is_none() || args.also_in_db;
    let mut org = match &uploader {
        None => testbed::populate(&client, &spec).await,
        Some(up) => {
            let mut sink = testbed::upload_sink(up, &organization_id);
            testbed::populate_with_sink(&client, &spec, &mut sink).await
        }
    }
    .map_err(fail)?;
    let mut text = String::new();
    writeln!(
        text,
        "Organization {} created ({} realms):",
        org.organization_id,
        org.realms.len()
    )
    .ok();
    for realm in &org.realms {
        writeln!(
            text,
            "  realm {}  created {}  {} vlob versions, {} blocks",
            realm.realm_id.simple(),
            crate::ids::format_timestamp(realm.created_on.timestamp_micros()),
            realm.vlob_versions,
            realm.blocks
        )
        .ok();
    }
    if let Some(dir) = &args.keys_dir {
        // The organization is committed by now: say so, so that nothing is lost.
        let org_dir =
            testbed::keys_dir::write(dir, &mut org, passphrase.as_deref()).map_err(|e| {
                Error::OutputIo {
                    path: dir.clone(),
                    reason: format!(
                        "{e:#} (organization {} was created; its keys could not be saved)",
                        org.organization_id
                    ),
                }
            })?;
        writeln!(
            text,
            "Keys and record in {}: {} ({} sequester service key(s){}), {}",
            org_dir.display(),
            testbed::keys_dir::SERVICES_DIR,
            org.services.len(),
            if passphrase.is_some() {
                ", passphrase-protected"
            } else {
                ""
            },
            testbed::keys_dir::RECORD_FILE
        )
        .ok();
    }
    for service in &org.services {
        let revoked = service.revoked_on.map_or(String::new(), |t| {
            format!(
                ", revoked {}",
                crate::ids::format_timestamp(t.timestamp_micros())
            )
        });
        writeln!(
            text,
            "  sequester service {} {:?} (created {}{revoked}):",
            service.service_id.simple(),
            service.label,
            crate::ids::format_timestamp(service.created_on.timestamp_micros()),
        )
        .ok();
        for realm in &org.realms {
            let readable = service
                .readable
                .iter()
                .find(|(id, _)| *id == realm.realm_id)
                .map(|(_, index)| *index);
            let what = match readable {
                None => "nothing (no keys bundle access)".to_owned(),
                Some(index) if index as i32 == realm.key_index => {
                    format!("every key (1 to {index})")
                }
                Some(index) => format!(
                    "keys 1 to {index} of {} (not what is encrypted later)",
                    realm.key_index
                ),
            };
            writeln!(text, "    realm {}: {what}", realm.realm_id.simple()).ok();
        }
    }
    crate::report::output::print_styled(&text)
}
