//! A real OpenStack Swift for tests, assembled from Debian's packages (`swift-proxy`,
//! `swift-account`, `swift-container`, `swift-object`, and `memcached`): in a temporary
//! directory, three one-device rings (1 replica), the four servers and a memcached, each one
//! process on 127.0.0.1 with a port of its own. Killing the processes is a real store failure;
//! starting them again brings the same objects back (tokens are lost with memcached, so a
//! client must log in again).
//!
//! Authentication is the proxy's TempAuth, auth v1, with one account `test`, one user
//! `tester`, key `Tempauth-Key-9f2c` (`user_test_tester = <key> .admin`): TempAuth expects
//! `X-Auth-User: <account>:<user>`, i.e. `test:tester`. Our client (as Parsec, through
//! python-swiftclient given the user `<user>:<tenant>`) sends `X-Auth-User: <user>:<tenant>`,
//! so in `swift:<auth_url>:<tenant>:<container>:<user>:<password>` the *user* field is the
//! TempAuth account and the *tenant* field the TempAuth user:
//! `swift:http\://127.0.0.1\:PORT/auth/v1.0:tester:<container>:test:<key>`. The storage URL
//! TempAuth answers is `http://127.0.0.1:PORT/v1/AUTH_test`.
//!
//! Notes on the assembly:
//! - TempAuth keeps its tokens in memcache and refuses to work without it ("Memcache
//!   required"), so a memcached is part of the store (own port, killed and restarted with it).
//! - The object server keeps metadata in extended attributes (`user.swift.metadata`): the
//!   devices directory must be on a filesystem with user xattrs. The system temp dir is used
//!   when it has them (ext4 /tmp does; tmpfs before Linux 6.6 does not), else the target
//!   directory's tmp dir (`CARGO_TARGET_TMPDIR`).
//! - `/etc/swift/swift.conf` (hash path prefix/suffix, storage policy 0) comes with the
//!   `swift` package; Swift reads it from there only, and it is left as installed. Rings and
//!   server configs live in the temp dir (`swift_dir`).
//! - `workers = 0`: each server serves in the process we started (no forked workers that would
//!   outlive a kill). Servers run as the current user (`user =`), `mount_check = false`.
//! - Logs: every server runs with `--verbose` and its stdout/stderr go to `<name>.log` in the
//!   temp dir. Swift always adds a syslog handler too: it is pointed at a UDP socket this
//!   harness holds (and never reads), so nothing reaches the machine's syslog.
//! - Every process gets PR_SET_PDEATHSIG: if the test process dies without dropping the
//!   harness, the kernel kills them. The signal follows the *thread* that spawned them, so
//!   start/restart from the test's own thread (not from a `spawn_blocking` pool thread).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ACCOUNT: &str = "test";
pub const USER: &str = "tester";
pub const KEY: &str = "Tempauth-Key-9f2c";

const SERVERS: [&str; 3] = ["account", "container", "object"];

fn free_ports<const N: usize>() -> [u16; N] {
    // Hold every listener until all are chosen, so the ports are distinct.
    let listeners: Vec<_> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("free port"))
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().unwrap().port())
}

