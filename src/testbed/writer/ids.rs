//! The database `_id`s of the planned entities, as rows get inserted.

use super::*;

/// Database `_id` of every planned entity, filled in as rows get inserted.
pub(super) struct Ids {
    pub(super) organization: Option<i32>,
    pub(super) humans: Vec<Option<i32>>,
    pub(super) users: Vec<Option<i32>>,
    pub(super) devices: Vec<Option<i32>>,
    pub(super) services: Vec<Option<i32>>,
    pub(super) realms: Vec<Option<i32>>,
    /// Per realm, the keys bundle `_id` of key index 1, 2, ...
    pub(super) keys_bundles: Vec<Vec<i32>>,
}

impl Ids {
    pub(super) fn new(plan: &Plan) -> Self {
        Self {
            organization: None,
            humans: vec![None; plan.humans.len()],
            users: vec![None; plan.users.len()],
            devices: vec![None; plan.devices.len()],
            services: vec![None; plan.services.len()],
            realms: vec![None; plan.realms.len()],
            keys_bundles: vec![Vec::new(); plan.realms.len()],
        }
    }

    pub(super) fn organization(&self) -> Result<i32> {
        self.organization
            .ok_or_else(|| anyhow!("internal error: organization not written yet"))
    }

    pub(super) fn user(&self, index: usize) -> Result<i32> {
        lookup(&self.users, index, "user")
    }

    pub(super) fn device(&self, index: usize) -> Result<i32> {
        lookup(&self.devices, index, "device")
    }

    pub(super) fn service(&self, index: usize) -> Result<i32> {
        lookup(&self.services, index, "sequester service")
    }

    pub(super) fn realm(&self, index: usize) -> Result<i32> {
        lookup(&self.realms, index, "realm")
    }

    pub(super) fn realm_ids(&self) -> Result<Vec<i32>> {
        (0..self.realms.len())
            .map(|index| self.realm(index))
            .collect()
    }

    pub(super) fn keys_bundle(&self, realm: RealmIdx, key_index: u32) -> Result<i32> {
        let position = (key_index as usize).checked_sub(1);
        position
            .and_then(|position| self.keys_bundles[realm].get(position).copied())
            .ok_or_else(|| anyhow!("internal error: realm #{realm} has no key index {key_index}"))
    }
}

/// The planner guarantees creation before use; a miss is a bug in the planner.
pub(super) fn lookup(ids: &[Option<i32>], index: usize, what: &str) -> Result<i32> {
    ids.get(index)
        .copied()
        .flatten()
        .ok_or_else(|| anyhow!("internal error: {what} #{index} used before being written"))
}
