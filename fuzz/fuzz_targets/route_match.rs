//! Route rules and request paths, both from the input: `ROUTES` JSON text, a 0 byte, a
//! method line, then the raw request path (no 0 byte: all of it is the path, under a rule
//! set derived from it). Run with a 3 s `-timeout` (scripts/fuzz.sh), a few hundred times
//! the slowest input it has seen: a glob match costs (path length / 64 + 1) × pattern
//! length word steps, so a slow input is a finding (an exponential matcher would be one).
//!
//! Asserts: a parsed rule set answers every request with at least one rule, each from the
//! set or the default; a canonical path reads back as itself; and a `prefix` rule written
//! as a request's canonical path applies to that request, whatever spelling it came in.
#![no_main]

use edgeguard::config::routes::{parse_routes, AuthMode, Rule};
use edgeguard::path::RequestPath;
use edgeguard::policy::routes::{applicable, method_readings, strictest};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

fuzz_target!(|data: &[u8]| {
    let (routes, rest) = match data.iter().position(|&b| b == 0) {
        Some(i) => (Some(&data[..i]), &data[i + 1..]),
        None => (None, data),
    };
    let Ok(rest) = std::str::from_utf8(rest) else {
        return;
    };
    let (method, raw_path) = rest.split_once('\n').unwrap_or(("GET", rest));
    let Ok(path) = RequestPath::parse(raw_path) else {
        return;
    };
    let canonical = path.canonical().to_owned();
    let again = RequestPath::parse(&canonical).expect("a canonical path parses");
    assert_eq!(again.canonical(), canonical, "canonicalisation is idempotent");

    let default = Rule::default();
    let methods = method_readings(method, &[]);
    if let Some(text) = routes {
        let Ok(value) = serde_json::from_slice::<Value>(text) else {
            return;
        };
        if let Ok(rules) = parse_routes(&value) {
            let got = applicable(&rules, &default, &methods, &path);
            assert!(!got.is_empty(), "no rule for {canonical}");
            for r in &got {
                assert!(std::ptr::eq(*r, &default) || rules.iter().any(|x| std::ptr::eq(x, *r)));
            }
            let _ = strictest(&got);
        }
    }

    // The request's own canonical path as a public prefix rule: it must apply, so a rule
    // written for a path holds for every spelling of it the origin would read the same.
    if canonical.len() <= 512 {
        let own = json!([{ "prefix": canonical, "auth": "public" }]);
        let rules = parse_routes(&own).expect("a canonical path of at most 512 bytes is a valid prefix");
        let got = applicable(&rules, &default, &methods, &path);
        assert!(
            got.iter().any(|r| r.auth == AuthMode::Public),
            "a prefix rule for {canonical:?} did not apply to {raw_path:?}"
        );
    }
});
