-- Test schema mirroring the tables of a Parsec v3 server database (migration level 26) that
-- parsec-sequester reads: the realm export and the human-accesses report.
--
-- Hand-written from the catalog listing in shared/fixtures/parsec-v3-db/{columns,constraints,
-- enums}.tsv: same table names, column names, column order, types, nullability, defaults and
-- constraint names, so that the fixture dump (`pg_dump --data-only --column-inserts`) loads
-- unchanged. Tables Parsec has but that are never read by the tool are left out.
--
-- Plain DDL meant for an empty database; it inserts no `migration` rows (the testbed code or
-- the fixture dump does that).

-------------------------------------------------------------------------------------------
-- Enum types (all those of a migrated database, even the ones unused by the tables below)
-------------------------------------------------------------------------------------------

CREATE TYPE async_enrollment_signature_type AS ENUM ('PKI', 'OPENBAO');
CREATE TYPE async_enrollment_state AS ENUM ('SUBMITTED', 'ACCEPTED', 'REJECTED', 'CANCELLED');
CREATE TYPE cancelled_greeting_attempt_reason AS ENUM (
    'MANUALLY_CANCELLED',
    'INVALID_NONCE_HASH',
    'INVALID_SAS_CODE',
    'UNDECIPHERABLE_PAYLOAD',
    'UNDESERIALIZABLE_PAYLOAD',
    'INCONSISTENT_PAYLOAD',
    'AUTOMATICALLY_CANCELLED'
);
CREATE TYPE greeter_or_claimer AS ENUM ('GREETER', 'CLAIMER');
CREATE TYPE invitation_deleted_reason AS ENUM ('FINISHED', 'CANCELLED', 'ROTTEN');
CREATE TYPE invitation_type AS ENUM ('USER', 'DEVICE', 'SHAMIR_RECOVERY');
CREATE TYPE maintenance_type AS ENUM ('REENCRYPTION', 'GARBAGE_COLLECTION');
CREATE TYPE password_algorithm AS ENUM ('ARGON2ID');
CREATE TYPE pki_signature_algorithm AS ENUM ('RSASSA_PSS_SHA256');
CREATE TYPE realm_archiving_configuration AS ENUM ('AVAILABLE', 'ARCHIVED', 'DELETION_PLANNED');
CREATE TYPE realm_role AS ENUM ('OWNER', 'MANAGER', 'CONTRIBUTOR', 'READER');
CREATE TYPE realm_status AS ENUM ('AVAILABLE', 'ARCHIVED_OR_DELETION_PLANNED', 'DELETED');
CREATE TYPE sequester_service_type AS ENUM ('STORAGE', 'WEBHOOK');
CREATE TYPE user_profile AS ENUM ('ADMIN', 'STANDARD', 'OUTSIDER');

-------------------------------------------------------------------------------------------
-- Organization, humans, users, devices
-------------------------------------------------------------------------------------------

CREATE TABLE organization (
    _id SERIAL NOT NULL,
    organization_id VARCHAR(32) NOT NULL,
    bootstrap_token VARCHAR(32),
    root_verify_key BYTEA,
    _expired_on TIMESTAMPTZ,
    user_profile_outsider_allowed BOOLEAN NOT NULL,
    active_users_limit INTEGER,
    is_expired BOOLEAN NOT NULL,
    _bootstrapped_on TIMESTAMPTZ,
    _created_on TIMESTAMPTZ NOT NULL,
    sequester_authority_certificate BYTEA,
    sequester_authority_verify_key_der BYTEA,
    realm_minimum_archiving_period_before_deletion INTEGER NOT NULL,
    tos_updated_on TIMESTAMPTZ,
    tos_per_locale_urls JSON,
    CONSTRAINT organization_pkey PRIMARY KEY (_id),
    CONSTRAINT organization_organization_id_key UNIQUE (organization_id)
);

CREATE TABLE human (
    _id SERIAL NOT NULL,
    organization INTEGER NOT NULL,
    email VARCHAR(254) NOT NULL,
    label VARCHAR(254) NOT NULL,
    CONSTRAINT human_pkey PRIMARY KEY (_id),
    CONSTRAINT human_organization_email_key UNIQUE (organization, email),
    CONSTRAINT human_organization_fkey FOREIGN KEY (organization) REFERENCES organization (_id)
);

