//! On a generated organization (deterministic for its seed): the whole text report, the
//! filter rules, colours and the JSON document.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::access_facts::{assert_ordered, from_database, from_json, from_text};
use crate::export_generated::generated_db;
use crate::golden::assert_golden;
use crate::harness::run;
use crate::reports_common::{json, report_cmd, text};

const CMD: &str = "human-accesses";

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn set(names: &[&'static str]) -> BTreeSet<&'static str> {
    names.iter().copied().collect()
}

fn users(doc: &Value) -> Vec<&Value> {
    doc["humans"]
        .as_array()
        .expect("humans")
        .iter()
        .flat_map(|h| h["users"].as_array().expect("users"))
        .collect()
}

fn user_ids(doc: &Value) -> BTreeSet<String> {
    users(doc)
        .iter()
        .map(|u| u["user_id"].as_str().expect("user_id").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn whole_report_of_a_known_organization() {
    let (db, _org) = generated_db("ha_golden").await;
    let client = db.client().await;
    let report = text(CMD, &db.url, "GenOrg", &[]);
    assert_golden("human_accesses-GenOrg.txt", &report);
    // The golden file must state exactly the database's facts, and nothing of OtherOrg.
    assert_eq!(from_text(&report), from_database(&client, "GenOrg").await);
    for row in client
        .query(
            "SELECT u.user_id FROM user_ u JOIN organization o ON o._id = u.organization WHERE o.organization_id = 'OtherOrg'",
            &[],
        )
        .await
        .unwrap()
    {
        let id: uuid::Uuid = row.get(0);
        assert!(!report.contains(&id.hyphenated().to_string()));
    }
    // The story the generator tells is all there.
    assert!(report.contains("(Standard, revoked)"), "{report}");
    assert!(report.contains(": Revoked\n"));
    assert!(report.contains("No access to any realm"));
    let promoted = [
        "Created with profile Outsider",
        "Updated to profile Standard",
        "Updated to profile Admin",
    ];
    let positions: Vec<usize> = promoted
        .iter()
        .map(|p| report.find(p).unwrap_or_else(|| panic!("{p} missing")))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]));
    let regranted = report.split("Access removed\n").skip(1).any(|after| {
        after
            .trim_start()
            .split(": ")
            .nth(1)
            .is_some_and(|e| e.starts_with("Got "))
    });
    assert!(
        regranted,
        "no access granted again after a removal:\n{report}"
    );
    let two_users = report
        .split("\nHuman ")
        .any(|human| human.matches("\n  User ").count() == 2);
    assert!(two_users, "no human with two users");
    assert!(!report.contains('\t') && !report.contains('\x1b'));
}

#[tokio::test(flavor = "multi_thread")]
async fn json_document_has_the_documented_shape_and_the_facts() {
    let (db, _org) = generated_db("ha_json").await;
    let client = db.client().await;
    let doc = json(CMD, &db.url, "GenOrg", &[]);
    assert_eq!(keys(&doc), set(&["organization_id", "query", "humans"]));
    assert_eq!(doc["organization_id"], "GenOrg");
    assert_eq!(doc["query"], Value::Null);
    for human in doc["humans"].as_array().unwrap() {
        assert_eq!(keys(human), set(&["label", "email", "users"]));
        for user in human["users"].as_array().unwrap() {
            assert_eq!(
                keys(user),
                set(&[
                    "user_id",
                    "created_on",
                    "initial_profile",
                    "current_profile",
                    "profile_changes",
                    "revoked_on",
                    "realms"
                ])
            );
            let id = user["user_id"].as_str().unwrap();
            assert_eq!(
                uuid::Uuid::parse_str(id).unwrap().hyphenated().to_string(),
                id
            );
            for change in user["profile_changes"].as_array().unwrap() {
                assert_eq!(keys(change), set(&["timestamp", "profile"]));
            }
            let last_profile = user["profile_changes"]
                .as_array()
                .unwrap()
                .last()
                .map_or(&user["initial_profile"], |c| &c["profile"]);
            assert_eq!(&user["current_profile"], last_profile);
            for realm in user["realms"].as_array().unwrap() {
                assert_eq!(keys(realm), set(&["realm_id", "role_changes"]));
                let id = realm["realm_id"].as_str().unwrap();
                assert_eq!(uuid::Uuid::parse_str(id).unwrap().simple().to_string(), id);
                for change in realm["role_changes"].as_array().unwrap() {
                    assert_eq!(keys(change), set(&["timestamp", "role"]));
                    assert!(matches!(
                        change["role"].as_str(),
                        None | Some("OWNER" | "MANAGER" | "CONTRIBUTOR" | "READER")
                    ));
                }
            }
        }
    }
    assert_eq!(from_json(&doc), from_database(&client, "GenOrg").await);
    assert_ordered(&doc);
    // Same facts as the text report.
    assert_eq!(
        from_json(&doc),
        from_text(&text(CMD, &db.url, "GenOrg", &[]))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn query_terms_must_all_match_ignoring_case() {
    let (db, _org) = generated_db("ha_filter").await;
    let all = json(CMD, &db.url, "GenOrg", &[]);
    let humans = all["humans"].as_array().unwrap();
    let reinvited = humans
        .iter()
        .find(|h| h["users"].as_array().unwrap().len() == 2)
        .expect("a human with two users");
    let other = humans.iter().find(|h| *h != reinvited).unwrap();
    let label = reinvited["label"].as_str().unwrap();
    let (first_name, last_name) = label.split_once(' ').unwrap();
    let email = reinvited["email"].as_str().unwrap();
    let ids_of = |h: &Value| -> BTreeSet<String> {
        h["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["user_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let filtered = |query: &str| json(CMD, &db.url, "GenOrg", &["--query", query]);

    // One term, any case: every user of the human.
    for query in [
        label.to_uppercase(),
        label.to_lowercase(),
        email.to_uppercase(),
    ] {
        let doc = filtered(&query);
        assert_eq!(doc["humans"].as_array().unwrap().len(), 1, "{query}: {doc}");
        assert_eq!(user_ids(&doc), ids_of(reinvited), "{query}");
        assert_eq!(doc["query"], query.as_str());
    }
    // Several terms: all must match (AND), in any field.
    let doc = filtered(&format!("  {}\t{}  ", last_name.to_uppercase(), first_name));
    assert_eq!(user_ids(&doc), ids_of(reinvited));
    let doc = filtered(&format!(
        "{first_name} {}",
        other["email"].as_str().unwrap()
    ));
    assert_eq!(doc["humans"].as_array().unwrap().len(), 0, "{doc}");

    // A user ID, 32-hex or hyphenated, any case: only that user.
    let revoked = reinvited["users"][0]["user_id"].as_str().unwrap();
    let uuid = uuid::Uuid::parse_str(revoked).unwrap();
    for query in [
        uuid.simple().to_string(),
        uuid.hyphenated().to_string().to_uppercase(),
        format!("{first_name} {}", &uuid.simple().to_string()[..12]),
    ] {
        let doc = filtered(&query);
        assert_eq!(
            user_ids(&doc),
            BTreeSet::from([revoked.to_owned()]),
            "{query}"
        );
    }

    // --filter (Parsec's name) is the same option; no match is a valid, empty report.
    let r = run(&mut report_cmd(
        CMD,
        &db.url,
        "GenOrg",
        &["--filter", "no-such-person"],
    ));
    r.ok();
    assert_eq!(r.stdout, "Found 0 result(s)\n");
    // A filtered text report states a subset of the full report's facts.
    let full = from_text(&text(CMD, &db.url, "GenOrg", &[]));
    let part = from_text(&text(CMD, &db.url, "GenOrg", &["--query", first_name]));
    assert!(part
        .iter()
        .filter(|f| !f.starts_with("found|"))
        .all(|f| full.contains(f)));
}

#[tokio::test(flavor = "multi_thread")]
async fn colours_only_when_asked_or_on_a_terminal() {
    let (db, _org) = generated_db("ha_colour").await;
    let plain = text(CMD, &db.url, "GenOrg", &[]);
    assert!(!plain.contains('\x1b'), "colours through a pipe");

    let with = |env: &[(&str, &str)], extra: &[&str]| {
        let mut cmd = report_cmd(CMD, &db.url, "GenOrg", extra);
        cmd.envs(env.iter().copied());
        let r = run(&mut cmd);
        r.ok();
        r.stdout
    };
    let forced = with(&[("CLICOLOR_FORCE", "1")], &[]);
    assert!(forced.contains("\x1b[32m"), "user IDs in green");
    assert!(forced.contains("\x1b[33m"), "realm IDs in yellow");
    assert_eq!(anstream::adapter::strip_str(&forced).to_string(), plain);
    assert_eq!(
        with(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")], &[]),
        plain
    );
    assert_eq!(
        with(&[("CLICOLOR_FORCE", "1")], &["--color", "never"]),
        plain
    );
    assert_eq!(with(&[("NO_COLOR", "1")], &["--color", "always"]), forced);
}

#[tokio::test(flavor = "multi_thread")]
async fn parsec_spellings_and_environment() {
    let (db, _org) = generated_db("ha_opts").await;
    let mut cmd = crate::harness::tool();
    cmd.args([
        "human_accesses",
        "--organization-id",
        "GenOrg",
        "--filter",
        "example",
        "--db-min-connections",
        "1",
        "--db-max-connections",
        "7",
    ])
    .env("PARSEC_DB", &db.url);
    let r = run(&mut cmd);
    r.ok();
    assert_eq!(r.stdout, text(CMD, &db.url, "GenOrg", &[]));
}
