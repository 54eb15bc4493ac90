//! The text layout of the human-accesses report (README "human-accesses"): Parsec's grouping
//! and wording, indented by two spaces per level (tabs would push the role lines 24 columns
//! right), profiles spelled as in Parsec's reports (`Admin`), roles as stored (`OWNER`).

use std::fmt::Write;

use super::{Human, Report, User};
use crate::ids::format_timestamp;
use crate::report::style::{paint, ENDING, HUMAN, REALM_ID, USER_ID};

/// The whole report, with ANSI styles (see `report::style`).
pub fn render(report: &Report) -> String {
    let mut out = format!("Found {} result(s)\n", report.humans.len());
    for human in &report.humans {
        out.push('\n');
        render_human(&mut out, human);
    }
    out
}

fn render_human(out: &mut String, human: &Human) {
    let handle = format!("{} <{}>", human.label, human.email);
    // Writing into a String cannot fail.
    let _ = writeln!(out, "Human {}", paint(HUMAN, handle));
    for user in &human.users {
        render_user(out, user);
    }
}

fn render_user(out: &mut String, user: &User) {
    let status = match user.revoked_on {
        Some(_) => format!(
            "{}, {}",
            profile(&user.current_profile),
            paint(ENDING, "revoked")
        ),
        None => profile(&user.current_profile),
    };
    let _ = writeln!(
        out,
        "  User {} ({status})",
        paint(USER_ID, user.user_id.hyphenated())
    );
    let _ = writeln!(
        out,
        "    {}: Created with profile {}",
        format_timestamp(user.created_on),
        profile(&user.initial_profile)
    );
    for change in &user.profile_changes {
        let _ = writeln!(
            out,
            "    {}: Updated to profile {}",
            format_timestamp(change.timestamp),
            profile(&change.profile)
        );
    }
    if let Some(revoked_on) = user.revoked_on {
        let _ = writeln!(
            out,
            "    {}: {}",
            format_timestamp(revoked_on),
            paint(ENDING, "Revoked")
        );
    }
    if user.realms.is_empty() {
        out.push_str("    No access to any realm\n");
    }
    for realm in &user.realms {
        let _ = writeln!(
            out,
            "    Realm {}",
            paint(REALM_ID, realm.realm_id.simple())
        );
        for change in &realm.role_changes {
            let what = match &change.role {
                Some(role) => format!("Got {role} access"),
                None => paint(ENDING, "Access removed"),
            };
            let _ = writeln!(out, "      {}: {what}", format_timestamp(change.timestamp));
        }
    }
}

/// `ADMIN` → `Admin`, as Parsec's own report prints profiles.
fn profile(stored: &str) -> String {
    let lower = stored.to_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::super::{Human, ProfileChange, RealmAccess, Report, RoleChange, User};
    use super::*;
    use crate::ids::parse_timestamp;

    fn ts(text: &str) -> i64 {
        parse_timestamp(text).unwrap()
    }

    fn sample() -> Report {
        Report {
            organization_id: "Org".into(),
            query: None,
            humans: vec![Human {
                label: "Alicey McAliceFace".into(),
                email: "alice@example.com".into(),
                users: vec![
                    User {
                        user_id: Uuid::parse_str("a11cec00100000000000000000000000").unwrap(),
                        created_on: ts("2000-01-02T00:00:00Z"),
                        initial_profile: "OUTSIDER".into(),
                        current_profile: "STANDARD".into(),
                        profile_changes: vec![ProfileChange {
                            timestamp: ts("2000-01-03T00:00:00.5Z"),
                            profile: "STANDARD".into(),
                        }],
                        revoked_on: Some(ts("2000-01-09T00:00:00Z")),
                        realms: vec![RealmAccess {
                            realm_id: Uuid::parse_str("f0000000000000000000000000000008").unwrap(),
                            role_changes: vec![
                                RoleChange {
                                    timestamp: ts("2000-01-04T00:00:00Z"),
                                    role: Some("OWNER".into()),
                                },
                                RoleChange {
                                    timestamp: ts("2000-01-05T00:00:00.000001Z"),
                                    role: None,
                                },
                            ],
                        }],
                    },
                    User {
                        user_id: Uuid::parse_str("a11cec00200000000000000000000000").unwrap(),
                        created_on: ts("2000-01-10T00:00:00Z"),
                        initial_profile: "ADMIN".into(),
                        current_profile: "ADMIN".into(),
                        profile_changes: vec![],
                        revoked_on: None,
                        realms: vec![],
                    },
                ],
            }],
        }
    }

    #[test]
    fn layout() {
        let text = anstream::adapter::strip_str(&render(&sample())).to_string();
        assert_eq!(
            text,
            "Found 1 result(s)\n\
             \n\
             Human Alicey McAliceFace <alice@example.com>\n\
             \x20 User a11cec00-1000-0000-0000-000000000000 (Standard, revoked)\n\
             \x20   2000-01-02T00:00:00Z: Created with profile Outsider\n\
             \x20   2000-01-03T00:00:00.500Z: Updated to profile Standard\n\
             \x20   2000-01-09T00:00:00Z: Revoked\n\
             \x20   Realm f0000000000000000000000000000008\n\
             \x20     2000-01-04T00:00:00Z: Got OWNER access\n\
             \x20     2000-01-05T00:00:00.000001Z: Access removed\n\
             \x20 User a11cec00-2000-0000-0000-000000000000 (Admin)\n\
             \x20   2000-01-10T00:00:00Z: Created with profile Admin\n\
             \x20   No access to any realm\n"
        );
    }

    #[test]
    fn styles_wrap_ids_and_endings() {
        let text = render(&sample());
        assert!(text.contains("\x1b[32ma11cec00-1000-0000-0000-000000000000\x1b[0m"));
        assert!(text.contains("\x1b[33mf0000000000000000000000000000008\x1b[0m"));
        assert!(text.contains("\x1b[31mAccess removed\x1b[0m"));
    }

    #[test]
    fn empty_report() {
        let report = Report {
            organization_id: "Org".into(),
            query: Some("nobody".into()),
            humans: vec![],
        };
        assert_eq!(render(&report), "Found 0 result(s)\n");
    }
}
