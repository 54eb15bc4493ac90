//! When writes happen: server-time slots in a window, and the client timestamps that
//! devices with skewed clocks stamp them with.

use chrono::Duration;
use rand::rngs::StdRng;
use rand::Rng;

use super::CLOCK_STREAM;
use crate::testbed::plan::{DeviceIdx, Ts, Window};
use crate::testbed::random::stream_rng;

/// `count` strictly increasing timestamps strictly inside (start, end): evenly spaced slots,
/// each jittered backwards by less than half a slot so the spacing looks organic.
pub(crate) fn spread(start: Ts, end: Ts, count: usize, rng: &mut StdRng) -> Vec<Ts> {
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

/// A device's clock offset from the server's, in µs, within ±`skew_s` seconds: fixed per
/// device (and seed), so one device's versions are consistently early or late.
pub(crate) fn clock_offset(seed: u64, device: DeviceIdx, skew_s: u32) -> i64 {
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
pub(crate) fn client_timestamp(at: Ts, offset_us: i64, window: &Window, position: usize) -> Ts {
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
