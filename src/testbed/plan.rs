//! The story of a generated organization, decided entirely in memory before anything is
//! written: who exists, who shares what with whom, when keys rotate, and when vlobs and blocks
//! get written ("activity windows"). Keeping it free of I/O makes it unit-testable and lets the
//! writer stream the bulk data (vlobs, blocks) afterwards.
//!
//! Every event gets its own timestamp from one strictly increasing clock, which satisfies all of
//! Parsec's per-topic ordering rules at once; the only shared timestamps are the ones Parsec
//! itself shares (a user and its first device; the bootstrap and the sequester authority).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;
use uuid::Uuid;

use super::random::{stream_rng, uuid_v4};
use super::OrgSpec;

pub(crate) type Ts = DateTime<Utc>;
pub(crate) type UserIdx = usize;
pub(crate) type DeviceIdx = usize;
pub(crate) type ServiceIdx = usize;
pub(crate) type RealmIdx = usize;

/// RNG stream used by the planner (see `random::stream_rng`).
const PLAN_STREAM: u64 = 1;

/// Number of activity rounds each realm goes through (see `Planner::run`).
const ACTIVITY_ROUNDS: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Profile {
    Admin,
    Standard,
    Outsider,
}

impl Profile {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Profile::Admin => "ADMIN",
            Profile::Standard => "STANDARD",
            Profile::Outsider => "OUTSIDER",
        }
    }

    /// Outsiders may only be contributors or readers, and cannot create realms.
    fn allowed_roles(self) -> &'static [Role] {
        match self {
            Profile::Outsider => &[Role::Contributor, Role::Reader],
            _ => &[Role::Manager, Role::Contributor, Role::Reader],
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Owner,
    Manager,
    Contributor,
    Reader,
}

impl Role {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "OWNER",
            Role::Manager => "MANAGER",
            Role::Contributor => "CONTRIBUTOR",
            Role::Reader => "READER",
        }
    }

    fn can_write(self) -> bool {
        self != Role::Reader
    }
}

#[derive(Debug)]
pub(crate) struct Human {
    pub(crate) email: String,
    pub(crate) label: String,
}

#[derive(Debug)]
pub(crate) struct User {
    pub(crate) human: usize,
    pub(crate) user_id: Uuid,
    pub(crate) created_on: Ts,
    pub(crate) initial_profile: Profile,
    /// Current profile while planning; the final one once the plan is complete.
    pub(crate) profile: Profile,
    /// Device that signed the user certificate; `None` = organization root key.
    pub(crate) certifier: Option<DeviceIdx>,
    /// The first one is created together with the user.
    pub(crate) devices: Vec<DeviceIdx>,
    pub(crate) revoked_on: Option<Ts>,
}

#[derive(Debug)]
pub(crate) struct Device {
    pub(crate) user: UserIdx,
    pub(crate) device_id: Uuid,
    pub(crate) label: String,
    pub(crate) created_on: Ts,
    /// `None` = organization root key (bootstrap device only).
    pub(crate) certifier: Option<DeviceIdx>,
}

#[derive(Debug)]
pub(crate) struct Service {
    pub(crate) service_id: Uuid,
    pub(crate) label: String,
    pub(crate) created_on: Ts,
    pub(crate) revoked_on: Option<Ts>,
}

#[derive(Debug)]
pub(crate) struct Realm {
    pub(crate) realm_id: Uuid,
    pub(crate) created_on: Ts,
    pub(crate) creator: UserIdx,
    /// Current key index while planning; the final one once the plan is complete.
    pub(crate) key_index: u32,
    /// Last role certificate per user (`None` = access removed).
    pub(crate) last_roles: BTreeMap<UserIdx, Option<Role>>,
    pub(crate) archived: bool,
}

impl Realm {
    fn members(&self) -> impl Iterator<Item = (UserIdx, Role)> + '_ {
        self.last_roles
            .iter()
            .filter_map(|(user, role)| role.map(|role| (*user, role)))
    }
}

