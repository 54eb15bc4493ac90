//! A real S3 server for tests: Garage (https://garagehq.deuxfleurs.fr), one process per
//! store, single node, on 127.0.0.1, in a temporary directory. Stopping the process is a real
//! store failure; starting it again brings the same data back.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn garage_bin() -> PathBuf {
    let candidates = [
        std::env::var("GARAGE_BIN").ok().map(PathBuf::from),
        Some(PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo/bin/garage")),
        Some(PathBuf::from("/usr/local/bin/garage")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.exists())
        .or_else(|| {
            let out = Command::new("sh").arg("-c").arg("command -v garage").output().ok()?;
            let p = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            (!p.is_empty()).then(|| PathBuf::from(p))
        })
        .expect("garage not found: run scripts/install-deps.sh (cargo install garage --locked --version 2.5.0)")
}

pub struct Garage {
    dir: tempfile::TempDir,
    config: PathBuf,
    pub s3_port: u16,
    child: Option<Child>,
    pub key_id: String,
    pub secret: String,
}

impl Garage {
    /// Starts a store and creates `buckets` with one read/write key.
    pub fn start(buckets: &[&str]) -> Garage {
        let dir = tempfile::Builder::new()
            .prefix("parsec-sequester-garage-")
            .tempdir()
            .expect("temp dir");
        let (s3_port, rpc_port, admin_port) = (free_port(), free_port(), free_port());
        let secret: String = (0..32)
            .map(|_| format!("{:02x}", rand::random::<u8>()))
            .collect();
        let config = dir.path().join("garage.toml");
        std::fs::write(
            &config,
            format!(
                r#"metadata_dir = "{d}/meta"
data_dir = "{d}/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:{rpc_port}"
rpc_public_addr = "127.0.0.1:{rpc_port}"
rpc_secret = "{secret}"
[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:{s3_port}"
root_domain = ".s3.garage.localhost"
[admin]
api_bind_addr = "127.0.0.1:{admin_port}"
admin_token = "test-admin-token"
"#,
                d = dir.path().display()
            ),
        )
        .expect("write garage config");
        let mut g = Garage {
            dir,
            config,
            s3_port,
            child: None,
            key_id: String::new(),
            secret: String::new(),
        };
        g.spawn();
        // `node id` answers from the key on disk: wait for the server itself.
        g.wait_port(rpc_port);
        let node = g.wait_cli(&["node", "id", "-q"]);
        let node_id = node.split('@').next().unwrap_or("").trim().to_owned();
        g.cli(&["layout", "assign", "-z", "dc1", "-c", "1G", &node_id]);
        g.cli(&["layout", "apply", "--version", "1"]);
        let key = g.cli(&["key", "create", "test-key"]);
        g.key_id = field(&key, "Key ID");
        g.secret = field(&key, "Secret key");
        for bucket in buckets {
            g.cli(&["bucket", "create", bucket]);
            g.cli(&[
                "bucket", "allow", "--read", "--write", "--owner", bucket, "--key", "test-key",
            ]);
        }
        g.wait_s3();
        g
    }

    fn spawn(&mut self) {
        let child = Command::new(garage_bin())
            .args(["-c", self.config.to_str().unwrap(), "server"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(self.dir.path().join("server.log"))
                    .map(Stdio::from)
                    .unwrap_or(Stdio::null()),
            )
            .spawn()
            .expect("start garage");
        self.child = Some(child);
    }

    fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(garage_bin())
            .args(["-c", self.config.to_str().unwrap()])
            .args(args)
            .output()
            .expect("run garage cli");
        assert!(
            out.status.success(),
            "garage {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_cli(&self, args: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = Command::new(garage_bin())
                .args(["-c", self.config.to_str().unwrap()])
                .args(args)
                .output();
            if let Ok(out) = out {
                if out.status.success() {
                    return String::from_utf8_lossy(&out.stdout).into_owned();
                }
            }
            assert!(
                Instant::now() < deadline,
                "garage did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_s3(&self) {
        self.wait_port(self.s3_port);
    }

    fn wait_port(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "garage did not open port {port}: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// A real failure: the process is killed.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
        self.wait_s3();
    }

    /// The store as Parsec's `--blockstore` option spells it (escaped `http://` endpoint).
    pub fn blockstore(&self, bucket: &str) -> String {
        format!(
            r"s3:http\://127.0.0.1\:{}:garage:{bucket}:{}:{}",
            self.s3_port, self.key_id, self.secret
        )
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        self.stop();
    }
}

fn field(text: &str, name: &str) -> String {
    text.lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix(name)
                .map(|rest| rest.trim_start_matches(':').trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no `{name}` in garage output:\n{text}"))
}
