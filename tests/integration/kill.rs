//! `kill -9` of the real binary at a chosen moment, and what the kill left in the file.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// When to kill.
#[derive(Debug, Clone, Copy)]
pub enum KillAt {
    /// This long after the process started.
    AfterStart(Duration),
    /// As soon as the temporary file of the file's creation appears in the directory.
    DuringCreation,
    /// This long after a line of stderr contains the text (e.g. `"2/4 "`, a step's start).
    AfterLine(&'static str, Duration),
    /// In step 4, as soon as the main file is written while its rollback journal exists:
    /// SQLite is committing (it writes the database pages between syncing the journal and
    /// deleting it).
    DuringCommit,
}

/// What happened to one run.
#[derive(Debug)]
pub struct Outcome {
    /// Killed by our SIGKILL (false: the run ended by itself first).
    pub killed: bool,
    /// Exit code when it ended by itself.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// DuringCommit: the main file changed while the journal existed, just before the kill.
    pub saw_commit: bool,
}

/// Runs `cmd` (an export writing `file`) and kills it at `at`. Gives up waiting after
/// `timeout` (the run is then killed anyway and `killed` says so).
pub fn run_and_kill(cmd: &mut Command, file: &Path, at: KillAt, timeout: Duration) -> Outcome {
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the tool");
    let (tx, rx) = mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            all.push_str(&line);
            all.push('\n');
            let _ = tx.send(line);
        }
        all
    });
    let stdout = child.stdout.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut { stdout }, &mut s);
        s
    });
    let deadline = started + timeout;
    let dir = file.parent().unwrap().to_owned();
    let journal = journal_of(file);
    let mut saw_commit = false;
    let exited = |child: &mut std::process::Child| child.try_wait().ok().flatten().is_some();
    let wait_line = |text: &str, child: &mut std::process::Child| -> bool {
        loop {
            match rx.recv_timeout(Duration::from_millis(5)) {
                Ok(line) if line.contains(text) => return true,
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if exited(child) || Instant::now() > deadline {
                        return false;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return false,
            }
        }
    };
    let fire = match at {
        KillAt::AfterStart(d) => {
            sleep_unless_exited(&mut child, d);
            true
        }
        KillAt::AfterLine(text, d) => {
            let seen = wait_line(text, &mut child);
            if seen {
                sleep_unless_exited(&mut child, d);
            }
            seen
        }
        KillAt::DuringCreation => loop {
            if has_temp_file(&dir) {
                break true;
            }
            if exited(&mut child) || Instant::now() > deadline || file.exists() {
                break false;
            }
            std::hint::spin_loop();
        },
        KillAt::DuringCommit => {
            if wait_line("4/4 ", &mut child) {
                let stamp = |p: &Path| {
                    std::fs::metadata(p)
                        .ok()
                        .map(|m| (m.len(), m.modified().ok()))
                };
                let mut last = stamp(file);
                loop {
                    let now = stamp(file);
                    let journal_there = journal.exists();
                    if journal_there && now != last {
                        saw_commit = true;
                        break true;
                    }
                    if !journal_there {
                        last = now;
                    }
                    if exited(&mut child) || Instant::now() > deadline {
                        break false;
                    }
                }
            } else {
                false
            }
        }
    };
    let _ = fire; // killed whether or not the moment came: `killed` tells what happened
    let killed = match child.try_wait().ok().flatten() {
        Some(_) => false,
        None => {
            unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
            true
        }
    };
    let status = child.wait().unwrap();
    let stderr = reader.join().unwrap();
    let stdout = out_reader.join().unwrap();
    // A run may also end by itself between our check and the kill.
    let killed = killed && status.signal() == Some(libc::SIGKILL);
    Outcome {
        killed,
        code: status.code(),
        stdout,
        stderr,
        saw_commit,
    }
}

fn sleep_unless_exited(child: &mut std::process::Child, d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(2).min(until - Instant::now()));
    }
}

pub fn journal_of(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push("-journal");
    PathBuf::from(name)
}

/// Stray temporary files of interrupted creations in `dir`.
pub fn temp_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.starts_with(".parsec-export-") && n.ends_with(".tmp")
                })
                .count()
        })
        .unwrap_or(0)
}

fn has_temp_file(dir: &Path) -> bool {
    temp_files(dir) > 0
}

/// The export step a kill interrupted, from what it left on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// No file and no temporary file: connecting, reading the snapshot's bounds.
    BeforeFile,
    /// A temporary file but no export file: killed while creating it.
    Creating,
    Certificates,
    Vlobs,
    BlocksMetadata,
    BlocksData,
    /// Every flag set: the run had finished its work.
    Complete,
}

/// The committed state of an export file, read from a copy (so that a hot journal is
/// rolled back in the copy, not in the file the next run must recover itself).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileState {
    pub step: Step,
    pub vlobs: i64,
    pub blocks: i64,
    pub block_data: i64,
    /// A rollback journal was left: the kill interrupted a write transaction.
    pub hot_journal: bool,
    /// Rolling that journal back changes the database file: the kill came after SQLite had
    /// started writing the transaction's pages into the file, i.e. during its commit.
    pub mid_commit: bool,
}

pub fn file_state(file: &Path) -> FileState {
    let dir = file.parent().unwrap();
    if !file.exists() {
        let step = if temp_files(dir) > 0 {
            Step::Creating
        } else {
            Step::BeforeFile
        };
        return FileState {
            step,
            vlobs: 0,
            blocks: 0,
            block_data: 0,
            hot_journal: false,
            mid_commit: false,
        };
    }
    let scratch = tempfile::tempdir().unwrap();
    let copy = scratch.path().join("copy.sqlite");
    std::fs::copy(file, &copy).unwrap();
    let journal = journal_of(file);
    let hot_journal = std::fs::metadata(&journal)
        .map(|m| m.len() > 0)
        .unwrap_or(false);
    if journal.exists() {
        std::fs::copy(&journal, journal_of(&copy)).unwrap();
    }
    let before_rollback = std::fs::read(&copy).unwrap();
    let conn = Connection::open(&copy).unwrap();
    // Reading rolls the hot journal back (in the copy).
    conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |_| Ok(()))
        .unwrap();
    let mid_commit = hot_journal && std::fs::read(&copy).unwrap() != before_rollback;
    let one = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    let flags = (
        one("SELECT certificates_export_done FROM info"),
        one("SELECT vlobs_export_done FROM info"),
        one("SELECT blocks_metadata_export_done FROM info"),
        one("SELECT blocks_data_export_done FROM info"),
    );
    let step = match flags {
        (0, _, _, _) => Step::Certificates,
        (1, 0, _, _) => Step::Vlobs,
        (1, 1, 0, _) => Step::BlocksMetadata,
        (1, 1, 1, 0) => Step::BlocksData,
        _ => Step::Complete,
    };
    FileState {
        step,
        vlobs: one("SELECT COUNT(*) FROM vlob_atom"),
        blocks: one("SELECT COUNT(*) FROM block"),
        block_data: one("SELECT COUNT(*) FROM block_data"),
        hot_journal,
        mid_commit,
    }
}
