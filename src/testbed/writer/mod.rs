//! Writes a `Plan` into PostgreSQL: certificate-bearing rows one statement at a time (there
//! are few of them, and their `_id`s are needed as foreign keys), then vlobs and blocks streamed
//! with binary `COPY`, generating each payload on the fly so memory stays bounded whatever the
//! scale.

use std::pin::pin;

use anyhow::{anyhow, Context, Result};
use chrono::Duration;
use rand::rngs::StdRng;
use rand::Rng;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Statement};
use uuid::Uuid;

use super::certificates::CertificateFactory;
use super::history::{realm_name, Import};
use super::plan::{Event, Plan, RealmIdx, Ts, Window};
use super::random::stream_rng;
use super::record::{self, OrgRecord, RealmRecord, RotationRecord, ServiceRecord};
use super::{BlockSink, GeneratedOrg, GeneratedRealm, GeneratedService, OrgSpec};
use crate::parsec::crypto::secretbox;

mod bulk;

use bulk::{link_vlob_updates, Bulk};

/// RNG streams (see `random::stream_rng`); the planner uses 1.
const CERTIFICATE_STREAM: u64 = 2;

pub(crate) async fn write(
    client: &Client,
    spec: &OrgSpec,
    plan: &Plan,
    import: Option<&Import>,
    sink: &mut BlockSink<'_>,
) -> Result<GeneratedOrg> {
    let mut events = EventWriter {
        client,
        spec,
        plan,
        statements: Statements::prepare(client).await?,
        certificates: CertificateFactory::new(
            stream_rng(spec.seed, CERTIFICATE_STREAM),
            spec.sequester_key_bits,
        ),
        ids: Ids::new(plan),
        topics: Topics {
            realms: vec![None; plan.realms.len()],
            ..Topics::default()
        },
        windows: Vec::new(),
        names: vec![Vec::new(); plan.realms.len()],
        rotations: vec![Vec::new(); plan.realms.len()],
    };
    for event in &plan.events {
        events.write(event).await?;
    }
    events.write_topics().await?;
    let EventWriter {
        ids,
        windows,
        certificates,
        names,
        rotations,
        ..
    } = events;

    let realm_ids = ids.realm_ids()?;
    let bulk = Bulk {
        spec,
        plan,
        ids: &ids,
        windows: &windows,
        import,
        certificates: &certificates,
    };
    let (block_stats, blocks) = bulk.copy_blocks(client, sink).await?;
    let mut vlob_records = spec.record.then(|| vec![Vec::new(); plan.realms.len()]);
    let vlob_stats = bulk
        .copy_vlobs(client, &blocks, vlob_records.as_mut())
        .await?;
    link_vlob_updates(client, &realm_ids).await?;

    let realms = plan
        .realms
        .iter()
        .enumerate()
        .map(|(index, realm)| GeneratedRealm {
            realm_id: realm.realm_id,
            created_on: realm.created_on,
            vlob_versions: vlob_stats[index].count,
            blocks: block_stats[index].count,
            internal_id: realm_ids[index],
            key_index: realm.key_index as i32,
            archived: realm.archived,
            vlob_bytes: vlob_stats[index].bytes,
            block_bytes: block_stats[index].bytes,
        })
        .collect();
    let services = plan
        .services
        .iter()
        .enumerate()
        .map(|(index, service)| {
            Ok(GeneratedService {
                service_id: service.service_id,
                label: service.label.clone(),
                created_on: service.created_on,
                revoked_on: service.revoked_on,
                key: certificates.keyring.service(service.service_id)?.clone(),
                readable: readable_keys(plan, index),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let record = vlob_records.map(|vlobs| OrgRecord {
        organization: spec.organization_id.clone(),
        services: services
            .iter()
            .map(|service| ServiceRecord {
                service_id: service.service_id.simple().to_string(),
                label: service.label.clone(),
                created_on: record::timestamp(service.created_on),
                revoked_on: service.revoked_on.map(record::timestamp),
                key_file: None,
            })
            .collect(),
        realms: plan
            .realms
            .iter()
            .zip(vlobs)
            .zip(rotations)
            .zip(names)
            .map(|(((realm, vlobs), rotations), names)| RealmRecord {
                realm_id: realm.realm_id.simple().to_string(),
                name: names.last().cloned().unwrap_or_default(),
                rotations,
                vlobs,
            })
            .collect(),
    });
    Ok(GeneratedOrg {
        organization_id: spec.organization_id.clone(),
        internal_id: ids.organization()?,
        sequestered: spec.sequestered,
        bootstrapped_on: plan.users[0].created_on,
        realms,
        end: plan.end,
        blocks: Vec::new(),
        services,
        record,
    })
}

// --- certificates and other small rows ------------------------------------------------------

const INSERT_ORGANIZATION: &str = "
    INSERT INTO organization (
        organization_id, bootstrap_token, root_verify_key, user_profile_outsider_allowed,
        is_expired, _bootstrapped_on, _created_on, sequester_authority_certificate,
        sequester_authority_verify_key_der, realm_minimum_archiving_period_before_deletion
    ) VALUES ($1, $2, $3, true, false, $4, $5, $6, $7, 2592000)
    RETURNING _id";
const INSERT_HUMAN: &str =
    "INSERT INTO human (organization, email, label) VALUES ($1, $2, $3) RETURNING _id";
const INSERT_USER: &str = "
    INSERT INTO user_ (
        organization, user_id, user_certificate, user_certifier, created_on, human,
        redacted_user_certificate, initial_profile, current_profile
    ) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::user_profile, $8::text::user_profile)
    RETURNING _id";
const INSERT_DEVICE: &str = "
    INSERT INTO device (
        organization, user_, device_id, device_label, verify_key, device_certificate,
        device_certifier, created_on, redacted_device_certificate
    ) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    RETURNING _id";
/// Also keeps `user_.current_profile` (a cache of the latest profile) in sync.
const INSERT_PROFILE: &str = "
    WITH changed AS (
        UPDATE user_ SET current_profile = $2::text::user_profile WHERE _id = $1
    )
    INSERT INTO profile (user_, profile, profile_certificate, certified_by, certified_on)
    VALUES ($1, $2::text::user_profile, $3, $4, $5)";
const REVOKE_USER: &str = "
    UPDATE user_
    SET revoked_on = $2, revoked_user_certificate = $3, revoked_user_certifier = $4
    WHERE _id = $1";
const INSERT_SERVICE: &str = "
    INSERT INTO sequester_service (
        service_id, organization, service_certificate, service_label, created_on, service_type
    ) VALUES ($1, $2, $3, $4, $5, 'STORAGE')
    RETURNING _id";
const REVOKE_SERVICE: &str = "
    UPDATE sequester_service
    SET revoked_on = $2, sequester_revoked_service_certificate = $3
    WHERE _id = $1";
const INSERT_REALM: &str = "
    INSERT INTO realm (organization, realm_id, key_index, created_on) VALUES ($1, $2, 0, $3)
    RETURNING _id";
const INSERT_ROLE: &str = "
    INSERT INTO realm_user_role (realm, user_, role, certificate, certified_by, certified_on)
    VALUES ($1, $2, $3::text::realm_role, $4, $5, $6)
    RETURNING _id";
const INSERT_USER_ACCESS: &str = "
    INSERT INTO realm_keys_bundle_access (realm, user_, realm_keys_bundle, access, from_sharing)
    VALUES ($1, $2, $3, $4, $5)";
/// Also moves `realm.key_index` (the realm's current key index) forward.
const INSERT_KEYS_BUNDLE: &str = "
    WITH bumped AS (UPDATE realm SET key_index = $2 WHERE _id = $1)
    INSERT INTO realm_keys_bundle (
        realm, key_index, realm_key_rotation_certificate, certified_by, certified_on,
        key_canary, keys_bundle
    ) VALUES ($1, $2, $3, $4, $5, $6, $7)
    RETURNING _id";
const INSERT_SEQUESTER_ACCESS: &str = "
    INSERT INTO realm_sequester_keys_bundle_access (sequester_service, realm_keys_bundle, access, realm)
    VALUES ($1, $2, $3, $4)";
const INSERT_REALM_NAME: &str = "
    INSERT INTO realm_name (realm, realm_name_certificate, certified_by, certified_on)
    VALUES ($1, $2, $3, $4)";
/// Also sets the realm status that Parsec derives from its archiving configuration.
const INSERT_ARCHIVING: &str = "
    WITH flagged AS (
        UPDATE realm SET status = 'ARCHIVED_OR_DELETION_PLANNED' WHERE _id = $1
    )
    INSERT INTO realm_archiving (
        realm, configuration, deletion_date, certificate, certified_by, certified_on
    ) VALUES ($1, 'ARCHIVED', NULL, $2, $3, $4)";

/// Statements prepared once per generation (each is run up to a few hundred times).
struct Statements {
    organization: Statement,
    human: Statement,
    user: Statement,
    device: Statement,
    profile: Statement,
    revoke_user: Statement,
    service: Statement,
    revoke_service: Statement,
    realm: Statement,
    role: Statement,
    user_access: Statement,
    keys_bundle: Statement,
    sequester_access: Statement,
    realm_name: Statement,
    archiving: Statement,
}

impl Statements {
    async fn prepare(client: &Client) -> Result<Self> {
        let prepare = |sql: &'static str| async move {
            client
                .prepare(sql)
                .await
                .with_context(|| format!("preparing: {}", sql.trim()))
        };
        Ok(Self {
            organization: prepare(INSERT_ORGANIZATION).await?,
            human: prepare(INSERT_HUMAN).await?,
            user: prepare(INSERT_USER).await?,
            device: prepare(INSERT_DEVICE).await?,
            profile: prepare(INSERT_PROFILE).await?,
            revoke_user: prepare(REVOKE_USER).await?,
            service: prepare(INSERT_SERVICE).await?,
            revoke_service: prepare(REVOKE_SERVICE).await?,
            realm: prepare(INSERT_REALM).await?,
            role: prepare(INSERT_ROLE).await?,
            user_access: prepare(INSERT_USER_ACCESS).await?,
            keys_bundle: prepare(INSERT_KEYS_BUNDLE).await?,
            sequester_access: prepare(INSERT_SEQUESTER_ACCESS).await?,
            realm_name: prepare(INSERT_REALM_NAME).await?,
            archiving: prepare(INSERT_ARCHIVING).await?,
        })
    }
}

/// Database `_id` of every planned entity, filled in as rows get inserted.
struct Ids {
    organization: Option<i32>,
    humans: Vec<Option<i32>>,
    users: Vec<Option<i32>>,
    devices: Vec<Option<i32>>,
    services: Vec<Option<i32>>,
    realms: Vec<Option<i32>>,
    /// Per realm, the keys bundle `_id` of key index 1, 2, ...
    keys_bundles: Vec<Vec<i32>>,
}

impl Ids {
    fn new(plan: &Plan) -> Self {
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

    fn organization(&self) -> Result<i32> {
        self.organization
            .ok_or_else(|| anyhow!("internal error: organization not written yet"))
    }

    fn user(&self, index: usize) -> Result<i32> {
        lookup(&self.users, index, "user")
    }

    fn device(&self, index: usize) -> Result<i32> {
        lookup(&self.devices, index, "device")
    }

    fn service(&self, index: usize) -> Result<i32> {
        lookup(&self.services, index, "sequester service")
    }

    fn realm(&self, index: usize) -> Result<i32> {
        lookup(&self.realms, index, "realm")
    }

    fn realm_ids(&self) -> Result<Vec<i32>> {
        (0..self.realms.len())
            .map(|index| self.realm(index))
            .collect()
    }

    fn keys_bundle(&self, realm: RealmIdx, key_index: u32) -> Result<i32> {
        let position = (key_index as usize).checked_sub(1);
        position
            .and_then(|position| self.keys_bundles[realm].get(position).copied())
            .ok_or_else(|| anyhow!("internal error: realm #{realm} has no key index {key_index}"))
    }
}

/// The planner guarantees creation before use; a miss is a bug in the planner.
fn lookup(ids: &[Option<i32>], index: usize, what: &str) -> Result<i32> {
    ids.get(index)
        .copied()
        .flatten()
        .ok_or_else(|| anyhow!("internal error: {what} #{index} used before being written"))
}

/// Latest certificate timestamp per topic, for the `*_topic` tables.
#[derive(Default)]
struct Topics {
    common: Option<Ts>,
    sequester: Option<Ts>,
    realms: Vec<Option<Ts>>,
}

struct EventWriter<'a> {
    client: &'a Client,
    spec: &'a OrgSpec,
    plan: &'a Plan,
    statements: Statements,
    certificates: CertificateFactory<StdRng>,
    ids: Ids,
    topics: Topics,
    /// Activity windows, in timeline order, for the vlob and block passes.
    windows: Vec<Window>,
    /// Per realm, its names so far (the last one is current).
    names: Vec<Vec<String>>,
    /// Per realm, its key rotations so far (for the record).
    rotations: Vec<Vec<RotationRecord>>,
}

impl EventWriter<'_> {
    async fn write(&mut self, event: &Event) -> Result<()> {
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

    async fn insert_returning_id(
        &self,
        statement: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<i32> {
        let row = self.client.query_one(statement, params).await?;
        Ok(row.get(0))
    }

    async fn execute(&self, statement: &Statement, params: &[&(dyn ToSql + Sync)]) -> Result<()> {
        self.client.execute(statement, params).await?;
        Ok(())
    }

    fn device_uuid(&self, device: usize) -> Uuid {
        self.plan.devices[device].device_id
    }

    fn touch_realm_topic(&mut self, realm: RealmIdx, at: Ts) {
        self.topics.realms[realm] = Some(at);
    }

    async fn bootstrap(&mut self, at: Ts) -> Result<()> {
        let token = record::hex(&self.certificates.bytes(16));
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

    async fn human_id(&mut self, human: usize) -> Result<i32> {
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
    async fn new_user(&mut self, at: Ts, user: usize) -> Result<()> {
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

    async fn new_device(&mut self, at: Ts, device: usize) -> Result<i32> {
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

    async fn profile_change(
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

    async fn revoke_user(&mut self, at: Ts, user: usize, by: usize) -> Result<()> {
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

    async fn new_service(&mut self, at: Ts, service: usize) -> Result<()> {
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

    async fn revoke_service(&mut self, at: Ts, service: usize) -> Result<()> {
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

    /// Realm row, then the creator's self-signed OWNER role.
    async fn create_realm(&mut self, at: Ts, realm: RealmIdx, by: usize) -> Result<()> {
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

    async fn share(
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

    async fn rotate_key(
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

    async fn rename(&mut self, at: Ts, realm: RealmIdx, key_index: u32, by: usize) -> Result<()> {
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

    async fn archive(&mut self, at: Ts, realm: RealmIdx, by: usize) -> Result<()> {
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
    async fn write_topics(&self) -> Result<()> {
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

/// Per realm, the highest key index service `service` can read: that of the last keys
/// bundle it got an access to, which holds every earlier key (reference §3.7).
fn readable_keys(plan: &Plan, service: usize) -> Vec<(Uuid, u32)> {
    let mut readable: Vec<(Uuid, u32)> = Vec::new();
    for event in &plan.events {
        if let Event::KeyRotation {
            realm,
            key_index,
            services,
            ..
        } = event
        {
            if services.contains(&service) {
                let realm_id = plan.realms[*realm].realm_id;
                match readable.iter_mut().find(|(id, _)| *id == realm_id) {
                    Some(entry) => entry.1 = entry.1.max(*key_index),
                    None => readable.push((realm_id, *key_index)),
                }
            }
        }
    }
    readable
}
