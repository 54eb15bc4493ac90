//! The planner's state and the organization's people: users, devices, humans, profile
//! changes, the re-invited human, sequester services. The realms' story is in `story`.

use super::*;
use names::{DEVICE_KINDS, FIRST_NAMES, LAST_NAMES};

/// Users with a scripted part in the story.
pub(super) struct Cast {
    /// Bootstraps the organization; ADMIN.
    pub(super) admin: UserIdx,
    /// OUTSIDER, then STANDARD, then ADMIN (two `profile` rows).
    pub(super) promoted: UserIdx,
    /// First user of a human who is later revoked and re-invited as a new user.
    pub(super) reinvited_old: UserIdx,
    /// Human index of the user above.
    pub(super) reinvited_human: usize,
    /// That human's second user, once created.
    pub(super) reinvited_new: Option<UserIdx>,
    /// Last human's user when there are at least 4 humans; with 3 humans, the re-invited
    /// human's second user plays that part (see `Planner::reinvite`).
    pub(super) no_realm: Option<UserIdx>,
}

pub(super) struct Planner<'a> {
    pub(super) spec: &'a OrgSpec,
    pub(super) rng: StdRng,
    pub(super) clock: Ts,
    pub(super) humans: Vec<Human>,
    pub(super) users: Vec<User>,
    pub(super) devices: Vec<Device>,
    pub(super) services: Vec<Service>,
    pub(super) realms: Vec<Realm>,
    pub(super) events: Vec<Event>,
    /// Per realm: the member removed then granted again.
    pub(super) removed: Vec<Option<UserIdx>>,
}

impl<'a> Planner<'a> {
    pub(super) fn new(spec: &'a OrgSpec) -> Self {
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

    pub(super) fn run(mut self) -> Plan {
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
    pub(super) fn tick(&mut self) -> Ts {
        let step = self.rng.gen_range(1_000_000..=120_000_000);
        self.clock += Duration::microseconds(step);
        self.clock
    }

    // --- organization ---------------------------------------------------------------------

    pub(super) fn populate_organization(&mut self) -> Cast {
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
    pub(super) fn new_user(
        &mut self,
        profile: Profile,
        certifier: Option<DeviceIdx>,
        at: Option<Ts>,
    ) -> UserIdx {
        let human = self.new_human();
        self.new_user_for_human(human, profile, certifier, at)
    }

    pub(super) fn new_user_for_human(
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

    pub(super) fn new_human(&mut self) -> usize {
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
    pub(super) fn add_extra_devices(&mut self, user: UserIdx) {
        let extra = self.rng.gen_range(0..=2);
        let first_device = self.users[user].devices[0];
        for _ in 0..extra {
            self.new_device(user, first_device);
        }
    }

    pub(super) fn new_device(&mut self, user: UserIdx, certifier: DeviceIdx) -> DeviceIdx {
        let at = self.tick();
        let device = self.push_device(user, Some(certifier), at);
        self.events.push(Event::NewDevice { at, device });
        device
    }

    pub(super) fn push_device(
        &mut self,
        user: UserIdx,
        certifier: Option<DeviceIdx>,
        at: Ts,
    ) -> DeviceIdx {
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

    pub(super) fn change_profile(&mut self, user: UserIdx, profile: Profile, by: DeviceIdx) {
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
    pub(super) fn reinvite(&mut self, cast: &mut Cast) {
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

    pub(super) fn new_service(&mut self, label: &str) {
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

    pub(super) fn pick_device(&mut self, user: UserIdx) -> DeviceIdx {
        *self.users[user]
            .devices
            .choose(&mut self.rng)
            .expect("every user has a device")
    }
}
