//! The JWS algorithms this gateway can verify, and the key family each one needs.
//!
//! The set is closed on purpose: an `alg` string that is not listed here cannot be configured
//! and cannot be verified, so `none` (in any spelling) has nowhere to go.

/// The opt-in build features (`EDGEGUARD_FEATURES` in scripts/build.sh, cargo features of
/// this crate), each with whether this build has it. edgeguard-check compares them with
/// `EDGEGUARD_FEATURES` so that it checks for the Worker build it is told about.
pub const OPTIONAL_FEATURES: &[(&str, bool)] = &[("extra-curves", cfg!(feature = "extra-curves"))];

/// A supported JWS algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
    Es512,
    Es256k,
    EdDsa,
    Hs256,
    Hs384,
    Hs512,
}

/// The kind of key an algorithm verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFamily {
    Rsa,
    P256,
    P384,
    P521,
    Secp256k1,
    Ed25519,
    /// A shared secret from configuration, never from a JWKS.
    Hmac,
}

impl Alg {
    pub const ALL: [Alg; 14] = [
        Alg::Rs256,
        Alg::Rs384,
        Alg::Rs512,
        Alg::Ps256,
        Alg::Ps384,
        Alg::Ps512,
        Alg::Es256,
        Alg::Es384,
        Alg::Es512,
        Alg::Es256k,
        Alg::EdDsa,
        Alg::Hs256,
        Alg::Hs384,
        Alg::Hs512,
    ];

    /// The default `algorithms` of an issuer: every asymmetric algorithm supported.
    pub const DEFAULT: [Alg; 8] = [
        Alg::Rs256,
        Alg::Rs384,
        Alg::Rs512,
        Alg::Ps256,
        Alg::Ps384,
        Alg::Ps512,
        Alg::Es256,
        Alg::EdDsa,
    ];

    /// Exact, case-sensitive match on the registered name (RFC 7518 names are case-sensitive).
    pub fn from_name(name: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|a| a.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Rs384 => "RS384",
            Alg::Rs512 => "RS512",
            Alg::Ps256 => "PS256",
            Alg::Ps384 => "PS384",
            Alg::Ps512 => "PS512",
            Alg::Es256 => "ES256",
            Alg::Es384 => "ES384",
            Alg::Es512 => "ES512",
            Alg::Es256k => "ES256K",
            Alg::EdDsa => "EdDSA",
            Alg::Hs256 => "HS256",
            Alg::Hs384 => "HS384",
            Alg::Hs512 => "HS512",
        }
    }

    /// The opt-in build feature the algorithm needs, if any: `extra-curves` for ES384, ES512
    /// and ES256K (scripts/build.sh enables it from `EDGEGUARD_FEATURES`).
    pub fn feature(self) -> Option<&'static str> {
        matches!(self, Alg::Es384 | Alg::Es512 | Alg::Es256k).then_some("extra-curves")
    }

    /// Whether this build can verify the algorithm (ES384/ES512/ES256K need `extra-curves`).
    pub fn compiled_in(self) -> bool {
        cfg!(feature = "extra-curves") || self.feature().is_none()
    }

    pub fn family(self) -> KeyFamily {
        match self {
            Alg::Rs256 | Alg::Rs384 | Alg::Rs512 | Alg::Ps256 | Alg::Ps384 | Alg::Ps512 => {
                KeyFamily::Rsa
            }
            Alg::Es256 => KeyFamily::P256,
            Alg::Es384 => KeyFamily::P384,
            Alg::Es512 => KeyFamily::P521,
            Alg::Es256k => KeyFamily::Secp256k1,
            Alg::EdDsa => KeyFamily::Ed25519,
            Alg::Hs256 | Alg::Hs384 | Alg::Hs512 => KeyFamily::Hmac,
        }
    }

    /// Minimum HMAC secret length in bytes (RFC 7518 §3.2: at least the hash output size).
    pub fn min_secret_len(self) -> usize {
        match self {
            Alg::Hs384 => 48,
            Alg::Hs512 => 64,
            _ => 32,
        }
    }
}

/// The algorithms a proof may be signed with: asymmetric only (never `none`, never `HS*`),
/// the default list (so ES384/ES512/ES256K keys never fit a proof). Exact, case-sensitive names.
pub const DPOP_ALGS: [Alg; 8] = Alg::DEFAULT;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for a in Alg::ALL {
            assert_eq!(Alg::from_name(a.name()), Some(a));
        }
        assert_eq!(Alg::from_name("rs256"), None);
        assert_eq!(Alg::from_name("none"), None);
        assert_eq!(Alg::from_name("None"), None);
        assert_eq!(Alg::from_name("Ed25519"), None);
    }

    #[test]
    fn defaults_are_asymmetric_only() {
        assert!(Alg::DEFAULT.iter().all(|a| a.family() != KeyFamily::Hmac));
    }
}
