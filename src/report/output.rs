//! Printing a finished report on stdout in one write. A closed pipe (`| head`) is not an error.

use std::io::Write;

use crate::error::{Error, Result};

/// Text with ANSI styles: colours are kept or removed as `style::ColorMode` decides.
pub fn print_styled(text: &str) -> Result<()> {
    let mut out = anstream::stdout().lock();
    finish(out.write_all(text.as_bytes()).and_then(|()| out.flush()))
}

/// A JSON document (which never holds raw escape codes: serde_json escapes them).
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Internal(format!("cannot serialize the report: {e}")))?;
    text.push('\n');
    let mut out = std::io::stdout().lock();
    finish(out.write_all(text.as_bytes()).and_then(|()| out.flush()))
}

fn finish(result: std::io::Result<()>) -> Result<()> {
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::OutputIo {
            path: "standard output".into(),
            reason: format!("cannot write the report: {e}"),
        }),
    }
}