/// A period during which one realm receives `vlobs` vlob versions and `blocks` blocks, all
/// timestamped strictly inside (start, end), encrypted with `key_index`, written by `writers`.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    pub(crate) realm: RealmIdx,
    pub(crate) key_index: u32,
    pub(crate) start: Ts,
    pub(crate) end: Ts,
    pub(crate) vlobs: usize,
    pub(crate) blocks: usize,
    /// Devices of non-revoked members allowed to write (OWNER, MANAGER, CONTRIBUTOR).
    pub(crate) writers: Vec<DeviceIdx>,
}

#[derive(Debug)]
pub(crate) enum Event {
    /// Organization row (and sequester authority, which shares the bootstrap timestamp).
    Bootstrap {
        at: Ts,
    },
    /// User row plus its first device, which shares its timestamp.
    NewUser {
        at: Ts,
        user: UserIdx,
    },
    NewDevice {
        at: Ts,
        device: DeviceIdx,
    },
    ProfileChange {
        at: Ts,
        user: UserIdx,
        profile: Profile,
        by: DeviceIdx,
    },
    RevokeUser {
        at: Ts,
        user: UserIdx,
        by: DeviceIdx,
    },
    NewService {
        at: Ts,
        service: ServiceIdx,
    },
    RevokeService {
        at: Ts,
        service: ServiceIdx,
    },
    /// Realm row plus the creator's self-signed OWNER role.
    RealmCreated {
        at: Ts,
        realm: RealmIdx,
        by: DeviceIdx,
    },
    /// Role certificate; a grant (`role` set) also gives the recipient one keys-bundle access
    /// to the latest keys bundle (`access_key_index`), recorded as coming from this sharing.
    Share {
        at: Ts,
        realm: RealmIdx,
        user: UserIdx,
        role: Option<Role>,
        by: DeviceIdx,
        access_key_index: Option<u32>,
    },
    /// Keys bundle `key_index`, with accesses for `users` and sequester `services`.
    KeyRotation {
        at: Ts,
        realm: RealmIdx,
        key_index: u32,
        by: DeviceIdx,
        users: Vec<UserIdx>,
        services: Vec<ServiceIdx>,
    },
    Rename {
        at: Ts,
        realm: RealmIdx,
        key_index: u32,
        by: DeviceIdx,
    },
    Archive {
        at: Ts,
        realm: RealmIdx,
        by: DeviceIdx,
    },
    Activity(Window),
}

#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) humans: Vec<Human>,
    pub(crate) users: Vec<User>,
    pub(crate) devices: Vec<Device>,
    pub(crate) services: Vec<Service>,
    pub(crate) realms: Vec<Realm>,
    pub(crate) events: Vec<Event>,
    /// Timestamp of the last event (every activity window ends before it).
    pub(crate) end: Ts,
}

/// Builds the plan for `spec` (which must have been validated).
pub(crate) fn plan(spec: &OrgSpec) -> Plan {
    Planner::new(spec).run()
}

/// Users with a scripted part in the story.
struct Cast {
    /// Bootstraps the organization; ADMIN.
    admin: UserIdx,
    /// OUTSIDER, then STANDARD, then ADMIN (two `profile` rows).
    promoted: UserIdx,
    /// First user of a human who is later revoked and re-invited as a new user.
    reinvited_old: UserIdx,
    /// Human index of the user above.
    reinvited_human: usize,
    /// That human's second user, once created.
    reinvited_new: Option<UserIdx>,
    /// Last human's user when there are at least 4 humans; with 3 humans, the re-invited
    /// human's second user plays that part (see `Planner::reinvite`).
    no_realm: Option<UserIdx>,
}

struct Planner<'a> {
    spec: &'a OrgSpec,
    rng: StdRng,
    clock: Ts,
    humans: Vec<Human>,
    users: Vec<User>,
    devices: Vec<Device>,
    services: Vec<Service>,
    realms: Vec<Realm>,
    events: Vec<Event>,
    /// Per realm: the member removed then granted again.
    removed: Vec<Option<UserIdx>>,
}

