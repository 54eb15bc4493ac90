//! Helpers for tests of `parsec_sequester::parsec` on Parsec's own fixture files: the testbed
//! secrets of the reference's section 9, and the rows of an export read with plain SQL.

use std::collections::HashMap;
use std::path::PathBuf;

use parsec_sequester::parsec::certificates::{self, Certificate};
use parsec_sequester::parsec::crypto::rsa_key::SequesterPrivateKey;
use parsec_sequester::parsec::crypto::signing::VerifyKey;
use rusqlite::{Connection, OpenFlags};
use uuid::Uuid;

use crate::harness::fixtures_dir;

pub const REALM_03: Uuid = Uuid::from_u128(0xf0000000000000000000000000000003);
pub const REALM_08: Uuid = Uuid::from_u128(0xf0000000000000000000000000000008);
pub const ALICE: Uuid = Uuid::from_u128(0xa11cec00100000000000000000000000);
pub const ALICE_DEV1: Uuid = Uuid::from_u128(0xde10a11cec0010000000000000000000);
pub const BOB: Uuid = Uuid::from_u128(0x808c0010000000000000000000000000);
pub const SERVICE_1: Uuid = Uuid::from_u128(1);

/// The testbed's n-th drawn secret: `0xAA ‖ 0^30 ‖ n` (reference §9.2).
pub fn testbed_key(n: u8) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[0] = 0xaa;
    key[31] = n;
    key
}

pub fn service_key(n: u8) -> SequesterPrivateKey {
    let path = fixtures_dir().join(format!("parsec-v3/keys/{:032x}.pem", n));
    SequesterPrivateKey::load(&std::fs::read(path).expect("read key"), None).expect("testbed key")
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Both exports of realm `…03` (reference §9.3).
pub fn sequestered_files() -> Vec<PathBuf> {
    let d = fixtures_dir();
    vec![
        d.join("parsec-v3/sequestered_export.sqlite"),
        d.join("parsec-v3-db/expected/parsec-export-SequesteredOrgTemplate-realm-f0000000000000000000000000000003-20100101T000000Z.sqlite"),
    ]
}

pub fn workspace_history_files() -> Vec<PathBuf> {
    let d = fixtures_dir();
    vec![
        d.join("parsec-v3/workspace_history_export.sqlite"),
        d.join("parsec-v3-db/expected/parsec-export-WorkspaceHistoryOrgTemplate-realm-f0000000000000000000000000000008-20100101T000000Z.sqlite"),
    ]
}

/// Every export fixture.
pub fn all_files() -> Vec<PathBuf> {
    let mut files = vec![fixtures_dir().join("parsec-v3/sequestered_export.sqlite")];
    files.push(fixtures_dir().join("parsec-v3/workspace_history_export.sqlite"));
    let expected = fixtures_dir().join("parsec-v3-db/expected");
    let mut more: Vec<PathBuf> = std::fs::read_dir(expected)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sqlite"))
        .collect();
    more.sort();
    files.extend(more);
    files
}

pub fn open(path: &std::path::Path) -> Connection {
    Connection::open_with_flags(
        format!("file:{}?mode=ro&immutable=1", path.display()),
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
    )
    .expect("open fixture")
}

/// The blobs of one column, in `order`.
pub fn blobs(conn: &Connection, sql: &str) -> Vec<Vec<u8>> {
    let mut stmt = conn.prepare(sql).expect("query");
    stmt.query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<rusqlite::Result<_>>()
        .expect("blobs")
}

pub fn root_key(conn: &Connection) -> [u8; 32] {
    let key: Vec<u8> = conn
        .query_row("SELECT root_verify_key FROM info", [], |r| r.get(0))
        .expect("info");
    key.try_into().expect("32 bytes")
}

/// The device keys of the common certificates, each verified by its signer.
pub fn device_keys(conn: &Connection) -> HashMap<Uuid, VerifyKey> {
    let root = VerifyKey::from_bytes(&root_key(conn)).expect("root key");
    let mut devices = HashMap::new();
    for bytes in blobs(
        conn,
        "SELECT certificate FROM common_certificate ORDER BY _id",
    ) {
        let unverified = certificates::decode(&bytes).expect("decodes");
        let key = match unverified.certificate.author() {
            None => root.clone(),
            Some(d) => devices.get(&d).cloned().expect("known signer"),
        };
        if let Certificate::Device(d) = unverified.verify(&key).expect("verifies") {
            devices.insert(
                d.device_id,
                VerifyKey::from_bytes(&d.verify_key).expect("key"),
            );
        }
    }
    devices
}

/// A `vlob_atom` row.
pub struct Vlob {
    pub vlob_id: Uuid,
    pub version: u32,
    pub key_index: u64,
    pub blob: Vec<u8>,
    pub author: Uuid,
    pub timestamp: i64,
}

pub fn vlobs(conn: &Connection) -> Vec<Vlob> {
    let mut stmt = conn
        .prepare("SELECT vlob_id, version, key_index, blob, author, timestamp FROM vlob_atom ORDER BY sequential_id")
        .expect("query");
    stmt.query_map([], |r| {
        let id: Vec<u8> = r.get(0)?;
        let author: Vec<u8> = r.get(4)?;
        Ok(Vlob {
            vlob_id: Uuid::from_slice(&id).expect("id"),
            version: r.get(1)?,
            key_index: r.get(2)?,
            blob: r.get(3)?,
            author: Uuid::from_slice(&author).expect("author"),
            timestamp: r.get(5)?,
        })
    })
    .expect("rows")
    .collect::<rusqlite::Result<_>>()
    .expect("vlobs")
}

/// `block_id → (key_index, data)`.
pub fn blocks(conn: &Connection) -> HashMap<Uuid, (u64, Vec<u8>)> {
    let mut stmt = conn
        .prepare("SELECT block_id, key_index, data FROM block JOIN block_data ON block_data.block = block.sequential_id")
        .expect("query");
    stmt.query_map([], |r| {
        let id: Vec<u8> = r.get(0)?;
        Ok((Uuid::from_slice(&id).expect("id"), (r.get(1)?, r.get(2)?)))
    })
    .expect("rows")
    .collect::<rusqlite::Result<_>>()
    .expect("blocks")
}
