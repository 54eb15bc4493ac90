//! Bad outputs, table-driven as in `bad_inputs.rs` (same runner, same checks): a path
//! under a regular file, files that are not this export (not SQLite, empty, another SQLite
//! database, another realm, snapshot or organization, truncated, corrupted), a read-only
//! directory and a full disk; and inputs that must work: a realm without blocks and an
//! organization whose name is not ASCII, end to end.
//!
//! Root ignores directory permissions, so "a directory without permission" is a read-only
//! tmpfs mounted for the test (plus a path under a regular file, which needs no mount); the
//! full disk is a 2 MiB tmpfs, enlarged afterwards to show the same command then completes
//! the file. Both need `mount` (root): without it they are skipped, and say so.

use std::path::{Path, PathBuf};
use std::process::Command;

use parsec_sequester::testbed::{self, OrgSpec};
use rusqlite::Connection;

use crate::bad_inputs::{case, run_case, with_password, Case, PASSWORD};
use crate::export_generated::generated_db;
use crate::harness::{run, tool};
use crate::leaks::assert_file_has_no_secret;
use crate::rows::{assert_same_content, flags, scalar};

/// `export-realm` of `org`'s `realm` into `output`.
fn export(url: &str, org: &str, realm: &str, output: &Path, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = ["export-realm", "--db", url, "-b", "POSTGRESQL"]
        .into_iter()
        .chain(["--organization", org, "--realm", realm])
        .chain(extra.iter().copied())
        .map(str::to_owned)
        .collect();
    a.push(output.to_string_lossy().into_owned());
    a
}

/// A copy of `from` at `to`, edited by `edit`.
fn variant(from: &Path, to: &Path, edit: impl FnOnce(&Path)) -> PathBuf {
    std::fs::copy(from, to).unwrap();
    edit(to);
    to.to_owned()
}

fn truncate_to_half(f: &Path) {
    let len = std::fs::metadata(f).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(f).unwrap();
    file.set_len(len / 2 / 4096 * 4096).unwrap();
}

