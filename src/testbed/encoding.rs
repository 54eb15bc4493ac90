//! Byte-level encodings used to make generated certificates look like real ones: a minimal
//! msgpack encoder (only the types certificates use) and a zstd frame made of raw
//! (uncompressed) blocks, which any zstd decoder accepts. Hand-written so the testbed needs no
//! extra dependency.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// msgpack extension type carrying a timestamp (8 bytes, big-endian µs since the UNIX epoch).
const EXT_TIMESTAMP: u8 = 1;
/// msgpack extension type carrying a UUID (16 bytes).
const EXT_UUID: u8 = 2;

/// A msgpack value, limited to what certificate payloads contain.
#[derive(Debug, Clone)]
pub(crate) enum Value<'a> {
    Nil,
    Str(&'a str),
    Bin(&'a [u8]),
    UInt(u64),
    Uuid(Uuid),
    Timestamp(DateTime<Utc>),
    Array(Vec<Value<'a>>),
    /// A nested map with string keys (e.g. an archiving configuration).
    Map(Vec<(&'a str, Value<'a>)>),
}

impl<'a> Value<'a> {
    /// `Nil` for `None`, else the UUID: used for a certificate's `author` (nil = root key).
    pub(crate) fn opt_uuid(id: Option<Uuid>) -> Self {
        id.map_or(Value::Nil, Value::Uuid)
    }

    pub(crate) fn opt_str(s: Option<&'a str>) -> Self {
        s.map_or(Value::Nil, Value::Str)
    }
}

/// Encodes a msgpack map with string keys, keeping the given field order.
pub(crate) fn encode_map(fields: &[(&str, Value<'_>)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_map(&mut out, fields);
    out
}

fn write_map(out: &mut Vec<u8>, fields: &[(&str, Value<'_>)]) {
    write_len(out, fields.len(), 0x80, 0xdc + 2);
    for (key, value) in fields {
        write_str(out, key);
        write_value(out, value);
    }
}

fn write_value(out: &mut Vec<u8>, value: &Value<'_>) {
    match value {
        Value::Nil => out.push(0xc0),
        Value::Str(s) => write_str(out, s),
        Value::Bin(b) => write_bin(out, b),
        Value::UInt(n) => write_uint(out, *n),
        Value::Uuid(id) => {
            out.extend_from_slice(&[0xd8, EXT_UUID]); // fixext 16
            out.extend_from_slice(id.as_bytes());
        }
        Value::Timestamp(ts) => {
            out.extend_from_slice(&[0xd7, EXT_TIMESTAMP]); // fixext 8
            out.extend_from_slice(&ts.timestamp_micros().to_be_bytes());
        }
        Value::Map(fields) => write_map(out, fields),
        Value::Array(items) => {
            write_len(out, items.len(), 0x90, 0xdc);
            for item in items {
                write_value(out, item);
            }
        }
    }
}

/// Writes a map or array header: `fix_tag | len` when it fits in 4 bits, else the 16-bit form
/// (`tag16`, then the 32-bit form at `tag16 + 1`).
fn write_len(out: &mut Vec<u8>, len: usize, fix_tag: u8, tag16: u8) {
    if len < 16 {
        out.push(fix_tag | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(tag16);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(tag16 + 1);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if let Ok(len) = u8::try_from(len) {
        out.extend_from_slice(&[0xd9, len]);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(0xda);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

fn write_bin(out: &mut Vec<u8>, b: &[u8]) {
    if let Ok(len) = u8::try_from(b.len()) {
        out.extend_from_slice(&[0xc4, len]);
    } else if let Ok(len) = u16::try_from(b.len()) {
        out.push(0xc5);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(0xc6);
        out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    }
    out.extend_from_slice(b);
}

fn write_uint(out: &mut Vec<u8>, n: u64) {
    if n < 128 {
        out.push(n as u8);
    } else if let Ok(n) = u8::try_from(n) {
        out.extend_from_slice(&[0xcc, n]);
    } else if let Ok(n) = u16::try_from(n) {
        out.push(0xcd);
        out.extend_from_slice(&n.to_be_bytes());
    } else if let Ok(n) = u32::try_from(n) {
        out.push(0xce);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Wraps `data` in a zstd frame (RFC 8878) made of "raw" blocks: no compression, but a valid
/// frame that a zstd decoder turns back into `data`.
pub(crate) fn zstd_raw_frame(data: &[u8]) -> Vec<u8> {
    // A block may not exceed min(window size, 128 KiB).
    const MAX_BLOCK: usize = 128 * 1024;
    const MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
    // Frame header descriptor 0: no content size, window descriptor present, no checksum, no
    // dictionary. Window descriptor 0x58: exponent 11 -> 2 MiB window.
    const HEADER: [u8; 2] = [0x00, 0x58];

    let mut out = Vec::with_capacity(data.len() + 9 + 3 * (data.len() / MAX_BLOCK));
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&HEADER);
    if data.is_empty() {
        push_block_header(&mut out, 0, true);
        return out;
    }
    let mut chunks = data.chunks(MAX_BLOCK).peekable();
    while let Some(chunk) = chunks.next() {
        push_block_header(&mut out, chunk.len(), chunks.peek().is_none());
        out.extend_from_slice(chunk);
    }
    out
}

/// 3-byte little-endian block header: bit 0 = last block, bits 1-2 = type (0 = raw),
/// bits 3-23 = block size.
fn push_block_header(out: &mut Vec<u8>, size: usize, last: bool) {
    let header = ((size as u32) << 3) | u32::from(last);
    out.extend_from_slice(&header.to_le_bytes()[..3]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msgpack_scalars() {
        let ts = DateTime::from_timestamp_micros(946_771_200_000_000).expect("valid timestamp");
        let id = Uuid::from_u128(0xa11cec00_1000_0000_0000_000000000000);
        let encoded = encode_map(&[
            ("type", Value::Str("user_certificate")),
            ("author", Value::Nil),
            ("timestamp", Value::Timestamp(ts)),
            ("user_id", Value::Uuid(id)),
            ("key_index", Value::UInt(1)),
            ("big", Value::UInt(300)),
            (
                "human_handle",
                Value::Array(vec![Value::Str("a@b.c"), Value::Str("A")]),
            ),
            ("key", Value::Bin(&[1, 2, 3])),
        ]);
        let mut expected = vec![0x88];
        expected.extend_from_slice(b"\xa4type\xb0user_certificate");
        expected.extend_from_slice(b"\xa6author\xc0");
        expected.extend_from_slice(b"\xa9timestamp\xd7\x01\x00\x03\x5d\x15\x59\x0f\x40\x00");
        expected.extend_from_slice(b"\xa7user_id\xd8\x02");
        expected.extend_from_slice(id.as_bytes());
        expected.extend_from_slice(b"\xa9key_index\x01");
        expected.extend_from_slice(b"\xa3big\xcd\x01\x2c");
        expected.extend_from_slice(b"\xachuman_handle\x92\xa5a@b.c\xa1A");
        expected.extend_from_slice(b"\xa3key\xc4\x03\x01\x02\x03");
        assert_eq!(encoded, expected);
    }

    #[test]
    fn msgpack_long_strings_and_bins() {
        let s = "x".repeat(40);
        let b = vec![7u8; 300];
        let encoded = encode_map(&[("s", Value::Str(&s)), ("b", Value::Bin(&b))]);
        assert_eq!(&encoded[..5], b"\x82\xa1s\xd9\x28");
        let bin_at = 5 + 40;
        assert_eq!(&encoded[bin_at..bin_at + 5], b"\xa1b\xc5\x01\x2c");
        assert_eq!(encoded.len(), bin_at + 5 + 300);
    }

    #[test]
    fn zstd_frame_layout() {
        let frame = zstd_raw_frame(b"hello");
        assert_eq!(&frame[..6], &[0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58]);
        // size 5, raw, last: (5 << 3) | 1 = 41
        assert_eq!(&frame[6..9], &[41, 0, 0]);
        assert_eq!(&frame[9..], b"hello");

        let big = vec![0u8; 128 * 1024 + 10];
        let frame = zstd_raw_frame(&big);
        let first = u32::from_le_bytes([frame[6], frame[7], frame[8], 0]);
        assert_eq!(first, (128 * 1024) << 3); // not last
        let second_at = 9 + 128 * 1024;
        let second = u32::from_le_bytes([
            frame[second_at],
            frame[second_at + 1],
            frame[second_at + 2],
            0,
        ]);
        assert_eq!(second, (10 << 3) | 1);
        assert_eq!(frame.len(), second_at + 3 + 10);

        assert_eq!(
            zstd_raw_frame(b""),
            vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58, 1, 0, 0]
        );
    }
}
