//! The plan's events written one row at a time: the organization, users, devices, profiles,
//! sequester services (the realms' events are in `realm_events`).

use super::*;

/// Latest certificate timestamp per topic, for the `*_topic` tables.
#[derive(Default)]
pub(super) struct Topics {
    pub(super) common: Option<Ts>,
    pub(super) sequester: Option<Ts>,
    pub(super) realms: Vec<Option<Ts>>,
}

pub(super) struct EventWriter<'a> {
    pub(super) client: &'a Client,
    pub(super) spec: &'a OrgSpec,
    pub(super) plan: &'a Plan,
    pub(super) statements: Statements,
    pub(super) certificates: CertificateFactory<StdRng>,
    pub(super) ids: Ids,
    pub(super) topics: Topics,
    /// Activity windows, in timeline order, for the vlob and block passes.
    pub(super) windows: Vec<Window>,
    /// Per realm, its names so far (the last one is current).
    pub(super) names: Vec<Vec<String>>,
    /// Per realm, its key rotations so far (for the record).
    pub(super) rotations: Vec<Vec<RotationRecord>>,
}

impl EventWriter<'_> {
    pub(super) async fn write(&mut self, event: &Event) -> Result<()> {
        match event {
            Event::Bootstrap { at } => self.bootstrap(*at).await,
            Event::NewUser { at, user } => self.new_user(*at, *user).await,
            Event::NewDevice { at, device } => self.new_device(*at, *device).await.map(drop),
            Event::ProfileChange {
                at,
                user,
                profile,
                by,
            } => self.profile_change(*at, *user, profile.as_str(), *by).await,
            Event::RevokeUser { at, user, by } => self.revoke_user(*at, *user, *by).await,
            Event::NewService { at, service } => self.new_service(*at, *service).await,
            Event::RevokeService { at, service } => self.revoke_service(*at, *service).await,
            Event::RealmCreated { at, realm, by } => self.create_realm(*at, *realm, *by).await,
            Event::Share {
                at,
                realm,
                user,
                role,
                by,
                access_key_index,
            } => {
                let role = role.map(|role| role.as_str());
                self.share(*at, *realm, *user, role, *by, *access_key_index)
                    .await
            }
            Event::KeyRotation {
                at,
                realm,
                key_index,
                by,
                users,
                services,
            } => {
                self.rotate_key(*at, *realm, *key_index, *by, users, services)
                    .await
            }
            Event::Rename {
                at,
                realm,
                key_index,
                by,
            } => self.rename(*at, *realm, *key_index, *by).await,
            Event::Archive { at, realm, by } => self.archive(*at, *realm, *by).await,
            Event::Activity(window) => {
                self.windows.push(window.clone());
                Ok(())
            }
        }
    }

    pub(super) async fn insert_returning_id(
        &self,
        statement: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<i32> {
        let row = self.client.query_one(statement, params).await?;
        Ok(row.get(0))
    }

    pub(super) async fn execute(
        &self,
        statement: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<()> {
        self.client.execute(statement, params).await?;
        Ok(())
    }

    pub(super) fn device_uuid(&self, device: usize) -> Uuid {
        self.plan.devices[device].device_id
    }

    pub(super) fn touch_realm_topic(&mut self, realm: RealmIdx, at: Ts) {
        self.topics.realms[realm] = Some(at);
    }

    pub(super) async fn bootstrap(&mut self, at: Ts) -> Result<()> {
        let token = base16ct::lower::encode_string(&self.certificates.bytes(16));
        let root_verify_key = self.certificates.root_verify_key();
        let (authority_certificate, authority_key) = if self.spec.sequestered {
            let (certificate, key) = self.certificates.sequester_authority(at)?;
            self.topics.sequester = Some(at);
            (Some(certificate), Some(key))
        } else {
            (None, None)
        };
        // The organization is created by the server administration some time before the
        // first user bootstraps it.
        let created_on = at - Duration::hours(1);
        let id = self
            .insert_returning_id(
                &self.statements.organization,
                &[
                    &self.spec.organization_id,
                    &token,
                    &root_verify_key,
                    &at,
                    &created_on,
                    &authority_certificate,
                    &authority_key,
                ],
            )
            .await
            .with_context(|| format!("creating organization {:?}", self.spec.organization_id))?;
        self.ids.organization = Some(id);
        Ok(())
    }

    pub(super) async fn human_id(&mut self, human: usize) -> Result<i32> {
        if let Some(id) = self.ids.humans[human] {
            return Ok(id);
        }
        let organization = self.ids.organization()?;
        let plan_human = &self.plan.humans[human];
        let id = self
            .insert_returning_id(
                &self.statements.human,
                &[&organization, &plan_human.email, &plan_human.label],
            )
            .await?;
        self.ids.humans[human] = Some(id);
        Ok(id)
    }

    /// User row, then its first device (same timestamp, same certifier).
    pub(super) async fn new_user(&mut self, at: Ts, user: usize) -> Result<()> {
        let plan = self.plan;
        let plan_user = &plan.users[user];
        let human = &plan.humans[plan_user.human];
        let human_id = self.human_id(plan_user.human).await?;
        let author = plan_user.certifier.map(|device| self.device_uuid(device));
        let certifier_id = plan_user
            .certifier
            .map(|device| self.ids.device(device))
            .transpose()?;
        let profile = plan_user.initial_profile.as_str();
        let public_key = self.certificates.new_user_key(plan_user.user_id);
        let handle = (human.email.as_str(), human.label.as_str());
        let certificate = self.certificates.user(
            author,
            at,
            plan_user.user_id,
            Some(handle),
            &public_key,
            profile,
        )?;
        let redacted =
            self.certificates
                .user(author, at, plan_user.user_id, None, &public_key, profile)?;
        let organization = self.ids.organization()?;
        let id = self
            .insert_returning_id(
                &self.statements.user,
                &[
                    &organization,
                    &plan_user.user_id,
                    &certificate,
                    &certifier_id,
                    &at,
                    &human_id,
                    &redacted,
                    &profile,
                ],
            )
            .await
            .with_context(|| format!("creating user {}", plan_user.user_id))?;
        self.ids.users[user] = Some(id);
        self.new_device(at, plan_user.devices[0]).await?;
        Ok(())
    }

    pub(super) async fn new_device(&mut self, at: Ts, device: usize) -> Result<i32> {
        let plan_device = &self.plan.devices[device];
        debug_assert_eq!(plan_device.created_on, at, "device certificate timestamp");
        let user_id = self.plan.users[plan_device.user].user_id;
        let author = plan_device
            .certifier
            .map(|certifier| self.device_uuid(certifier));
        let certifier_id = plan_device
            .certifier
            .map(|certifier| self.ids.device(certifier))
            .transpose()?;
        let verify_key = self.certificates.new_device_key(plan_device.device_id);
        let label = plan_device.label.as_str();
        let certificate = self.certificates.device(
            author,
            at,
            user_id,
            plan_device.device_id,
            Some(label),
            &verify_key,
        )?;
        let redacted = self.certificates.device(
            author,
            at,
            user_id,
            plan_device.device_id,
            None,
            &verify_key,
        )?;
        let organization = self.ids.organization()?;
        let user_row = self.ids.user(plan_device.user)?;
        let id = self
            .insert_returning_id(
                &self.statements.device,
                &[
                    &organization,
                    &user_row,
                    &plan_device.device_id,
                    &label,
                    &verify_key,
                    &certificate,
                    &certifier_id,
                    &at,
                    &redacted,
                ],
            )
            .await
            .with_context(|| format!("creating device {}", plan_device.device_id))?;
        self.ids.devices[device] = Some(id);
        self.topics.common = Some(at);
        Ok(id)
    }

    pub(super) async fn profile_change(
        &mut self,
        at: Ts,
        user: usize,
        profile: &str,
        by: usize,
    ) -> Result<()> {
        let user_id = self.plan.users[user].user_id;
        let certificate =
            self.certificates
                .user_update(self.device_uuid(by), at, user_id, profile)?;
        let (user_row, by_row) = (self.ids.user(user)?, self.ids.device(by)?);
        self.execute(
            &self.statements.profile,
            &[&user_row, &profile, &certificate, &by_row, &at],
        )
        .await
        .context("changing a user profile")?;
        self.topics.common = Some(at);
        Ok(())
    }

    pub(super) async fn revoke_user(&mut self, at: Ts, user: usize, by: usize) -> Result<()> {
        let user_id = self.plan.users[user].user_id;
        let certificate = self
            .certificates
            .revoked_user(self.device_uuid(by), at, user_id)?;
        let (user_row, by_row) = (self.ids.user(user)?, self.ids.device(by)?);
        self.execute(
            &self.statements.revoke_user,
            &[&user_row, &at, &certificate, &by_row],
        )
        .await
        .context("revoking a user")?;
        self.topics.common = Some(at);
        Ok(())
    }

    pub(super) async fn new_service(&mut self, at: Ts, service: usize) -> Result<()> {
        let plan_service = &self.plan.services[service];
        debug_assert_eq!(plan_service.created_on, at, "service certificate timestamp");
        let key = self.certificates.new_service_key(plan_service.service_id)?;
        let certificate = self.certificates.sequester_service(
            at,
            plan_service.service_id,
            &plan_service.label,
            &key,
        )?;
        let organization = self.ids.organization()?;
        let id = self
            .insert_returning_id(
                &self.statements.service,
                &[
                    &plan_service.service_id,
                    &organization,
                    &certificate,
                    &plan_service.label,
                    &at,
                ],
            )
            .await
            .context("creating a sequester service")?;
        self.ids.services[service] = Some(id);
        self.topics.sequester = Some(at);
        Ok(())
    }

    pub(super) async fn revoke_service(&mut self, at: Ts, service: usize) -> Result<()> {
        let service_id = self.plan.services[service].service_id;
        let certificate = self
            .certificates
            .sequester_revoked_service(at, service_id)?;
        let service_row = self.ids.service(service)?;
        self.execute(
            &self.statements.revoke_service,
            &[&service_row, &at, &certificate],
        )
        .await
        .context("revoking a sequester service")?;
        self.topics.sequester = Some(at);
        Ok(())
    }
}