-- `user_` and `device` reference each other: the two foreign keys from `user_` to `device`
-- are added once `device` exists.
-- Parsec also has `user__shamir_recovery_fkey` (shamir_recovery -> shamir_recovery_setup._id);
-- that table is never read by the tool, so it is not created and the key is left out.
CREATE TABLE user_ (
    _id SERIAL NOT NULL,
    organization INTEGER NOT NULL,
    user_id UUID NOT NULL,
    user_certificate BYTEA NOT NULL,
    user_certifier INTEGER,
    created_on TIMESTAMPTZ NOT NULL,
    revoked_on TIMESTAMPTZ,
    revoked_user_certificate BYTEA,
    revoked_user_certifier INTEGER,
    human INTEGER NOT NULL,
    redacted_user_certificate BYTEA NOT NULL,
    initial_profile user_profile NOT NULL,
    shamir_recovery INTEGER,
    frozen BOOLEAN NOT NULL DEFAULT false,
    current_profile user_profile NOT NULL,
    tos_accepted_on TIMESTAMPTZ,
    totp_setup_completed BOOLEAN NOT NULL DEFAULT false,
    totp_secret BYTEA,
    totp_reset_token VARCHAR(32),
    CONSTRAINT user__pkey PRIMARY KEY (_id),
    CONSTRAINT user__organization_user_id_key UNIQUE (organization, user_id),
    CONSTRAINT user__organization_fkey FOREIGN KEY (organization) REFERENCES organization (_id),
    CONSTRAINT user__human_fkey FOREIGN KEY (human) REFERENCES human (_id),
    CONSTRAINT check_totp_reset_token_when_setup_completed
        CHECK (totp_setup_completed = false OR totp_reset_token IS NULL),
    CONSTRAINT check_totp_secret_when_setup_completed
        CHECK (totp_setup_completed = false OR totp_secret IS NOT NULL)
);

CREATE TABLE device (
    _id SERIAL NOT NULL,
    organization INTEGER NOT NULL,
    user_ INTEGER NOT NULL,
    device_id UUID NOT NULL,
    device_label VARCHAR(254) NOT NULL,
    verify_key BYTEA NOT NULL,
    device_certificate BYTEA NOT NULL,
    device_certifier INTEGER,
    created_on TIMESTAMPTZ NOT NULL,
    redacted_device_certificate BYTEA NOT NULL,
    CONSTRAINT device_pkey PRIMARY KEY (_id),
    CONSTRAINT device_organization_device_id_key UNIQUE (organization, device_id),
    CONSTRAINT device_organization_fkey FOREIGN KEY (organization) REFERENCES organization (_id),
    CONSTRAINT device_user__fkey FOREIGN KEY (user_) REFERENCES user_ (_id),
    CONSTRAINT device_device_certifier_fkey FOREIGN KEY (device_certifier) REFERENCES device (_id)
);

ALTER TABLE user_
    ADD CONSTRAINT fk_user_device_user_certifier
        FOREIGN KEY (user_certifier) REFERENCES device (_id),
    ADD CONSTRAINT fk_user_device_revoked_user_certifier
        FOREIGN KEY (revoked_user_certifier) REFERENCES device (_id);

CREATE TABLE profile (
    _id SERIAL NOT NULL,
    user_ INTEGER NOT NULL,
    profile user_profile NOT NULL,
    profile_certificate BYTEA NOT NULL,
    certified_by INTEGER NOT NULL,
    certified_on TIMESTAMPTZ NOT NULL,
    CONSTRAINT profile_pkey PRIMARY KEY (_id),
    CONSTRAINT profile_user__fkey FOREIGN KEY (user_) REFERENCES user_ (_id),
    CONSTRAINT profile_certified_by_fkey FOREIGN KEY (certified_by) REFERENCES device (_id)
);

-------------------------------------------------------------------------------------------
-- Sequester
-------------------------------------------------------------------------------------------