impl<'a> Planner<'a> {
    fn new(spec: &'a OrgSpec) -> Self {
        let start = DateTime::from_timestamp_micros(spec.start.timestamp_micros())
            .expect("a timestamp truncated to µs is representable");
        Self {
            spec,
            rng: stream_rng(spec.seed, PLAN_STREAM),
            clock: start,
            humans: Vec::new(),
            users: Vec::new(),
            devices: Vec::new(),
            services: Vec::new(),
            realms: Vec::new(),
            events: Vec::new(),
            removed: Vec::new(),
        }
    }

    fn run(mut self) -> Plan {
        let mut cast = self.populate_organization();
        self.create_realms(&cast);
        self.activity_round(0);

        // Mid-life: a second sequester service, a promotion, a key rotation everywhere.
        if self.spec.sequestered {
            self.new_service("Sequester Service 2");
        }
        let by = self.pick_device(cast.admin);
        self.change_profile(cast.promoted, Profile::Admin, by);
        for realm in 0..self.realms.len() {
            self.rotate_key(realm);
        }
        self.activity_round(1);

        // A new device, a revocation (user and sequester service), a re-invitation, then in
        // every realm: an unsharing, the key rotation that follows it, a sharing to the new
        // user of the re-invited human.
        let admin_first_device = self.users[cast.admin].devices[0];
        self.new_device(cast.admin, admin_first_device);
        self.reinvite(&mut cast);
        for realm in 0..self.realms.len() {
            self.unshare_and_rotate(realm, &cast);
        }
        self.activity_round(2);

        for realm in 0..self.realms.len() {
            self.share_again(realm);
        }
        self.activity_round(3);

        self.epilogue();
        Plan {
            humans: self.humans,
            users: self.users,
            devices: self.devices,
            services: self.services,
            realms: self.realms,
            events: self.events,
            end: self.clock,
        }
    }

    /// Advances the clock by a random step (1 s to 2 min, µs precision) and returns it.
    fn tick(&mut self) -> Ts {
        let step = self.rng.gen_range(1_000_000..=120_000_000);
        self.clock += Duration::microseconds(step);
        self.clock
    }

    // --- organization ---------------------------------------------------------------------

    fn populate_organization(&mut self) -> Cast {
        let bootstrap_at = self.clock;
        self.events.push(Event::Bootstrap { at: bootstrap_at });
        let admin = self.new_user(Profile::Admin, None, Some(bootstrap_at));
        let admin_first_device = self.users[admin].devices[0];
        self.new_device(admin, admin_first_device);

        if self.spec.sequestered {
            self.new_service("Sequester Service 1");
        }

        let promoted = self.new_user(Profile::Outsider, Some(admin_first_device), None);
        let reinvited_old = self.new_user(Profile::Standard, Some(admin_first_device), None);
        let reinvited_human = self.users[reinvited_old].human;
        let mut last = reinvited_old;
        for index in 3..self.spec.humans {
            // Some outsiders among the other humans, to exercise the role restrictions.
            let profile = if index % 3 == 0 {
                Profile::Outsider
            } else {
                Profile::Standard
            };
            last = self.new_user(profile, Some(admin_first_device), None);
        }
        for user in admin + 1..self.users.len() {
            self.add_extra_devices(user);
        }
        self.change_profile(promoted, Profile::Standard, admin_first_device);

        Cast {
            admin,
            promoted,
            reinvited_old,
            reinvited_human,
            reinvited_new: None,
            no_realm: (self.spec.humans >= 4).then_some(last),
        }
    }

    /// Creates a new human with one user (at `at`, default: next tick) and its first device.
    fn new_user(
        &mut self,
        profile: Profile,
        certifier: Option<DeviceIdx>,
        at: Option<Ts>,
    ) -> UserIdx {
        let human = self.new_human();
        self.new_user_for_human(human, profile, certifier, at)
    }

    fn new_user_for_human(
        &mut self,
        human: usize,
        profile: Profile,
        certifier: Option<DeviceIdx>,
        at: Option<Ts>,
    ) -> UserIdx {
        let at = at.unwrap_or_else(|| self.tick());
        let user = self.users.len();
        self.users.push(User {
            human,
            user_id: uuid_v4(&mut self.rng),
            created_on: at,
            initial_profile: profile,
            profile,
            certifier,
            devices: Vec::new(),
            revoked_on: None,
        });
        self.push_device(user, certifier, at);
        self.events.push(Event::NewUser { at, user });
        user
    }

