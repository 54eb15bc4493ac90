//! Every SQL statement the tool sends to Parsec's database, in one place.
//!
//! All of them are plain SELECTs run on read-only sessions. Row-set bounds: a vlob or block
//! row belongs to an export when its realm matches, its `_id` is at most the marker stored
//! in the export and its `created_on` is at most the step's time bound (none for vlobs: see
//! README, "Consistency").

pub const TABLE_EXISTS: &str = "SELECT to_regclass(quote_ident($1::text)) IS NOT NULL";

pub const COLUMN_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM information_schema.columns \
     WHERE table_schema = current_schema() AND table_name = $1::text AND column_name = $2::text)";

pub const LAST_MIGRATION: &str =
    "SELECT _id, name::text FROM migration ORDER BY applied DESC, _id DESC LIMIT 1";

/// `$1` organization public ID → internal id, root verify key (NULL if not bootstrapped).
pub const ORGANIZATION: &str =
    "SELECT _id, root_verify_key FROM organization WHERE organization_id = $1::text";

/// `$1` organization internal id, `$2` realm UUID.
pub const REALM_WITH_STATUS: &str =
    "SELECT _id, status::text FROM realm WHERE organization = $1 AND realm_id = $2";
pub const REALM_WITHOUT_STATUS: &str =
    "SELECT _id, 'AVAILABLE'::text FROM realm WHERE organization = $1 AND realm_id = $2";

/// `$1` realm internal id, `$2` T: the latest realm certificate at or before T (NULL when
/// the snapshot predates the realm), and the very first one (to explain that error).
pub const REALM_CERTIFICATE_BOUNDS: &str = "
    WITH ts AS (
        SELECT certified_on FROM realm_user_role WHERE realm = $1
        UNION ALL SELECT certified_on FROM realm_keys_bundle WHERE realm = $1
        UNION ALL SELECT certified_on FROM realm_name WHERE realm = $1
        UNION ALL SELECT certified_on FROM realm_archiving WHERE realm = $1
    )
    SELECT (SELECT MAX(certified_on) FROM ts WHERE certified_on <= $2),
           (SELECT MIN(certified_on) FROM ts)";

/// `$1` realm, `$2` time bound: highest `_id` among the rows at or before the bound.
pub const VLOB_MARKER: &str =
    "SELECT COALESCE(MAX(_id), 0) FROM vlob_atom WHERE realm = $1 AND created_on <= $2";
pub const BLOCK_MARKER: &str =
    "SELECT COALESCE(MAX(_id), 0) FROM block WHERE realm = $1 AND created_on <= $2";

/// `$1` realm, `$2` vlob marker: the latest client timestamp among the exported versions
/// (it sets the block time bound).
pub const VLOB_NEWEST_TIMESTAMP: &str =
    "SELECT MAX(created_on) FROM vlob_atom WHERE realm = $1 AND _id <= $2";

/// `$1` realm, `$2` marker, `$3` time bound: count and bytes of the selected rows.
pub const VLOB_TOTALS: &str = "SELECT COUNT(*), COALESCE(SUM(size), 0)::int8 FROM vlob_atom \
     WHERE realm = $1 AND _id <= $2 AND created_on <= $3";
pub const BLOCK_TOTALS: &str = "SELECT COUNT(*), COALESCE(SUM(size), 0)::int8 FROM block \
     WHERE realm = $1 AND _id <= $2 AND created_on <= $3";

