//! Decoding the payload of a certificate stored in an export (reference §10): a signature,
//! a `0x00` byte, then a zstd frame holding a msgpack map. Only the fields verification needs
//! are extracted; signatures are not checked (that needs Parsec's exact signed-message rules).

use std::io::Read;

use rmpv::Value;
use uuid::Uuid;

use crate::ids::Micros;

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
const ED25519_SIGNATURE_LEN: usize = 64;
/// Sequester service certificates are signed by the authority's RSA key.
const RSA_PREFIX: &[u8] = b"RSASSA-PSS-SHA256:";
/// RSA signatures are as long as the key: 1024 to 4096 bits.
const RSA_SIGNATURE_LENS: [usize; 4] = [128, 256, 384, 512];
/// Certificates are a few hundred bytes; anything larger is not a certificate.
const MAX_PAYLOAD: u64 = 1024 * 1024;

const EXT_TIMESTAMP: i8 = 1;
const EXT_UUID: i8 = 2;

/// The fields of a certificate payload that verification uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The `type` field, e.g. `device_certificate`.
    pub kind: String,
    pub timestamp: Option<Micros>,
    pub device_id: Option<Uuid>,
    pub realm_id: Option<Uuid>,
    pub key_index: Option<u64>,
}

pub fn decode(bytes: &[u8]) -> Result<Certificate, String> {
    let payload = payload(bytes)?;
    let value = rmpv::decode::read_value(&mut payload.as_slice())
        .map_err(|e| format!("its payload is not valid msgpack ({e})"))?;
    let Value::Map(fields) = value else {
        return Err("its payload is not a msgpack map".into());
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .map(|(_, v)| v)
    };
    let kind = field("type")
        .and_then(Value::as_str)
        .ok_or("its payload has no `type` string")?
        .to_owned();
    let timestamp = field("timestamp").map(as_timestamp).transpose()?;
    let uuid = |name: &str| {
        field(name)
            .map(|v| as_uuid(v, name))
            .transpose()
            .map(Option::flatten)
    };
    Ok(Certificate {
        kind,
        timestamp,
        device_id: uuid("device_id")?,
        realm_id: uuid("realm_id")?,
        key_index: field("key_index").map(as_index).transpose()?,
    })
}

/// The decompressed msgpack bytes, after whichever signature layout the certificate uses.
fn payload(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let frame_at = |sig_end: usize| {
        (bytes.get(sig_end) == Some(&0) && bytes.get(sig_end + 1..sig_end + 5) == Some(&ZSTD_MAGIC))
            .then_some(sig_end + 1)
    };
    let candidates: Vec<usize> = if bytes.starts_with(RSA_PREFIX) {
        RSA_SIGNATURE_LENS
            .iter()
            .filter_map(|len| frame_at(RSA_PREFIX.len() + len))
            .collect()
    } else {
        frame_at(ED25519_SIGNATURE_LEN).into_iter().collect()
    };
    if candidates.is_empty() {
        return Err(format!(
            "it is not a signature followed by 0x00 and a zstd frame ({} bytes)",
            bytes.len()
        ));
    }
    let mut last_error = String::new();
    for start in candidates {
        match decompress(&bytes[start..]) {
            Ok(p) => return Ok(p),
            Err(e) => last_error = e,
        }
    }
    Err(last_error)
}

fn decompress(frame: &[u8]) -> Result<Vec<u8>, String> {
    let decoder = zstd::stream::read::Decoder::new(frame).map_err(|e| format!("zstd: {e}"))?;
    let mut out = Vec::new();
    decoder
        .take(MAX_PAYLOAD + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("its zstd frame cannot be decompressed ({e})"))?;
    if out.len() as u64 > MAX_PAYLOAD {
        return Err("its payload is larger than 1 MiB".into());
    }
    Ok(out)
}

fn as_timestamp(v: &Value) -> Result<Micros, String> {
    match v {
        Value::Ext(EXT_TIMESTAMP, data) if data.len() == 8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(data);
            Ok(i64::from_be_bytes(b))
        }
        _ => Err("its `timestamp` is not a msgpack timestamp extension (type 1, 8 bytes)".into()),
    }
}

fn as_index(v: &Value) -> Result<u64, String> {
    v.as_u64()
        .ok_or_else(|| "its `key_index` is not an unsigned integer".to_owned())
}

/// A UUID field, or `None` when it is nil (e.g. an `author` that is the root key).
fn as_uuid(v: &Value, name: &str) -> Result<Option<Uuid>, String> {
    match v {
        Value::Nil => Ok(None),
        Value::Ext(EXT_UUID, data) => Uuid::from_slice(data)
            .map(Some)
            .map_err(|_| format!("its `{name}` is not 16 bytes")),
        _ => Err(format!(
            "its `{name}` is not a msgpack UUID extension (type 2, 16 bytes)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(fields: Vec<(&str, Value)>) -> Vec<u8> {
        let value = Value::Map(
            fields
                .into_iter()
                .map(|(k, v)| (Value::from(k), v))
                .collect(),
        );
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &value).unwrap();
        out
    }

    fn signed(prefix: &[u8], sig_len: usize, payload: &[u8]) -> Vec<u8> {
        let mut out = prefix.to_vec();
        out.extend(std::iter::repeat(0xab).take(sig_len));
        out.push(0);
        out.extend(zstd::bulk::compress(payload, 3).unwrap());
        out
    }

    #[test]
    fn device_certificates_give_their_device_id_and_timestamp() {
        let id = Uuid::from_u128(0xde1);
        let payload = map(vec![
            ("type", Value::from("device_certificate")),
            ("author", Value::Nil),
            (
                "timestamp",
                Value::Ext(1, 946_684_800_000_000i64.to_be_bytes().to_vec()),
            ),
            ("device_id", Value::Ext(2, id.as_bytes().to_vec())),
            ("key_index", Value::from(3u8)),
        ]);
        let cert = decode(&signed(b"", 64, &payload)).unwrap();
        assert_eq!(cert.kind, "device_certificate");
        assert_eq!(cert.timestamp, Some(946_684_800_000_000));
        assert_eq!(cert.device_id, Some(id));
        assert_eq!(cert.realm_id, None);
        assert_eq!(cert.key_index, Some(3));
    }

    #[test]
    fn rsa_signed_certificates_of_any_key_size() {
        let payload = map(vec![("type", Value::from("sequester_service_certificate"))]);
        for len in RSA_SIGNATURE_LENS {
            let cert = decode(&signed(RSA_PREFIX, len, &payload)).unwrap();
            assert_eq!(cert.kind, "sequester_service_certificate");
        }
    }

    #[test]
    fn damage_is_described() {
        let payload = map(vec![("type", Value::from("user_certificate"))]);
        let good = signed(b"", 64, &payload);
        assert!(decode(&good[..60]).unwrap_err().contains("signature"));
        let mut bad = good.clone();
        let last = bad.len() - 3;
        bad.truncate(last);
        assert!(decode(&bad).is_err());
        assert!(decode(&signed(b"", 64, &map(vec![])))
            .unwrap_err()
            .contains("type"));
        let wrong_id = map(vec![
            ("type", Value::from("device_certificate")),
            ("device_id", Value::from("not a uuid")),
        ]);
        assert!(decode(&signed(b"", 64, &wrong_id))
            .unwrap_err()
            .contains("device_id"));
    }
}
