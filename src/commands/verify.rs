//! `parsec-sequester verify`: check an export file, optionally against its source, print the
//! report (text or JSON) and exit with a code saying whether it passed.

use std::io::Write;

use crate::blockstore::parse_blockstore_configs;
use crate::cli::VerifyArgs;
use crate::db::DbTarget;
use crate::error::{Error, Result};
use crate::verify::{self, BlockSample, Options, SourceRequest};

pub async fn run(args: VerifyArgs) -> Result<()> {
    let request = if args.against_db {
        Some(source_request(&args)?)
    } else {
        None
    };
    let options = Options {
        digest: args.digest,
        exact_totals: args.exact_totals,
        no_signatures: args.no_signatures,
    };
    let mut session = tokio::task::block_in_place(|| verify::check_file(&args.file, &options))?;
    if let Some(request) = &request {
        session.compare_with_source(request).await?;
    }
    let report = session.finish();
    let text = if args.json {
        let mut json = serde_json::to_string_pretty(&report)
            .map_err(|e| Error::Internal(format!("cannot encode the report as JSON: {e}")))?;
        json.push('\n');
        json
    } else {
        verify::text::render(&report)
    };
    // A closed stdout (`| head`) must not hide the exit code.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    if !report.problems.is_empty() {
        return Err(Error::VerifyFailed {
            path: args.file,
            problems: report.problems.len(),
        });
    }
    match &report.against_db {
        Some(a) if !a.ok => Err(Error::VerifyDiffers {
            path: args.file,
            differences: a.differences.len(),
        }),
        _ => Ok(()),
    }
}

fn source_request(args: &VerifyArgs) -> Result<SourceRequest> {
    let url = args
        .db
        .as_deref()
        .ok_or_else(|| Error::Usage("--against-db needs --db (or PARSEC_DB)".into()))?;
    if args.jobs == 0 {
        return Err(Error::Usage("--jobs must be at least 1".into()));
    }
    Ok(SourceRequest {
        db: DbTarget::parse(url)?,
        blockstore: parse_blockstore_configs(&args.blockstore)?,
        db_connections: args.db_max_connections.clamp(1, 64),
        sample: if args.all_blocks {
            BlockSample::All
        } else {
            BlockSample::Random(args.sample)
        },
        jobs: args.jobs,
    })
}
