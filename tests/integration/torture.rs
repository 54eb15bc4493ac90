//! Crash-resume torture: the real binary is killed with SIGKILL at many moments spread over
//! every step (connecting, creating the file, each of the four steps, inside SQLite
//! commits), resumed each time, and the final file must hold exactly the rows of an
//! uninterrupted export of the same snapshot. Done with the POSTGRESQL store and with an S3
//! store (Garage, behind a proxy that counts the reads).
//!
//! Blocks fetched twice are counted by the store itself (calls of the slow `block_data`
//! view's function for PostgreSQL, GET requests at the proxy for S3) and bounded, per kill
//! during step 4, by what `src/export/blocks_data.rs` can hold uncommitted: a read reserves
//! its block's size from the `--buffer-size` budget before it starts, and the reservation is
//! released once the writer has inserted the block; the open transaction is committed as soon
//! as it holds `--commit-size` bytes (or after a second). So the blocks fetched and not yet
//! committed weigh at most buffer (in flight or queued) + commit size + one block (the one
//! that crosses the threshold): at most ⌊(buffer + commit + largest) / smallest⌋ blocks.
//! (The writer also commits every second, so in practice fewer are lost: the figures are
//! printed.)
//! A kill before step 4 must cost no fetch at all, and a run that is not killed fetches
//! exactly the blocks missing from the file.
//!
//! `TORTURE_KILLS` (default 30) is the number of kills per store; `TORTURE_SEED` replays a
//! run. Heavier: `TORTURE_KILLS=300 cargo test --test integration torture -- --nocapture`.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use parsec_sequester::testbed::{self, OrgSpec};
use rand::{Rng, SeedableRng};

use crate::garage::Garage;
use crate::harness::{export_cmd, run, TestDb};
use crate::kill::{file_state, run_and_kill, temp_files, FileState, KillAt, Step};
use crate::proxy::Proxy;
use crate::rows::{assert_same_content, scalar};
use crate::slow::{count_calls, enable_call_counts, fetched_by_run, slow_down};
use crate::stores::{db_with_stores_and, reference, s3_export_cmd, T};

const JOBS: i64 = 3;
const BUFFER: i64 = 1024 * 1024;
const COMMIT: i64 = 1024 * 1024;
const BLOCK_MIN: usize = 16 * 1024;
const BLOCK_MAX: usize = 32 * 1024;
const BLOCKS: usize = 150;

fn spec(spec: &mut OrgSpec) {
    spec.realms = 1;
    spec.blocks_per_realm = BLOCKS;
    spec.vlob_versions_per_realm = 120;
    spec.block_size_min = BLOCK_MIN;
    spec.block_size_max = BLOCK_MAX;
}

/// `--jobs`, `--buffer-size` and `--commit-size` of every run (the snapshot is always [`T`]).
fn tuning() -> Vec<String> {
    vec![
        "--jobs".into(),
        JOBS.to_string(),
        "--buffer-size".into(),
        format!("{BUFFER}B"),
        "--commit-size".into(),
        format!("{COMMIT}B"),
    ]
}

/// Steps 1 to 3 read slowed views (certificates, vlobs, block metadata).
async fn slow_metadata(client: &tokio_postgres::Client) {
    slow_down(client, "realm_user_role", "certificate", 25).await;
    slow_down(client, "vlob_atom", "blob", 3).await;
    slow_down(client, "block", "key_index", 3).await;
}

/// Counts the block reads the store answered.
enum Counter<'a> {
    Postgresql(tokio_postgres::Client),
    Proxy(&'a Proxy),
}

impl Counter<'_> {
    async fn reads(&self) -> i64 {
        match self {
            Counter::Postgresql(client) => count_calls(client, "block_data").await,
            Counter::Proxy(p) => {
                // Requests the killed process wrote are still read from the socket.
                tokio::time::sleep(Duration::from_millis(50)).await;
                p.reads() as i64
            }
        }
    }
}

