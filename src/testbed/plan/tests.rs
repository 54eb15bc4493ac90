use super::story::split_in_rounds;
use super::*;
use crate::testbed::OrgSpec;

fn event_at(event: &Event) -> Ts {
    match event {
        Event::Bootstrap { at }
        | Event::NewUser { at, .. }
        | Event::NewDevice { at, .. }
        | Event::ProfileChange { at, .. }
        | Event::RevokeUser { at, .. }
        | Event::NewService { at, .. }
        | Event::RevokeService { at, .. }
        | Event::RealmCreated { at, .. }
        | Event::Share { at, .. }
        | Event::KeyRotation { at, .. }
        | Event::Rename { at, .. }
        | Event::Archive { at, .. } => *at,
        Event::Activity(window) => window.start,
    }
}

fn specs() -> Vec<OrgSpec> {
    let mut specs = Vec::new();
    for humans in [3, 4, 5, 9] {
        for sequestered in [false, true] {
            for realms in [1, 3] {
                let mut spec = OrgSpec::small("Org");
                spec.humans = humans;
                spec.sequestered = sequestered;
                spec.realms = realms;
                spec.seed = humans as u64 * 10 + realms as u64;
                specs.push(spec);
            }
        }
    }
    specs
}

#[test]
fn timestamps_strictly_increase() {
    for spec in specs() {
        let plan = plan(&spec);
        // Only the bootstrap and the admin user share a timestamp.
        assert_eq!(event_at(&plan.events[0]), event_at(&plan.events[1]));
        let mut previous_end = event_at(&plan.events[1]);
        for event in &plan.events[2..] {
            assert!(event_at(event) > previous_end, "{event:?}");
            previous_end = match event {
                Event::Activity(window) => window.end,
                other => event_at(other),
            };
        }
        assert_eq!(plan.end, previous_end);
    }
}

#[test]
fn story_rules_hold() {
    for spec in specs() {
        let plan = plan(&spec);
        check_plan(&spec, &plan);
    }
}

fn check_plan(spec: &OrgSpec, plan: &Plan) {
    assert_eq!(plan.humans.len(), spec.humans);
    assert_eq!(plan.users.len(), spec.humans + 1);
    assert_eq!(plan.realms.len(), spec.realms);
    let emails: HashSet<_> = plan.humans.iter().map(|h| &h.email).collect();
    assert_eq!(emails.len(), spec.humans);
    assert!(plan.users.iter().all(|u| !u.devices.is_empty()));
    assert_eq!(plan.devices[0].certifier, None);
    assert_eq!(plan.users[0].certifier, None);
    assert_eq!(
        plan.users.iter().filter(|u| u.revoked_on.is_some()).count(),
        1
    );
    assert_eq!(plan.services.len(), if spec.sequestered { 2 } else { 0 });

    let mut with_role = HashSet::new();
    let mut key_index = vec![0u32; spec.realms];
    let mut saw_removal = false;
    let mut vlobs = vec![0usize; spec.realms];
    for event in &plan.events {
        match event {
            Event::RealmCreated { realm, .. } => {
                with_role.insert(plan.realms[*realm].creator);
            }
            Event::Share {
                user,
                role,
                access_key_index,
                realm,
                ..
            } => {
                with_role.insert(*user);
                saw_removal |= role.is_none();
                assert_eq!(role.is_some(), access_key_index.is_some());
                if let Some(index) = access_key_index {
                    assert_eq!(*index, key_index[*realm]);
                    assert!(*index >= 1);
                }
                if plan.users[*user].initial_profile == Profile::Outsider
                    && plan.users[*user].profile == Profile::Outsider
                {
                    assert!(matches!(
                        role,
                        Some(Role::Contributor | Role::Reader) | None
                    ));
                }
            }
            Event::KeyRotation {
                realm,
                key_index: index,
                services,
                ..
            } => {
                key_index[*realm] += 1;
                assert_eq!(*index, key_index[*realm]);
                let at = event_at(event);
                for service in services {
                    let service = &plan.services[*service];
                    assert!(service.created_on < at);
                    assert!(service.revoked_on.is_none_or(|revoked| revoked > at));
                }
            }
            Event::Activity(window) => {
                assert_eq!(window.key_index, key_index[window.realm]);
                assert!(!window.writers.is_empty());
                for device in &window.writers {
                    let user = &plan.users[plan.devices[*device].user];
                    assert!(user.revoked_on.is_none_or(|revoked| revoked > window.end));
                    assert!(plan.devices[*device].created_on < window.start);
                }
                vlobs[window.realm] += window.vlobs;
            }
            _ => {}
        }
    }
    assert!(saw_removal);
    assert!(vlobs.iter().all(|n| *n == spec.vlob_versions_per_realm));
    assert!(plan.realms.iter().all(|r| r.key_index == 3));
    assert!(plan.realms.last().is_some_and(|r| r.archived));
    let without_role = (0..plan.users.len())
        .filter(|u| !with_role.contains(u))
        .count();
    assert_eq!(without_role, 1, "exactly one user has no realm");
}

#[test]
fn split_covers_total() {
    for total in [0, 1, 2, 3, 4, 5, 41, 1000] {
        let sum: usize = (0..ACTIVITY_ROUNDS)
            .map(|r| split_in_rounds(total, r, true))
            .sum();
        assert_eq!(sum, total);
        if total > 0 {
            assert!(split_in_rounds(total, 0, true) >= 1);
        }
    }
}

#[test]
fn deterministic_for_a_seed() {
    let spec = OrgSpec::small("Org");
    let a = plan(&spec);
    let b = plan(&spec);
    assert_eq!(a.end, b.end);
    assert_eq!(
        a.realms.iter().map(|r| r.realm_id).collect::<Vec<_>>(),
        b.realms.iter().map(|r| r.realm_id).collect::<Vec<_>>()
    );
}
