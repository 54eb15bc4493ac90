//! Parsec's cryptographic primitives (reference §4), on RustCrypto crates.

pub mod hash;
pub mod kdf;
pub mod rsa_key;
pub mod sealed_box;
pub mod secretbox;
pub mod sequester;
pub mod signing;