/// All certificates of the export, one query: `family` 0 = common, 1 = sequester,
/// 2 = realm. Order: timestamp, then Parsec's priority (a user certificate before the
/// device certificate sharing its timestamp), then source table and `_id` so that the
/// order is deterministic even on pathological data.
/// `$1` organization internal id, `$2` realm internal id, `$3` T.
pub const CERTIFICATES: &str = "
    SELECT family, certificate FROM (
        SELECT 0 AS family, created_on AS ts, 0 AS priority, 0 AS source, _id, user_certificate AS certificate
            FROM user_ WHERE organization = $1
        UNION ALL SELECT 0, created_on, 1, 1, _id, device_certificate
            FROM device WHERE organization = $1
        UNION ALL SELECT 0, revoked_on, 1, 2, _id, revoked_user_certificate
            FROM user_ WHERE organization = $1 AND revoked_on IS NOT NULL AND revoked_user_certificate IS NOT NULL
        UNION ALL SELECT 0, p.certified_on, 1, 3, p._id, p.profile_certificate
            FROM profile p JOIN user_ u ON u._id = p.user_ WHERE u.organization = $1
        UNION ALL SELECT 1, _bootstrapped_on, 0, 0, _id, sequester_authority_certificate
            FROM organization WHERE _id = $1 AND sequester_authority_certificate IS NOT NULL
        UNION ALL SELECT 1, created_on, 0, 1, _id, service_certificate
            FROM sequester_service WHERE organization = $1
        UNION ALL SELECT 1, revoked_on, 0, 2, _id, sequester_revoked_service_certificate
            FROM sequester_service WHERE organization = $1 AND sequester_revoked_service_certificate IS NOT NULL
        UNION ALL SELECT 2, certified_on, 0, 0, _id, certificate
            FROM realm_user_role WHERE realm = $2
        UNION ALL SELECT 2, certified_on, 0, 1, _id, realm_key_rotation_certificate
            FROM realm_keys_bundle WHERE realm = $2
        UNION ALL SELECT 2, certified_on, 0, 2, _id, realm_name_certificate
            FROM realm_name WHERE realm = $2
        UNION ALL SELECT 2, certified_on, 0, 3, _id, certificate
            FROM realm_archiving WHERE realm = $2
    ) AS c
    WHERE ts <= $3
    ORDER BY family, ts, priority, source, _id";

/// `$1` realm, `$2` T.
pub const KEYS_BUNDLES: &str = "SELECT key_index, keys_bundle FROM realm_keys_bundle \
     WHERE realm = $1 AND certified_on <= $2 ORDER BY key_index";

/// An access given by a sharing counts from the sharing's date, else from the rotation's.
pub const USER_ACCESSES: &str = "
    SELECT u.user_id, kb.key_index, a.access
    FROM realm_keys_bundle_access a
    JOIN realm_keys_bundle kb ON kb._id = a.realm_keys_bundle
    JOIN user_ u ON u._id = a.user_
    LEFT JOIN realm_user_role r ON r._id = a.from_sharing
    WHERE a.realm = $1 AND COALESCE(r.certified_on, kb.certified_on) <= $2
    ORDER BY a._id";

pub const SEQUESTER_ACCESSES: &str = "
    SELECT s.service_id, kb.key_index, a.access
    FROM realm_sequester_keys_bundle_access a
    JOIN realm_keys_bundle kb ON kb._id = a.realm_keys_bundle
    JOIN sequester_service s ON s._id = a.sequester_service
    WHERE a.realm = $1 AND kb.certified_on <= $2
    ORDER BY a._id";

/// Streamed in `_id` order from the resume point. `$1` realm, `$2` resume after this `_id`,
/// `$3` marker, `$4` time bound.
pub const VLOBS: &str = "
    SELECT v._id, v.vlob_id, v.version, v.key_index, v.blob, v.created_on, d.device_id
    FROM vlob_atom v JOIN device d ON d._id = v.author
    WHERE v.realm = $1 AND v._id > $2 AND v._id <= $3 AND v.created_on <= $4
    ORDER BY v._id";

pub const BLOCKS: &str = "
    SELECT b._id, b.block_id, b.key_index, b.size, d.device_id
    FROM block b JOIN device d ON d._id = b.author
    WHERE b.realm = $1 AND b._id > $2 AND b._id <= $3 AND b.created_on <= $4
    ORDER BY b._id";

/// The POSTGRESQL blockstore: `$1` organization public ID, `$2` block UUID.
pub const BLOCK_DATA: &str =
    "SELECT data FROM block_data WHERE organization_id = $1::text AND block_id = $2";

