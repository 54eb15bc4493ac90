//! Connections to PostgreSQL follow libpq's sslmode: `require` encrypts (the test server has
//! a self-signed certificate, as many do), `disable` does not, `prefer` encrypts when offered.

use parsec_sequester::db::DbTarget;

use crate::harness::TestDb;

async fn encrypted(url: &str) -> bool {
    let client = DbTarget::parse(url).unwrap().connect().await.unwrap();
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn sslmode_is_honoured() {
    if std::env::var("PARSEC_TEST_DB_URL").is_ok() {
        eprintln!("skipped: PARSEC_TEST_DB_URL's server may not have TLS");
        return;
    }
    let db = TestDb::empty("tls").await;
    assert!(encrypted(&format!("{}?sslmode=require", db.url)).await);
    assert!(encrypted(&format!("{}?sslmode=prefer", db.url)).await);
    assert!(!encrypted(&format!("{}?sslmode=disable", db.url)).await);
}
