//! Elliptic-curve group arithmetic for edgeguard's signature verification, fast in Wasm:
//! P-256 for ES256 and edwards25519 for EdDSA. Both fields use eight u32 limbs (`wide`),
//! so that every limb product is one Wasm `i64.mul`, and both curves give a reused key a
//! fixed-base table of 5-bit windows. Scalars, hashing and signature parsing stay with
//! RustCrypto's p256 and curve25519-dalek in edgeguard.
//!
//! Variable time throughout: a verifier's inputs (key, signature, message) are public.

#![forbid(unsafe_code)]

pub mod ed25519;
mod field;
pub mod p256;
mod table;
#[cfg(test)]
mod test_rng;
mod wide;
