//! Test harness: a real PostgreSQL server and helpers to run the real binary.
//!
//! The server is the one named by `PARSEC_TEST_DB_URL` (an admin URL, e.g.
//! postgresql://postgres@127.0.0.1:5432/postgres) or else a throwaway cluster started here
//! on 127.0.0.1 in a temporary directory, killed when the test process exits. Each test gets
//! its own database, so tests run in parallel.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use parsec_sequester::testbed;
use tokio_postgres::{Client, NoTls};

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures");

pub fn fixtures_dir() -> PathBuf {
    // CI clones the repo with shared/ beside it; developers have it at ../shared too.
    let candidates = [
        PathBuf::from(FIXTURES),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("shared/fixtures"),
    ];
    candidates
        .iter()
        .find(|p| p.is_dir())
        .cloned()
        .unwrap_or_else(|| {
            panic!("fixtures not found at {FIXTURES}: shared/ must sit beside the repository")
        })
}

struct Server {
    admin_url: String,
    /// Base URL without database name, e.g. postgresql://postgres@127.0.0.1:5432
    base_url: String,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static DB_COUNTER: AtomicUsize = AtomicUsize::new(0);

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        if let Ok(url) = std::env::var("PARSEC_TEST_DB_URL") {
            let base = url
                .rsplit_once('/')
                .map(|(b, _)| b.to_owned())
                .unwrap_or(url.clone());
            return Server {
                admin_url: url,
                base_url: base,
            };
        }
        start_cluster()
    })
}

pub fn find_pg_binary(name: &str) -> PathBuf {
    if let Ok(out) = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
    {
        let p = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !p.is_empty() {
            return PathBuf::from(p);
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.flatten()
                .map(|e| e.path().join("bin").join(name))
                .filter(|p| p.exists())
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions
        .pop()
        .unwrap_or_else(|| panic!("PostgreSQL's `{name}` not found: install PostgreSQL (scripts/install-deps.sh) or set PARSEC_TEST_DB_URL"))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// initdb and postgres refuse to run as root: run them as `nobody` when we are root.
pub fn as_server_user(cmd: &mut Command) -> &mut Command {
    if unsafe { libc::geteuid() } == 0 {
        cmd.uid(65534).gid(65534);
    }
    cmd
}

/// Clusters of earlier test runs whose server is gone (the test process that started them has
/// exited, and the kernel killed the server with it): their directories are removed.
fn remove_stale_clusters() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("parsec-sequester-test-pg-") {
            continue;
        }
        let pid_file = entry.path().join("data/postmaster.pid");
        let alive = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|text| {
                text.lines()
                    .next()
                    .and_then(|l| l.trim().parse::<i32>().ok())
            })
            .is_some_and(|pid| unsafe { libc::kill(pid, 0) } == 0);
        let age = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok());
        // A directory being set up by a parallel run has no pid file yet: leave young ones.
        if !alive && age.is_some_and(|a| a > Duration::from_secs(600)) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn start_cluster() -> Server {
    let (dir, data) = init_cluster("parsec-sequester-test-pg-");
    // A self-signed certificate, so that TLS connections (sslmode=require) are tested too.
    let status = as_server_user(Command::new("openssl").args([
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
        "-keyout",
        data.join("server.key").to_str().unwrap(),
        "-out",
        data.join("server.crt").to_str().unwrap(),
    ]))
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .status()
    .expect("run openssl (scripts/install-deps.sh installs it)");
    assert!(
        status.success(),
        "openssl could not make a test certificate"
    );
    let port = free_port();
    start_postgres(&dir, &data, port, &["listen_addresses=127.0.0.1", "ssl=on"]);
    let base_url = format!("postgresql://postgres@127.0.0.1:{port}");
    let admin_url = format!("{base_url}/postgres");
    wait_ready(port, &admin_url);
    Server {
        admin_url,
        base_url,
    }
}

/// A new cluster directory (`initdb`, trust authentication, user `postgres`), owned by the
/// server's user: (directory, data directory).
pub fn init_cluster(prefix: &str) -> (PathBuf, PathBuf) {
    remove_stale_clusters();
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("temp dir")
        .keep();
    if unsafe { libc::geteuid() } == 0 {
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).expect("chown test cluster dir");
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).ok();
    let data = dir.join("data");
    let status = as_server_user(Command::new(find_pg_binary("initdb")).args([
        "-D",
        data.to_str().unwrap(),
        "-U",
        "postgres",
        "--auth=trust",
        "--no-sync",
        "-E",
        "UTF8",
    ]))
    .stdout(Stdio::null())
    .stderr(Stdio::inherit())
    .status()
    .expect("run initdb");
    assert!(status.success(), "initdb failed");
    (dir, data)
}

