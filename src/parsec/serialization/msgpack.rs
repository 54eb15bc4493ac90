//! msgpack as Parsec writes it (reference §5.2): maps keyed by field name, ext type 1 for
//! times (big-endian i64 µs), ext type 2 for ids (16 bytes). `Fields` reads a map's fields
//! with typed errors naming the field; the constructors build values to encode.

use rmpv::Value;
use uuid::Uuid;

use crate::ids::Micros;
use crate::parsec::error::{DataError, DataResult};

pub const EXT_TIME: i8 = 1;
pub const EXT_ID: i8 = 2;

pub fn decode(raw: &[u8]) -> DataResult<Value> {
    let mut rd = raw;
    let value = rmpv::decode::read_value(&mut rd).map_err(|e| DataError::Msgpack(e.to_string()))?;
    if !rd.is_empty() {
        return Err(DataError::Msgpack(format!(
            "{} bytes after the value",
            rd.len()
        )));
    }
    Ok(value)
}

pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, value);
    out
}

pub fn time(t: Micros) -> Value {
    Value::Ext(EXT_TIME, t.to_be_bytes().to_vec())
}

pub fn id(id: Uuid) -> Value {
    Value::Ext(EXT_ID, id.as_bytes().to_vec())
}

pub fn opt_id(v: Option<Uuid>) -> Value {
    v.map_or(Value::Nil, id)
}

pub fn bin(b: &[u8]) -> Value {
    Value::Binary(b.to_vec())
}

pub fn str(s: &str) -> Value {
    Value::from(s)
}

/// A map with the fields in the given order (`type` first, by convention).
pub fn map(fields: Vec<(&str, Value)>) -> Value {
    Value::Map(
        fields
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

/// The fields of a decoded map.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    entries: &'a [(Value, Value)],
}

impl<'a> Fields<'a> {
    pub fn of(value: &'a Value) -> DataResult<Self> {
        match value {
            Value::Map(entries) => Ok(Fields { entries }),
            _ => Err(DataError::NotAMap),
        }
    }

    /// The map, whose `type` must be one of `expected`; returns the type.
    pub fn typed(value: &'a Value, expected: &[&str]) -> DataResult<(Self, &'a str)> {
        let fields = Self::of(value)?;
        let kind = fields.str("type")?;
        if !expected.contains(&kind) {
            return Err(DataError::UnknownType {
                found: kind.to_owned(),
                expected: expected.join(" or "),
            });
        }
        Ok((fields, kind))
    }

    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .map(|(_, v)| v)
    }

    fn required(&self, name: &'static str) -> DataResult<&'a Value> {
        self.get(name).ok_or(DataError::MissingField(name))
    }

    /// A field that may be nil or (NonRequiredOption) absent.
    fn optional(&self, name: &'static str) -> Option<&'a Value> {
        self.get(name).filter(|v| !v.is_nil())
    }

    pub fn str(&self, name: &'static str) -> DataResult<&'a str> {
        as_str(self.required(name)?, name)
    }

    pub fn opt_str(&self, name: &'static str) -> DataResult<Option<&'a str>> {
        self.optional(name).map(|v| as_str(v, name)).transpose()
    }

    pub fn id(&self, name: &'static str) -> DataResult<Uuid> {
        as_id(self.required(name)?, name)
    }

    pub fn opt_id(&self, name: &'static str) -> DataResult<Option<Uuid>> {
        self.optional(name).map(|v| as_id(v, name)).transpose()
    }

    pub fn time(&self, name: &'static str) -> DataResult<Micros> {
        as_time(self.required(name)?, name)
    }

    pub fn opt_time(&self, name: &'static str) -> DataResult<Option<Micros>> {
        self.optional(name).map(|v| as_time(v, name)).transpose()
    }

    pub fn bin(&self, name: &'static str) -> DataResult<&'a [u8]> {
        as_bin(self.required(name)?, name)
    }

    pub fn key32(&self, name: &'static str) -> DataResult<[u8; 32]> {
        as_key32(self.required(name)?, name)
    }

    pub fn u64(&self, name: &'static str) -> DataResult<u64> {
        as_u64(self.required(name)?, name)
    }

    pub fn u32(&self, name: &'static str) -> DataResult<u32> {
        u32::try_from(self.u64(name)?).map_err(|_| DataError::BadField {
            field: name,
            expected: "a 32-bit unsigned integer",
        })
    }

    pub fn array(&self, name: &'static str) -> DataResult<&'a [Value]> {
        match self.required(name)? {
            Value::Array(items) => Ok(items),
            _ => Err(DataError::BadField {
                field: name,
                expected: "an array",
            }),
        }
    }

    pub fn map_entries(&self, name: &'static str) -> DataResult<&'a [(Value, Value)]> {
        match self.required(name)? {
            Value::Map(entries) => Ok(entries),
            _ => Err(DataError::BadField {
                field: name,
                expected: "a map",
            }),
        }
    }

    pub fn nested(&self, name: &'static str) -> DataResult<Option<Fields<'a>>> {
        self.optional(name)
            .map(|v| {
                Fields::of(v).map_err(|_| DataError::BadField {
                    field: name,
                    expected: "a map",
                })
            })
            .transpose()
    }
}

pub fn as_str<'a>(v: &'a Value, field: &'static str) -> DataResult<&'a str> {
    v.as_str().ok_or(DataError::BadField {
        field,
        expected: "a UTF-8 string",
    })
}

pub fn as_id(v: &Value, field: &'static str) -> DataResult<Uuid> {
    match v {
        Value::Ext(EXT_ID, data) => Uuid::from_slice(data).map_err(|_| DataError::BadField {
            field,
            expected: "a 16-byte id (ext type 2)",
        }),
        _ => Err(DataError::BadField {
            field,
            expected: "an id (msgpack ext type 2)",
        }),
    }
}

pub fn as_time(v: &Value, field: &'static str) -> DataResult<Micros> {
    match v {
        Value::Ext(EXT_TIME, data) => <[u8; 8]>::try_from(data.as_slice())
            .map(i64::from_be_bytes)
            .map_err(|_| DataError::BadField {
                field,
                expected: "an 8-byte time (ext type 1)",
            }),
        _ => Err(DataError::BadField {
            field,
            expected: "a time (msgpack ext type 1)",
        }),
    }
}

pub fn as_bin<'a>(v: &'a Value, field: &'static str) -> DataResult<&'a [u8]> {
    match v {
        Value::Binary(b) => Ok(b),
        _ => Err(DataError::BadField {
            field,
            expected: "bytes",
        }),
    }
}

pub fn as_key32(v: &Value, field: &'static str) -> DataResult<[u8; 32]> {
    <[u8; 32]>::try_from(as_bin(v, field)?).map_err(|_| DataError::BadField {
        field,
        expected: "32 bytes",
    })
}

pub fn as_u64(v: &Value, field: &'static str) -> DataResult<u64> {
    v.as_u64().ok_or(DataError::BadField {
        field,
        expected: "an unsigned integer",
    })
}