/// How long each phase of an uninterrupted (slowed) run takes: start → step 1, then
/// steps 1 to 4.
fn calibrate(cmd: &mut Command) -> [Duration; 5] {
    let start = Instant::now();
    let mut child = cmd
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut marks = vec![start];
    let mut log = String::new();
    for line in BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
    {
        if line.contains("/4 Exporting") && line.contains(": starting") {
            marks.push(Instant::now());
        }
        log.push_str(&line);
        log.push('\n');
    }
    assert!(child.wait().unwrap().success(), "{log}");
    marks.push(Instant::now());
    assert_eq!(marks.len(), 6, "expected four step lines");
    std::array::from_fn(|i| marks[i + 1] - marks[i])
}

fn rand_dur(rng: &mut impl Rng, d: Duration) -> Duration {
    Duration::from_micros(rng.gen_range(0..d.as_micros().max(1) as u64))
}

/// The kills tried in one campaign, in order, until the export completes. Every other
/// campaign starts with a kill during the file's creation (only a fresh file can be caught
/// there), the others with a kill at a random moment of the whole run.
fn plan(rng: &mut impl Rng, d: &[Duration; 5], campaign: usize) -> Vec<KillAt> {
    let whole: Duration = d.iter().sum();
    let mut kills = vec![
        KillAt::AfterStart(rand_dur(rng, d[0] + d[1])),
        KillAt::AfterLine("1/4 ", rand_dur(rng, d[1])),
        KillAt::AfterLine("2/4 ", rand_dur(rng, d[2])),
        KillAt::AfterLine("3/4 ", rand_dur(rng, d[3])),
        KillAt::DuringCommit,
        KillAt::AfterLine("4/4 ", rand_dur(rng, d[4] / 2)),
        KillAt::AfterLine("4/4 ", rand_dur(rng, d[4] / 2)),
    ];
    if campaign.is_multiple_of(2) {
        kills.insert(0, KillAt::DuringCreation);
    } else {
        kills.insert(0, KillAt::AfterStart(rand_dur(rng, whole)));
    }
    kills
}

struct Kill {
    at: KillAt,
    /// The kill was sent while SQLite was seen writing the file with its journal present.
    saw_commit: bool,
    state: FileState,
    fetched: i64,
    /// Fetched by the killed run but not committed: fetched again later.
    lost: i64,
}

struct Report {
    kills: Vec<Kill>,
    campaigns: usize,
    fetched: i64,
    total_blocks: i64,
    stray_temp_files: usize,
}