/// Starts `postgres` on `data` and `port` with the test settings plus `settings` (`-c`
/// values), from a thread that lives as long as the test process and asks the kernel to
/// kill the server when that thread dies: no server outlives the tests.
pub fn start_postgres(dir: &Path, data: &Path, port: u16, settings: &[&str]) {
    let postgres = find_pg_binary("postgres");
    let mut args: Vec<String> = vec![
        "-D".into(),
        data.display().to_string(),
        "-k".into(),
        dir.display().to_string(),
        "-p".into(),
        port.to_string(),
    ];
    for setting in [
        "fsync=off",
        "synchronous_commit=off",
        "full_page_writes=off",
        "max_connections=300",
        "shared_buffers=128MB",
    ]
    .iter()
    .chain(settings)
    {
        args.push("-c".into());
        args.push((*setting).to_owned());
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut cmd = Command::new(postgres);
        as_server_user(&mut cmd)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("start postgres");
        tx.send(child.id()).ok();
        // Lives (and keeps the server alive) until the test process exits.
        let _ = child.wait();
        loop {
            std::thread::park();
        }
    });
    let _pid = rx.recv().expect("postgres pid");
}

/// Waits until `admin_url` (plain TCP, trust) accepts connections.
pub fn wait_ready(port: u16, admin_url: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            // We may be inside a test's runtime: check from a thread with its own.
            let url = admin_url.to_owned();
            let ready = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(tokio_postgres::connect(&url, NoTls)).is_ok()
            })
            .join()
            .unwrap_or(false);
            if ready {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "postgres did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// A fresh, empty database of its own for one test.
pub struct TestDb {
    pub url: String,
}

impl TestDb {
    pub async fn empty(hint: &str) -> TestDb {
        let server = server();
        let n = DB_COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("t_{}_{}_{}", hint, std::process::id(), n).to_lowercase();
        let admin = connect(&server.admin_url).await;
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .await
            .expect("drop old test database");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        TestDb {
            url: format!("{}/{name}", server.base_url),
        }
    }

    /// With the Parsec v3 tables (and migration rows) created.
    pub async fn with_schema(hint: &str) -> TestDb {
        let db = Self::empty(hint).await;
        let client = db.client().await;
        testbed::create_schema(&client)
            .await
            .expect("create Parsec schema");
        db
    }

    /// Loaded with the real Parsec database dump of the fixtures.
    pub async fn with_parsec_fixture(hint: &str) -> TestDb {
        let db = Self::with_schema(hint).await;
        let dump = std::fs::read_to_string(fixtures_dir().join("parsec-v3-db/testbed-data.sql"))
            .expect("read dump");
        let client = db.client().await;
        testbed::load_sql_dump(&client, &dump)
            .await
            .expect("load Parsec's dump");
        db
    }

    pub async fn client(&self) -> Client {
        connect(&self.url).await
    }
}

/// The tool's binary, run for real.
pub fn tool() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_parsec-sequester"));
    cmd.env_remove("PARSEC_DB")
        .env_remove("PARSEC_BLOCKSTORE")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    cmd
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

pub fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run the tool");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// `export-realm` with the usual options; `extra` is appended.
pub fn export_cmd(db_url: &str, org: &str, realm: &str, output: &Path, extra: &[&str]) -> Command {
    let mut cmd = tool();
    cmd.args([
        "export-realm",
        "--db",
        db_url,
        "--blockstore",
        "POSTGRESQL",
        "--organization",
        org,
        "--realm",
        realm,
    ])
    .arg(output)
    .args(extra);
    cmd
}

pub fn fingerprint(path: &Path) -> Vec<u8> {
    // Content + mtime: "untouched" means neither changed.
    let bytes = std::fs::read(path).expect("read file");
    let mtime = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("mtime");
    let mut out = bytes;
    out.extend_from_slice(format!("{mtime:?}").as_bytes());
    out
}

/// `verify FILE` with `extra` options.
pub fn verify_cmd(file: &Path, extra: &[&str]) -> Command {
    let mut cmd = tool();
    cmd.arg("verify").arg(file).args(extra);
    cmd
}

/// `verify --json`: the exit code and the parsed report.
pub fn verify_json(file: &Path, extra: &[&str]) -> (Run, serde_json::Value) {
    let mut cmd = verify_cmd(file, extra);
    cmd.arg("--json");
    let r = run(&mut cmd);
    let json = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("verify --json printed no JSON ({e}):\n{}", r.all()));
    (r, json)
}

/// The `check` identifiers of a JSON report's problems.
pub fn problem_checks(report: &serde_json::Value) -> Vec<String> {
    report["problems"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p["check"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
