//! What an authenticated (or anonymous) request may do: the route rules that apply and
//! whether the caller meets them (`routes`), the issuer's claim checks (`claims`), and
//! DPoP proofs of possession (`dpop`), and the KV deny list (`deny`).

pub mod claims;
pub mod deny;
pub mod dpop;
pub mod routes;
