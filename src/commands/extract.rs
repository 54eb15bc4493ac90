//! `parsec-sequester extract`: parse the options, run `crate::extract`, print the report
//! (or the `--list` table), exit 0 when complete, 3 when partial.

use std::io::Write;

use crate::cli::{ExtractArgs, KeyArgs};
use crate::error::{Error, Result};
use crate::extract::{self, Options, Report};

pub async fn run(args: ExtractArgs) -> Result<()> {
    let (key, passphrase_file, service_id) = key_options(&args.key)?;
    let key = key.ok_or_else(|| {
        Error::Usage("extract needs --key KEY_FILE (the sequester service's private key)".into())
    })?;
    let at = args
        .at
        .as_deref()
        .map(|text| {
            crate::ids::parse_timestamp(text).map_err(|_| {
                Error::Usage(format!(
                    "invalid --at `{text}`: expected an RFC 3339 date-time such as 2024-05-01T12:00:00Z"
                ))
            })
        })
        .transpose()?;
    let jobs = match args.jobs {
        Some(0) => return Err(Error::Usage("--jobs must be at least 1".into())),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(2, |n| n.get()),
    };
    let opts = Options {
        file: args.file.clone(),
        key,
        passphrase_file,
        service_id,
        at,
        history: args.history,
        output: if args.list { None } else { args.output.clone() },
        jobs,
        quiet: args.quiet,
    };
    let outcome = tokio::task::block_in_place(|| extract::run(&opts))?;
    let report = &outcome.report;
    if args.list && !args.json {
        crate::progress::stderr_line(&summary(report));
    }
    // Streamed: with `--history` the report has a line per version. A closed stdout
    // (`| head`) must not hide the exit code.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let _ = print(&mut out, report, &args).and_then(|()| out.flush());
    partial(report, args.output.as_deref().filter(|_| !args.list))
}

fn print(w: &mut impl Write, report: &Report, args: &ExtractArgs) -> std::io::Result<()> {
    if args.json {
        serde_json::to_writer_pretty(&mut *w, report)?;
        return writeln!(w);
    }
    if !args.list {
        return report.write_text(w);
    }
    if args.history {
        return report.write_history(w);
    }
    writeln!(w, "{}", extract::LIST_HEADER)?;
    report.entries.write_text(0, w)
}

/// The key options, parsed.
pub fn key_options(
    args: &KeyArgs,
) -> Result<(
    Option<std::path::PathBuf>,
    Option<std::path::PathBuf>,
    Option<uuid::Uuid>,
)> {
    let service_id = args
        .service_id
        .as_deref()
        .map(|s| {
            uuid::Uuid::try_parse(s.trim()).map_err(|_| {
                Error::Usage(format!(
                    "invalid --service-id `{s}`: expected 32 hex digits"
                ))
            })
        })
        .transpose()?;
    Ok((
        args.key.clone(),
        args.key_passphrase_file.clone(),
        service_id,
    ))
}

/// The report's head and failures, for stderr beside the `--list` table.
pub fn summary(report: &Report) -> String {
    let mut t = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = report.write_summary(&mut t);
    String::from_utf8_lossy(&t).trim_end().to_owned()
}

pub fn partial(report: &Report, output: Option<&std::path::Path>) -> Result<()> {
    if report.complete {
        return Ok(());
    }
    Err(Error::ExtractPartial {
        failures: report.failures.len(),
        where_: output.map_or(String::new(), |o| {
            format!(
                " ({}/report.txt); everything else was extracted",
                o.display()
            )
        }),
    })
}
