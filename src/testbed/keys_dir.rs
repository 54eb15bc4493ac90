//! `testbed populate --keys-dir DIR`: per organization, `DIR/<org>/sequester-services/
//! <service_id>.pem` (PKCS#8 PEM, encrypted when a passphrase is given) and
//! `DIR/<org>/record.json`. Directories are made 0700, files 0600, and no existing file is
//! ever overwritten.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use super::GeneratedOrg;

pub const SERVICES_DIR: &str = "sequester-services";
pub const RECORD_FILE: &str = "record.json";

/// `DIR/<org>`.
pub fn org_dir(dir: &Path, organization: &str) -> PathBuf {
    dir.join(organization)
}

/// Refuses, before anything is generated, a directory that already holds this
/// organization's record (its keys would be overwritten).
pub fn check_free(dir: &Path, organization: &str) -> Result<()> {
    let record = org_dir(dir, organization).join(RECORD_FILE);
    if record.exists() {
        bail!(
            "--keys-dir: {} already exists (keys of an earlier generation of {organization}?); give another directory or move it away",
            record.display()
        );
    }
    Ok(())
}

/// A passphrase file's content, without its final line break.
pub fn read_passphrase(path: &Path) -> Result<Vec<u8>> {
    let mut bytes = std::fs::read(path)
        .with_context(|| format!("--keys-passphrase-file: cannot read {}", path.display()))?;
    for end in [b'\n', b'\r'] {
        if bytes.last() == Some(&end) {
            bytes.pop();
        }
    }
    if bytes.is_empty() {
        bail!(
            "--keys-passphrase-file: {} is empty: put the passphrase in it",
            path.display()
        );
    }
    Ok(bytes)
}

/// Writes the key files and `record.json` (whose `key_file`s it fills in); returns
/// `DIR/<org>`.
pub fn write(dir: &Path, org: &mut GeneratedOrg, passphrase: Option<&[u8]>) -> Result<PathBuf> {
    let org_dir = org_dir(dir, &org.organization_id);
    let services_dir = org_dir.join(SERVICES_DIR);
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&services_dir)
        .with_context(|| format!("--keys-dir: cannot create {}", services_dir.display()))?;
    let mut record = org
        .record
        .take()
        .ok_or_else(|| anyhow!("internal error: no record was kept"))?;
    for service in &org.services {
        let name = format!("{}.pem", service.service_id.simple());
        let pem = service.key.to_pem(passphrase).map_err(|e| {
            anyhow!(
                "encoding the key of sequester service {}: {e}",
                service.service_id.simple()
            )
        })?;
        create_new(&services_dir.join(&name), pem.as_bytes())?;
        let relative = format!("{SERVICES_DIR}/{name}");
        let hex = service.service_id.simple().to_string();
        if let Some(entry) = record.services.iter_mut().find(|s| s.service_id == hex) {
            entry.key_file = Some(relative);
        }
    }
    let json = serde_json::to_vec_pretty(&record).context("encoding record.json")?;
    create_new(&org_dir.join(RECORD_FILE), &json)?;
    org.record = Some(record);
    Ok(org_dir)
}

/// Creates `path` (0600), failing if it exists.
fn create_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                anyhow!(
                    "--keys-dir: {} already exists and is never overwritten; give another directory or move it away",
                    path.display()
                )
            } else {
                anyhow!("--keys-dir: cannot create {}: {e}", path.display())
            }
        })?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .with_context(|| format!("--keys-dir: cannot write {}", path.display()))
}
