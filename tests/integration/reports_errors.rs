//! Both reports fail with the documented exit codes and clear messages, and never show the
//! password.

use crate::export_errors::assert_fails;
use crate::export_generated::generated_db;
use crate::harness::{run, TestDb};
use crate::reports_common::report_cmd;

const COMMANDS: [&str; 2] = ["human-accesses", "realms"];

#[tokio::test(flavor = "multi_thread")]
async fn unknown_or_unborn_organizations() {
    let (db, _org) = generated_db("reports_org").await;
    db.client()
        .await
        .batch_execute(
            "INSERT INTO organization (organization_id, user_profile_outsider_allowed, is_expired, _created_on, realm_minimum_archiving_period_before_deletion) \
             VALUES ('Unborn', true, false, now(), 2592000)",
        )
        .await
        .unwrap();
    for command in COMMANDS {
        let r = run(&mut report_cmd(command, &db.url, "NoSuchOrg", &[]));
        assert_fails(&r, 10, &["organization `NoSuchOrg` not found"]);
        assert!(r.stdout.is_empty(), "{}", r.stdout);
        // Names are case-sensitive, as in Parsec.
        let r = run(&mut report_cmd(command, &db.url, "genorg", &[]));
        assert_fails(&r, 10, &["genorg", "case-sensitive"]);
        let r = run(&mut report_cmd(command, &db.url, "Unborn", &[]));
        assert_fails(&r, 10, &["Unborn", "never bootstrapped"]);
        let r = run(&mut report_cmd(command, &db.url, "bad org", &[]));
        assert_fails(&r, 2, &["invalid organization ID"]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn database_errors_never_show_the_password() {
    let secret = "Sup3r-S3cret-pw";
    let empty = TestDb::empty("reports_empty").await;
    let old = TestDb::with_schema("reports_old").await;
    old.client()
        .await
        .batch_execute("DELETE FROM migration WHERE _id > 9")
        .await
        .unwrap();
    let wrong_user = empty.url.replace(
        "postgresql://postgres@",
        &format!("postgresql://nobody_here:{secret}@"),
    );
    for command in COMMANDS {
        let url = format!("postgresql://alice:{secret}@127.0.0.1:1/parsec");
        let r = run(&mut report_cmd(command, &url, "Org", &[]));
        assert_fails(
            &r,
            20,
            &["cannot connect", "postgresql://alice@127.0.0.1:1/parsec"],
        );
        assert!(!r.all().contains(secret));

        let r = run(&mut report_cmd(command, &wrong_user, "Org", &[]));
        assert_fails(&r, 21, &["refused the credentials"]);
        assert!(!r.all().contains(secret));

        let r = run(&mut report_cmd(command, &empty.url, "Org", &[]));
        assert_fails(&r, 22, &["not a Parsec database"]);

        let r = run(&mut report_cmd(command, &old.url, "Org", &["--json"]));
        assert_fails(&r, 22, &["migration 0009", "v3.3.0"]);
        assert!(r.stdout.is_empty());

        let r = run(&mut report_cmd(
            command,
            "mysql://u:TopSecret@h/db",
            "Org",
            &[],
        ));
        assert_fails(&r, 2, &["invalid --db"]);
        assert!(!r.all().contains("TopSecret"));
    }
}
