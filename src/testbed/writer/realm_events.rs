//! The realms' events: creation, roles, key rotations and their bundles, names, archiving,
//! and the topic tables.

use super::*;

impl EventWriter<'_> {
    /// Realm row, then the creator's self-signed OWNER role.
    pub(super) async fn create_realm(&mut self, at: Ts, realm: RealmIdx, by: usize) -> Result<()> {
        let plan_realm = &self.plan.realms[realm];
        let organization = self.ids.organization()?;
        let id = self
            .insert_returning_id(
                &self.statements.realm,
                &[&organization, &plan_realm.realm_id, &at],
            )
            .await
            .context("creating a realm")?;
        self.ids.realms[realm] = Some(id);
        self.share(at, realm, plan_realm.creator, Some("OWNER"), by, None)
            .await
    }

    pub(super) async fn share(
        &mut self,
        at: Ts,
        realm: RealmIdx,
        user: usize,
        role: Option<&str>,
        by: usize,
        access_key_index: Option<u32>,
    ) -> Result<()> {
        let realm_id = self.plan.realms[realm].realm_id;
        let user_id = self.plan.users[user].user_id;
        let certificate =
            self.certificates
                .realm_role(self.device_uuid(by), at, realm_id, user_id, role)?;
        let (realm_row, user_row, by_row) = (
            self.ids.realm(realm)?,
            self.ids.user(user)?,
            self.ids.device(by)?,
        );
        let role_row = self
            .insert_returning_id(
                &self.statements.role,
                &[&realm_row, &user_row, &role, &certificate, &by_row, &at],
            )
            .await
            .context("writing a realm role")?;
        if let Some(key_index) = access_key_index {
            let bundle = self.ids.keys_bundle(realm, key_index)?;
            let access = self
                .certificates
                .keyring
                .user_access(realm_id, key_index, user_id)?;
            self.execute(
                &self.statements.user_access,
                &[&realm_row, &user_row, &bundle, &access, &Some(role_row)],
            )
            .await
            .context("writing a keys bundle access from a sharing")?;
        }
        self.touch_realm_topic(realm, at);
        Ok(())
    }

    pub(super) async fn rotate_key(
        &mut self,
        at: Ts,
        realm: RealmIdx,
        key_index: u32,
        by: usize,
        users: &[usize],
        services: &[usize],
    ) -> Result<()> {
        let realm_id = self.plan.realms[realm].realm_id;
        let author = self.device_uuid(by);
        let rotation = self.certificates.rotate(realm_id, key_index, author, at)?;
        let (canary, keys_bundle) = (rotation.canary, rotation.keys_bundle);
        let certificate = self.certificates.realm_key_rotation(
            self.device_uuid(by),
            at,
            realm_id,
            u64::from(key_index),
            &canary,
        )?;
        let (realm_row, by_row) = (self.ids.realm(realm)?, self.ids.device(by)?);
        let key_index_value = key_index as i32;
        let bundle = self
            .insert_returning_id(
                &self.statements.keys_bundle,
                &[
                    &realm_row,
                    &key_index_value,
                    &certificate,
                    &by_row,
                    &at,
                    &canary,
                    &keys_bundle,
                ],
            )
            .await
            .context("writing a keys bundle")?;
        self.ids.keys_bundles[realm].push(bundle);

        let no_sharing: Option<i32> = None;
        for user in users {
            let user_row = self.ids.user(*user)?;
            let user_id = self.plan.users[*user].user_id;
            let access = self
                .certificates
                .keyring
                .user_access(realm_id, key_index, user_id)?;
            self.execute(
                &self.statements.user_access,
                &[&realm_row, &user_row, &bundle, &access, &no_sharing],
            )
            .await
            .context("writing a keys bundle access")?;
        }
        for service in services {
            let service_row = self.ids.service(*service)?;
            let service_id = self.plan.services[*service].service_id;
            let access = self
                .certificates
                .keyring
                .sequester_access(realm_id, key_index, service_id)?;
            self.execute(
                &self.statements.sequester_access,
                &[&service_row, &bundle, &access, &realm_row],
            )
            .await
            .context("writing a sequester keys bundle access")?;
        }
        self.rotations[realm].push(RotationRecord {
            key_index,
            timestamp: record::timestamp(at),
            services: services
                .iter()
                .map(|s| self.plan.services[*s].service_id.simple().to_string())
                .collect(),
        });
        self.touch_realm_topic(realm, at);
        Ok(())
    }

    pub(super) async fn rename(
        &mut self,
        at: Ts,
        realm: RealmIdx,
        key_index: u32,
        by: usize,
    ) -> Result<()> {
        let realm_id = self.plan.realms[realm].realm_id;
        let name = realm_name(realm, self.names[realm].len());
        let encrypted_name = self
            .certificates
            .keyring
            .encrypt_name(realm_id, key_index, &name)?;
        self.names[realm].push(name);
        let certificate = self.certificates.realm_name(
            self.device_uuid(by),
            at,
            realm_id,
            u64::from(key_index),
            &encrypted_name,
        )?;
        let (realm_row, by_row) = (self.ids.realm(realm)?, self.ids.device(by)?);
        self.execute(
            &self.statements.realm_name,
            &[&realm_row, &certificate, &by_row, &at],
        )
        .await
        .context("renaming a realm")?;
        self.touch_realm_topic(realm, at);
        Ok(())
    }

    pub(super) async fn archive(&mut self, at: Ts, realm: RealmIdx, by: usize) -> Result<()> {
        let realm_id = self.plan.realms[realm].realm_id;
        let certificate =
            self.certificates
                .realm_archiving(self.device_uuid(by), at, realm_id, "ARCHIVED")?;
        let (realm_row, by_row) = (self.ids.realm(realm)?, self.ids.device(by)?);
        self.execute(
            &self.statements.archiving,
            &[&realm_row, &certificate, &by_row, &at],
        )
        .await
        .context("archiving a realm")?;
        self.touch_realm_topic(realm, at);
        Ok(())
    }

    /// The topic tables hold the latest certificate timestamp of each topic.
    pub(super) async fn write_topics(&self) -> Result<()> {
        let organization = self.ids.organization()?;
        if let Some(last) = self.topics.common {
            self.client
                .execute(
                    "INSERT INTO common_topic (organization, last_timestamp) VALUES ($1, $2)",
                    &[&organization, &last],
                )
                .await?;
        }
        if let Some(last) = self.topics.sequester {
            self.client
                .execute(
                    "INSERT INTO sequester_topic (organization, last_timestamp) VALUES ($1, $2)",
                    &[&organization, &last],
                )
                .await?;
        }
        for (realm, last) in self.topics.realms.iter().enumerate() {
            if let Some(last) = last {
                let realm_row = self.ids.realm(realm)?;
                self.client
                    .execute(
                        "INSERT INTO realm_topic (organization, realm, last_timestamp) \
                         VALUES ($1, $2, $3)",
                        &[&organization, &realm_row, last],
                    )
                    .await?;
            }
        }
        Ok(())
    }
}
