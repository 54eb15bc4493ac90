//! The realms' story: creation, sharing, key rotations, renames, unsharing, and the activity
//! rounds in which vlobs and blocks get written.

use super::planner::{Cast, Planner};
use super::*;

impl Planner<'_> {
    /// Creates every realm (creation, first key rotation, naming, initial sharings), one after
    /// the other.
    pub(super) fn create_realms(&mut self, cast: &Cast) {
        let candidates = self.realm_candidates(cast);
        let creators: Vec<UserIdx> = candidates
            .iter()
            .copied()
            .filter(|user| self.users[*user].profile != Profile::Outsider)
            .collect();
        let realms = self.spec.realms;
        for index in 0..realms {
            let creator = creators[index % creators.len()];
            let realm = self.create_realm(creator);
            self.rotate_key(realm);
            self.rename(realm);

            // Candidates are dealt out to realms so that each one is in at least one realm,
            // plus one or two random extra members so that realms overlap.
            let mut others: Vec<UserIdx> = candidates
                .iter()
                .enumerate()
                .filter(|(position, user)| **user != creator && position % realms == index)
                .map(|(_, user)| *user)
                .collect();
            let mut extra: Vec<UserIdx> = candidates
                .iter()
                .copied()
                .filter(|user| *user != creator && !others.contains(user))
                .collect();
            extra.shuffle(&mut self.rng);
            extra.truncate(1 + index % 2);
            others.extend(extra);
            others.shuffle(&mut self.rng);
            // The first other member will be removed then granted again later.
            self.removed.push(others.first().copied());
            for user in others {
                let role = self.random_role(user);
                self.share(realm, user, Some(role));
            }
            // The re-invited human's first user is in every realm, so that the human ends up
            // with two users in it.
            self.share(realm, cast.reinvited_old, Some(Role::Contributor));
        }
    }

    /// Users that may take part in realms (not the no-realm user, nor the user that will be
    /// revoked, which is shared explicitly).
    pub(super) fn realm_candidates(&self, cast: &Cast) -> Vec<UserIdx> {
        (0..self.users.len())
            .filter(|user| *user != cast.reinvited_old && Some(*user) != cast.no_realm)
            .filter(|user| self.users[*user].revoked_on.is_none())
            .collect()
    }

    pub(super) fn create_realm(&mut self, creator: UserIdx) -> RealmIdx {
        let by = self.pick_device(creator);
        let at = self.tick();
        let realm = self.realms.len();
        self.realms.push(Realm {
            realm_id: uuid_v4(&mut self.rng),
            created_on: at,
            creator,
            key_index: 0,
            last_roles: BTreeMap::from([(creator, Some(Role::Owner))]),
            archived: false,
        });
        self.events.push(Event::RealmCreated { at, realm, by });
        realm
    }

    pub(super) fn random_role(&mut self, user: UserIdx) -> Role {
        *self.users[user]
            .profile
            .allowed_roles()
            .choose(&mut self.rng)
            .expect("non-empty")
    }

    /// Role certificate signed by one of the realm creator's (OWNER) devices.
    pub(super) fn share(&mut self, realm: RealmIdx, user: UserIdx, role: Option<Role>) {
        let by = self.pick_device(self.realms[realm].creator);
        let at = self.tick();
        let access_key_index = role.map(|_| self.realms[realm].key_index);
        self.realms[realm].last_roles.insert(user, role);
        self.events.push(Event::Share {
            at,
            realm,
            user,
            role,
            by,
            access_key_index,
        });
    }

    /// New keys bundle: accesses for every user whose last role is not a removal (revoked
    /// users included) and every non-revoked sequester service.
    pub(super) fn rotate_key(&mut self, realm: RealmIdx) {
        let by = self.pick_device(self.realms[realm].creator);
        let at = self.tick();
        let state = &mut self.realms[realm];
        state.key_index += 1;
        let users = state.members().map(|(user, _)| user).collect();
        let services = (0..self.services.len())
            .filter(|s| self.services[*s].revoked_on.is_none())
            .collect();
        self.events.push(Event::KeyRotation {
            at,
            realm,
            key_index: state.key_index,
            by,
            users,
            services,
        });
    }

    pub(super) fn rename(&mut self, realm: RealmIdx) {
        let by = self.pick_device(self.realms[realm].creator);
        let at = self.tick();
        let key_index = self.realms[realm].key_index;
        self.events.push(Event::Rename {
            at,
            realm,
            key_index,
            by,
        });
    }

    pub(super) fn unshare_and_rotate(&mut self, realm: RealmIdx, cast: &Cast) {
        if let Some(user) = self.removed[realm] {
            self.share(realm, user, None);
        }
        self.rotate_key(realm);
        if let Some(new_user) = cast
            .reinvited_new
            .filter(|user| Some(*user) != cast.no_realm)
        {
            self.share(realm, new_user, Some(Role::Contributor));
        }
    }

    pub(super) fn share_again(&mut self, realm: RealmIdx) {
        if let Some(user) = self.removed[realm] {
            let role = self.random_role(user);
            self.share(realm, user, Some(role));
        }
    }

    /// Last certificates: a role change and a second name in the first realm, then the last
    /// realm gets archived (after its last write, as an archived realm is read-only).
    pub(super) fn epilogue(&mut self) {
        let first = &self.realms[0];
        let target = first
            .members()
            .find(|(user, _)| *user != first.creator && self.users[*user].revoked_on.is_none());
        if let Some((user, role)) = target {
            let profile = self.users[user].profile;
            let new_role = profile.allowed_roles().iter().copied().find(|r| *r != role);
            if let Some(new_role) = new_role {
                self.share(0, user, Some(new_role));
            }
        }
        self.rename(0);

        let last = self.realms.len() - 1;
        let by = self.pick_device(self.realms[last].creator);
        let at = self.tick();
        self.realms[last].archived = true;
        self.events.push(Event::Archive {
            at,
            realm: last,
            by,
        });
    }

    // --- activity -------------------------------------------------------------------------

    /// One activity window per realm, sequentially.
    pub(super) fn activity_round(&mut self, round: usize) {
        for realm in 0..self.realms.len() {
            let vlobs = split_in_rounds(self.spec.vlob_versions_per_realm, round, true);
            let blocks = split_in_rounds(self.spec.blocks_per_realm, round, false);
            if vlobs + blocks == 0 {
                continue;
            }
            let start = self.tick();
            // 5 to 35 s per operation on average.
            let per_op = self.rng.gen_range(5_000_000..=35_000_000);
            let end = start + Duration::microseconds(per_op * (vlobs + blocks + 1) as i64);
            self.clock = end;
            let writers = self.writers(realm);
            self.events.push(Event::Activity(Window {
                realm,
                key_index: self.realms[realm].key_index,
                start,
                end,
                vlobs,
                blocks,
                writers,
            }));
        }
    }

    pub(super) fn writers(&self, realm: RealmIdx) -> Vec<DeviceIdx> {
        self.realms[realm]
            .members()
            .filter(|(user, role)| role.can_write() && self.users[*user].revoked_on.is_none())
            .flat_map(|(user, _)| self.users[user].devices.iter().copied())
            .collect()
    }
}

/// Share of `total` for activity round `round` (a quarter each, the remainder in the last).
/// With `first_nonempty`, round 0 gets at least one item (the workspace manifest's version 1).
pub(super) fn split_in_rounds(total: usize, round: usize, first_nonempty: bool) -> usize {
    let quarter = total / ACTIVITY_ROUNDS;
    let mut shares = [quarter; ACTIVITY_ROUNDS];
    shares[ACTIVITY_ROUNDS - 1] = total - quarter * (ACTIVITY_ROUNDS - 1);
    if first_nonempty && shares[0] == 0 && total > 0 {
        shares[0] = 1;
        shares[ACTIVITY_ROUNDS - 1] -= 1;
    }
    shares[round]
}
