//! Reads users, profile changes and role certificates of one organization (three queries in
//! the report's snapshot), keeps the users matching the query, and groups them by human.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Human, ProfileChange, Query, RealmAccess, Report, RoleChange, User};
use crate::db::queries;
use crate::error::{Error, Result};
use crate::report::session::OrgSnapshot;

/// A user as read, before grouping.
struct UserRow {
    /// `user_._id`: the key of the profile and role rows.
    internal_id: i32,
    /// `human._id`
    human: i32,
    label: String,
    email: String,
    user: User,
}

pub async fn load(
    snapshot: &OrgSnapshot<'_>,
    organization_id: &str,
    query: &Query,
) -> Result<Report> {
    let tx = &snapshot.tx;
    let org = &snapshot.organization;
    let mut users: Vec<UserRow> = tx
        .query(queries::REPORT_USERS, &[org])
        .await
        .map_err(|e| Error::db("reading the users", e))?
        .iter()
        .map(|row| {
            let created_on: DateTime<Utc> = row.get(2);
            let revoked_on: Option<DateTime<Utc>> = row.get(3);
            let initial_profile: String = row.get(4);
            UserRow {
                internal_id: row.get(0),
                human: row.get(5),
                label: row.get(6),
                email: row.get(7),
                user: User {
                    user_id: row.get(1),
                    created_on: created_on.timestamp_micros(),
                    current_profile: initial_profile.clone(),
                    initial_profile,
                    profile_changes: Vec::new(),
                    revoked_on: revoked_on.map(|t| t.timestamp_micros()),
                    realms: Vec::new(),
                },
            }
        })
        .filter(|u| query.matches(&u.label, &u.email, &u.user.user_id))
        .collect();
    let index: HashMap<i32, usize> = users
        .iter()
        .enumerate()
        .map(|(position, u)| (u.internal_id, position))
        .collect();

    // Rows come oldest first: pushing in that order keeps every history sorted.
    for row in tx
        .query(queries::REPORT_PROFILE_CHANGES, &[org])
        .await
        .map_err(|e| Error::db("reading the profile changes", e))?
    {
        let Some(&position) = index.get(&row.get::<_, i32>(0)) else {
            continue;
        };
        let at: DateTime<Utc> = row.get(2);
        let user = &mut users[position].user;
        user.current_profile = row.get(1);
        user.profile_changes.push(ProfileChange {
            timestamp: at.timestamp_micros(),
            profile: user.current_profile.clone(),
        });
    }

    for row in tx
        .query(queries::REPORT_ROLE_CHANGES, &[org])
        .await
        .map_err(|e| Error::db("reading the realm roles", e))?
    {
        let Some(&position) = index.get(&row.get::<_, i32>(0)) else {
            continue;
        };
        let realm_id: Uuid = row.get(1);
        let at: DateTime<Utc> = row.get(3);
        let change = RoleChange {
            timestamp: at.timestamp_micros(),
            role: row.get(2),
        };
        // Realms come in the order of the user's first certificate in each.
        let realms = &mut users[position].user.realms;
        match realms.iter_mut().find(|r| r.realm_id == realm_id) {
            Some(realm) => realm.role_changes.push(change),
            None => realms.push(RealmAccess {
                realm_id,
                role_changes: vec![change],
            }),
        }
    }

    Ok(Report {
        organization_id: organization_id.to_owned(),
        query: query.text.clone(),
        humans: group_by_human(users),
    })
}

fn group_by_human(mut users: Vec<UserRow>) -> Vec<Human> {
    // Labels case-insensitively first ("alice" with "Alice"), then exactly, for a total order.
    users.sort_by_cached_key(|u| {
        (
            u.label.to_lowercase(),
            u.label.clone(),
            u.email.clone(),
            u.human,
            u.user.created_on,
            u.user.user_id,
        )
    });
    let mut humans: Vec<Human> = Vec::new();
    let mut last_human = None;
    for row in users {
        if last_human != Some(row.human) {
            last_human = Some(row.human);
            humans.push(Human {
                label: row.label,
                email: row.email,
                users: Vec::new(),
            });
        }
        if let Some(human) = humans.last_mut() {
            human.users.push(row.user);
        }
    }
    humans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(human: i32, label: &str, created_on: i64, id: u128) -> UserRow {
        UserRow {
            internal_id: 0,
            human,
            label: label.into(),
            email: format!("{}@example.com", label.to_lowercase()),
            user: User {
                user_id: Uuid::from_u128(id),
                created_on,
                initial_profile: "STANDARD".into(),
                current_profile: "STANDARD".into(),
                profile_changes: vec![],
                revoked_on: None,
                realms: vec![],
            },
        }
    }

    #[test]
    fn humans_by_label_ignoring_case_users_by_creation() {
        let humans = group_by_human(vec![
            row(1, "bob", 5, 1),
            row(2, "Alice", 9, 2),
            row(3, "Émile", 1, 3),
            row(2, "Alice", 3, 4),
            row(4, "Carol", 1, 5),
        ]);
        let labels: Vec<&str> = humans.iter().map(|h| h.label.as_str()).collect();
        assert_eq!(labels, ["Alice", "bob", "Carol", "Émile"]);
        let alice: Vec<i64> = humans[0].users.iter().map(|u| u.created_on).collect();
        assert_eq!(alice, [3, 9]);
    }
}
