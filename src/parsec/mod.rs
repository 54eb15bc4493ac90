//! Parsec's data: its serialization (format v0 envelope, msgpack with Parsec's extension
//! types), its cryptography (on RustCrypto crates) and its typed values (certificates, keys
//! bundles and accesses, manifests, entry names), each with `decode`/`verify` and
//! `encode`/`sign`. Written from `parsec-extract-reference.md`; used by `verify` (and by
//! `testbed` and the coming `extract`). No decode path panics, whatever the input.

pub mod certificates;
pub mod chain;
pub mod crypto;
pub mod entry_name;
pub mod error;
pub mod keys_bundle;
pub mod manifests;
pub mod serialization;

pub use error::{DataError, DataResult};
