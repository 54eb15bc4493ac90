//! The bulk of an organization: vlob versions and blocks, streamed into PostgreSQL with
//! binary `COPY`, each payload generated on the fly so memory stays bounded at any scale.

use super::*;
use crate::testbed::plan::DeviceIdx;

#[derive(Clone, Copy, Default)]
pub(super) struct RealmStats {
    pub(super) count: usize,
    pub(super) bytes: u64,
}

/// `count` strictly increasing timestamps strictly inside (start, end): evenly spaced slots,
/// each jittered backwards by less than half a slot so the spacing looks organic.
pub(super) fn spread_timestamps(start: Ts, end: Ts, count: usize, rng: &mut StdRng) -> Vec<Ts> {
    let span = (end - start).num_microseconds().unwrap_or(i64::MAX);
    let slot = span / (count as i64 + 1);
    (1..=count as i64)
        .map(|position| {
            let jitter = if slot >= 2 {
                rng.gen_range(0..slot / 2)
            } else {
                0
            };
            start + Duration::microseconds(slot * position - jitter)
        })
        .collect()
}

/// Picks the vlob written next in a realm: a new one (version 1) or the next version of an
/// existing one.
pub(super) fn next_vlob(rng: &mut StdRng, vlobs: &mut Vec<(Uuid, i32)>) -> (Uuid, i32) {
    if vlobs.len() < 2 || rng.gen_bool(NEW_VLOB_PROBABILITY) {
        let vlob = (uuid_v4(rng), 1);
        vlobs.push(vlob);
        return vlob;
    }
    let existing = vlobs.choose_mut(rng).expect("non-empty");
    existing.1 += 1;
    *existing
}

pub(super) fn pick_writer(rng: &mut StdRng, ids: &Ids, window: &Window) -> Result<i32> {
    pick_writer_device(rng, window).and_then(|device| ids.device(device))
}

fn pick_writer_device(rng: &mut StdRng, window: &Window) -> Result<DeviceIdx> {
    window
        .writers
        .choose(rng)
        .copied()
        .ok_or_else(|| anyhow!("internal error: activity window without writers"))
}

