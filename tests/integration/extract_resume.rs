//! `extract` killed in the middle of a large file, then run again: the same result. The
//! large file is bar.txt v2 of the fixture re-made with 24 blocks of 512 KiB and a hole.

use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use parsec_sequester::parsec::crypto::hash::sha256;
use parsec_sequester::parsec::crypto::signing::SigningKey;
use parsec_sequester::parsec::manifests::{BlockAccess, Manifest};
use uuid::Uuid;

use crate::extract_support::*;
use crate::harness::tool;
use crate::parsec_fixture::{hex, sequestered_files, testbed_key, ALICE_DEV1};

const BLOCK: usize = 512 * 1024;
const BLOCKS: usize = 24;
const HOLE: usize = 5;

/// A copy whose bar.txt v2 (sequential_id 203, key 2) is large; returns it and the SHA-256
/// of the content written into it.
fn large_export(dir: &std::path::Path) -> (std::path::PathBuf, String) {
    let mut whole = Vec::new();
    let copy = altered_copy(&sequestered_files()[0], dir, |c| {
        let key2 = testbed_key(0x0c);
        let bar = Uuid::from_u128(0xf0000000000000000000000000000004);
        let blob: Vec<u8> = c
            .query_row(
                "SELECT blob FROM vlob_atom WHERE sequential_id = 203",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let Manifest::File(mut m) = Manifest::decrypt(&blob, &key2, bar).unwrap().manifest else {
            panic!("bar.txt is a file")
        };
        m.blocksize = BLOCK as u64;
        m.blocks.clear();
        for i in 0..BLOCKS {
            let clear: Vec<u8> = (0..BLOCK).map(|j| ((i * 31 + j * 7) % 251) as u8).collect();
            if i == HOLE {
                whole.extend(std::iter::repeat_n(0u8, BLOCK));
                continue;
            }
            whole.extend_from_slice(&clear);
            let id = Uuid::from_u128(0xb10c_0000_0000_0000_0000_0000_0000_0000 + i as u128);
            let data = BlockAccess::seal(id, &clear, &key2);
            let seq = 1000 + i as i64;
            c.execute(
                "INSERT INTO block (sequential_id, block_id, author, size, key_index) VALUES (?1, ?2, ?3, ?4, 2)",
                rusqlite::params![seq, id.as_bytes().as_slice(), ALICE_DEV1.as_bytes().as_slice(), data.len() as i64],
            )
            .unwrap();
            c.execute(
                "INSERT INTO block_data (block, data) VALUES (?1, ?2)",
                rusqlite::params![seq, data],
            )
            .unwrap();
            m.blocks.push(BlockAccess {
                id,
                offset: (i * BLOCK) as u64,
                size: BLOCK as u64,
                digest: sha256(&clear),
            });
        }
        // Trailing zeros past the last block.
        m.size = (BLOCKS * BLOCK + 1000) as u64;
        whole.extend(std::iter::repeat_n(0u8, 1000));
        let sealed = Manifest::File(m).seal(&SigningKey::from_seed(&testbed_key(3)), &key2);
        c.execute(
            "UPDATE vlob_atom SET blob = ?1 WHERE sequential_id = 203",
            [sealed],
        )
        .unwrap();
    });
    (copy, hex(&sha256(&whole)))
}

#[test]
fn killed_mid_file_then_rerun_gives_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let (copy, expected) = large_export(dir.path());
    let out = dir.path().join("out");
    let mut child = tool()
        .arg("extract")
        .arg(&copy)
        .arg("--key")
        .arg(key_path(1))
        .args(["-q", "-j", "1", "--at", "2000-01-15T00:00:00Z"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the large file is being written, then kill the process.
    let tmp = out.join(".parsec-extract/tmp");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = false;
    while Instant::now() < deadline {
        let writing = std::fs::read_dir(&tmp).ok().is_some_and(|d| {
            // Content files are numbered; `small-*` are the report's.
            d.filter_map(|e| e.ok()).any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                    && e.metadata().is_ok_and(|m| m.len() > 0)
            })
        });
        if writing {
            seen = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(seen, "the extraction ended before it could be interrupted");
    child.kill().unwrap();
    assert!(!child.wait().unwrap().success());
    assert!(
        !out.join("files/bar2.txt").exists(),
        "a partial file under its final name"
    );

    let r = extract(
        &copy,
        &key_path(1),
        &[
            "--json",
            "--at",
            "2000-01-15T00:00:00Z",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["resumed"], true);
    assert_eq!(report["entries"][1]["sha256"], expected.as_str());
    let mut content = Vec::new();
    std::fs::File::open(out.join("files/bar2.txt"))
        .unwrap()
        .read_to_end(&mut content)
        .unwrap();
    assert_eq!(hex(&sha256(&content)), expected);
    assert!(!tmp.exists());
}

/// A run whose OUTPUT_DIR is on a full disk, then the same command once there is room.
struct FullDisk {
    /// Holds the export copy; `disk` is mounted inside it.
    _dir: tempfile::TempDir,
    _disk: crate::bad_outputs::Mount,
    out: std::path::PathBuf,
    /// SHA-256 of the large file version (`large_export`).
    expected: String,
    second: crate::harness::Run,
}

/// `extract --json MODE… OUTPUT_DIR` on a 4 MiB tmpfs, which must fail as a full disk
/// (exit 63, said so; `when_full` checks OUTPUT_DIR then), then on 64 MiB; `None` where no
/// tmpfs can be mounted.
fn full_disk_then_room(mode: &[&str], when_full: impl FnOnce(&Path)) -> Option<FullDisk> {
    let dir = tempfile::tempdir().unwrap();
    let (copy, expected) = large_export(dir.path());
    let disk = crate::bad_outputs::Mount::tmpfs(&dir.path().join("small"), "size=4m")?;
    let out = dir.path().join("small/out");
    let mut args = vec!["--json"];
    args.extend_from_slice(mode);
    args.push(out.to_str().unwrap());
    let r = extract(&copy, &key_path(1), &args);
    assert_eq!(r.code, 63, "{}", r.all());
    assert!(r.stderr.contains("the disk is full"), "{}", r.stderr);
    when_full(&out);
    disk.remount("size=64m");
    let second = extract(&copy, &key_path(1), &args);
    Some(FullDisk {
        out: out.clone(),
        _dir: dir,
        _disk: disk,
        expected,
        second,
    })
}

#[test]
fn a_full_disk_is_an_error_and_the_same_command_then_completes() {
    let at = ["--at", "2000-01-15T00:00:00Z"];
    let Some(run) = full_disk_then_room(&at, |out| {
        assert!(!out.join("files/bar2.txt").exists());
    }) else {
        return;
    };
    let (r, out, expected) = (&run.second, &run.out, &run.expected);
    assert_eq!(r.code, 0, "{}", r.all());
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["entries"][1]["sha256"], expected.as_str());
    let content = std::fs::read(out.join("files/bar2.txt")).unwrap();
    assert_eq!(hex(&sha256(&content)), *expected);
}

/// The same with `--history`, whose entries wait on the same disk (its sorting table and
/// temporary files) while the files are written.
#[test]
fn a_full_disk_during_a_history_is_an_error_and_the_same_command_then_completes() {
    let Some(run) = full_disk_then_room(&["--history"], |out| {
        assert!(!out.join("report.json").exists());
    }) else {
        return;
    };
    let (r, out, expected) = (&run.second, &run.out, &run.expected);
    // Partial: service 1 cannot open key index 3 (reference §9).
    assert_eq!(r.code, 3, "{}", r.all());
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let v2 = report["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["vlob_id"] == "f0000000000000000000000000000004" && e["version"] == 2)
        .expect("bar2.txt v2 in the history");
    assert_eq!(v2["sha256"], expected.as_str());
    let written = out.join(v2["written"].as_str().unwrap());
    assert_eq!(hex(&sha256(&std::fs::read(written).unwrap())), *expected);
    assert!(!out.join(".parsec-extract/tmp").exists());
}
