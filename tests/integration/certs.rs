//! Test certificates made with the `openssl` command: a CA, and certificates it signs for
//! servers (SAN `localhost` and 127.0.0.1) and clients (CN = the PostgreSQL user), valid
//! now or expired.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct TestCa {
    dir: PathBuf,
    pub cert: PathBuf,
    key: PathBuf,
}

/// A certificate and its private key (mode 0600).
pub struct Issued {
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl (scripts/install-deps.sh installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

impl TestCa {
    /// A self-signed CA named `name`, its files in `dir`.
    pub fn new(dir: &Path, name: &str) -> TestCa {
        let ca = TestCa {
            dir: dir.to_owned(),
            cert: dir.join(format!("{name}-ca.crt")),
            key: dir.join(format!("{name}-ca.key")),
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=parsec-sequester test CA {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            path(&ca.key),
            "-out",
            path(&ca.cert),
        ]);
        ca
    }

    /// A server certificate for `localhost` and 127.0.0.1.
    pub fn server(&self, name: &str, expired: bool) -> Issued {
        self.issue(
            name,
            "localhost",
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
            expired,
        )
    }

    /// A client certificate for PostgreSQL user `user` (`cert` authentication checks the CN).
    pub fn client(&self, user: &str) -> Issued {
        self.issue(user, user, "extendedKeyUsage=clientAuth\n", false)
    }

    fn issue(&self, name: &str, cn: &str, extensions: &str, expired: bool) -> Issued {
        let issued = Issued {
            cert: self.dir.join(format!("{name}.crt")),
            key: self.dir.join(format!("{name}.key")),
        };
        let csr = self.dir.join(format!("{name}.csr"));
        let ext = self.dir.join(format!("{name}.ext"));
        std::fs::write(
            &ext,
            format!("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n{extensions}"),
        )
        .unwrap();
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            &format!("/CN={cn}"),
            "-keyout",
            path(&issued.key),
            "-out",
            path(&csr),
        ]);
        if expired {
            self.sign_in_the_past(&csr, &ext, &issued.cert);
        } else {
            openssl(&[
                "x509",
                "-req",
                "-in",
                path(&csr),
                "-CA",
                path(&self.cert),
                "-CAkey",
                path(&self.key),
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                path(&ext),
                "-out",
                path(&issued.cert),
            ]);
        }
        std::fs::set_permissions(&issued.key, std::fs::Permissions::from_mode(0o600)).unwrap();
        issued
    }

    /// `openssl x509` cannot backdate (before OpenSSL 3.4): `openssl ca` can.
    fn sign_in_the_past(&self, csr: &Path, ext: &Path, out: &Path) {
        let db = self.dir.join("ca-db");
        std::fs::create_dir_all(&db).unwrap();
        std::fs::write(db.join("index.txt"), "").unwrap();
        std::fs::write(db.join("serial"), "1000\n").unwrap();
        let config = db.join("ca.cnf");
        std::fs::write(
            &config,
            format!(
                "[ca]\ndefault_ca = test\n[test]\ndatabase = {d}/index.txt\nnew_certs_dir = {d}\nserial = {d}/serial\ndefault_md = sha256\npolicy = any\nunique_subject = no\n[any]\ncommonName = supplied\n",
                d = db.display()
            ),
        )
        .unwrap();
        openssl(&[
            "ca",
            "-batch",
            "-notext",
            "-config",
            path(&config),
            "-cert",
            path(&self.cert),
            "-keyfile",
            path(&self.key),
            "-startdate",
            "20200101000000Z",
            "-enddate",
            "20200201000000Z",
            "-extfile",
            path(ext),
            "-in",
            path(csr),
            "-out",
            path(out),
        ]);
    }
}
