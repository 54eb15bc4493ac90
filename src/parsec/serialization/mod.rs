//! Parsec's serialization: a format byte, a zstd frame, a msgpack map (reference §5).

pub mod envelope;
pub mod msgpack;