/// Garbage over the root page of the `block` table.
fn corrupt(f: &Path) {
    let (root, size): (i64, i64) = Connection::open(f)
        .unwrap()
        .query_row(
            "SELECT rootpage, (SELECT page_size FROM pragma_page_size()) FROM sqlite_master WHERE name = 'block'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let mut bytes = std::fs::read(f).unwrap();
    let start = ((root - 1) * size) as usize;
    bytes[start..start + size as usize].fill(0xA5);
    std::fs::write(f, bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_outputs_are_refused_untouched_and_odd_inputs_work() {
    let (db, org) = generated_db("bad_outputs").await;
    let url = with_password(&db);
    let realm = org.realms[0].realm_id.simple().to_string();
    let other_realm = org.realms[1].realm_id.simple().to_string();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let good = out.join("good.sqlite");
    run(tool().args(export(&url, "GenOrg", &realm, &good, &[]))).ok();
    let created =
        parsec_sequester::ids::format_timestamp(org.realms[0].created_on.timestamp_micros());

    let text = out.join("text.sqlite");
    std::fs::write(
        &text,
        "some text, not the header of an SQLite database file",
    )
    .unwrap();
    let zero = out.join("zero.sqlite");
    std::fs::write(&zero, "").unwrap();
    let not_export = out.join("not-export.sqlite");
    Connection::open(&not_export)
        .unwrap()
        .execute_batch("CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('hello')")
        .unwrap();
    let partial = variant(&good, &out.join("partial.sqlite"), |p| {
        Connection::open(p)
            .unwrap()
            .execute_batch("DELETE FROM block_data; UPDATE info SET blocks_data_export_done = 0")
            .unwrap()
    });
    let truncated = variant(&good, &out.join("truncated.sqlite"), truncate_to_half);
    let truncated_partial = variant(
        &partial,
        &out.join("truncated-partial.sqlite"),
        truncate_to_half,
    );
    let corrupted = variant(&good, &out.join("corrupted.sqlite"), corrupt);
    let corrupted_partial = variant(&partial, &out.join("corrupted-partial.sqlite"), corrupt);
    // In a directory, a file with this realm's default name that is not an export.
    let named = out.join("named");
    std::fs::create_dir(&named).unwrap();
    let name = format!("parsec-export-GenOrg-realm-{realm}-20240101T000000Z.sqlite");
    std::fs::write(named.join(name), "not an export").unwrap();

    let on = |name: &str, file: &Path, extra: &[&str], code: i32, needle: &str| Case {
        args: export(&url, "GenOrg", &realm, file, extra),
        ..case(name, &[], code, needle)
    };
    #[rustfmt::skip]
    let cases = [
        on("under a regular file", &text.join("export.sqlite"), &[], 42, "text.sqlite is not a directory"),
        on("under a missing directory", &out.join("nowhere/export.sqlite"), &[], 42, "nowhere does not exist"),
        on("not SQLite", &text, &[], 40, "not a valid realm export database"),
        on("empty file", &zero, &[], 40, "not a valid realm export database"),
        on("SQLite, not an export", &not_export, &[], 40, "no such table: info"),
        on("another realm's export", &good, &["--realm", &other_realm], 41, "it exports realm"),
        on("another snapshot", &good, &["--snapshot-timestamp", &created], 41, "its snapshot is"),
        on("another organization", &good, &["--organization", "OtherOrg"], 41, "it exports organization `GenOrg`, not `OtherOrg`"),
        on("not an export, under our name", &named, &[], 40, "not a valid realm export database"),
        on("truncated complete export", &truncated, &[], 43, "appears corrupted"),
        on("truncated partial export", &truncated_partial, &[], 43, "appears corrupted"),
        on("corrupted complete export", &corrupted, &[], 43, "appears corrupted"),
        on("corrupted partial export", &corrupted_partial, &[], 43, "appears corrupted"),
        on("a new snapshot into a used file", &partial, &["--snapshot-timestamp", "latest"], 41, "a new snapshot needs a new file"),
    ];
    for c in &cases {
        // The other flag arguments are replaced: `--realm` given twice is not what we test.
        let c = Case {
            args: dedup_options(&c.args),
            ..case(&c.name, &[], c.code, &c.needle)
        };
        run_case(&c, &out);
    }
    let mut count = cases.len();
    count += realm_without_blocks(&db, &url, work.path()).await;
    count += read_only_directory_and_full_disk(&url, &realm, work.path());
    count += non_ascii_organization(&url, work.path());
    eprintln!("{count} output and end-to-end cases");
}

/// Keeps the last value of an option given twice (the case's own).
fn dedup_options(args: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a.starts_with("--") && i + 1 < args.len() && args[i + 2..].contains(a) {
            i += 2;
            continue;
        }
        out.push(a.clone());
        i += 1;
    }
    out
}

/// A realm with vlobs but no block: a complete export; the same command again: nothing to do.
async fn realm_without_blocks(db: &crate::harness::TestDb, url: &str, work: &Path) -> usize {
    let mut spec = OrgSpec::small("NoBlocks");
    spec.realms = 1;
    spec.blocks_per_realm = 0;
    let realm = testbed::populate(&db.client().await, &spec)
        .await
        .unwrap()
        .realms[0]
        .realm_id;
    let file = work.join("no-blocks.sqlite");
    let args = export(url, "NoBlocks", &realm.simple().to_string(), &file, &[]);
    run_case(
        &Case {
            args: args.clone(),
            ..case("realm without blocks", &[], 0, "Export complete")
        },
        work,
    );
    let before = crate::harness::fingerprint(&file);
    run_case(
        &Case {
            args,
            ..case("realm without blocks, again", &[], 0, "nothing to do")
        },
        work,
    );
    assert_eq!(before, crate::harness::fingerprint(&file));
    assert_eq!(flags(&file), (1, 1, 1, 1));
    assert_eq!(scalar(&file, "SELECT COUNT(*) FROM block"), 0);
    assert!(scalar(&file, "SELECT COUNT(*) FROM vlob_atom") > 0);
    assert_file_has_no_secret(&file, &[PASSWORD], "no blocks");
    2
}

/// A tmpfs mounted on a directory for the test, unmounted when dropped.
pub struct Mount(PathBuf);

impl Mount {
    pub fn tmpfs(dir: &Path, options: &str) -> Option<Mount> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!(
                "SKIPPED: cannot mount a tmpfs on {} (not root?)",
                dir.display()
            );
        }
        ok.then(|| Mount(dir.to_owned()))
    }

    pub fn remount(&self, options: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success(), "remount {options}");
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// OUTPUT a read-only directory; then a full disk, then room again.
fn read_only_directory_and_full_disk(url: &str, realm: &str, work: &Path) -> usize {
    let ro = work.join("read-only");
    let Some(_ro) = Mount::tmpfs(&ro, "ro,size=1m") else {
        return 0;
    };
    let args = export(url, "GenOrg", realm, &ro, &[]);
    run_case(
        &Case {
            args,
            ..case("read-only directory", &[], 42, "cannot create a file in")
        },
        &ro,
    );

    let full = work.join("full");
    let Some(disk) = Mount::tmpfs(&full, "size=2m") else {
        return 1;
    };
    let big = run(tool().args([
        "testbed",
        "populate",
        "--db",
        url,
        "--allow-existing-data",
        "--organization",
        "BigBlocks",
        "--realms",
        "1",
        "--vlobs-per-realm",
        "20",
        "--blocks-per-realm",
        "80",
        "--block-size-min",
        "40KiB",
        "--block-size-max",
        "64KiB",
    ]));
    big.ok();
    let big_realm = realm_of(&big.stdout);
    let file = full.join("big.sqlite");
    let args = export(url, "BigBlocks", &big_realm, &file, &[]);
    let elsewhere = work.join("big-elsewhere.sqlite");
    // The file is the export's own: the other outputs must be left alone.
    let hint = "database or disk is full (what was exported so far is saved: free some space, then run the same command again to resume)";
    run_case(
        &Case {
            args: args.clone(),
            ..case("disk full", &[], 42, hint)
        },
        &work.join("out"),
    );
    assert!(
        file.exists(),
        "the full disk left no partial export to resume"
    );
    disk.remount("size=32m");
    run_case(
        &Case {
            args,
            ..case("disk no longer full", &[], 0, "Export complete")
        },
        work,
    );
    let t = parsec_sequester::ids::format_timestamp(scalar(
        &file,
        "SELECT snapshot_timestamp FROM info",
    ));
    run(tool().args(export(
        url,
        "BigBlocks",
        &big_realm,
        &elsewhere,
        &["--snapshot-timestamp", &t],
    )))
    .ok();
    assert_same_content(&file, &elsewhere);
    3
}

fn realm_of(populate_stdout: &str) -> String {
    populate_stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("realm "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no realm in:\n{populate_stdout}"))
        .to_owned()
}

/// An organization whose name is not ASCII, end to end: generated, exported into a
/// directory (the default file name holds the name), found again there, reported.
fn non_ascii_organization(url: &str, work: &Path) -> usize {
    let name = "Ørgañisation-été_東京";
    assert!(name.len() <= 32);
    let dir = work.join("non-ascii");
    std::fs::create_dir(&dir).unwrap();
    let d = dir.to_str().unwrap();
    let populate = [
        "testbed",
        "populate",
        "--db",
        url,
        "--allow-existing-data",
        "--organization",
        name,
        "--realms",
        "1",
    ];
    let r = run_case(&case("non-ASCII: populate", &populate, 0, name), work);
    let realm = realm_of(&r.stdout);
    let export = [
        "export-realm",
        "--db",
        url,
        "-b",
        "POSTGRESQL",
        "--organization",
        name,
        "--realm",
        &realm,
        d,
    ];
    #[rustfmt::skip]
    let cases = [
        case("non-ASCII: export", &export, 0, "Export complete"),
        case("non-ASCII: the same command finds the file", &export, 0, "nothing to do"),
        case("non-ASCII: realms", &["realms", "--db", url, "--organization", name], 0, &format!("in organization {name}")),
        case("non-ASCII: human-accesses", &["human-accesses", "--db", url, "--organization", name, "--json"], 0, name),
    ];
    for c in &cases {
        run_case(c, work);
    }
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let file_name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        file_name.starts_with(&format!("parsec-export-{name}-realm-{realm}-")),
        "{file_name}"
    );
    let org: String = crate::rows::open(&files[0])
        .query_row("SELECT organization_id FROM info", [], |r| r.get(0))
        .unwrap();
    assert_eq!(org, name);
    assert_eq!(flags(&files[0]), (1, 1, 1, 1));
    cases.len() + 1
}
