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
use planner::Planner;

mod names;
mod planner;
mod story;
#[cfg(test)]
mod tests;

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
