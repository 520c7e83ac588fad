//! The decision, natively: the fixtures' issuer and tokens, an in-memory key store.

use super::*;
use crate::decide::fixtures::{FIXTURE_ISSUER, FIXTURE_JWKS, FIXTURE_NOW};
use crate::decide::metrics;
use crate::keys::parse_jwks;
use crate::policy::deny::DenyList;
use std::cell::Cell;
use std::collections::HashMap;

const RS256: &str = include_str!("../../fixtures/tokens/valid-rs256.jwt");
const UNKNOWN_KID: &str = include_str!("../../fixtures/tokens/unknown-kid.jwt");
const TAMPERED: &str = include_str!("../../fixtures/tokens/tampered-signature.jwt");
const URL: &str = "https://api.fixtures.test/v1/items?page=2";

/// Keys as memory would hold them: `held` is offered for `Want::Current` (with `fresh`
/// telling whether it is fresh), a refetch is offered only when `refetched` is set; the
/// deny list is `deny` (none held: `Fetch`), and `deny_asked` counts the asks.
struct Store {
    held: Option<Rc<KeySet>>,
    fresh: bool,
    refetched: Option<Rc<KeySet>>,
    unavailable: bool,
    asked: Cell<usize>,
    deny: Option<DenyState>,
    deny_asked: Cell<usize>,
    /// The replay ledger's answer (none: not asked yet), and the asks.
    ledger: Option<Answer>,
    ledger_asked: Cell<usize>,
}

impl Store {
    fn empty() -> Self {
        Store {
            held: None,
            fresh: false,
            refetched: None,
            unavailable: false,
            asked: Cell::new(0),
            deny: None,
            deny_asked: Cell::new(0),
            ledger: None,
            ledger_asked: Cell::new(0),
        }
    }

    fn fixture() -> Self {
        let keys = parse_jwks(FIXTURE_JWKS.as_bytes(), 100).expect("fixture JWKS parses");
        Store {
            held: Some(Rc::new(keys)),
            fresh: true,
            ..Store::empty()
        }
    }
}

impl KeyStore for Store {
    fn keys(&self, issuer: &str, _now: u64, want: Want) -> Keys {
        self.asked.set(self.asked.get() + 1);
        assert_eq!(issuer, FIXTURE_ISSUER);
        if self.unavailable {
            return Keys::Unavailable(JwksError::Fetch("issuer down".into()));
        }
        let offered = match want {
            Want::Current => self.held.clone(),
            Want::Refetch => self.refetched.clone(),
        };
        offered.map_or(Keys::Fetch, Keys::Ready)
    }

    fn fresh_generation(&self, _issuer: &str, _now: u64) -> Option<u64> {
        (self.held.is_some() && self.fresh).then_some(1)
    }

    fn deny_list(&self, _now: u64, ttl: u64) -> DenyState {
        self.deny_asked.set(self.deny_asked.get() + 1);
        assert_eq!(ttl, 30, "the configured DENY_LIST_TTL_SECONDS (default)");
        self.deny.clone().unwrap_or(DenyState::Fetch)
    }

    fn ledger(&self, _proof: &ProofId) -> Option<Answer> {
        self.ledger_asked.set(self.ledger_asked.get() + 1);
        self.ledger.clone()
    }
}

fn config_with(vars: &[(&str, &str)]) -> Config {
    let issuers = format!(
        r#"[{{"issuer":"{FIXTURE_ISSUER}","jwks_uri":"{FIXTURE_ISSUER}jwks","audiences":["api://edgeguard-fixtures"]}}]"#
    );
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::parse(Some(&issuers), &vars).expect("test configuration parses")
}

/// The Wasm micro-benchmark (bench/wasm-verify) times the fixture tokens of each common
/// algorithm against the fixture keys at `FIXTURE_NOW`: they must verify.
#[test]
fn every_fixture_token_verifies_at_fixture_now() {
    let config = config_with(&[]);
    let keys = parse_jwks(FIXTURE_JWKS.as_bytes(), config.fetch.max_keys).expect("fixture keys");
    for token in [
        RS256,
        include_str!("../../fixtures/tokens/valid-es256.jwt"),
        include_str!("../../fixtures/tokens/valid-eddsa.jwt"),
    ] {
        let verified = pipeline::prepare(token.trim(), &config)
            .and_then(|p| pipeline::finish(p, Some(&keys), FIXTURE_NOW, 0));
        assert!(verified.is_ok(), "{verified:?}");
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {}", token.trim())
}

fn get<'a>(url: &'a str, authorization: Option<&'a str>) -> RequestParts<'a> {
    RequestParts {
        method: "GET",
        url,
        authorization,
        ..RequestParts::default()
    }
}

/// The status of the final verdict (0: forwarded).
fn status_of(
    parts: &RequestParts,
    config: &Config,
    caches: &mut Caches,
    keys: &dyn KeyStore,
) -> u16 {
    status(&decide(parts, config, FIXTURE_NOW, caches, keys))
}

fn status(verdict: &Verdict) -> u16 {
    match verdict {
        Verdict::Answer { response, .. } => response.status,
        Verdict::Forward { .. } => 0,
        other => panic!("not final: {other:?}"),
    }
}

fn header<'v>(verdict: &'v Verdict, name: &str) -> Option<&'v str> {
    match verdict {
        Verdict::Forward { headers, .. } => headers
            .set()
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str()),
        Verdict::Answer { response, .. } => response
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str()),
        _ => None,
    }
}

