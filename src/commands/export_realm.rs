//! `parsec-sequester export-realm`: validate the arguments, run the export with progress and
//! signal handling, print the summary.

use indicatif::HumanBytes;
use tokio::signal::unix::{signal, SignalKind};

use crate::blockstore::{parse_blockstore_configs, RetryPolicy};
use crate::cli::ExportRealmArgs;
use crate::commands::export_summary;
use crate::db::DbTarget;
use crate::error::{Error, Result};
use crate::export::{
    self, ExportRequest, Interrupt, OutputTarget, SnapshotChoice, Summary, Tuning,
};
use crate::ids::{format_timestamp, parse_realm_id, parse_timestamp, validate_organization_id};
use crate::progress::{Mode, Progress};

pub fn request_from_args(args: &ExportRealmArgs) -> Result<ExportRequest> {
    let db = DbTarget::parse(&args.db.db)?;
    let blockstore = parse_blockstore_configs(&args.blockstore)?;
    let organization_id = validate_organization_id(&args.organization)?;
    let realm_id = parse_realm_id(&args.realm)?;
    let snapshot = match args.snapshot_timestamp.as_deref() {
        None => SnapshotChoice::Auto,
        Some(t) if t.eq_ignore_ascii_case("latest") => SnapshotChoice::Latest,
        Some(t) => SnapshotChoice::At(parse_timestamp(t)?),
    };
    if args.jobs == 0 {
        return Err(Error::Usage("--jobs must be at least 1".into()));
    }
    if args.buffer_size.as_u64() < 1024 * 1024 {
        return Err(Error::Usage("--buffer-size must be at least 1MiB".into()));
    }
    if args.commit_size.as_u64() < 1024 * 1024 {
        return Err(Error::Usage("--commit-size must be at least 1MiB".into()));
    }
    if args.block_timeout == 0 {
        return Err(Error::Usage(
            "--block-timeout must be at least 1 second".into(),
        ));
    }
    let retry = RetryPolicy {
        retries: args.retries,
        attempt_timeout: std::time::Duration::from_secs(args.block_timeout),
        ..RetryPolicy::default()
    };
    let output = args
        .output
        .clone()
        .or_else(|| args.output_opt.clone())
        .unwrap_or_else(|| ".".into());
    Ok(ExportRequest {
        db,
        blockstore,
        retry,
        organization_id,
        realm_id,
        snapshot,
        output: OutputTarget(output),
        tuning: Tuning {
            jobs: args.jobs,
            buffer_bytes: args.buffer_size.as_u64(),
            commit_bytes: args.commit_size.as_u64(),
        },
        db_connections: args.db.db_max_connections.clamp(1, 64),
    })
}

pub async fn run(args: ExportRealmArgs) -> Result<()> {
    let request = request_from_args(&args)?;
    let progress = Progress::new(Mode::detect(args.quiet));
    let interrupt = Interrupt::default();
    watch_signals(interrupt.clone(), progress.clone())?;
    let result = export::export_realm(request, &progress, &interrupt).await;
    if let Err(Error::Interrupted { .. }) = &result {
        crate::progress::stderr_line("Export interrupted: everything fetched so far is saved in the file. Run the same command again to resume.");
    }
    match (result, args.json) {
        (Ok(summary), false) => print_summary(&summary),
        (Ok(summary), true) => print_stdout(&export_summary::json_of_summary(&summary)),
        (Err(e), true) => {
            let secrets = crate::secrets::collect_from(Some(&args.db.db), &args.blockstore);
            let message = crate::secrets::scrub(&e.to_string(), &secrets);
            print_stdout(&export_summary::json_of_error(&e, message))?;
            Err(e)
        }
        (Err(e), false) => Err(e),
    }
}

/// A closed stdout (`| head`) must not hide the exit code.
fn print_stdout(text: &str) -> Result<()> {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(())
}

/// First SIGINT/SIGTERM: stop at the next commit point. Second: leave at once (the file is
/// still consistent: SQLite rolls back the unfinished transaction on the next open).
fn watch_signals(interrupt: Interrupt, progress: Progress) -> Result<()> {
    let mut sigint = signal(SignalKind::interrupt())
        .map_err(|e| Error::Internal(format!("cannot watch SIGINT: {e}")))?;
    let mut sigterm = signal(SignalKind::terminate())
        .map_err(|e| Error::Internal(format!("cannot watch SIGTERM: {e}")))?;
    tokio::spawn(async move {
        let mut seen = 0;
        loop {
            let sig = tokio::select! {
                _ = sigint.recv() => libc::SIGINT,
                _ = sigterm.recv() => libc::SIGTERM,
            };
            seen += 1;
            if seen == 1 {
                progress.message(
                    "Stopping: saving what was fetched (press Ctrl-C again to quit at once)…",
                );
                interrupt.trigger(sig);
            } else {
                crate::progress::stderr_line("Quitting now. Run the same command again to resume.");
                std::process::exit(128 + sig);
            }
        }
    });
    Ok(())
}

/// The summary goes to stdout, in one write (a closed pipe is not an error).
fn print_summary(s: &Summary) -> Result<()> {
    let mut text = Vec::new();
    write_summary(&mut text, s)
        .map_err(|e| Error::Internal(format!("formatting the summary: {e}")))?;
    crate::report::output::print_styled(&String::from_utf8_lossy(&text))
}

fn write_summary(out: &mut impl std::io::Write, s: &Summary) -> std::io::Result<()> {
    let c = &s.counts;
    if s.already_complete {
        writeln!(out, "Export complete (nothing to do): {}", s.path.display())?;
    } else {
        writeln!(out, "Export complete: {}", s.path.display())?;
    }
    writeln!(out, "  organization        {}", s.info.organization_id)?;
    writeln!(out, "  realm               {}", s.info.realm_id.simple())?;
    writeln!(
        out,
        "  snapshot            {}",
        format_timestamp(s.info.snapshot_timestamp)
    )?;
    writeln!(
        out,
        "  certificates        {} common, {} sequester, {} realm",
        c.common_certificates, c.sequester_certificates, c.realm_certificates
    )?;
    writeln!(
        out,
        "  keys                {} keys bundles, {} user accesses, {} sequester accesses",
        c.keys_bundles, c.user_accesses, c.sequester_accesses
    )?;
    writeln!(
        out,
        "  vlob versions       {} ({})",
        c.vlobs.0,
        HumanBytes(c.vlobs.1 as u64)
    )?;
    writeln!(
        out,
        "  blocks              {} ({})",
        c.blocks.0,
        HumanBytes(c.blocks.1 as u64)
    )?;
    writeln!(
        out,
        "  block data          {} ({}); fetched by this run: {} ({})",
        c.block_data.0,
        HumanBytes(c.block_data.1 as u64),
        s.fetched_blocks,
        HumanBytes(s.fetched_bytes)
    )?;
    export_summary::write_health(out, s.store_health.as_ref())?;
    writeln!(
        out,
        "  elapsed             {:.1} s",
        s.elapsed.as_secs_f64()
    )?;
    if s.already_complete {
        writeln!(
            out,
            "  (to export a newer snapshot: --snapshot-timestamp latest)"
        )?;
    }
    Ok(())
}