CREATE TABLE sequester_service (
    _id SERIAL NOT NULL,
    service_id UUID NOT NULL,
    organization INTEGER NOT NULL,
    service_certificate BYTEA NOT NULL,
    service_label VARCHAR(254) NOT NULL,
    created_on TIMESTAMPTZ NOT NULL,
    disabled_on TIMESTAMPTZ,
    webhook_url TEXT,
    service_type sequester_service_type NOT NULL,
    revoked_on TIMESTAMPTZ,
    sequester_revoked_service_certificate BYTEA,
    CONSTRAINT sequester_service_pkey PRIMARY KEY (_id),
    CONSTRAINT sequester_service_organization_service_id_key UNIQUE (organization, service_id),
    CONSTRAINT sequester_service_organization_fkey
        FOREIGN KEY (organization) REFERENCES organization (_id)
);

-------------------------------------------------------------------------------------------
-- Realms
-------------------------------------------------------------------------------------------

CREATE TABLE realm (
    _id SERIAL NOT NULL,
    organization INTEGER NOT NULL,
    realm_id UUID NOT NULL,
    key_index INTEGER NOT NULL,
    created_on TIMESTAMPTZ NOT NULL,
    status realm_status NOT NULL DEFAULT 'AVAILABLE',
    CONSTRAINT realm_pkey PRIMARY KEY (_id),
    CONSTRAINT realm_organization_realm_id_key UNIQUE (organization, realm_id),
    CONSTRAINT realm_organization_fkey FOREIGN KEY (organization) REFERENCES organization (_id)
);

CREATE TABLE realm_user_role (
    _id SERIAL NOT NULL,
    realm INTEGER NOT NULL,
    user_ INTEGER NOT NULL,
    -- NULL means the access was removed
    role realm_role,
    certificate BYTEA NOT NULL,
    certified_by INTEGER NOT NULL,
    certified_on TIMESTAMPTZ NOT NULL,
    CONSTRAINT realm_user_role_pkey PRIMARY KEY (_id),
    CONSTRAINT realm_user_role_realm_fkey FOREIGN KEY (realm) REFERENCES realm (_id),
    CONSTRAINT realm_user_role_user__fkey FOREIGN KEY (user_) REFERENCES user_ (_id),
    CONSTRAINT realm_user_role_certified_by_fkey
        FOREIGN KEY (certified_by) REFERENCES device (_id)
);

CREATE TABLE realm_keys_bundle (
    _id SERIAL NOT NULL,
    realm INTEGER NOT NULL,
    key_index INTEGER NOT NULL,
    realm_key_rotation_certificate BYTEA NOT NULL,
    certified_by INTEGER NOT NULL,
    certified_on TIMESTAMPTZ NOT NULL,
    key_canary BYTEA NOT NULL,
    keys_bundle BYTEA NOT NULL,
    CONSTRAINT realm_keys_bundle_pkey PRIMARY KEY (_id),
    CONSTRAINT realm_keys_bundle_realm_key_index_key UNIQUE (realm, key_index),
    CONSTRAINT realm_keys_bundle_realm_fkey FOREIGN KEY (realm) REFERENCES realm (_id),
    CONSTRAINT realm_keys_bundle_certified_by_fkey
        FOREIGN KEY (certified_by) REFERENCES device (_id)
);

CREATE TABLE realm_keys_bundle_access (
    _id SERIAL NOT NULL,
    realm INTEGER NOT NULL,
    user_ INTEGER NOT NULL,
    realm_keys_bundle INTEGER NOT NULL,
    access BYTEA NOT NULL,
    -- NULL: access given at key rotation; otherwise the role row of the sharing that gave it
    from_sharing INTEGER,
    CONSTRAINT realm_keys_bundle_access_pkey PRIMARY KEY (_id),
    CONSTRAINT realm_keys_bundle_access_realm_fkey FOREIGN KEY (realm) REFERENCES realm (_id),
    CONSTRAINT realm_keys_bundle_access_user__fkey FOREIGN KEY (user_) REFERENCES user_ (_id),
    CONSTRAINT realm_keys_bundle_access_realm_keys_bundle_fkey
        FOREIGN KEY (realm_keys_bundle) REFERENCES realm_keys_bundle (_id),
    CONSTRAINT realm_keys_bundle_access_from_sharing_fkey
        FOREIGN KEY (from_sharing) REFERENCES realm_user_role (_id)
);