/// Kill, resume, kill… until at least `wanted` kills and every kind of moment was hit.
async fn torture(
    name: &str,
    wanted: usize,
    dir: &Path,
    make_cmd: &dyn Fn(&Path) -> Command,
    counter: &Counter<'_>,
    reference: &Path,
    seed: u64,
) -> Report {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let total_blocks = scalar(reference, "SELECT COUNT(*) FROM block");
    let per_kill_bound = (BUFFER + COMMIT + BLOCK_MAX as i64) / BLOCK_MIN as i64;
    let calibration_file = dir.join("calibration.sqlite");
    let d = calibrate(&mut make_cmd(&calibration_file));
    assert_same_content(&calibration_file, reference);
    eprintln!("[{name}] phases of an uninterrupted run: {d:?}");
    let mut report = Report {
        kills: Vec::new(),
        campaigns: 0,
        fetched: 0,
        total_blocks,
        stray_temp_files: 0,
    };
    let covered = |kills: &[Kill]| {
        let steps: HashSet<Step> = kills.iter().map(|k| k.state.step).collect();
        [
            Step::Creating,
            Step::Certificates,
            Step::Vlobs,
            Step::BlocksMetadata,
            Step::BlocksData,
        ]
        .iter()
        .all(|s| steps.contains(s))
            && kills.iter().any(|k| k.state.mid_commit)
    };
    let mut attempts = 0;
    while report.kills.len() < wanted || !covered(&report.kills) {
        assert!(
            attempts < wanted * 4 + 40,
            "[{name}] could not hit every kind of moment in {attempts} attempts: {}",
            summary(&report)
        );
        let campaign_dir = dir.join(format!("campaign-{}", report.campaigns));
        std::fs::create_dir(&campaign_dir).unwrap();
        let file = campaign_dir.join("export.sqlite");
        let mut campaign_fetched = 0;
        let mut step4_kills = 0;
        let mut complete = false;
        for at in plan(&mut rng, &d, report.campaigns) {
            attempts += 1;
            let before = file_state(&file);
            let reads_before = counter.reads().await;
            let outcome = run_and_kill(&mut make_cmd(&file), &file, at, Duration::from_secs(60));
            let after = file_state(&file);
            let fetched = counter.reads().await - reads_before;
            campaign_fetched += fetched;
            if !outcome.killed {
                assert_eq!(
                    outcome.code,
                    Some(0),
                    "[{name}] run failed:\n{}{}",
                    outcome.stdout,
                    outcome.stderr
                );
                complete = true;
                assert_eq!(
                    fetched,
                    total_blocks - before.block_data,
                    "[{name}] a run that was not killed fetched a block the file already had"
                );
                assert_eq!(fetched_by_run(&outcome.stdout), fetched);
                break;
            }
            let committed = after.block_data - before.block_data;
            let lost = fetched - committed;
            assert!(
                lost >= 0,
                "[{name}] committed more blocks than were read: counting is broken"
            );
            if after.step < Step::BlocksData {
                assert_eq!(fetched, 0, "[{name}] blocks fetched before step 4 ({at:?})");
            } else {
                step4_kills += 1;
                assert!(
                    lost <= per_kill_bound,
                    "[{name}] {lost} blocks fetched and not committed at one kill: more than the budget allows ({per_kill_bound})"
                );
            }
            eprintln!("[{name}] {at:?} -> {after:?}, fetched {fetched}, lost {lost}");
            report.kills.push(Kill {
                at,
                saw_commit: outcome.saw_commit,
                state: after,
                fetched,
                lost,
            });
        }
        if !complete {
            let before = file_state(&file);
            let reads_before = counter.reads().await;
            let r = run(&mut make_cmd(&file));
            r.ok();
            let fetched = counter.reads().await - reads_before;
            assert_eq!(
                fetched,
                total_blocks - before.block_data,
                "[{name}] blocks already in the file were fetched again"
            );
            campaign_fetched += fetched;
        }
        assert_same_content(&file, reference);
        assert!(
            !crate::kill::journal_of(&file).exists(),
            "[{name}] a journal was left by a successful run"
        );
        let refetched = campaign_fetched - total_blocks;
        assert!(
            refetched <= step4_kills * per_kill_bound,
            "[{name}] {refetched} blocks fetched twice for {step4_kills} kills during step 4 (bound {})",
            step4_kills * per_kill_bound
        );
        report.fetched += campaign_fetched;
        report.stray_temp_files += temp_files(&campaign_dir);
        report.campaigns += 1;
    }
    eprintln!("[{name}] seed {seed}: {}", summary(&report));
    report
}

