//! The SQL of the certificate-bearing rows, and their statements prepared once.

use super::*;

pub(super) const INSERT_ORGANIZATION: &str = "
    INSERT INTO organization (
        organization_id, bootstrap_token, root_verify_key, user_profile_outsider_allowed,
        is_expired, _bootstrapped_on, _created_on, sequester_authority_certificate,
        sequester_authority_verify_key_der, realm_minimum_archiving_period_before_deletion
    ) VALUES ($1, $2, $3, true, false, $4, $5, $6, $7, 2592000)
    RETURNING _id";
pub(super) const INSERT_HUMAN: &str =
    "INSERT INTO human (organization, email, label) VALUES ($1, $2, $3) RETURNING _id";
pub(super) const INSERT_USER: &str = "
    INSERT INTO user_ (
        organization, user_id, user_certificate, user_certifier, created_on, human,
        redacted_user_certificate, initial_profile, current_profile
    ) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::user_profile, $8::text::user_profile)
    RETURNING _id";
pub(super) const INSERT_DEVICE: &str = "
    INSERT INTO device (
        organization, user_, device_id, device_label, verify_key, device_certificate,
        device_certifier, created_on, redacted_device_certificate
    ) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    RETURNING _id";
/// Also keeps `user_.current_profile` (a cache of the latest profile) in sync.
pub(super) const INSERT_PROFILE: &str = "
    WITH changed AS (
        UPDATE user_ SET current_profile = $2::text::user_profile WHERE _id = $1
    )
    INSERT INTO profile (user_, profile, profile_certificate, certified_by, certified_on)
    VALUES ($1, $2::text::user_profile, $3, $4, $5)";
pub(super) const REVOKE_USER: &str = "
    UPDATE user_
    SET revoked_on = $2, revoked_user_certificate = $3, revoked_user_certifier = $4
    WHERE _id = $1";
pub(super) const INSERT_SERVICE: &str = "
    INSERT INTO sequester_service (
        service_id, organization, service_certificate, service_label, created_on, service_type
    ) VALUES ($1, $2, $3, $4, $5, 'STORAGE')
    RETURNING _id";
pub(super) const REVOKE_SERVICE: &str = "
    UPDATE sequester_service
    SET revoked_on = $2, sequester_revoked_service_certificate = $3
    WHERE _id = $1";
pub(super) const INSERT_REALM: &str = "
    INSERT INTO realm (organization, realm_id, key_index, created_on) VALUES ($1, $2, 0, $3)
    RETURNING _id";
pub(super) const INSERT_ROLE: &str = "
    INSERT INTO realm_user_role (realm, user_, role, certificate, certified_by, certified_on)
    VALUES ($1, $2, $3::text::realm_role, $4, $5, $6)
    RETURNING _id";
pub(super) const INSERT_USER_ACCESS: &str = "
    INSERT INTO realm_keys_bundle_access (realm, user_, realm_keys_bundle, access, from_sharing)
    VALUES ($1, $2, $3, $4, $5)";
/// Also moves `realm.key_index` (the realm's current key index) forward.
pub(super) const INSERT_KEYS_BUNDLE: &str = "
    WITH bumped AS (UPDATE realm SET key_index = $2 WHERE _id = $1)
    INSERT INTO realm_keys_bundle (
        realm, key_index, realm_key_rotation_certificate, certified_by, certified_on,
        key_canary, keys_bundle
    ) VALUES ($1, $2, $3, $4, $5, $6, $7)
    RETURNING _id";
pub(super) const INSERT_SEQUESTER_ACCESS: &str = "
    INSERT INTO realm_sequester_keys_bundle_access (sequester_service, realm_keys_bundle, access, realm)
    VALUES ($1, $2, $3, $4)";
pub(super) const INSERT_REALM_NAME: &str = "
    INSERT INTO realm_name (realm, realm_name_certificate, certified_by, certified_on)
    VALUES ($1, $2, $3, $4)";
/// Also sets the realm status that Parsec derives from its archiving configuration.
pub(super) const INSERT_ARCHIVING: &str = "
    WITH flagged AS (
        UPDATE realm SET status = 'ARCHIVED_OR_DELETION_PLANNED' WHERE _id = $1
    )
    INSERT INTO realm_archiving (
        realm, configuration, deletion_date, certificate, certified_by, certified_on
    ) VALUES ($1, 'ARCHIVED', NULL, $2, $3, $4)";

/// Statements prepared once per generation (each is run up to a few hundred times).
pub(super) struct Statements {
    pub(super) organization: Statement,
    pub(super) human: Statement,
    pub(super) user: Statement,
    pub(super) device: Statement,
    pub(super) profile: Statement,
    pub(super) revoke_user: Statement,
    pub(super) service: Statement,
    pub(super) revoke_service: Statement,
    pub(super) realm: Statement,
    pub(super) role: Statement,
    pub(super) user_access: Statement,
    pub(super) keys_bundle: Statement,
    pub(super) sequester_access: Statement,
    pub(super) realm_name: Statement,
    pub(super) archiving: Statement,
}

impl Statements {
    pub(super) async fn prepare(client: &Client) -> Result<Self> {
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