-- At most one rotation-given access per (user, keys bundle), and one per sharing.
CREATE UNIQUE INDEX realm_keys_bundle_access_from_sharing_not_null_idx
    ON realm_keys_bundle_access (realm, user_, realm_keys_bundle, from_sharing)
    WHERE from_sharing IS NOT NULL;
CREATE UNIQUE INDEX realm_keys_bundle_access_from_sharing_null_idx
    ON realm_keys_bundle_access (realm, user_, realm_keys_bundle)
    WHERE from_sharing IS NULL;

CREATE TABLE realm_sequester_keys_bundle_access (
    _id SERIAL NOT NULL,
    sequester_service INTEGER NOT NULL,
    realm_keys_bundle INTEGER NOT NULL,
    access BYTEA NOT NULL,
    realm INTEGER NOT NULL,
    CONSTRAINT realm_sequester_keys_bundle_access_pkey PRIMARY KEY (_id),
    -- (name truncated to 63 bytes by PostgreSQL, as in a real database)
    CONSTRAINT realm_sequester_keys_bundle_a_sequester_service_realm_keys__key
        UNIQUE (sequester_service, realm_keys_bundle),
    CONSTRAINT realm_sequester_keys_bundle_access_sequester_service_fkey
        FOREIGN KEY (sequester_service) REFERENCES sequester_service (_id),
    CONSTRAINT realm_sequester_keys_bundle_access_realm_keys_bundle_fkey
        FOREIGN KEY (realm_keys_bundle) REFERENCES realm_keys_bundle (_id),
    CONSTRAINT realm_sequester_keys_bundle_access_realm_fkey
        FOREIGN KEY (realm) REFERENCES realm (_id)
);

CREATE TABLE realm_name (
    _id SERIAL NOT NULL,
    realm INTEGER NOT NULL,
    realm_name_certificate BYTEA NOT NULL,
    certified_by INTEGER NOT NULL,
    certified_on TIMESTAMPTZ NOT NULL,
    CONSTRAINT realm_name_pkey PRIMARY KEY (_id),
    CONSTRAINT realm_name_realm_fkey FOREIGN KEY (realm) REFERENCES realm (_id),
    CONSTRAINT realm_name_certified_by_fkey FOREIGN KEY (certified_by) REFERENCES device (_id)
);

CREATE TABLE realm_archiving (
    _id SERIAL NOT NULL,
    realm INTEGER NOT NULL,
    configuration realm_archiving_configuration NOT NULL,
    -- only set for DELETION_PLANNED
    deletion_date TIMESTAMPTZ,
    certificate BYTEA NOT NULL,
    certified_by INTEGER NOT NULL,
    certified_on TIMESTAMPTZ NOT NULL,
    CONSTRAINT realm_archiving_pkey PRIMARY KEY (_id),
    CONSTRAINT realm_archiving_realm_fkey FOREIGN KEY (realm) REFERENCES realm (_id),
    CONSTRAINT realm_archiving_certified_by_fkey
        FOREIGN KEY (certified_by) REFERENCES device (_id)
);

-------------------------------------------------------------------------------------------
-- Vlobs and blocks
-------------------------------------------------------------------------------------------

CREATE TABLE vlob_atom (
    _id SERIAL NOT NULL,
    realm INTEGER NOT NULL,
    key_index INTEGER NOT NULL,
    vlob_id UUID NOT NULL,
    version INTEGER NOT NULL,
    blob BYTEA NOT NULL,
    size INTEGER NOT NULL,
    author INTEGER NOT NULL,
    created_on TIMESTAMPTZ NOT NULL,
    deleted_on TIMESTAMPTZ,
    CONSTRAINT vlob_atom_pkey PRIMARY KEY (_id),
    CONSTRAINT vlob_atom_realm_vlob_id_version_key UNIQUE (realm, vlob_id, version),
    CONSTRAINT vlob_atom_realm_fkey FOREIGN KEY (realm) REFERENCES realm (_id),
    CONSTRAINT vlob_atom_author_fkey FOREIGN KEY (author) REFERENCES device (_id)
);

