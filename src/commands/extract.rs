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
    let text = if args.json {
        json(report)?
    } else if args.list {
        let mut t = String::from(if args.history {
            extract_history_header()
        } else {
            extract_list_header()
        });
        t.push('\n');
        for e in &report.entries {
            t.push_str(&if args.history {
                e.history_line()
            } else {
                e.line()
            });
            t.push('\n');
        }
        crate::progress::stderr_line(&summary(report));
        t
    } else {
        report.text()
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    partial(report, args.output.as_deref().filter(|_| !args.list))
}

fn extract_list_header() -> &'static str {
    extract::LIST_HEADER
}

fn extract_history_header() -> &'static str {
    extract::HISTORY_HEADER
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

pub fn json(report: &Report) -> Result<String> {
    let mut json = serde_json::to_string_pretty(report)
        .map_err(|e| Error::Internal(format!("cannot encode the report as JSON: {e}")))?;
    json.push('\n');
    Ok(json)
}

/// The report's head and failures, for stderr beside the `--list` table.
pub fn summary(report: &Report) -> String {
    let text = report.text();
    let mut out: Vec<&str> = Vec::new();
    let mut skipping = false;
    for line in text.lines() {
        if line.starts_with("entries (") {
            skipping = true;
            continue;
        }
        if skipping && line.is_empty() {
            skipping = false;
        }
        if !skipping {
            out.push(line);
        }
    }
    out.join("\n")
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