    fn new_human(&mut self) -> usize {
        let index = self.humans.len();
        // Stepping by 7 (coprime with the list length) gives distinct first names to the
        // first 20 humans; the offset varies them between organizations.
        let offset = (self.spec.seed % FIRST_NAMES.len() as u64) as usize;
        let (first, first_ascii) = FIRST_NAMES[(offset + 7 * index) % FIRST_NAMES.len()];
        let (last, last_ascii) = LAST_NAMES[self.rng.gen_range(0..LAST_NAMES.len())];
        let used: HashSet<&str> = self.humans.iter().map(|h| h.email.as_str()).collect();
        let mut email = format!("{first_ascii}.{last_ascii}@example.com");
        if used.contains(email.as_str()) {
            email = format!("{first_ascii}.{last_ascii}.{index}@example.com");
        }
        self.humans.push(Human {
            email,
            label: format!("{first} {last}"),
        });
        index
    }

    /// Gives some users one or two more devices, each enrolled from the user's first device.
    fn add_extra_devices(&mut self, user: UserIdx) {
        let extra = self.rng.gen_range(0..=2);
        let first_device = self.users[user].devices[0];
        for _ in 0..extra {
            self.new_device(user, first_device);
        }
    }

    fn new_device(&mut self, user: UserIdx, certifier: DeviceIdx) -> DeviceIdx {
        let at = self.tick();
        let device = self.push_device(user, Some(certifier), at);
        self.events.push(Event::NewDevice { at, device });
        device
    }

    fn push_device(&mut self, user: UserIdx, certifier: Option<DeviceIdx>, at: Ts) -> DeviceIdx {
        let device = self.devices.len();
        let kind = DEVICE_KINDS[self.users[user].devices.len() % DEVICE_KINDS.len()];
        let owner = &self.humans[self.users[user].human].label;
        let first_name = owner.split(' ').next().unwrap_or(owner);
        self.devices.push(Device {
            user,
            device_id: uuid_v4(&mut self.rng),
            label: format!("{first_name}'s {kind}"),
            created_on: at,
            certifier,
        });
        self.users[user].devices.push(device);
        device
    }

    fn change_profile(&mut self, user: UserIdx, profile: Profile, by: DeviceIdx) {
        let at = self.tick();
        self.users[user].profile = profile;
        self.events.push(Event::ProfileChange {
            at,
            user,
            profile,
            by,
        });
    }

    /// Revokes the re-invited human's first user (and, if sequestered, the first sequester
    /// service), then creates the human's new user, certified by the promoted admin.
    fn reinvite(&mut self, cast: &mut Cast) {
        let by = self.pick_device(cast.admin);
        let at = self.tick();
        self.users[cast.reinvited_old].revoked_on = Some(at);
        self.events.push(Event::RevokeUser {
            at,
            user: cast.reinvited_old,
            by,
        });

        if self.spec.sequestered {
            let at = self.tick();
            self.services[0].revoked_on = Some(at);
            self.events.push(Event::RevokeService { at, service: 0 });
        }

        let certifier = self.pick_device(cast.promoted);
        let new_user = self.new_user_for_human(
            cast.reinvited_human,
            Profile::Standard,
            Some(certifier),
            None,
        );
        cast.reinvited_new = Some(new_user);
        if cast.no_realm.is_none() {
            cast.no_realm = Some(new_user);
        }
    }

    fn new_service(&mut self, label: &str) {
        let at = self.tick();
        let service = self.services.len();
        self.services.push(Service {
            service_id: uuid_v4(&mut self.rng),
            label: label.to_owned(),
            created_on: at,
            revoked_on: None,
        });
        self.events.push(Event::NewService { at, service });
    }

    fn pick_device(&mut self, user: UserIdx) -> DeviceIdx {
        *self.users[user]
            .devices
            .choose(&mut self.rng)
            .expect("every user has a device")
    }