CREATE TABLE realm_vlob_update (
    _id SERIAL NOT NULL,
    realm INTEGER NOT NULL,
    index INTEGER NOT NULL,
    vlob_atom INTEGER NOT NULL,
    CONSTRAINT realm_vlob_update_pkey PRIMARY KEY (_id),
    CONSTRAINT realm_vlob_update_realm_index_key UNIQUE (realm, index),
    CONSTRAINT realm_vlob_update_realm_fkey FOREIGN KEY (realm) REFERENCES realm (_id),
    CONSTRAINT realm_vlob_update_vlob_atom_fkey FOREIGN KEY (vlob_atom) REFERENCES vlob_atom (_id)
);

CREATE TABLE block (
    _id SERIAL NOT NULL,
    block_id UUID NOT NULL,
    realm INTEGER NOT NULL,
    author INTEGER NOT NULL,
    size INTEGER NOT NULL,
    created_on TIMESTAMPTZ NOT NULL,
    deleted_on TIMESTAMPTZ,
    key_index INTEGER NOT NULL,
    CONSTRAINT block_pkey PRIMARY KEY (_id),
    CONSTRAINT block_realm_block_id_key UNIQUE (realm, block_id),
    CONSTRAINT block_realm_fkey FOREIGN KEY (realm) REFERENCES realm (_id),
    CONSTRAINT block_author_fkey FOREIGN KEY (author) REFERENCES device (_id)
);

-- PostgreSQL blockstore. Keyed by the organization's public ID string, with no foreign key
-- on purpose (the blockstore is independent from the metadata tables).
CREATE TABLE block_data (
    _id SERIAL NOT NULL,
    organization_id VARCHAR NOT NULL,
    block_id UUID NOT NULL,
    data BYTEA NOT NULL,
    CONSTRAINT block_data_pkey PRIMARY KEY (_id),
    CONSTRAINT block_data_organization_id_block_id_key UNIQUE (organization_id, block_id)
);

-------------------------------------------------------------------------------------------
-- Topics (latest certificate timestamp per topic; not read by the tool)
-------------------------------------------------------------------------------------------

CREATE TABLE common_topic (
    _id SERIAL NOT NULL,
    organization INTEGER NOT NULL,
    last_timestamp TIMESTAMPTZ NOT NULL,
    CONSTRAINT common_topic_pkey PRIMARY KEY (_id),
    CONSTRAINT common_topic_organization_key UNIQUE (organization),
    CONSTRAINT common_topic_organization_fkey
        FOREIGN KEY (organization) REFERENCES organization (_id)
);

CREATE TABLE sequester_topic (
    _id SERIAL NOT NULL,
    organization INTEGER NOT NULL,
    last_timestamp TIMESTAMPTZ NOT NULL,
    CONSTRAINT sequester_topic_pkey PRIMARY KEY (_id),
    CONSTRAINT sequester_topic_organization_key UNIQUE (organization),
    CONSTRAINT sequester_topic_organization_fkey
        FOREIGN KEY (organization) REFERENCES organization (_id)
);

CREATE TABLE realm_topic (
    _id SERIAL NOT NULL,
    organization INTEGER NOT NULL,
    realm INTEGER NOT NULL,
    last_timestamp TIMESTAMPTZ NOT NULL,
    CONSTRAINT realm_topic_pkey PRIMARY KEY (_id),
    CONSTRAINT realm_topic_organization_realm_key UNIQUE (organization, realm),
    CONSTRAINT realm_topic_organization_fkey
        FOREIGN KEY (organization) REFERENCES organization (_id),
    CONSTRAINT realm_topic_realm_fkey FOREIGN KEY (realm) REFERENCES realm (_id)
);

-------------------------------------------------------------------------------------------
-- Migration bookkeeping (plain integer key = migration number)
-------------------------------------------------------------------------------------------

CREATE TABLE migration (
    _id INTEGER NOT NULL,
    name VARCHAR(256) NOT NULL,
    applied TIMESTAMPTZ NOT NULL,
    CONSTRAINT migration_pkey PRIMARY KEY (_id),
    CONSTRAINT migration_name_key UNIQUE (name)
);