fn summary(r: &Report) -> String {
    let mut per_step: BTreeMap<String, usize> = BTreeMap::new();
    for k in &r.kills {
        *per_step.entry(format!("{:?}", k.state.step)).or_default() += 1;
    }
    let distinct: HashSet<String> = r.kills.iter().map(|k| format!("{:?}", k.state)).collect();
    let step4: Vec<&Kill> = r
        .kills
        .iter()
        .filter(|k| k.state.step == Step::BlocksData)
        .collect();
    let max_lost = step4.iter().map(|k| k.lost).max().unwrap_or(0);
    let by_mode = |f: &dyn Fn(&KillAt) -> bool| r.kills.iter().filter(|k| f(&k.at)).count();
    format!(
        "{} kills survived in {} campaigns ({} distinct file states); per step {:?}; \
         hot journal left {} times, mid-commit {} times; targeted: creation {}, commit {} (seen writing); \
         blocks fetched {} for {} per campaign × {}: {} fetched twice, at most {} per kill (bound {} per kill during step 4, {} such kills); \
         stray temporary files {}",
        r.kills.len(),
        r.campaigns,
        distinct.len(),
        per_step,
        r.kills.iter().filter(|k| k.state.hot_journal).count(),
        r.kills.iter().filter(|k| k.state.mid_commit).count(),
        by_mode(&|a| matches!(a, KillAt::DuringCreation)),
        r.kills.iter().filter(|k| k.saw_commit).count(),
        r.fetched,
        r.total_blocks,
        r.campaigns,
        r.fetched - r.total_blocks * r.campaigns as i64,
        max_lost,
        BUFFER / BLOCK_MIN as i64,
        step4.len(),
        r.stray_temp_files,
    ) + &format!(
        "; reads by killed runs {}",
        r.kills.iter().map(|k| k.fetched).sum::<i64>()
    )
}

fn settings() -> (usize, u64) {
    let kills = std::env::var("TORTURE_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let seed = std::env::var("TORTURE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random);
    (kills, seed)
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_anywhere_then_resume_postgresql_store() {
    let (kills, seed) = settings();
    let db = TestDb::with_schema("torture_pg").await;
    let client = db.client().await;
    let mut s = OrgSpec::small("TortOrg");
    spec(&mut s);
    let org = testbed::populate(&client, &s).await.unwrap();
    let realm = org.realms[0].realm_id.simple().to_string();
    let dir = tempfile::tempdir().unwrap();
    let reference: PathBuf = dir.path().join("reference.sqlite");
    run(&mut export_cmd(
        &db.url,
        "TortOrg",
        &realm,
        &reference,
        &["--snapshot-timestamp", T],
    ))
    .ok();
    slow_metadata(&client).await;
    slow_down(&client, "block_data", "data", 12).await;
    enable_call_counts(&client).await;
    let mut args = tuning();
    args.extend(["--snapshot-timestamp".to_owned(), T.to_owned()]);
    let make_cmd = |file: &Path| {
        let extra: Vec<&str> = args.iter().map(String::as_str).collect();
        export_cmd(&db.url, "TortOrg", &realm, file, &extra)
    };
    let counter = Counter::Postgresql(db.client().await);
    let report = torture(
        "postgresql",
        kills,
        dir.path(),
        &make_cmd,
        &counter,
        &reference,
        seed,
    )
    .await;
    assert!(report.kills.len() >= kills);
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_anywhere_then_resume_s3_store() {
    let (kills, seed) = settings();
    let garage = Garage::start(&["blocks"]);
    let (db, realm) =
        db_with_stores_and("torture_s3", &[vec![garage.blockstore("blocks")]], spec).await;
    let dir = tempfile::tempdir().unwrap();
    let reference = reference(&db, realm, dir.path()).await;
    let client = db.client().await;
    slow_metadata(&client).await;
    // No added delay: Garage's reads on loopback already make step 4 the longest.
    let proxy = Proxy::start(garage.s3_port, "blocks", "S3Org");
    let store = vec![proxy.blockstore("blocks", &garage.key_id, &garage.secret)];
    let args = tuning();
    let make_cmd = |file: &Path| {
        let extra: Vec<&str> = args.iter().map(String::as_str).collect();
        s3_export_cmd(&db, realm, file, &store, &extra)
    };
    let report = torture(
        "s3",
        kills,
        dir.path(),
        &make_cmd,
        &Counter::Proxy(&proxy),
        &reference,
        seed,
    )
    .await;
    assert!(report.kills.len() >= kills);
}
