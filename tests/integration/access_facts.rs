//! The facts a human-accesses report states, as one sorted list of lines, read three
//! independent ways: from a text report (ours, or Parsec's own, whose wording differs), from
//! our JSON document, and straight from PostgreSQL (the oracle). Timestamps are compared as
//! microseconds (parsed with chrono), profiles in upper case, revoked users' current profile
//! as `REVOKED` (what Parsec prints).

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_postgres::Client;
use uuid::Uuid;

fn micros(text: &str) -> i64 {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("timestamp {text:?}: {e}"))
        .with_timezone(&Utc)
        .timestamp_micros()
}

/// Both our layout and Parsec's (tabs, `Access ROLE granted`); any other line fails.
pub fn from_text(text: &str) -> Vec<String> {
    let mut facts = Vec::new();
    let mut human: Option<String> = None;
    let mut user: Option<String> = None;
    let mut realm: Option<String> = None;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line == "No access to any realm" {
            continue;
        }
        if let Some(n) = line
            .strip_prefix("Found ")
            .and_then(|l| l.strip_suffix(" result(s)"))
        {
            facts.push(format!("found|{n}"));
            continue;
        }
        if let Some(handle) = line.strip_prefix("Human ") {
            facts.push(format!("human|{handle}"));
            human = Some(handle.to_owned());
            (user, realm) = (None, None);
            continue;
        }
        if let Some(rest) = line.strip_prefix("User ") {
            let (id, status) = rest
                .split_once(" (")
                .and_then(|(id, s)| Some((id, s.strip_suffix(')')?)))
                .unwrap_or_else(|| panic!("user line {raw:?}"));
            let current = if status == "REVOKED" || status.ends_with(", revoked") {
                "REVOKED".to_owned()
            } else {
                status.to_uppercase()
            };
            let handle = human.as_deref().expect("user outside a human");
            facts.push(format!("user|{handle}|{id}"));
            facts.push(format!("current|{id}|{current}"));
            user = Some(id.to_owned());
            realm = None;
            continue;
        }
        if let Some(id) = line.strip_prefix("Realm ") {
            realm = Some(id.to_owned());
            continue;
        }
        let (ts, event) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("unexpected line {raw:?}"));
        let at = micros(ts);
        let u = user.as_deref().expect("event outside a user");
        let fact = if let Some(p) = event.strip_prefix("Created with profile ") {
            format!("created|{u}|{at}|{}", p.to_uppercase())
        } else if let Some(p) = event.strip_prefix("Updated to profile ") {
            format!("profile|{u}|{at}|{}", p.to_uppercase())
        } else if event == "Revoked" {
            format!("revoked|{u}|{at}")
        } else {
            let role = if event == "Access removed" {
                "removed"
            } else if let Some(role) = event
                .strip_prefix("Got ")
                .and_then(|e| e.strip_suffix(" access"))
            {
                role
            } else if let Some(role) = event
                .strip_prefix("Access ")
                .and_then(|e| e.strip_suffix(" granted"))
            {
                role
            } else {
                panic!("unexpected event {raw:?}")
            };
            let r = realm.as_deref().expect("role event outside a realm");
            format!("role|{u}|{r}|{at}|{role}")
        };
        facts.push(fact);
    }
    facts.sort();
    facts
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` is not a string in {v}"))
}

fn array_of<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("`{key}` is not an array in {v}"))
}

/// Our `--json` document.
pub fn from_json(doc: &Value) -> Vec<String> {
    let humans = array_of(doc, "humans");
    let mut facts = vec![format!("found|{}", humans.len())];
    for human in humans {
        let handle = format!("{} <{}>", str_of(human, "label"), str_of(human, "email"));
        facts.push(format!("human|{handle}"));
        for user in array_of(human, "users") {
            let id = str_of(user, "user_id");
            facts.push(format!("user|{handle}|{id}"));
            let current = if user["revoked_on"].is_null() {
                str_of(user, "current_profile").to_owned()
            } else {
                facts.push(format!(
                    "revoked|{id}|{}",
                    micros(str_of(user, "revoked_on"))
                ));
                "REVOKED".to_owned()
            };
            facts.push(format!("current|{id}|{current}"));
            facts.push(format!(
                "created|{id}|{}|{}",
                micros(str_of(user, "created_on")),
                str_of(user, "initial_profile")
            ));
            for change in array_of(user, "profile_changes") {
                facts.push(format!(
                    "profile|{id}|{}|{}",
                    micros(str_of(change, "timestamp")),
                    str_of(change, "profile")
                ));
            }
            for realm in array_of(user, "realms") {
                let realm_id = str_of(realm, "realm_id");
                for change in array_of(realm, "role_changes") {
                    let role = change["role"].as_str().unwrap_or("removed");
                    facts.push(format!(
                        "role|{id}|{realm_id}|{}|{role}",
                        micros(str_of(change, "timestamp"))
                    ));
                }
            }
        }
    }
    facts.sort();
    facts
}

/// Straight from the database, for every user of `org` (no filter).
pub async fn from_database(client: &Client, org: &str) -> Vec<String> {
    let mut facts = Vec::new();
    let users = client
        .query(
            "SELECT u.user_id, h.label, h.email, u.created_on, u.revoked_on, u.initial_profile::text, \
                    (SELECT p.profile::text FROM profile p WHERE p.user_ = u._id ORDER BY p.certified_on DESC LIMIT 1) \
             FROM organization o JOIN user_ u ON u.organization = o._id JOIN human h ON h._id = u.human \
             WHERE o.organization_id = $1",
            &[&org],
        )
        .await
        .unwrap();
    let mut humans = std::collections::BTreeSet::new();
    for row in &users {
        let id: Uuid = row.get(0);
        let handle = format!("{} <{}>", row.get::<_, String>(1), row.get::<_, String>(2));
        let created: DateTime<Utc> = row.get(3);
        let revoked: Option<DateTime<Utc>> = row.get(4);
        let initial: String = row.get(5);
        let last_update: Option<String> = row.get(6);
        if humans.insert(handle.clone()) {
            facts.push(format!("human|{handle}"));
        }
        facts.push(format!("user|{handle}|{id}"));
        facts.push(format!(
            "created|{id}|{}|{initial}",
            created.timestamp_micros()
        ));
        let current = match revoked {
            Some(at) => {
                facts.push(format!("revoked|{id}|{}", at.timestamp_micros()));
                "REVOKED".to_owned()
            }
            None => last_update.unwrap_or(initial),
        };
        facts.push(format!("current|{id}|{current}"));
    }
    facts.push(format!("found|{}", humans.len()));
    for row in client
        .query(
            "SELECT u.user_id, p.profile::text, p.certified_on \
             FROM organization o JOIN user_ u ON u.organization = o._id JOIN profile p ON p.user_ = u._id \
             WHERE o.organization_id = $1",
            &[&org],
        )
        .await
        .unwrap()
    {
        let at: DateTime<Utc> = row.get(2);
        facts.push(format!(
            "profile|{}|{}|{}",
            row.get::<_, Uuid>(0),
            at.timestamp_micros(),
            row.get::<_, String>(1)
        ));
    }
    for row in client
        .query(
            "SELECT u.user_id, re.realm_id, r.role::text, r.certified_on \
             FROM organization o JOIN realm re ON re.organization = o._id \
             JOIN realm_user_role r ON r.realm = re._id JOIN user_ u ON u._id = r.user_ \
             WHERE o.organization_id = $1",
            &[&org],
        )
        .await
        .unwrap()
    {
        let realm: Uuid = row.get(1);
        let role: Option<String> = row.get(2);
        let at: DateTime<Utc> = row.get(3);
        facts.push(format!(
            "role|{}|{}|{}|{}",
            row.get::<_, Uuid>(0),
            realm.simple(),
            at.timestamp_micros(),
            role.as_deref().unwrap_or("removed")
        ));
    }
    facts.sort();
    facts
}

/// The order rules, checked on our JSON document: humans by label (ignoring case) then email, users by
/// creation date, realms by first event, events oldest first.
pub fn assert_ordered(doc: &Value) {
    let humans = array_of(doc, "humans");
    let keys: Vec<(String, &str, &str)> = humans
        .iter()
        .map(|h| {
            let label = str_of(h, "label");
            (label.to_lowercase(), label, str_of(h, "email"))
        })
        .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "humans: {keys:?}");
    for human in humans {
        let users = array_of(human, "users");
        assert!(!users.is_empty(), "a human without users: {human}");
        let created: Vec<i64> = users
            .iter()
            .map(|u| micros(str_of(u, "created_on")))
            .collect();
        assert!(
            created.windows(2).all(|w| w[0] <= w[1]),
            "users: {created:?}"
        );
        for user in users {
            let firsts: Vec<i64> = array_of(user, "realms")
                .iter()
                .map(|realm| {
                    let times: Vec<i64> = array_of(realm, "role_changes")
                        .iter()
                        .map(|c| micros(str_of(c, "timestamp")))
                        .collect();
                    assert!(times.windows(2).all(|w| w[0] <= w[1]), "events: {times:?}");
                    *times.first().expect("a realm without events")
                })
                .collect();
            assert!(
                firsts.windows(2).all(|w| w[0] <= w[1]),
                "realms: {firsts:?}"
            );
        }
    }
}
