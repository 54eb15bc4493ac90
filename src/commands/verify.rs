//! `parsec-sequester verify`: check an export file, optionally against its source, print the
//! report (text or JSON) and exit with a code saying whether it passed.

use std::io::Write;

use crate::blockstore::parse_blockstore_configs;
use crate::cli::VerifyArgs;
use crate::db::DbTarget;
use crate::error::{Error, Result};
use crate::extract;
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
    // --key: decrypt and check every version too (nothing written), after the file's checks.
    let decrypted = decrypt_with_key(&args, report.problems.is_empty())?;
    // Streamed (the decryption report has a line per version). A closed stdout (`| head`)
    // must not hide the exit code.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let _ = print(&mut out, &report, decrypted.as_ref(), args.json).and_then(|()| out.flush());
    if !report.problems.is_empty() {
        return Err(Error::VerifyFailed {
            path: args.file,
            problems: report.problems.len(),
        });
    }
    match &report.against_db {
        Some(a) if !a.ok => {
            return Err(Error::VerifyDiffers {
                path: args.file,
                differences: a.differences.len(),
            })
        }
        _ => {}
    }
    match &decrypted {
        Some(d) => crate::commands::extract::partial(d, None),
        None => Ok(()),
    }
}

/// `verify --key`: `extract --history` without output, when the file itself passed.
fn decrypt_with_key(args: &VerifyArgs, file_ok: bool) -> Result<Option<extract::Report>> {
    let (key, passphrase_file, service_id) = crate::commands::extract::key_options(&args.key)?;
    let Some(key) = key else {
        return Ok(None);
    };
    if !file_ok {
        crate::progress::stderr_line(
            "Not decrypted with --key: the file itself has problems (listed above)",
        );
        return Ok(None);
    }
    let opts = extract::Options {
        file: args.file.clone(),
        key,
        passphrase_file,
        service_id,
        at: None,
        history: true,
        output: None,
        jobs: std::thread::available_parallelism().map_or(2, |n| n.get()),
        quiet: true,
    };
    let outcome = tokio::task::block_in_place(|| extract::run(&opts))?;
    Ok(Some(outcome.report))
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

/// With `--key`, the JSON is `{"decrypt": …, "verify": …}`.
#[derive(serde::Serialize)]
struct WithDecrypt<'a> {
    decrypt: &'a extract::Report,
    verify: &'a verify::Report,
}

fn print(
    w: &mut impl Write,
    report: &verify::Report,
    decrypted: Option<&extract::Report>,
    json: bool,
) -> std::io::Result<()> {
    if json {
        match decrypted {
            Some(decrypt) => serde_json::to_writer_pretty(
                &mut *w,
                &WithDecrypt {
                    decrypt,
                    verify: report,
                },
            )?,
            None => serde_json::to_writer_pretty(&mut *w, report)?,
        }
        return writeln!(w);
    }
    w.write_all(verify::text::render(report).as_bytes())?;
    if let Some(d) = decrypted {
        writeln!(
            w,
            "\nDecryption with the sequester service key (every version, nothing written):"
        )?;
        d.write_text(w)?;
    }
    Ok(())
}