/// A device's clock offset from the server's, in µs, within ±`skew_s` seconds: fixed per
/// device (and seed), so one device's versions are consistently early or late.
pub(super) fn clock_offset(seed: u64, device: DeviceIdx, skew_s: u32) -> i64 {
    if skew_s == 0 {
        return 0;
    }
    let span = i64::from(skew_s) * 1_000_000;
    let mut rng = stream_rng(
        seed ^ (device as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        CLOCK_STREAM,
    );
    rng.gen_range(-span..span)
}

/// What a client with that clock offset stamps a write made at server time `at`: kept
/// strictly inside the window (after the certificate that opened it, as Parsec's server
/// requires, and before the next one), distinct per position so no two versions of a vlob
/// share a timestamp.
pub(super) fn client_timestamp(at: Ts, offset_us: i64, window: &Window, position: usize) -> Ts {
    let stamped = at + Duration::microseconds(offset_us);
    let nudge = Duration::microseconds(1 + position as i64);
    if stamped <= window.start {
        window.start + nudge
    } else if stamped >= window.end {
        window.end - nudge
    } else {
        stamped
    }
}

pub(super) async fn copy_vlobs(
    client: &Client,
    spec: &OrgSpec,
    plan: &Plan,
    ids: &Ids,
    windows: &[Window],
) -> Result<Vec<RealmStats>> {
    let mut rng = stream_rng(spec.seed, VLOB_STREAM);
    let mut stats = vec![RealmStats::default(); plan.realms.len()];
    let mut vlobs: Vec<Vec<(Uuid, i32)>> = vec![Vec::new(); plan.realms.len()];
    let mut blob = vec![0u8; VLOB_MAX_SIZE];

    let sink = client
        .copy_in(
            "COPY vlob_atom (realm, key_index, vlob_id, version, blob, size, author, created_on) \
             FROM STDIN BINARY",
        )
        .await
        .context("starting COPY into vlob_atom")?;
    let types = [
        Type::INT4,
        Type::INT4,
        Type::UUID,
        Type::INT4,
        Type::BYTEA,
        Type::INT4,
        Type::INT4,
        Type::TIMESTAMPTZ,
    ];
    let mut writer = pin!(BinaryCopyInWriter::new(sink, &types));
    for window in windows {
        let realm_row = ids.realm(window.realm)?;
        let key_index = window.key_index as i32;
        let timestamps = spread_timestamps(window.start, window.end, window.vlobs, &mut rng);
        for (position, server_time) in timestamps.into_iter().enumerate() {
            let realm_vlobs = &mut vlobs[window.realm];
            let (vlob_id, version) = if position == 0 && window.starts_with_realm_manifest {
                // Version 1 of the workspace manifest, whose vlob ID is the realm ID.
                let manifest = (plan.realms[window.realm].realm_id, 1);
                realm_vlobs.push(manifest);
                manifest
            } else {
                next_vlob(&mut rng, realm_vlobs)
            };
            let device = pick_writer_device(&mut rng, window)?;
            let author = ids.device(device)?;
            let offset = clock_offset(spec.seed, device, spec.clock_skew_s);
            let created_on = client_timestamp(server_time, offset, window, position);
            // Skewed towards small manifests.
            let skew: f64 = rng.gen::<f64>().powi(2);
            let size = VLOB_MIN_SIZE + (skew * (VLOB_MAX_SIZE - VLOB_MIN_SIZE) as f64) as usize;
            fill_payload(rng.gen(), &mut blob[..size]);
            let size_value = size as i32;
            writer
                .as_mut()
                .write(&[
                    &realm_row,
                    &key_index,
                    &vlob_id,
                    &version,
                    &&blob[..size],
                    &size_value,
                    &author,
                    &created_on,
                ])
                .await
                .context("writing a vlob_atom row")?;
            stats[window.realm].count += 1;
            stats[window.realm].bytes += size as u64;
        }
    }
    writer
        .as_mut()
        .finish()
        .await
        .context("finishing COPY into vlob_atom")?;
    Ok(stats)
}

/// Per-realm change log: index 1, 2, ... in write order (vlob atoms of a new realm were all
/// just written in timeline order, so `_id` order is write order).
pub(super) async fn link_vlob_updates(client: &Client, realm_ids: &[i32]) -> Result<()> {
    client
        .execute(
            "INSERT INTO realm_vlob_update (realm, index, vlob_atom)
             SELECT realm, row_number() OVER (PARTITION BY realm ORDER BY _id)::integer, _id
             FROM vlob_atom
             WHERE realm = ANY($1)
             ORDER BY _id",
            &[&realm_ids],
        )
        .await
        .context("writing realm_vlob_update")?;
    Ok(())
}

/// Everything about a block but its bytes, which `data_seed` regenerates on demand.
pub(super) struct BlockRow {
    pub(super) realm: RealmIdx,
    pub(super) realm_row: i32,
    pub(super) block_id: Uuid,
    pub(super) author: i32,
    pub(super) size: usize,
    pub(super) created_on: Ts,
    pub(super) key_index: i32,
    pub(super) data_seed: u64,
}

pub(super) fn plan_blocks(spec: &OrgSpec, ids: &Ids, windows: &[Window]) -> Result<Vec<BlockRow>> {
    let mut rng = stream_rng(spec.seed, BLOCK_STREAM);
    let mut rows = Vec::new();
    for window in windows {
        let realm_row = ids.realm(window.realm)?;
        for created_on in spread_timestamps(window.start, window.end, window.blocks, &mut rng) {
            rows.push(BlockRow {
                realm: window.realm,
                realm_row,
                block_id: uuid_v4(&mut rng),
                author: pick_writer(&mut rng, ids, window)?,
                size: rng.gen_range(spec.block_size_min..=spec.block_size_max),
                created_on,
                key_index: window.key_index as i32,
                data_seed: rng.gen(),
            });
        }
    }
    Ok(rows)
}

/// Block metadata, then block bytes (into `block_data` and/or the sink), one block in memory
/// at a time.
pub(super) async fn copy_blocks(
    client: &Client,
    spec: &OrgSpec,
    ids: &Ids,
    windows: &[Window],
    sink: &mut BlockSink<'_>,
) -> Result<Vec<RealmStats>> {
    let rows = plan_blocks(spec, ids, windows)?;
    let mut stats = vec![RealmStats::default(); ids.realms.len()];

    let copy = client
        .copy_in(
            "COPY block (block_id, realm, author, size, created_on, key_index) FROM STDIN BINARY",
        )
        .await
        .context("starting COPY into block")?;
    let types = [
        Type::UUID,
        Type::INT4,
        Type::INT4,
        Type::INT4,
        Type::TIMESTAMPTZ,
        Type::INT4,
    ];
    let mut writer = pin!(BinaryCopyInWriter::new(copy, &types));
    for row in &rows {
        let size = row.size as i32;
        writer
            .as_mut()
            .write(&[
                &row.block_id,
                &row.realm_row,
                &row.author,
                &size,
                &row.created_on,
                &row.key_index,
            ])
            .await
            .context("writing a block row")?;
        stats[row.realm].count += 1;
        stats[row.realm].bytes += row.size as u64;
    }
    writer
        .as_mut()
        .finish()
        .await
        .context("finishing COPY into block")?;

    let mut data = vec![0u8; spec.block_size_max];
    let mut data_writer = if spec.store_blocks_in_db {
        let copy = client
            .copy_in("COPY block_data (organization_id, block_id, data) FROM STDIN BINARY")
            .await
            .context("starting COPY into block_data")?;
        Some(Box::pin(BinaryCopyInWriter::new(
            copy,
            &[Type::VARCHAR, Type::UUID, Type::BYTEA],
        )))
    } else {
        None
    };
    for row in &rows {
        let bytes = &mut data[..row.size];
        fill_payload(row.data_seed, bytes);
        let bytes = &*bytes;
        if let Some(writer) = data_writer.as_mut() {
            writer
                .as_mut()
                .write(&[&spec.organization_id, &row.block_id, &bytes])
                .await
                .context("writing a block_data row")?;
        }
        sink(row.block_id, bytes).context("block sink")?;
    }
    if let Some(writer) = data_writer.as_mut() {
        writer
            .as_mut()
            .finish()
            .await
            .context("finishing COPY into block_data")?;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    #[test]
    fn spread_timestamps_strictly_inside_and_increasing() {
        let start = DateTime::from_timestamp_micros(1_000_000_000_000_000).expect("valid");
        let mut rng = stream_rng(1, 1);
        for (span, count) in [(10_000_000, 9), (5, 4), (3_600_000_000, 1000)] {
            let end = start + Duration::microseconds(span);
            let times = spread_timestamps(start, end, count, &mut rng);
            assert_eq!(times.len(), count);
            assert!(times[0] > start);
            assert!(*times.last().expect("non-empty") < end);
            assert!(times.windows(2).all(|pair| pair[0] < pair[1]));
        }
    }

    #[test]
    fn skewed_clocks_stay_in_parsecs_window_and_inside_the_activity_window() {
        let offsets: Vec<i64> = (0..50).map(|d| clock_offset(7, d, 300)).collect();
        assert!(offsets.iter().all(|o| o.abs() < 300_000_000));
        assert!(offsets.iter().any(|o| *o > 100_000_000), "no device ahead");
        assert!(
            offsets.iter().any(|o| *o < -100_000_000),
            "no device behind"
        );
        assert_eq!(clock_offset(7, 3, 0), 0);
        let start = DateTime::from_timestamp_micros(1_000_000_000_000_000).expect("valid");
        let window = Window {
            realm: 0,
            key_index: 1,
            start,
            end: start + Duration::seconds(600),
            vlobs: 3,
            blocks: 0,
            writers: vec![0],
            starts_with_realm_manifest: false,
        };
        let inside = start + Duration::seconds(300);
        let ahead = client_timestamp(inside, 200_000_000, &window, 0);
        assert_eq!(ahead, inside + Duration::seconds(200));
        // Pushed outside the window: kept just inside, distinct per position.
        let early = [0, 1].map(|p| client_timestamp(start, -300_000_000, &window, p));
        assert!(early.iter().all(|t| *t > window.start && *t < window.end));
        assert_ne!(early[0], early[1]);
        let late = client_timestamp(window.end, 100_000_000, &window, 0);
        assert!(late < window.end && late > window.start);
    }

    #[test]
    fn vlob_versions_are_contiguous() {
        let mut rng = stream_rng(2, 2);
        let mut vlobs = vec![(Uuid::nil(), 1)];
        let mut seen: std::collections::HashMap<Uuid, i32> = [(Uuid::nil(), 1)].into();
        for _ in 0..500 {
            let (id, version) = next_vlob(&mut rng, &mut vlobs);
            let previous = seen.insert(id, version).unwrap_or(0);
            assert_eq!(version, previous + 1);
        }
        assert!(seen.len() > 20 && seen.len() < 400);
    }
}
