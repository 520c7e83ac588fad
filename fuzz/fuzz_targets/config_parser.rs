//! The configuration: input = ISSUERS text, a 0 byte, then `KEY=VALUE` lines for `[vars]`
//! (no 0 byte: all of it is ISSUERS, no vars). `config::Config::parse` must answer with a
//! config or an error naming a field, never panic.
#![no_main]

use edgeguard::config::{Config, VAR_NAMES};
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

fuzz_target!(|data: &[u8]| {
    let (issuers, vars) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(issuers) = std::str::from_utf8(issuers) else {
        return;
    };
    let vars: HashMap<String, String> = String::from_utf8_lossy(vars)
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    // Also without ISSUERS (an unset secret) when the text is empty.
    let issuers = (!issuers.is_empty()).then_some(issuers);
    match Config::parse(issuers, &vars) {
        Ok(config) => {
            assert!(!config.issuers.is_empty());
            for issuer in &config.issuers {
                assert!(!issuer.algorithms.is_empty() && !issuer.audiences.is_empty());
            }
        }
        Err(e) => {
            let field = e.field.as_str();
            assert!(
                field.starts_with("ISSUERS") || VAR_NAMES.contains(&field),
                "error names an unknown field: {e}"
            );
        }
    }
});
