//! Format v0 (reference §5.1): `0x00 ‖ zstd(msgpack)`. Parsec's frames carry no content
//! size, so decoding streams, and stops past a bound so a hostile file cannot make it
//! allocate without limit.

use std::io::Read;

use rmpv::Value;

use super::msgpack;
use crate::parsec::error::{DataError, DataResult};

const FORMAT_V0: u8 = 0x00;
/// Larger than any real payload (a folder of 100,000 entries is a few MiB).
pub const MAX_PAYLOAD: usize = 64 * 1024 * 1024;
/// zstd level of Parsec's encoder (zstd's default).
const LEVEL: i32 = 0;

/// Decodes a format v0 payload into its msgpack value.
pub fn load(bytes: &[u8]) -> DataResult<Value> {
    let raw = decompress(bytes, MAX_PAYLOAD)?;
    msgpack::decode(&raw)
}

/// The decompressed msgpack bytes of a format v0 payload, at most `limit` of them.
pub fn decompress(bytes: &[u8], limit: usize) -> DataResult<Vec<u8>> {
    let Some((&format, frame)) = bytes.split_first() else {
        return Err(DataError::Truncated {
            what: "the serialized payload",
            need: 1,
            got: 0,
        });
    };
    if format != FORMAT_V0 {
        return Err(DataError::UnknownFormat(format));
    }
    use std::cell::RefCell;
    // One decompression context per thread, reset before each payload: creating one per
    // manifest was an eighth of a history's time.
    thread_local! {
        static CONTEXT: RefCell<Option<zstd::zstd_safe::DCtx<'static>>> =
            const { RefCell::new(None) };
    }
    let mut out = Vec::new();
    CONTEXT.with(|cell| {
        let mut cell = cell.borrow_mut();
        let ctx = match &mut *cell {
            Some(ctx) => ctx,
            None => cell.insert(
                zstd::zstd_safe::DCtx::try_create()
                    .ok_or_else(|| DataError::Decompress("no memory for zstd".into()))?,
            ),
        };
        ctx.reset(zstd::zstd_safe::ResetDirective::SessionOnly)
            .map_err(|c| DataError::Decompress(zstd::zstd_safe::get_error_name(c).into()))?;
        // The decoder accepts several concatenated frames, as Parsec's `decode_all` does.
        let read = zstd::stream::read::Decoder::with_context(frame, ctx)
            .take(limit as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| DataError::Decompress(e.to_string()));
        read
    })?;
    if out.len() > limit {
        return Err(DataError::TooLarge { limit });
    }
    Ok(out)
}

/// Encodes a value in format v0, with a frame without content size, as Parsec's streaming
/// encoder writes it. One compression context per thread is reused: creating one per payload
/// cost a sixth of the generator's time.
pub fn dump(value: &Value) -> Vec<u8> {
    use std::cell::RefCell;
    use zstd::zstd_safe::CParameter;
    thread_local! {
        static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> =
            const { RefCell::new(None) };
    }
    let raw = msgpack::encode(value);
    let mut out = vec![FORMAT_V0];
    // Compressing into memory cannot fail short of a zstd bug.
    let compressed = COMPRESSOR.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            let mut compressor = zstd::bulk::Compressor::new(LEVEL).expect("zstd context");
            compressor
                .set_parameter(CParameter::ContentSizeFlag(false))
                .expect("zstd parameter");
            *cell = Some(compressor);
        }
        cell.as_mut()
            .map(|c| c.compress(&raw).expect("zstd compresses into memory"))
            .unwrap_or_default()
    });
    out.extend_from_slice(&compressed);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Like Parsec's streamed frames (reference §5.1): no content size, and decodable by a
    /// streaming decoder only; the reused context gives the same answer twice.
    #[test]
    fn frames_carry_no_content_size_and_round_trip() {
        let value = msgpack::map(vec![("type", msgpack::str("x")), ("n", Value::from(7))]);
        for _ in 0..2 {
            let bytes = dump(&value);
            assert_eq!(bytes[0], FORMAT_V0);
            assert!(matches!(
                zstd::zstd_safe::get_frame_content_size(&bytes[1..]),
                Ok(None)
            ));
            assert_eq!(load(&bytes), Ok(value.clone()));
        }
    }
}