fn binary(name: &str) -> PathBuf {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    found
        .or_else(|| {
            ["/usr/bin", "/usr/sbin"]
                .iter()
                .map(|d| Path::new(d).join(name))
                .find(|p| p.exists())
        })
        .unwrap_or_else(|| {
            panic!(
                "`{name}` not found: run scripts/install-deps.sh (apt-get install swift \
                 swift-proxy swift-object swift-container swift-account memcached)"
            )
        })
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("run id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Whether `dir` accepts user extended attributes (needed by Swift's object server).
fn supports_xattrs(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let probe = dir.join(".xattr-probe");
    if std::fs::write(&probe, b"").is_err() {
        return false;
    }
    let path = std::ffi::CString::new(probe.as_os_str().as_bytes()).unwrap();
    let ok = unsafe {
        libc::setxattr(
            path.as_ptr(),
            c"user.swift.probe".as_ptr(),
            b"1".as_ptr().cast(),
            1,
            0,
        )
    } == 0;
    let _ = std::fs::remove_file(&probe);
    ok
}

fn temp_dir_with_xattrs() -> tempfile::TempDir {
    let make = |parent: &Path| {
        tempfile::Builder::new()
            .prefix("parsec-sequester-swift-")
            .tempdir_in(parent)
            .expect("temp dir")
    };
    let dir = make(&std::env::temp_dir());
    if supports_xattrs(dir.path()) {
        return dir;
    }
    let fallback = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = make(fallback);
    assert!(
        supports_xattrs(dir.path()),
        "neither {} nor {} supports user extended attributes, which Swift's object server needs",
        std::env::temp_dir().display(),
        fallback.display()
    );
    dir
}

/// The three rings: part power 4 (16 partitions), 1 replica, min_part_hours 0, one device
/// each. These are `swift-ring-builder <file> create|add|rebalance` commands, run through the
/// code that `/usr/bin/swift-ring-builder` runs (`swift.cli.ringbuilder.main`) by its own
/// interpreter, but in one Python process: nine separate start-ups take 10-15 s on a busy
/// 2-core machine, this about 1.5 s.
fn build_rings(dir: &Path, ports: &Ports) {
    let cli = binary("swift-ring-builder");
    let shebang = std::fs::read_to_string(&cli).expect("read swift-ring-builder");
    let python = shebang
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("#!"))
        .map(|l| l.trim().to_owned())
        .unwrap_or_else(|| "python3".to_owned());
    let mut calls = String::new();
    for server in SERVERS {
        let builder = dir.join(format!("{server}.builder"));
        let device = format!("r1z1-127.0.0.1:{}/d1", ports.of(server));
        for args in [
            vec!["create", "4", "1", "0"],
            vec!["add", device.as_str(), "100"],
            vec!["rebalance"],
        ] {
            calls.push_str(&format!(
                "run({:?}, [{}])\n",
                builder.display().to_string(),
                args.iter()
                    .map(|a| format!("{a:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    let script = format!(
        "import sys\n\
         from swift.cli.ringbuilder import main\n\
         def run(builder, args):\n\
         \x20   try:\n\
         \x20       main(['swift-ring-builder', builder] + args)\n\
         \x20   except SystemExit as e:\n\
         \x20       if e.code not in (0, None):\n\
         \x20           sys.exit('swift-ring-builder %s %s: exit %s' % (builder, args, e.code))\n\
         {calls}"
    );
    let mut words = python.split_whitespace();
    let out = Command::new(words.next().unwrap_or("python3"))
        .args(words)
        .arg("-c")
        .arg(&script)
        .output()
        .expect("run swift-ring-builder's Python");
    assert!(
        out.status.success(),
        "building the rings: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for server in SERVERS {
        assert!(
            dir.join(format!("{server}.ring.gz")).exists(),
            "no {server} ring"
        );
    }
}

struct Ports {
    account: u16,
    container: u16,
    object: u16,
    proxy: u16,
    memcached: u16,
}

impl Ports {
    fn of(&self, server: &str) -> u16 {
        match server {
            "account" => self.account,
            "container" => self.container,
            "object" => self.object,
            "proxy" => self.proxy,
            _ => unreachable!("{server}"),
        }
    }
}

pub struct Swift {
    dir: tempfile::TempDir,
    ports: Ports,
    user: String,
    /// Swift's syslog handler writes here (see the module comment).
    _syslog: std::net::UdpSocket,
    children: Vec<(&'static str, Child)>,
    containers: Vec<String>,
    http: reqwest::Client,
}

impl Swift {
    /// Builds the rings, writes the configs, starts every process, waits until TempAuth
    /// gives a token, and creates `containers`.
    pub async fn start(containers: &[&str]) -> Swift {
        let dir = temp_dir_with_xattrs();
        let [account, container, object, proxy, memcached] = free_ports::<5>();
        let ports = Ports {
            account,
            container,
            object,
            proxy,
            memcached,
        };
        let syslog = std::net::UdpSocket::bind("127.0.0.1:0").expect("syslog sink");
        let syslog_port = syslog.local_addr().unwrap().port();
        let user = current_user();
        let d = dir.path();
        std::fs::create_dir_all(d.join("srv/d1")).expect("devices dir");

        build_rings(d, &ports);

        let common = |port: u16, name: &str| {
            format!(
                "[DEFAULT]\n\
                 bind_ip = 127.0.0.1\n\
                 bind_port = {port}\n\
                 workers = 0\n\
                 user = {user}\n\
                 swift_dir = {d}\n\
                 devices = {d}/srv\n\
                 mount_check = false\n\
                 disable_fallocate = true\n\
                 log_name = {name}\n\
                 log_udp_host = 127.0.0.1\n\
                 log_udp_port = {syslog_port}\n",
                d = d.display()
            )
        };
        for server in SERVERS {
            let name = format!("{server}-server");
            std::fs::write(
                d.join(format!("{name}.conf")),
                format!(
                    "{}\n[pipeline:main]\npipeline = {name}\n\n[app:{name}]\nuse = egg:swift#{server}\n",
                    common(ports.of(server), &name)
                ),
            )
            .expect("write server config");
        }
        std::fs::write(
            d.join("proxy-server.conf"),
            format!(
                "{}\n\
                 [pipeline:main]\n\
                 pipeline = catch_errors gatekeeper healthcheck proxy-logging cache tempauth proxy-logging proxy-server\n\n\
                 [app:proxy-server]\n\
                 use = egg:swift#proxy\n\
                 account_autocreate = true\n\n\
                 [filter:tempauth]\n\
                 use = egg:swift#tempauth\n\
                 user_{ACCOUNT}_{USER} = {KEY} .admin\n\n\
                 [filter:cache]\n\
                 use = egg:swift#memcache\n\
                 memcache_servers = 127.0.0.1:{}\n\n\
                 [filter:catch_errors]\nuse = egg:swift#catch_errors\n\
                 [filter:gatekeeper]\nuse = egg:swift#gatekeeper\n\
                 [filter:healthcheck]\nuse = egg:swift#healthcheck\n\
                 [filter:proxy-logging]\nuse = egg:swift#proxy_logging\n",
                common(ports.proxy, "proxy-server"),
                ports.memcached
            ),
        )
        .expect("write proxy config");

        let mut swift = Swift {
            dir,
            ports,
            user,
            _syslog: syslog,
            children: Vec::new(),
            containers: Vec::new(),
            http: reqwest::Client::new(),
        };
        swift.spawn_all(false).await;
        let (storage_url, token) = swift.session().await;
        for container in containers {
            let r = swift
                .http
                .put(format!("{storage_url}/{container}"))
                .header("X-Auth-Token", &token)
                .send()
                .await
                .expect("create container");
            assert!(
                r.status().is_success(),
                "PUT container {container}: {}",
                r.status()
            );
            swift.containers.push((*container).to_owned());
        }
        swift
    }

    fn spawn(&mut self, name: &'static str, program: PathBuf, args: Vec<String>) {
        let log = std::fs::File::create(self.dir.path().join(format!("{name}.log")))
            .expect("create log file");
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map(Stdio::from).unwrap_or(Stdio::null()))
            .stderr(Stdio::from(log));
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("start {name}: {e}"));
        self.children.push((name, child));
    }

    /// Starts memcached, the three storage servers and the proxy, and waits until TempAuth
    /// answers with a token. With `proxy_last` (a restart, while a client may be retrying)
    /// the proxy starts only once the storage servers listen, so that it never sees, and
    /// error-limits, a backend still starting; on the first start nobody calls it before
    /// everything listens, so all start at once (each is a slow Python start-up).
    async fn spawn_all(&mut self, proxy_last: bool) {
        let mut args = vec![
            "-l".to_owned(),
            "127.0.0.1".to_owned(),
            "-p".to_owned(),
            self.ports.memcached.to_string(),
            "-U".to_owned(),
            "0".to_owned(),
        ];
        if unsafe { libc::geteuid() } == 0 {
            args.extend(["-u".to_owned(), self.user.clone()]);
        }
        self.spawn("memcached", binary("memcached"), args);
        let dir = self.dir.path().to_owned();
        let conf = move |name: &str| -> Vec<String> {
            vec![
                dir.join(format!("{name}-server.conf"))
                    .display()
                    .to_string(),
                "--verbose".to_owned(),
            ]
        };
        for server in SERVERS {
            let args = conf(server);
            let program = binary(&format!("swift-{server}-server"));
            self.spawn(server, program, args);
        }
        if !proxy_last {
            self.spawn("proxy", binary("swift-proxy-server"), conf("proxy"));
        }
        let backends = [
            self.ports.memcached,
            self.ports.account,
            self.ports.container,
            self.ports.object,
        ];
        for port in backends {
            self.wait_port(port).await;
        }
        if proxy_last {
            self.spawn("proxy", binary("swift-proxy-server"), conf("proxy"));
        }
        self.wait_port(self.ports.proxy).await;
        // The first token proves proxy, TempAuth and memcached work together.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.try_session().await {
                Ok(_) => break,
                Err(e) => assert!(
                    Instant::now() < deadline,
                    "Swift gives no token: {e}\n{}",
                    self.logs()
                ),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_port(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = self
                .children
                .iter_mut()
                .find_map(|(name, child)| Some((*name, child.try_wait().ok()??)));
            if let Some((name, status)) = exited {
                panic!("{name} exited ({status}):\n{}", self.logs());
            }
            assert!(
                Instant::now() < deadline,
                "port {port} did not open:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last lines of every log, for failure messages.
    fn logs(&self) -> String {
        let mut out = String::new();
        for name in ["memcached", "account", "container", "object", "proxy"] {
            let text = std::fs::read_to_string(self.dir.path().join(format!("{name}.log")))
                .unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            out.push_str(&format!("--- {name}.log\n"));
            for line in &lines[lines.len().saturating_sub(15)..] {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    async fn try_session(&self) -> Result<(String, String), String> {
        let r = self
            .http
            .get(self.auth_url())
            .header("X-Auth-User", format!("{ACCOUNT}:{USER}"))
            .header("X-Auth-Key", KEY)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(format!("auth answered {}", r.status()));
        }
        let header = |name: &str| {
            r.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        match (header("X-Storage-Url"), header("X-Auth-Token")) {
            (Some(url), Some(token)) => Ok((url, token)),
            _ => Err("auth answered without X-Storage-Url / X-Auth-Token".into()),
        }
    }

    /// (storage URL, token) for the test account.
    pub async fn session(&self) -> (String, String) {
        self.try_session()
            .await
            .unwrap_or_else(|e| panic!("Swift auth: {e}\n{}", self.logs()))
    }

    pub fn auth_url(&self) -> String {
        format!("http://127.0.0.1:{}/auth/v1.0", self.ports.proxy)
    }

    /// The store as Parsec's `--blockstore` option spells it (see the module comment for
    /// which field is which).
    pub fn blockstore(&self, container: &str) -> String {
        self.blockstore_with_key(container, KEY)
    }

    pub fn blockstore_with_key(&self, container: &str, key: &str) -> String {
        format!(
            r"swift:http\://127.0.0.1\:{}/auth/v1.0:{USER}:{container}:{ACCOUNT}:{key}",
            self.ports.proxy
        )
    }

    /// A client that uploads objects into `container` with one token.
    pub async fn uploader(&self, container: &str) -> Uploader {
        let (storage_url, token) = self.session().await;
        Uploader {
            http: self.http.clone(),
            base: format!("{storage_url}/{container}"),
            token,
        }
    }

    /// A real failure: every process is killed.
    pub fn stop(&mut self) {
        for (_, mut child) in self.children.drain(..) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts everything again on the same ports and data; returns once the containers
    /// answer.
    pub async fn restart(&mut self) {
        self.stop();
        self.spawn_all(true).await;
        let (storage_url, token) = self.session().await;
        for container in &self.containers {
            let r = self
                .http
                .head(format!("{storage_url}/{container}"))
                .header("X-Auth-Token", &token)
                .send()
                .await
                .expect("HEAD container");
            assert!(
                r.status().is_success(),
                "container {container} after restart: {}\n{}",
                r.status(),
                self.logs()
            );
        }
    }
}

impl Drop for Swift {
    fn drop(&mut self) {
        self.stop();
    }
}

pub struct Uploader {
    http: reqwest::Client,
    /// `<storage url>/<container>`
    base: String,
    token: String,
}

impl Uploader {
    pub async fn put(&self, object: &str, data: &[u8]) -> anyhow::Result<()> {
        let r = self
            .http
            .put(format!("{}/{object}", self.base))
            .header("X-Auth-Token", &self.token)
            .body(data.to_vec())
            .send()
            .await?;
        anyhow::ensure!(r.status().as_u16() == 201, "PUT {object}: {}", r.status());
        Ok(())
    }

    pub async fn delete(&self, object: &str) {
        let r = self
            .http
            .delete(format!("{}/{object}", self.base))
            .header("X-Auth-Token", &self.token)
            .send()
            .await
            .expect("DELETE object");
        assert_eq!(r.status().as_u16(), 204, "DELETE {object}");
    }

    /// Object names in the container (plain-text listing).
    pub async fn list(&self) -> Vec<String> {
        let r = self
            .http
            .get(&self.base)
            .header("X-Auth-Token", &self.token)
            .send()
            .await
            .expect("GET container");
        assert!(r.status().is_success(), "listing: {}", r.status());
        r.text()
            .await
            .expect("listing body")
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// The harness itself, without the tool: a token, an object round trip, TempAuth refusing a
/// wrong key, and the data surviving a restart.
#[tokio::test(flavor = "multi_thread")]
async fn swift_harness_serves_objects_and_survives_a_restart() {
    let mut swift = Swift::start(&["c"]).await;
    let up = swift.uploader("c").await;
    up.put("Org/a", b"hello").await.unwrap();
    assert_eq!(up.list().await, ["Org/a"]);
    let wrong = swift
        .http
        .get(swift.auth_url())
        .header("X-Auth-User", format!("{ACCOUNT}:{USER}"))
        .header("X-Auth-Key", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    swift.restart().await;
    let (url, token) = swift.session().await;
    let body = swift
        .http
        .get(format!("{url}/c/Org/a"))
        .header("X-Auth-Token", token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&body[..], b"hello");
}
