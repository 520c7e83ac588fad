use super::*;

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const ONE: &str =
    r#"[{"issuer":"https://i.test/","jwks_uri":"https://i.test/jwks","audiences":["api"]}]"#;

fn err(issuers: &str) -> ConfigError {
    Config::parse(Some(issuers), &HashMap::new()).unwrap_err()
}

#[test]
fn minimal_issuer_gets_documented_defaults() {
    let c = Config::parse(Some(ONE), &HashMap::new()).unwrap();
    assert_eq!(c.issuers[0].algorithms, Alg::DEFAULT.to_vec());
    assert_eq!(c.leeway_secs, 60);
    assert_eq!(c.realm, "edgeguard");
    assert_eq!(c.headers.subject, "X-Auth-Subject");
    assert!(!c.strip_authorization);
    assert!(c.origin.is_none());
    assert_eq!(c.cache.refetch_cooldown, 30);
    assert_eq!(c.max_token_bytes, 8192);
}

#[test]
fn missing_or_broken_issuers_name_the_field() {
    assert_eq!(
        Config::parse(None, &HashMap::new()).unwrap_err().field,
        "ISSUERS"
    );
    assert_eq!(err("not json").field, "ISSUERS");
    assert_eq!(err("{}").field, "ISSUERS");
    assert_eq!(err("[]").field, "ISSUERS");
    assert_eq!(
        err(r#"[{"issuer":"a","issuer":"b","audiences":["x"]}]"#).field,
        "ISSUERS"
    );
    assert_eq!(
        err(r#"[{"issuer":"https://i/","jwks_uri":"https://i/j","audiences":[]}]"#).field,
        "ISSUERS[0].audiences"
    );
    assert_eq!(
        err(r#"[{"issuer":"https://i/","jwks_uri":"https://i/j","audiences":[""]}]"#).field,
        "ISSUERS[0].audiences"
    );
    assert_eq!(
        err(r#"[{"issuer":"","jwks_uri":"https://i/j","audiences":["a"]}]"#).field,
        "ISSUERS[0].issuer"
    );
    assert_eq!(
        err(r#"[{"issuer":"https://i/","jwks_uri":"https://i/j","audience":["a"]}]"#).field,
        "ISSUERS[0].audience"
    );
}

#[test]
fn max_token_age_is_at_most_one_year() {
    let with = |age: &str| {
        format!(
            r#"[{{"issuer":"https://i/","jwks_uri":"https://i/j","audiences":["a"],"max_token_age":{age}}}]"#
        )
    };
    for bad in [
        "0",
        "-1",
        "1.5",
        r#""60""#,
        "31536001",
        "18446744073709551615",
        "1e30",
    ] {
        assert_eq!(err(&with(bad)).field, "ISSUERS[0].max_token_age", "{bad}");
    }
    for (ok, secs) in [("1", 1), ("3600", 3600), ("31536000", 31_536_000)] {
        let c = Config::parse(Some(&with(ok)), &HashMap::new()).unwrap();
        assert_eq!(c.issuers[0].max_token_age, Some(secs));
    }
}

/// ES384, ES512 and ES256K are opt-in (`extra-curves`): a default build refuses them at load,
/// naming the feature and the build command, instead of never accepting their tokens.
#[test]
fn extra_curve_algorithms_need_their_build_feature() {
    for name in ["ES384", "ES512", "ES256K"] {
        let issuers = format!(
            r#"[{{"issuer":"https://i/","jwks_uri":"https://i/j","audiences":["a"],"algorithms":["ES256","{name}"]}}]"#
        );
        let parsed = Config::parse(Some(&issuers), &HashMap::new());
        if cfg!(feature = "extra-curves") {
            let c = parsed.unwrap();
            assert_eq!(
                c.issuers[0].algorithms,
                [Alg::Es256, Alg::from_name(name).unwrap()]
            );
        } else {
            let e = parsed.unwrap_err();
            assert_eq!(e.field, "ISSUERS[0].algorithms");
            assert!(e.message.contains(name), "{e}");
            assert!(e.message.contains("extra-curves feature"), "{e}");
            assert!(
                e.message
                    .contains("EDGEGUARD_FEATURES=extra-curves ./scripts/build.sh"),
                "{e}"
            );
        }
    }
    // The default algorithm list never needs a feature.
    assert!(Alg::DEFAULT
        .iter()
        .all(|a| a.feature().is_none() && a.compiled_in()));
}

#[test]
fn none_is_never_an_algorithm() {
    for spelling in ["none", "None", "NONE", "nOnE"] {
        let e = err(&format!(
            r#"[{{"issuer":"https://i/","jwks_uri":"https://i/j","audiences":["a"],"algorithms":["RS256","{spelling}"]}}]"#
        ));
        assert_eq!(e.field, "ISSUERS[0].algorithms");
    }
    assert_eq!(
        err(r#"[{"issuer":"https://i/","jwks_uri":"https://i/j","audiences":["a"],"algorithms":["XS999"]}]"#).field,
        "ISSUERS[0].algorithms"
    );
}

#[test]
fn jwks_uri_must_be_https_unless_loopback() {
    let e = err(
        r#"[{"issuer":"https://i/","jwks_uri":"http://keys.example.com/j","audiences":["a"]}]"#,
    );
    assert_eq!(e.field, "ISSUERS[0].jwks_uri");
    for ok in [
        "http://127.0.0.1:9/j",
        "http://localhost/j",
        "http://[::1]:8/j",
        "http://127.9.9.9/j",
    ] {
        let json = format!(r#"[{{"issuer":"https://i/","jwks_uri":"{ok}","audiences":["a"]}}]"#);
        assert!(Config::parse(Some(&json), &HashMap::new()).is_ok(), "{ok}");
    }
    assert!(
        err(r#"[{"issuer":"https://i/","jwks_uri":"ftp://i/j","audiences":["a"]}]"#)
            .field
            .ends_with("jwks_uri")
    );
    assert!(
        err(r#"[{"issuer":"https://i/","jwks_uri":"/relative","audiences":["a"]}]"#)
            .field
            .ends_with("jwks_uri")
    );
}

#[test]
fn discovery_url_follows_oidc_rules() {
    let c = Config::parse(
        Some(r#"[{"issuer":"https://login.test/tenant/","audiences":["a"]}]"#),
        &HashMap::new(),
    )
    .unwrap();
    assert_eq!(
        c.issuers[0].jwks,
        JwksSource::Discovery(
            Url::parse("https://login.test/tenant/.well-known/openid-configuration").unwrap()
        )
    );
    assert_eq!(
        err(r#"[{"issuer":"my-issuer","audiences":["a"]}]"#).field,
        "ISSUERS[0].jwks_uri"
    );
    assert_eq!(
        err(r#"[{"issuer":"http://login.test","audiences":["a"]}]"#).field,
        "ISSUERS[0].issuer"
    );
}

#[test]
fn hmac_secret_only_with_hs_algorithms_and_long_enough() {
    let secret32 = URL_SAFE_NO_PAD.encode([7u8; 32]);
    let secret64 = URL_SAFE_NO_PAD.encode([7u8; 64]);
    let item = |algs: &str, secret: Option<&str>| {
        let s = secret
            .map(|s| format!(r#","secret":"{s}""#))
            .unwrap_or_default();
        format!(
            r#"[{{"issuer":"https://i/","jwks_uri":"https://i/j","audiences":["a"],"algorithms":{algs}{s}}}]"#
        )
    };
    assert!(Config::parse(
        Some(&item(r#"["HS256"]"#, Some(&secret32))),
        &HashMap::new()
    )
    .is_ok());
    assert_eq!(err(&item(r#"["HS256"]"#, None)).field, "ISSUERS[0].secret");
    assert_eq!(
        err(&item(r#"["RS256"]"#, Some(&secret32))).field,
        "ISSUERS[0].secret"
    );
    assert_eq!(
        err(&item(r#"["HS512"]"#, Some(&secret32))).field,
        "ISSUERS[0].secret"
    );
    assert!(Config::parse(
        Some(&item(r#"["HS512"]"#, Some(&secret64))),
        &HashMap::new()
    )
    .is_ok());
    assert_eq!(
        err(&item(r#"["HS256"]"#, Some("not base64!"))).field,
        "ISSUERS[0].secret"
    );
    // Padding is tolerated.
    let padded = format!("{}=", URL_SAFE_NO_PAD.encode([7u8; 32]));
    assert!(Config::parse(Some(&item(r#"["HS256"]"#, Some(&padded))), &HashMap::new()).is_ok());
}

#[test]
fn hmac_only_issuers_need_no_jwks() {
    let secret = URL_SAFE_NO_PAD.encode([7u8; 32]);
    let json = format!(
        r#"[{{"issuer":"internal","audiences":["a"],"algorithms":["HS256"],"secret":"{secret}"}}]"#
    );
    let c = Config::parse(Some(&json), &HashMap::new()).unwrap();
    assert_eq!(c.issuers[0].jwks, JwksSource::None);
    assert!(!c.issuers[0].needs_jwks());
}

#[test]
fn hostile_hosts_are_errors_not_panics() {
    // Found by fuzz/config_parser: an IDNA debug assertion in the url stack.
    for origin in [
        "https://B%C3%A9/",
        "http:N\u{1d7}\u{8b}i",
        "https://[::1",
        "https://a..b/",
    ] {
        let vars: HashMap<String, String> = [("ORIGIN".to_string(), origin.to_string())].into();
        let _ = Config::parse(Some(ONE), &vars);
    }
}

#[test]
fn duplicate_issuers_are_rejected() {
    let two = r#"[{"issuer":"https://i/","jwks_uri":"https://i/j","audiences":["a"]},{"issuer":"https://i/","jwks_uri":"https://i/k","audiences":["b"]}]"#;
    assert_eq!(err(two).field, "ISSUERS[1].issuer");
}

#[test]
fn vars_are_validated_and_named() {
    let bad = |k: &str, v: &str| {
        Config::parse(Some(ONE), &vars(&[(k, v)]))
            .unwrap_err()
            .field
    };
    assert_eq!(bad("LEEWAY_SECONDS", "abc"), "LEEWAY_SECONDS");
    assert_eq!(bad("LEEWAY_SECONDS", "601"), "LEEWAY_SECONDS");
    assert_eq!(bad("STRIP_AUTHORIZATION", "maybe"), "STRIP_AUTHORIZATION");
    assert_eq!(bad("ORIGIN", "not a url"), "ORIGIN");
    assert_eq!(bad("ORIGIN", "https://o.test/?q=1"), "ORIGIN");
    assert_eq!(bad("SUBJECT_HEADER", "X Bad"), "SUBJECT_HEADER");
    assert_eq!(bad("CLAIMS_HEADER", "Authorization"), "CLAIMS_HEADER");
    assert_eq!(bad("ISSUER_HEADER", "x-auth-subject"), "SUBJECT_HEADER");
    assert_eq!(bad("AUTH_REALM", "a\"b"), "AUTH_REALM");
    assert_eq!(bad("JWKS_MIN_TTL_SECONDS", "7200"), "JWKS_MIN_TTL_SECONDS");
    let ok = Config::parse(
        Some(ONE),
        &vars(&[
            ("LEEWAY_SECONDS", "5"),
            ("STRIP_AUTHORIZATION", "true"),
            ("ORIGIN", "https://o.test/base"),
            ("AUTH_REALM", ""),
        ]),
    )
    .unwrap();
    assert_eq!(ok.leeway_secs, 5);
    assert!(ok.strip_authorization);
    assert_eq!(ok.origin.unwrap().as_str(), "https://o.test/base");
    assert_eq!(ok.realm, "edgeguard");
}

#[test]
fn check_reports_every_var_and_issuer() {
    let issuers = r#"[{"issuer":"https://a/","jwks_uri":"https://a/j","audiences":[]},
        {"issuer":"https://b/","jwks_uri":"https://b/j","audiences":["b"]},
        {"issuer":"https://c/","jwks_uri":"http://c/j","audiences":["c"]},
        {"issuer":"https://b/","jwks_uri":"https://b/k","audiences":["b"]}]"#;
    let bad = vars(&[
        ("LEEWAY_SECONDS", "601"),
        ("STRIP_AUTHORIZATION", "maybe"),
        (
            "ROUTES",
            r#"[{"prefix":"/a","auth":"x"},{"prefix":"/b//"}]"#,
        ),
    ]);
    let errors = Config::check(Issuers::Text(Some(issuers)), &bad).unwrap_err();
    let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "ISSUERS[0].audiences",
            "ISSUERS[2].jwks_uri",
            "ISSUERS[3].issuer",
            "LEEWAY_SECONDS",
            "ROUTES[0].auth",
            "ROUTES[1].prefix",
            "STRIP_AUTHORIZATION",
        ]
    );
    // The Worker reports the first of them.
    let first = Config::parse(Some(issuers), &bad).unwrap_err();
    assert_eq!(first, errors[0]);
}

#[test]
fn cross_checks_wait_for_their_vars() {
    // An invalid SUBJECT_HEADER is one error, not also a clash with ISSUER_HEADER.
    let bad = vars(&[
        ("SUBJECT_HEADER", "X Bad"),
        ("ISSUER_HEADER", "X-Auth-Subject"),
    ]);
    let errors = Config::check(Issuers::Text(Some(ONE)), &bad).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, "SUBJECT_HEADER");
    let bad = vars(&[("MAX_ISSUERS", "0"), ("JWKS_MAX_TTL_SECONDS", "x")]);
    let fields: Vec<String> = Config::check(Issuers::Text(Some(ONE)), &bad)
        .unwrap_err()
        .into_iter()
        .map(|e| e.field)
        .collect();
    assert_eq!(fields, ["MAX_ISSUERS", "JWKS_MAX_TTL_SECONDS"]);
}

#[test]
fn vars_alone_need_no_issuers() {
    let ok = Config::check(Issuers::Unchecked, &vars(&[("LEEWAY_SECONDS", "5")])).unwrap();
    assert!(ok.issuers.is_empty());
    let errors = Config::check(Issuers::Unchecked, &vars(&[("LEEWAY_SECONDS", "x")]));
    assert_eq!(errors.unwrap_err()[0].field, "LEEWAY_SECONDS");
    let errors = Config::check(Issuers::Text(None), &HashMap::new()).unwrap_err();
    assert_eq!(errors[0].field, "ISSUERS");
}

#[test]
fn var_values_read_as_the_worker_reads_them() {
    let text = |v: VarValue| v.into_text();
    assert_eq!(text(VarValue::Text(" a ".into())), " a ");
    assert_eq!(text(VarValue::Bool(true)), "true");
    assert_eq!(text(VarValue::Number(60.0)), "60");
    assert_eq!(text(VarValue::Number(-3.0)), "-3");
    assert_eq!(text(VarValue::Number(1.5)), "1.5");
    assert_eq!(text(VarValue::Number(1e20)), "100000000000000000000");
    let table = serde_json::json!({"a": [1, 2.0, 2.5, true, "x"], "b": {"c": 600.0}});
    assert_eq!(
        text(VarValue::structured(table)),
        r#"{"a":[1,2,2.5,true,"x"],"b":{"c":600}}"#
    );
}

#[test]
fn token_header_is_a_header_name_with_an_optional_prefix() {
    let parse = |v: &str| Config::parse(Some(ONE), &vars(&[("TOKEN_HEADER", v)]));
    let th_or_none = |v: &str| parse(v).expect(v).token_header;
    let th = |v: &str| th_or_none(v).expect("configured");
    let access = th("Cf-Access-Jwt-Assertion");
    assert_eq!(access.name, "cf-access-jwt-assertion");
    assert_eq!(access.prefix, None);
    let api = th(" X-Api-Token :  Token ");
    assert_eq!(api.name, "x-api-token");
    assert_eq!(api.prefix.as_deref(), Some("Token"));
    assert_eq!(
        Config::parse(Some(ONE), &vars(&[])).unwrap().token_header,
        None
    );
    // Empty is unset, as for every var.
    assert_eq!(th_or_none(""), None);
    for bad in [
        ": Token",
        "X Bad",
        "Authorization",
        "cookie",
        "DPoP",
        "X-Auth-Subject",
        "x-auth-claims: Bearer",
        "X-Token:",
        "X-Token: two words",
        "X-Token: Tok\u{e9}n",
    ] {
        let e = parse(bad).unwrap_err();
        assert_eq!(e.field, "TOKEN_HEADER", "{bad:?}: {e:?}");
    }
    // A claim header the gateway sets cannot be where tokens come from either.
    let e = Config::parse(
        Some(ONE),
        &vars(&[
            ("CLAIM_HEADERS", r#"{"X-Org": "org"}"#),
            ("TOKEN_HEADER", "x-org"),
        ]),
    )
    .unwrap_err();
    assert_eq!(e.field, "TOKEN_HEADER");
}

/// `RESOURCE_METADATA = "auto"`: the document describes this configuration, and its
/// `resource` is whatever origin the request came to.
#[test]
fn auto_resource_metadata_is_built_from_the_configuration() {
    let issuers = r#"[{"issuer":"https://login.example.test/","jwks_uri":"https://login.example.test/j","audiences":["a"]},
                      {"issuer":"https://other.example.test","jwks_uri":"https://other.example.test/j","audiences":["a"]}]"#;
    let vars = |extra: &[(&str, &str)]| -> HashMap<String, String> {
        [("RESOURCE_METADATA", "auto")]
            .iter()
            .chain(extra)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let c = Config::parse(Some(issuers), &vars(&[])).unwrap();
    let doc: Value = serde_json::from_str(
        &c.resource_metadata
            .as_ref()
            .unwrap()
            .document("https://mcp.example.test"),
    )
    .unwrap();
    assert_eq!(
        doc,
        serde_json::json!({
            "resource": "https://mcp.example.test",
            "authorization_servers": ["https://login.example.test/", "https://other.example.test"],
            "bearer_methods_supported": ["header"],
        })
    );
    let c = Config::parse(
        Some(issuers),
        &vars(&[
            ("TOKEN_QUERY_PARAM", "access_token"),
            (
                "ROUTES",
                r#"[{"path":"/admin/*","scopes":["admin","read"]}]"#,
            ),
            ("DEFAULT_ROUTE", r#"{"scopes":["read"]}"#),
        ]),
    )
    .unwrap();
    let doc: Value = serde_json::from_str(
        &c.resource_metadata
            .as_ref()
            .unwrap()
            .document("http://127.0.0.1:8787"),
    )
    .unwrap();
    assert_eq!(doc["resource"], "http://127.0.0.1:8787");
    assert_eq!(
        doc["bearer_methods_supported"],
        serde_json::json!(["header", "query"])
    );
    assert_eq!(
        doc["scopes_supported"],
        serde_json::json!(["admin", "read"])
    );
    // Exactly "auto": anything else must be a JSON object.
    for other in ["Auto", "\"auto\"", "automatic"] {
        let vars = HashMap::from([("RESOURCE_METADATA".to_string(), other.to_string())]);
        let e = Config::parse(Some(issuers), &vars).unwrap_err();
        assert_eq!(e.field, "RESOURCE_METADATA", "{other}: {e}");
    }
}

#[test]
fn resource_audience_is_a_boolean_that_needs_resource_metadata() {
    const RESOURCE_ONLY: &str = r#"[{"issuer":"https://i.test/","jwks_uri":"https://i.test/jwks","resource_audience":true}]"#;
    let auto = vars(&[("RESOURCE_METADATA", "auto")]);
    let c = Config::parse(Some(RESOURCE_ONLY), &auto).unwrap();
    assert!(c.issuers[0].resource_audience);
    assert!(
        c.issuers[0].audiences.is_empty(),
        "the resource is the only audience"
    );
    let fixed = vars(&[(
        "RESOURCE_METADATA",
        r#"{"resource":"https://mcp.test/mcp"}"#,
    )]);
    let c = Config::parse(Some(RESOURCE_ONLY), &fixed).unwrap();
    let metadata = c.resource_metadata.as_ref().unwrap();
    assert_eq!(
        metadata.resource("https://other.test"),
        "https://mcp.test/mcp"
    );
    // Without metadata there is no resource to compare with.
    let e = Config::parse(Some(RESOURCE_ONLY), &HashMap::new()).unwrap_err();
    assert_eq!(e.field, "ISSUERS[0].resource_audience", "{e}");
    assert!(e.message.contains("RESOURCE_METADATA"), "{e}");
    // Not a boolean; and without it, audiences stay required.
    let e = Config::parse(Some(&RESOURCE_ONLY.replace("true", "\"yes\"")), &auto).unwrap_err();
    assert_eq!(e.field, "ISSUERS[0].resource_audience", "{e}");
    let e = Config::parse(Some(&RESOURCE_ONLY.replace("true", "false")), &auto).unwrap_err();
    assert_eq!(e.field, "ISSUERS[0].audiences", "{e}");
    // Both together: the configured audiences and the resource.
    let both = RESOURCE_ONLY.replace(
        r#""resource_audience""#,
        r#""audiences":["api"],"resource_audience""#,
    );
    let c = Config::parse(Some(&both), &auto).unwrap();
    assert_eq!(c.issuers[0].audiences, ["api"]);
}