    // --- realms ---------------------------------------------------------------------------

    /// Creates every realm (creation, first key rotation, naming, initial sharings), one after
    /// the other.
    fn create_realms(&mut self, cast: &Cast) {
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
    fn realm_candidates(&self, cast: &Cast) -> Vec<UserIdx> {
        (0..self.users.len())
            .filter(|user| *user != cast.reinvited_old && Some(*user) != cast.no_realm)
            .filter(|user| self.users[*user].revoked_on.is_none())
            .collect()
    }

    fn create_realm(&mut self, creator: UserIdx) -> RealmIdx {
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

    fn random_role(&mut self, user: UserIdx) -> Role {
        *self.users[user]
            .profile
            .allowed_roles()
            .choose(&mut self.rng)
            .expect("non-empty")
    }

    /// Role certificate signed by one of the realm creator's (OWNER) devices.
    fn share(&mut self, realm: RealmIdx, user: UserIdx, role: Option<Role>) {
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
    fn rotate_key(&mut self, realm: RealmIdx) {
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

    fn rename(&mut self, realm: RealmIdx) {
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

    fn unshare_and_rotate(&mut self, realm: RealmIdx, cast: &Cast) {
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

    fn share_again(&mut self, realm: RealmIdx) {
        if let Some(user) = self.removed[realm] {
            let role = self.random_role(user);
            self.share(realm, user, Some(role));
        }
    }

    /// Last certificates: a role change and a second name in the first realm, then the last
    /// realm gets archived (after its last write, as an archived realm is read-only).
    fn epilogue(&mut self) {
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
    fn activity_round(&mut self, round: usize) {
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

    fn writers(&self, realm: RealmIdx) -> Vec<DeviceIdx> {
        self.realms[realm]
            .members()
            .filter(|(user, role)| role.can_write() && self.users[*user].revoked_on.is_none())
            .flat_map(|(user, _)| self.users[user].devices.iter().copied())
            .collect()
    }
}

/// Share of `total` for activity round `round` (a quarter each, the remainder in the last).
/// With `first_nonempty`, round 0 gets at least one item (the workspace manifest's version 1).
fn split_in_rounds(total: usize, round: usize, first_nonempty: bool) -> usize {
    let quarter = total / ACTIVITY_ROUNDS;
    let mut shares = [quarter; ACTIVITY_ROUNDS];
    shares[ACTIVITY_ROUNDS - 1] = total - quarter * (ACTIVITY_ROUNDS - 1);
    if first_nonempty && shares[0] == 0 && total > 0 {
        shares[0] = 1;
        shares[ACTIVITY_ROUNDS - 1] -= 1;
    }
    shares[round]
}

/// (display form, ASCII form for emails)
const FIRST_NAMES: &[(&str, &str)] = &[
    ("Alice", "alice"),
    ("Bob", "bob"),
    ("Chloé", "chloe"),
    ("David", "david"),
    ("Émilie", "emilie"),
    ("Farid", "farid"),
    ("Gaëlle", "gaelle"),
    ("Hugo", "hugo"),
    ("Inès", "ines"),
    ("Jérôme", "jerome"),
    ("Karim", "karim"),
    ("Léa", "lea"),
    ("Mallory", "mallory"),
    ("Noémie", "noemie"),
    ("Oscar", "oscar"),
    ("Pauline", "pauline"),
    ("Quentin", "quentin"),
    ("Rose", "rose"),
    ("Søren", "soren"),
    ("Thaïs", "thais"),
];

const LAST_NAMES: &[(&str, &str)] = &[
    ("Martin", "martin"),
    ("Bernard", "bernard"),
    ("Dubois", "dubois"),
    ("Lefèvre", "lefevre"),
    ("Moreau", "moreau"),
    ("Garcia", "garcia"),
    ("Nguyen", "nguyen"),
    ("Müller", "muller"),
    ("O'Brien", "obrien"),
    ("Rossi", "rossi"),
];

const DEVICE_KINDS: &[&str] = &["laptop", "desktop", "phone", "tablet"];

#[cfg(test)]
mod tests {
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
}
