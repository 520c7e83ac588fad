//! Runs the built edgeguard-check on the fixture files (named by scenario) and on the
//! repository's own wrangler.toml.

use std::process::Command;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
const REPO_WRANGLER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../wrangler.toml");

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the check; `fixture:NAME` arguments are paths under tests/fixtures.
fn check(args: &[&str]) -> Run {
    check_with_features(None, args)
}

/// `check` with EDGEGUARD_FEATURES set to `features` (`None`: unset, whatever the caller's
/// environment has).
fn check_with_features(features: Option<&str>, args: &[&str]) -> Run {
    let args: Vec<String> = args
        .iter()
        .map(|a| match a.strip_prefix("fixture:") {
            Some(name) => format!("{FIXTURES}/{name}"),
            None => a.to_string(),
        })
        .collect();
    let mut command = Command::new(env!("CARGO_BIN_EXE_edgeguard-check"));
    command.args(&args);
    match features {
        Some(features) => command.env("EDGEGUARD_FEATURES", features),
        None => command.env_remove("EDGEGUARD_FEATURES"),
    };
    let out = command.output().expect("edgeguard-check runs");
    Run {
        code: out.status.code().expect("exit code"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// The error lines (`FIELD: message`), without the closing summary.
fn error_fields(run: &Run) -> Vec<&str> {
    run.stderr
        .lines()
        .filter(|l| !l.starts_with("edgeguard-check:"))
        .map(|l| l.split_once(": ").expect("FIELD: message").0)
        .collect()
}

#[test]
fn the_repositorys_own_wrangler_toml_passes() {
    let run = check(&["--wrangler", REPO_WRANGLER]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("ISSUERS not checked"), "{}", run.stdout);
    let run = check(&[
        "--issuers",
        "fixture:valid-issuers.json",
        "--wrangler",
        REPO_WRANGLER,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("valid: 3 issuers"), "{}", run.stdout);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn structured_toml_vars_read_as_the_worker_reads_them() {
    let run = check(&[
        "--issuers",
        "fixture:valid-issuers.json",
        "--wrangler",
        "fixture:structured-vars.toml",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("3 issuers") && run.stdout.contains("2 routes"),
        "{}",
        run.stdout
    );
}

#[test]
fn every_bad_issuer_is_reported() {
    let run = check(&[
        "--issuers",
        "fixture:several-bad-issuers.json",
        "--wrangler",
        REPO_WRANGLER,
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(
        error_fields(&run),
        [
            "ISSUERS[0].audiences",
            "ISSUERS[2].jwks_uri",
            "ISSUERS[3].algorithms",
            "ISSUERS[4].issuer",
        ]
    );
    assert!(run.stderr.contains("4 errors in ISSUERS"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

#[test]
fn every_bad_var_is_reported_without_issuers() {
    let run = check(&["--wrangler", "fixture:bad-vars.toml"]);
    assert_eq!(run.code, 1);
    let mut fields = error_fields(&run);
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["LEEWAY_SECONDS", "ROUTES[1].prefix", "STRIP_AUTHORIZATION"]
    );
    assert!(
        run.stderr
            .contains("LEEWAY_SECONDS: must be between 0 and 600"),
        "{}",
        run.stderr
    );
    // ISSUERS is a secret: its absence is not an error of the vars.
    assert!(!run.stderr.contains("ISSUERS"), "{}", run.stderr);
}

#[test]
fn env_vars_replace_the_top_level_vars() {
    assert_eq!(check(&["--wrangler", "fixture:env-vars.toml"]).code, 0);
    let run = check(&["--wrangler", "fixture:env-vars.toml", "--env", "staging"]);
    assert_eq!(run.code, 1);
    assert_eq!(error_fields(&run), ["LEEWAY_SECONDS"]);
    assert!(run.stderr.contains("[env.staging.vars]"), "{}", run.stderr);
    let run = check(&["--wrangler", "fixture:env-vars.toml", "--env", "prod"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("has no [env.prod]"), "{}", run.stderr);
}

#[test]
fn issuers_set_as_a_var_are_checked() {
    let run = check(&["--wrangler", "fixture:issuers-in-vars.toml"]);
    assert_eq!(run.code, 1);
    assert_eq!(error_fields(&run), ["ISSUERS[0].audiences"]);
}

#[test]
fn a_misspelt_var_is_a_warning() {
    let run = check(&["--wrangler", "fixture:misspelt-var.toml"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stderr.contains("warning") && run.stderr.contains("LEEWAY_SECOND "),
        "{}",
        run.stderr
    );
}

#[test]
fn missing_files_bad_toml_and_bad_arguments_exit_2() {
    let run = check(&[
        "--issuers",
        "fixture:no-such-issuers.json",
        "--wrangler",
        REPO_WRANGLER,
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("cannot read the ISSUERS file"),
        "{}",
        run.stderr
    );
    let run = check(&["--wrangler", "fixture:no-such-wrangler.toml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("check the path"), "{}", run.stderr);
    let run = check(&["--wrangler", "fixture:not-toml.toml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("is not valid TOML"), "{}", run.stderr);
    // Tests run in the crate's directory, which has no wrangler.toml.
    let run = check(&[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("pass --wrangler FILE"),
        "{}",
        run.stderr
    );
    assert_eq!(check(&["--issuers"]).code, 2);
    assert_eq!(check(&["--frobnicate"]).code, 2);
    assert_eq!(check(&["--help"]).code, 0);
}

/// ES384/ES512/ES256K are valid exactly when the check (like the Worker) is built with
/// extra-curves; without it, each issuer listing one gets the error naming the feature and
/// the build command.
#[test]
fn extra_curve_algorithms_follow_the_build_features() {
    let run = check(&[
        "--issuers",
        "fixture:extra-curves-issuers.json",
        "--wrangler",
        REPO_WRANGLER,
    ]);
    if cfg!(feature = "extra-curves") {
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stdout.contains("valid: 3 issuers"), "{}", run.stdout);
    } else {
        assert_eq!(run.code, 1, "{}", run.stdout);
        assert_eq!(
            error_fields(&run),
            [
                "ISSUERS[0].algorithms",
                "ISSUERS[1].algorithms",
                "ISSUERS[2].algorithms"
            ]
        );
        for alg in ["ES384 needs", "ES256K needs", "ES512 needs"] {
            assert!(run.stderr.contains(alg), "{}", run.stderr);
        }
        assert!(
            run.stderr
                .contains("`EDGEGUARD_FEATURES=extra-curves ./scripts/build.sh`"),
            "{}",
            run.stderr
        );
    }
}

/// EDGEGUARD_FEATURES (what scripts/build.sh builds the Worker with) must agree with the
/// check's own features; a mismatch or an unknown name stops it with exit 2.
#[test]
fn edgeguard_features_must_match_the_checks_build() {
    let args = [
        "--issuers",
        "fixture:valid-issuers.json",
        "--wrangler",
        REPO_WRANGLER,
    ];
    // This build's features, the other build's, and the cargo flags that build the other.
    let (same, other, flag) = if cfg!(feature = "extra-curves") {
        ("extra-curves", "", "")
    } else {
        ("", "extra-curves", " --features extra-curves")
    };
    for agreeing in [same, &format!(" {same} ,")] {
        let run = check_with_features(Some(agreeing), &args);
        assert_eq!(run.code, 0, "{agreeing:?}: {}", run.stderr);
        assert!(run.stdout.contains("valid: 3 issuers"), "{}", run.stdout);
    }
    let run = check_with_features(Some(other), &args);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr
            .contains(&format!("`cargo run -p edgeguard-check{flag} -- ...`")),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let run = check_with_features(Some("extra-curves,frobnicate"), &args);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("\"frobnicate\"") && run.stderr.contains("known: extra-curves"),
        "{}",
        run.stderr
    );
}
