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
mod events;
mod ids;
mod realm_events;
mod sql;

use bulk::{link_vlob_updates, Bulk};
use events::{EventWriter, Topics};
use ids::Ids;
use sql::Statements;

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