/// The same for several blocks: `$2` an array of block UUIDs; rows in no particular order.
pub const BLOCKS_DATA: &str = "SELECT block_id, data FROM block_data \
    WHERE organization_id = $1::text AND block_id = ANY($2)";

// --- Reports: human-accesses and realms -------------------------------------------------------
//
// Run inside one REPEATABLE READ READ ONLY transaction, `$1` = organization internal id. Every
// ORDER BY ends with `_id` so that rows sharing a timestamp still come in a stable order.

/// The transaction's start time: "now" for the sizes of the realms report.
pub const TRANSACTION_TIME: &str = "SELECT now()";

/// Every user of the organization with its human.
pub const REPORT_USERS: &str = "
    SELECT u._id, u.user_id, u.created_on, u.revoked_on, u.initial_profile::text,
           h._id, h.label::text, h.email::text
    FROM user_ u JOIN human h ON h._id = u.human
    WHERE u.organization = $1
    ORDER BY u._id";

/// Profile changes (user-update certificates), oldest first.
pub const REPORT_PROFILE_CHANGES: &str = "
    SELECT p.user_, p.profile::text, p.certified_on
    FROM profile p JOIN user_ u ON u._id = p.user_
    WHERE u.organization = $1
    ORDER BY p.certified_on, p._id";

/// Every realm role certificate (grant, change or removal = NULL role), oldest first.
pub const REPORT_ROLE_CHANGES: &str = "
    SELECT r.user_, re.realm_id, r.role::text, r.certified_on
    FROM realm_user_role r JOIN realm re ON re._id = r.realm
    WHERE re.organization = $1
    ORDER BY r.certified_on, r._id";

/// Realms with their status column (migration 0022 and later) or without (always available).
pub const REPORT_REALMS_WITH_STATUS: &str = "
    SELECT _id, realm_id, created_on, status::text FROM realm WHERE organization = $1
    ORDER BY created_on, realm_id";
pub const REPORT_REALMS_WITHOUT_STATUS: &str = "
    SELECT _id, realm_id, created_on, 'AVAILABLE'::text FROM realm WHERE organization = $1
    ORDER BY created_on, realm_id";

/// The latest archiving certificate of each realm that has one.
pub const REPORT_LATEST_ARCHIVING: &str = "
    SELECT DISTINCT ON (a.realm) a.realm, a.configuration::text, a.certified_on, a.deletion_date
    FROM realm_archiving a JOIN realm re ON re._id = a.realm
    WHERE re.organization = $1
    ORDER BY a.realm, a.certified_on DESC, a._id DESC";

/// Current owners: users whose latest role certificate in the realm gives OWNER.
pub const REPORT_OWNERS: &str = "
    SELECT l.realm, u.user_id, h.label::text, h.email::text, u.revoked_on
    FROM (
        SELECT DISTINCT ON (r.realm, r.user_) r.realm, r.user_, r.role
        FROM realm_user_role r JOIN realm re ON re._id = r.realm
        WHERE re.organization = $1
        ORDER BY r.realm, r.user_, r.certified_on DESC, r._id DESC
    ) AS l
    JOIN user_ u ON u._id = l.user_ JOIN human h ON h._id = u.human
    WHERE l.role = 'OWNER'
    ORDER BY l.realm, u.created_on, u.user_id";

/// What an export of each realm would weigh today: all of its rows, count and bytes.
pub const REPORT_VLOB_SIZES: &str = "
    SELECT v.realm, COUNT(*), COALESCE(SUM(v.size), 0)::int8
    FROM vlob_atom v JOIN realm re ON re._id = v.realm
    WHERE re.organization = $1
    GROUP BY v.realm";
pub const REPORT_BLOCK_SIZES: &str = "
    SELECT b.realm, COUNT(*), COALESCE(SUM(b.size), 0)::int8
    FROM block b JOIN realm re ON re._id = b.realm
    WHERE re.organization = $1
    GROUP BY b.realm";