#[test]
fn a_token_is_forwarded_with_its_identity_once_the_keys_are_in_memory() {
    let config = config_with(&[]);
    let mut caches = Caches::for_config(Some(&config));
    let auth = bearer(RS256);
    let parts = get(URL, Some(&auth));

    let verdict = decide(&parts, &config, FIXTURE_NOW, &mut caches, &Store::empty());
    assert!(
        matches!(&verdict, Verdict::NeedKeys { issuer, want: Want::Current } if issuer == FIXTURE_ISSUER),
        "{verdict:?}"
    );
    assert!(
        caches.tokens.is_empty(),
        "nothing is remembered before a final verdict"
    );

    let verdict = decide(&parts, &config, FIXTURE_NOW, &mut caches, &Store::fixture());
    let Verdict::Forward { target, headers } = &verdict else {
        panic!("{verdict:?}");
    };
    // Route mode: its own URL, path canonical, query kept.
    assert_eq!(target, URL);
    assert_eq!(header(&verdict, "x-auth-issuer"), Some(FIXTURE_ISSUER));
    assert!(header(&verdict, "x-auth-claims").is_some_and(|c| !c.is_empty()));
    // What the origin receives from a client that sent its own identity headers: the
    // plan's removals, then its sets, as the JS entry applies them.
    let mut sent = vec![
        ("X-Auth-Subject".to_owned(), "mallory".to_owned()),
        ("x-auth-claims".to_owned(), "e30".to_owned()),
        ("x-other".to_owned(), "kept".to_owned()),
    ];
    sent.retain(|(n, _)| !headers.remove().iter().any(|r| r.eq_ignore_ascii_case(n)));
    for (name, value) in headers.set() {
        sent.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        sent.push((name.clone(), value.clone()));
    }
    let seen = |name: &str| -> Vec<&str> {
        sent.iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(seen("x-auth-subject").len(), 1, "{sent:?}");
    assert_ne!(
        seen("x-auth-subject"),
        ["mallory"],
        "a client's copy never gets through"
    );
    assert_ne!(seen("x-auth-claims"), ["e30"]);
    assert_eq!(seen("x-other"), ["kept"]);
}

#[test]
fn a_cached_token_needs_no_keys_while_they_stay_fresh() {
    let config = config_with(&[]);
    let mut caches = Caches::for_config(Some(&config));
    let auth = bearer(RS256);
    let parts = get(URL, Some(&auth));
    let store = Store::fixture();
    assert_eq!(status_of(&parts, &config, &mut caches, &store), 0);
    let asked = store.asked.get();
    assert_eq!(status_of(&parts, &config, &mut caches, &store), 0);
    assert_eq!(
        store.asked.get(),
        asked,
        "a cache hit does not look at the keys"
    );

    // Keys no longer fresh: the cached verdict no longer holds, the keys are asked for.
    let stale = Store {
        fresh: false,
        ..Store::empty()
    };
    let verdict = decide(&parts, &config, FIXTURE_NOW, &mut caches, &stale);
    assert!(matches!(verdict, Verdict::NeedKeys { .. }), "{verdict:?}");
}

#[test]
fn a_refused_token_is_remembered_and_logged_without_the_token() {
    let config = config_with(&[]);
    let mut caches = Caches::for_config(Some(&config));
    let auth = bearer(TAMPERED);
    let parts = get(URL, Some(&auth));
    let store = Store::fixture();
    for round in 0..2 {
        let verdict = decide(&parts, &config, FIXTURE_NOW, &mut caches, &store);
        assert_eq!(status(&verdict), 401, "round {round}");
        let Verdict::Answer {
            log: Some(LogLine::Info(log)),
            ..
        } = &verdict
        else {
            panic!("a refusal is logged: {verdict:?}");
        };
        assert!(log.contains(FIXTURE_ISSUER), "{log}");
        assert!(
            !log.contains(TAMPERED.trim().split('.').nth(2).unwrap()),
            "{log}"
        );
    }
    assert_eq!(caches.tokens.len(), 1, "remembered once");
}

#[test]
fn no_token_is_a_401_with_a_challenge_and_a_log_line() {
    let config = config_with(&[]);
    let mut caches = Caches::for_config(Some(&config));
    let verdict = decide(
        &get(URL, None),
        &config,
        FIXTURE_NOW,
        &mut caches,
        &Store::empty(),
    );
    assert_eq!(status(&verdict), 401);
    assert_eq!(
        header(&verdict, "www-authenticate"),
        Some("Bearer realm=\"edgeguard\"")
    );
    assert!(
        matches!(&verdict, Verdict::Answer { log: Some(l), .. } if l.text().contains("\"status\":401"))
    );
}

#[test]
fn keys_that_cannot_be_had_are_a_503() {
    let config = config_with(&[]);
    let mut caches = Caches::for_config(Some(&config));
    let auth = bearer(RS256);
    let down = Store {
        unavailable: true,
        ..Store::empty()
    };
    let verdict = decide(
        &get(URL, Some(&auth)),
        &config,
        FIXTURE_NOW,
        &mut caches,
        &down,
    );
    assert_eq!(status(&verdict), 503);
    assert!(header(&verdict, "retry-after").is_some());
}

#[test]
fn an_unknown_kid_asks_for_a_refetch_then_settles_on_what_there_is() {
    let config = config_with(&[]);
    let mut caches = Caches::for_config(Some(&config));
    let auth = bearer(UNKNOWN_KID);
    let parts = get(URL, Some(&auth));
    let verdict = decide(&parts, &config, FIXTURE_NOW, &mut caches, &Store::fixture());
    assert!(
        matches!(
            verdict,
            Verdict::NeedKeys {
                want: Want::Refetch,
                ..
            }
        ),
        "{verdict:?}"
    );
    // The fetcher could not fetch again (cooldown): it offers the same set, and the token
    // is refused.
    let mut after = Store::fixture();
    after.refetched = after.held.clone();
    assert_eq!(status_of(&parts, &config, &mut caches, &after), 401);
}

#[test]
fn fields_the_configuration_needs_must_have_been_read() {
    let config = config_with(&[("TOKEN_COOKIE", "session")]);
    assert_eq!(fields_needed(&config), fields::COOKIE);
    let mut caches = Caches::for_config(Some(&config));
    let parts = get(URL, None);
    let verdict = decide(&parts, &config, FIXTURE_NOW, &mut caches, &Store::fixture());
    assert!(matches!(verdict, Verdict::NeedFields), "{verdict:?}");

    let cookie = format!("session={}", RS256.trim());
    let parts = RequestParts {
        fields: fields::COOKIE,
        cookie: Some(&cookie),
        ..get(URL, None)
    };
    assert_eq!(
        status_of(&parts, &config, &mut caches, &Store::fixture()),
        0
    );
}

#[test]
fn method_overrides_count_only_when_read() {
    let routes = r#"[{"path": "/v1/*", "methods": ["GET"], "auth": "public"}]"#;
    let config = config_with(&[("ROUTES", routes)]);
    assert_eq!(fields_needed(&config), fields::METHOD_OVERRIDES);
    let mut caches = Caches::for_config(Some(&config));
    let store = Store::empty();
    let plain = RequestParts {
        fields: fields::METHOD_OVERRIDES,
        ..get(URL, None)
    };
    assert_eq!(status_of(&plain, &config, &mut caches, &store), 0);
    // A GET the origin may take for a DELETE gets the DELETE's rule (the default: a token).
    let overridden = RequestParts {
        method_overrides: [None, Some("DELETE"), None],
        ..plain
    };
    assert_eq!(status_of(&overridden, &config, &mut caches, &store), 401);
}

#[test]
fn cors_preflight_passes_only_without_a_method_override() {
    let config = config_with(&[("CORS_PREFLIGHT", "true")]);
    let need = fields_needed(&config);
    assert_eq!(need, fields::CORS | fields::METHOD_OVERRIDES);
    let mut caches = Caches::for_config(Some(&config));
    let preflight = RequestParts {
        method: "OPTIONS",
        fields: need,
        origin: Some("https://app.test"),
        access_control_request_method: Some("DELETE"),
        ..get(URL, None)
    };
    let store = Store::empty();
    assert_eq!(status_of(&preflight, &config, &mut caches, &store), 0);
    let not_preflight = RequestParts {
        method_overrides: [Some("DELETE"), None, None],
        ..preflight
    };
    assert_eq!(status_of(&not_preflight, &config, &mut caches, &store), 401);
}

#[test]
fn paths_go_out_canonical_and_unreadable_ones_are_refused() {
    let config = config_with(&[("ROUTES", r#"[{"prefix": "/public/", "auth": "public"}]"#)]);
    let mut caches = Caches::for_config(Some(&config));
    let store = Store::empty();
    let verdict = decide(
        &get("https://api.fixtures.test/public//a/./b/%7e?x", None),
        &config,
        FIXTURE_NOW,
        &mut caches,
        &store,
    );
    assert!(
        matches!(&verdict, Verdict::Forward { target, .. } if target == "https://api.fixtures.test/public/a/b/~?x"),
        "{verdict:?}"
    );
    // Climbing out of the public prefix once decoded: the stricter reading decides.
    let climb = get("https://api.fixtures.test/public/%2e%2e/admin", None);
    assert_eq!(status_of(&climb, &config, &mut caches, &store), 401);
    // Not a URL the runtime would hand over: nothing is forwarded.
    let odd = get("mailto:someone@example.test", None);
    assert_eq!(status_of(&odd, &config, &mut caches, &store), 502);
}

#[test]
fn request_urls_split_into_origin_path_and_query() {
    let split = |u| RequestUrl::parse(u).map(|r| (r.origin, r.path, r.query));
    assert_eq!(
        split("https://api.test:8443/a/b?x=1&y#frag"),
        Some(("https://api.test:8443", "/a/b", Some("x=1&y")))
    );
    assert_eq!(
        split("http://api.test"),
        Some(("http://api.test", "/", None))
    );
    assert_eq!(
        split("http://api.test?q"),
        Some(("http://api.test", "/", Some("q")))
    );
    assert_eq!(split("https://user:pw@api.test/"), None);
    assert_eq!(split("ftp://api.test/"), None);
    assert_eq!(split("https:///path"), None);
    assert_eq!(split("/relative"), None);
}

#[test]
fn a_token_header_is_read_only_when_configured_and_then_always() {
    let config = config_with(&[("TOKEN_HEADER", "Cf-Access-Jwt-Assertion")]);
    let need = fields_needed(&config);
    assert_eq!(need, fields::TOKEN_HEADER);
    let store = Store::fixture();
    let mut caches = Caches::for_config(Some(&config));
    let token = RS256.trim();
    // Not read: the decision asks for it instead of deciding without it.
    let unread = RequestParts {
        token_header: Some(token),
        ..get(URL, None)
    };
    assert!(matches!(
        decide(&unread, &config, FIXTURE_NOW, &mut caches, &store),
        Verdict::NeedFields
    ));
    let read = RequestParts {
        fields: need,
        ..unread
    };
    let verdict = decide(&read, &config, FIXTURE_NOW, &mut caches, &store);
    assert_eq!(status(&verdict), 0, "{verdict:?}");
    assert!(header(&verdict, "x-auth-subject").is_some());
    // Absent, or beside an Authorization token: 401 missing, 400 several.
    let absent = RequestParts {
        token_header: None,
        ..read
    };
    assert_eq!(status_of(&absent, &config, &mut caches, &store), 401);
    let bearer = bearer(token);
    let twice = RequestParts {
        authorization: Some(&bearer),
        ..read
    };
    assert_eq!(status_of(&twice, &config, &mut caches, &store), 400);
    // Without TOKEN_HEADER, a value handed in (the async path reads every field) is no token.
    let plain = config_with(&[]);
    let mut caches = Caches::for_config(Some(&plain));
    let ignored = RequestParts {
        fields: fields::ALL,
        ..read
    };
    assert_eq!(status_of(&ignored, &plain, &mut caches, &store), 401);
}

/// The fixture store with this deny list (`None`: none held yet).
fn store_denying(deny: Option<DenyState>) -> Store {
    Store {
        deny,
        ..Store::fixture()
    }
}

fn log_of(verdict: &Verdict) -> &str {
    match verdict {
        Verdict::Answer { log: Some(log), .. } => log.text(),
        other => panic!("no log line: {other:?}"),
    }
}

#[test]
fn the_kv_deny_list_is_read_before_any_token_work_and_only_when_bound() {
    let auth = bearer(RS256);
    let parts = get(URL, Some(&auth));
    let unbound = config_with(&[]);
    let store = store_denying(None);
    let mut caches = Caches::for_config(Some(&unbound));
    assert_eq!(status_of(&parts, &unbound, &mut caches, &store), 0);
    assert_eq!(store.deny_asked.get(), 0, "no binding: never asked");

    let bound = config_with(&[]).with_deny_list(true);
    let mut caches = Caches::for_config(Some(&bound));
    let verdict = decide(&parts, &bound, FIXTURE_NOW, &mut caches, &store);
    assert!(matches!(verdict, Verdict::NeedDenyList), "{verdict:?}");
    assert_eq!(
        store.asked.get(),
        1,
        "only the unbound request asked for keys"
    );
    assert!(
        caches.tokens.is_empty(),
        "nothing verified or cached before the list"
    );
    // A request that needs no token needs no list either.
    let public = config_with(&[("DEFAULT_ROUTE", r#"{"auth":"public"}"#)]).with_deny_list(true);
    let asked = store.deny_asked.get();
    assert_eq!(status_of(&get(URL, None), &public, &mut caches, &store), 0);
    assert_eq!(store.deny_asked.get(), asked);
}

#[test]
fn a_token_on_the_kv_deny_list_is_refused_even_from_the_cache() {
    let config = config_with(&[]).with_deny_list(true);
    let mut caches = Caches::for_config(Some(&config));
    let auth = bearer(RS256);
    let parts = get(URL, Some(&auth));
    let empty = store_denying(Some(DenyState::Ready(Rc::new(DenyList::default()))));
    assert_eq!(status_of(&parts, &config, &mut caches, &empty), 0);
    assert!(!caches.tokens.is_empty(), "verified and cached");

    for entry in ["sub:fixture-user", "jti:nothing-else"] {
        let list = DenyList::from_names([entry, "sub:someone-else"]);
        let store = store_denying(Some(DenyState::Ready(Rc::new(list))));
        let verdict = decide(&parts, &config, FIXTURE_NOW, &mut caches, &store);
        if entry.starts_with("sub:") {
            assert_eq!(status(&verdict), 401, "{verdict:?}");
            assert!(
                header(&verdict, "www-authenticate").is_some_and(|h| h
                    .contains("error=\"invalid_token\"")
                    && h.contains("token revoked")),
                "{verdict:?}"
            );
            assert!(log_of(&verdict).contains("\"reason\":\"revoked\""));
            assert_eq!(store.asked.get(), 0, "the cached token: no keys needed");
        } else {
            // The fixture token has no `jti`: a `jti:` entry cannot match it.
            assert_eq!(status(&verdict), 0, "{verdict:?}");
        }
    }
    // Removed from the list: forwarded again.
    assert_eq!(status_of(&parts, &config, &mut caches, &empty), 0);
}

#[test]
fn a_deny_list_that_cannot_be_read_refuses_with_503() {
    let config = config_with(&[]).with_deny_list(true);
    let mut caches = Caches::for_config(Some(&config));
    let auth = bearer(RS256);
    let store = store_denying(Some(DenyState::Unavailable("KV list failed: down".into())));
    let verdict = decide(
        &get(URL, Some(&auth)),
        &config,
        FIXTURE_NOW,
        &mut caches,
        &store,
    );
    assert_eq!(status(&verdict), 503, "{verdict:?}");
    assert_eq!(header(&verdict, "retry-after"), Some("30"));
    assert!(log_of(&verdict).contains("deny_list_unavailable: KV list failed: down"));
    assert_eq!(store.asked.get(), 0);
}

#[test]
fn auto_metadata_names_the_origin_the_request_came_to() {
    let config = config_with(&[("RESOURCE_METADATA", "auto")]);
    let mut caches = Caches::for_config(Some(&config));
    for origin in ["https://mcp.fixtures.test", "http://127.0.0.1:8787"] {
        let url = format!("{origin}{METADATA_PATH}");
        let verdict = decide(
            &get(&url, None),
            &config,
            FIXTURE_NOW,
            &mut caches,
            &Store::empty(),
        );
        let Verdict::Answer {
            response,
            log: None,
        } = &verdict
        else {
            panic!("{verdict:?}");
        };
        assert_eq!(response.status, 200);
        let doc: serde_json::Value = serde_json::from_str(&response.body).unwrap();
        assert_eq!(doc["resource"], origin);
        assert_eq!(
            doc["authorization_servers"],
            serde_json::json!([FIXTURE_ISSUER])
        );
        // And a 401 there points at this origin's document.
        let other = format!("{origin}/tools");
        let verdict = decide(
            &get(&other, None),
            &config,
            FIXTURE_NOW,
            &mut caches,
            &Store::empty(),
        );
        assert_eq!(status(&verdict), 401);
        let challenge = header(&verdict, "www-authenticate").unwrap();
        assert!(
            challenge.contains(&format!("resource_metadata=\"{url}\"")),
            "{challenge}"
        );
    }
}

/// An issuer that signs with HS256 and whose tokens name the resource they are for
/// (`resource_audience`, no `audiences`): the MCP setup.
const RESOURCE_ISSUER: &str = "https://as.fixtures.test/";
const RESOURCE_SECRET: [u8; 32] = [7; 32];

fn resource_config(metadata: &str) -> Config {
    use base64::Engine as _;
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(RESOURCE_SECRET);
    let issuers = format!(
        r#"[{{"issuer":"{RESOURCE_ISSUER}","algorithms":["HS256"],"secret":"{secret}","resource_audience":true}}]"#
    );
    let vars = HashMap::from([("RESOURCE_METADATA".to_string(), metadata.to_string())]);
    Config::parse(Some(&issuers), &vars).expect("test configuration parses")
}

fn hs256_for(aud: serde_json::Value) -> String {
    let claims = serde_json::json!({"iss": RESOURCE_ISSUER, "sub": "agent", "aud": aud, "exp": FIXTURE_NOW + 600});
    hs256(&RESOURCE_SECRET, &claims)
}

/// An HS256 token with these claims, signed by jwt-compact (not the code under test).
fn hs256(secret: &[u8], claims: &serde_json::Value) -> String {
    use base64::Engine as _;
    use jwt_compact::alg::{Hs256, Hs256Key};
    use jwt_compact::{Algorithm, AlgorithmSignature};
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let signed = format!(
        "{}.{}",
        b64(br#"{"alg":"HS256"}"#),
        b64(claims.to_string().as_bytes())
    );
    let signature = Hs256.sign(&Hs256Key::new(secret), signed.as_bytes());
    format!("{signed}.{}", b64(&signature.as_bytes()))
}

#[test]
fn a_resource_audience_is_checked_against_each_request_even_from_the_cache() {
    let config = resource_config("auto");
    let mut caches = Caches::for_config(Some(&config));
    let auth = bearer(&hs256_for(serde_json::json!("https://mcp-a.fixtures.test")));
    let at = |origin: &str| format!("{origin}/mcp");
    let a = at("https://mcp-a.fixtures.test");
    let b = at("https://mcp-b.fixtures.test");
    let store = Store::empty();
    assert_eq!(
        status_of(&get(&a, Some(&auth)), &config, &mut caches, &store),
        0
    );
    // The same token, now cached, at another host of the same gateway: not its resource.
    let refused = decide(
        &get(&b, Some(&auth)),
        &config,
        FIXTURE_NOW,
        &mut caches,
        &store,
    );
    assert_eq!(status(&refused), 401);
    assert!(
        log_of(&refused).contains("audience"),
        "{}",
        log_of(&refused)
    );
    // And that refusal is not remembered against the token: its own host still accepts it.
    assert_eq!(
        status_of(&get(&a, Some(&auth)), &config, &mut caches, &store),
        0
    );
    // A token for another resource is refused at both.
    let other = bearer(&hs256_for(serde_json::json!(["https://elsewhere.test"])));
    for url in [&a, &b] {
        assert_eq!(
            status_of(&get(url, Some(&other)), &config, &mut caches, &store),
            401
        );
    }
}

#[test]
fn with_a_fixed_document_the_resource_is_its_resource_whatever_the_host() {
    let config = resource_config(r#"{"resource": "https://mcp.fixtures.test/mcp"}"#);
    let mut caches = Caches::for_config(Some(&config));
    let store = Store::empty();
    let good = bearer(&hs256_for(serde_json::json!(
        "https://mcp.fixtures.test/mcp"
    )));
    let origin_only = bearer(&hs256_for(serde_json::json!("https://mcp.fixtures.test")));
    for host in ["https://mcp.fixtures.test", "https://alias.fixtures.test"] {
        let url = format!("{host}/mcp");
        assert_eq!(
            status_of(&get(&url, Some(&good)), &config, &mut caches, &store),
            0
        );
        assert_eq!(
            status_of(&get(&url, Some(&origin_only)), &config, &mut caches, &store),
            401
        );
    }
}

/// What `decide_observed` notes, turned into the data point as the sync path builds it.
fn point_of(
    parts: &RequestParts,
    config: &Config,
    caches: &mut Caches,
    keys: &dyn KeyStore,
) -> (u16, Option<metrics::DataPoint>) {
    let mut seen = metrics::Observation::for_config(config);
    let verdict = decide_observed(parts, config, FIXTURE_NOW, caches, keys, &mut seen);
    let point = verdict.data_point(&seen, metrics::KeySource::Memory);
    (status(&verdict), point)
}

fn blobs(point: &Option<metrics::DataPoint>) -> Vec<&str> {
    point
        .as_ref()
        .expect("a data point")
        .blobs
        .iter()
        .map(String::as_str)
        .collect()
}

#[test]
fn data_points_name_outcome_reason_issuer_alg_cache_and_keys() {
    let config = config_with(&[("RESOURCE_METADATA", "auto")]).with_metrics(true);
    let mut caches = Caches::for_config(Some(&config));
    let store = Store::fixture();
    // outcome, reason, cache, keys; the fixture issuer and RS256 in between.
    let row = |o, r, c, k| vec![o, r, FIXTURE_ISSUER, "RS256", c, k];
    let good = bearer(RS256);
    let bad = bearer(TAMPERED);
    let expected = [
        (&good, 0, row("forwarded", "ok", "miss", "memory")),
        // The same token again: from the cache, no keys used.
        (&good, 0, row("forwarded", "ok", "hit", "")),
        // A bad signature, then the same refusal remembered.
        (
            &bad,
            401,
            row("rejected", "bad_signature", "miss", "memory"),
        ),
        (&bad, 401, row("rejected", "bad_signature", "hit", "")),
    ];
    for (auth, want, blobs_wanted) in expected {
        let (status, point) = point_of(&get(URL, Some(auth)), &config, &mut caches, &store);
        assert_eq!((status, point.as_ref().unwrap().status), (want, want));
        assert_eq!(blobs(&point), blobs_wanted);
        assert_eq!(point.unwrap().index, FIXTURE_ISSUER);
    }
    // No token; the metadata document.
    let (_, point) = point_of(&get(URL, None), &config, &mut caches, &store);
    assert_eq!(blobs(&point), ["rejected", "missing_token", "", "", "", ""]);
    assert_eq!(point.as_ref().unwrap().index, "-");
    let doc = format!("https://api.fixtures.test{METADATA_PATH}");
    let (status, point) = point_of(&get(&doc, None), &config, &mut caches, &store);
    assert_eq!((status, blobs(&point)[0]), (200, "metadata"));
}

#[test]
fn an_unknown_issuer_is_never_named_in_a_data_point() {
    let config = config_with(&[]).with_metrics(true);
    let mut caches = Caches::for_config(Some(&config));
    let token = bearer(include_str!("../../fixtures/tokens/unknown-iss.jwt"));
    let (status, point) = point_of(
        &get(URL, Some(&token)),
        &config,
        &mut caches,
        &Store::fixture(),
    );
    assert_eq!(status, 401);
    let point = point.unwrap();
    assert_eq!(point.blobs[1], "unknown_issuer");
    assert_eq!((point.index.as_str(), point.blobs[2].as_str()), ("-", ""));
}

#[test]
fn without_the_binding_nothing_is_observed() {
    let config = config_with(&[]);
    assert!(!config.metrics);
    let mut caches = Caches::for_config(Some(&config));
    let good = bearer(RS256);
    let (_, point) = point_of(
        &get(URL, Some(&good)),
        &config,
        &mut caches,
        &Store::fixture(),
    );
    assert_eq!(point, None);
}

/// DPoP-bound HS256 tokens (`cnf.jkt` of p256-a) and their proofs, for the replay ledger.
mod dpop_ledger {
    use super::*;
    use base64::Engine as _;
    use jwt_compact::alg::Es256;
    use jwt_compact::jwk::JsonWebKey;
    use jwt_compact::{Algorithm, AlgorithmSignature};
    use serde::Deserialize;

    const ISSUER: &str = "https://dpop.fixtures.test/";
    const SECRET: [u8; 32] = [9; 32];
    const URL: &str = "https://api.fixtures.test/orders";
    const CLIENT_KEY: &str = include_str!("../../fixtures/keys/p256-a.private.jwk.json");

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    fn config(bound: bool, vars: &[(&str, &str)]) -> Config {
        let secret = b64(&SECRET);
        let issuers = format!(
            r#"[{{"issuer":"{ISSUER}","algorithms":["HS256"],"secret":"{secret}","audiences":["api"]}}]"#
        );
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::parse(Some(&issuers), &vars)
            .expect("test configuration parses")
            .with_dpop_ledger(bound)
    }

    fn client_public_jwk() -> serde_json::Value {
        let mut jwk: serde_json::Value = serde_json::from_str(CLIENT_KEY).unwrap();
        let members = jwk.as_object_mut().unwrap();
        members.retain(|k, _| ["kty", "crv", "x", "y"].contains(&k.as_str()));
        jwk
    }

    /// A token bound to the client key, with `scope`.
    fn token(scope: &str) -> String {
        let jkt = dpop::jwk_thumbprint(client_public_jwk().as_object().unwrap()).unwrap();
        let claims = serde_json::json!({"iss": ISSUER, "sub": "client", "aud": "api",
            "exp": FIXTURE_NOW + 600, "scope": scope, "cnf": {"jkt": jkt}});
        hs256(&SECRET, &claims)
    }

    /// A proof for GET `URL` with `token`, signed by the client key (jwt-compact, not the
    /// code under test).
    fn proof(token: &str, jti: &str) -> String {
        let header =
            serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": client_public_jwk()});
        let claims = serde_json::json!({"jti": jti, "htm": "GET", "htu": URL, "iat": FIXTURE_NOW,
            "ath": dpop::access_token_hash(token)});
        let signed = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let private: serde_json::Value = serde_json::from_str(CLIENT_KEY).unwrap();
        let jwk = JsonWebKey::deserialize(&private).unwrap();
        let key = <Es256 as Algorithm>::SigningKey::try_from(&jwk).unwrap();
        let signature = Es256.sign(&key, signed.as_bytes());
        format!("{signed}.{}", b64(&signature.as_bytes()))
    }

    fn request<'a>(authorization: &'a str, proof: &'a str) -> RequestParts<'a> {
        RequestParts {
            dpop: Some(proof),
            ..get(URL, Some(authorization))
        }
    }

    fn store(ledger: Option<Answer>) -> Store {
        Store {
            ledger,
            ..Store::empty()
        }
    }

    fn run(config: &Config, caches: &mut Caches, parts: &RequestParts, store: &Store) -> Verdict {
        decide(parts, config, FIXTURE_NOW, caches, store)
    }

    /// Asked, not recorded; answered `First`, forwarded and recorded; presented again to
    /// this isolate, refused from memory without a round trip.
    #[test]
    fn a_new_proof_waits_for_the_ledger_and_a_second_use_is_refused_from_memory() {
        let config = config(true, &[]);
        let mut caches = Caches::for_config(Some(&config));
        let token = token("");
        let (auth, proof) = (format!("DPoP {token}"), proof(&token, "jti-1"));
        let parts = request(&auth, &proof);

        let asking = store(None);
        let verdict = run(&config, &mut caches, &parts, &asking);
        let Verdict::NeedReplayCheck(id) = verdict else {
            panic!("asks the ledger: {verdict:?}")
        };
        // The window: iat + DPOP_MAX_AGE_SECONDS (300) + LEEWAY_SECONDS (60).
        assert_eq!(id.until, FIXTURE_NOW + 360);
        assert!(
            caches.replay.is_empty(),
            "nothing recorded before the answer"
        );
        // Asking again asks again (nothing was counted).
        assert!(
            matches!(run(&config, &mut caches, &parts, &asking), Verdict::NeedReplayCheck(again) if again == id)
        );

        let first = store(Some(Answer::First));
        assert_eq!(status(&run(&config, &mut caches, &parts, &first)), 0);
        assert_eq!(caches.replay.len(), 1);

        let later = store(None);
        let replayed = run(&config, &mut caches, &parts, &later);
        assert_eq!(status(&replayed), 401);
        assert!(
            log_of(&replayed).contains("dpop_replayed"),
            "{}",
            log_of(&replayed)
        );
        assert_eq!(
            later.ledger_asked.get(),
            0,
            "this isolate's cache answers first"
        );
    }

    #[test]
    fn a_proof_another_isolate_used_is_a_replay() {
        let config = config(true, &[]);
        let mut caches = Caches::for_config(Some(&config));
        let token = token("");
        let (auth, proof) = (format!("DPoP {token}"), proof(&token, "jti-2"));
        let verdict = run(
            &config,
            &mut caches,
            &request(&auth, &proof),
            &store(Some(Answer::Seen)),
        );
        assert_eq!(status(&verdict), 401);
        assert!(header(&verdict, "www-authenticate")
            .unwrap()
            .contains("DPoP proof replayed"));
        assert!(
            log_of(&verdict).contains("\"reason\":\"dpop_replayed\""),
            "{}",
            log_of(&verdict)
        );
    }

    #[test]
    fn no_answer_is_refused_by_default_and_left_to_the_isolate_when_configured() {
        let down = || store(Some(Answer::Unavailable("no answer within 1000 ms".into())));
        let token = token("");
        let auth = format!("DPoP {token}");

        let closed = config(true, &[]);
        let mut caches = Caches::for_config(Some(&closed));
        let proof_a = proof(&token, "jti-3");
        let refused = run(&closed, &mut caches, &request(&auth, &proof_a), &down());
        assert_eq!(status(&refused), 401);
        let www = header(&refused, "www-authenticate").unwrap();
        assert!(www.contains("error=\"invalid_dpop_proof\""), "{www}");
        assert!(www.contains("DPoP replay check unavailable"), "{www}");
        assert!(log_of(&refused).contains("dpop_replay_unavailable: no answer within 1000 ms"));
        assert!(caches.replay.is_empty(), "a refused proof is not used");

        let isolate = config(true, &[("DPOP_REPLAY_FALLBACK", "isolate")]);
        let mut caches = Caches::for_config(Some(&isolate));
        let proof_b = proof(&token, "jti-4");
        assert_eq!(
            status(&run(
                &isolate,
                &mut caches,
                &request(&auth, &proof_b),
                &down()
            )),
            0
        );
        // Now this isolate alone catches the replay.
        assert_eq!(
            status(&run(
                &isolate,
                &mut caches,
                &request(&auth, &proof_b),
                &down()
            )),
            401
        );
    }

    #[test]
    fn without_the_binding_the_ledger_is_never_asked() {
        let config = config(false, &[("DPOP_REPLAY_FALLBACK", "isolate")]);
        let mut caches = Caches::for_config(Some(&config));
        let token = token("");
        let (auth, proof) = (format!("DPoP {token}"), proof(&token, "jti-5"));
        let never = store(None);
        assert_eq!(
            status(&run(&config, &mut caches, &request(&auth, &proof), &never)),
            0
        );
        assert_eq!(
            status(&run(&config, &mut caches, &request(&auth, &proof), &never)),
            401
        );
        assert_eq!(never.ledger_asked.get(), 0);
    }

    /// The round trip is the last check: a request the route rules refuse never costs it,
    /// and its proof stays unused.
    #[test]
    fn a_request_the_routes_refuse_never_reaches_the_ledger() {
        let config = config(
            true,
            &[(
                "ROUTES",
                r#"[{"prefix": "/orders", "scopes": ["orders:read"]}]"#,
            )],
        );
        let mut caches = Caches::for_config(Some(&config));
        let asking = store(None);
        let weak = token("profile");
        let (auth, proof_a) = (format!("DPoP {weak}"), proof(&weak, "jti-6"));
        assert_eq!(
            status(&run(
                &config,
                &mut caches,
                &request(&auth, &proof_a),
                &asking
            )),
            403
        );
        assert_eq!(asking.ledger_asked.get(), 0);
        let strong = token("orders:read");
        let (auth, proof_b) = (format!("DPoP {strong}"), proof(&strong, "jti-7"));
        assert!(matches!(
            run(&config, &mut caches, &request(&auth, &proof_b), &asking),
            Verdict::NeedReplayCheck(_)
        ));
    }
}
