//! edgeguard-check: validates the `ISSUERS` secret and wrangler.toml's `[vars]` with the
//! Worker's own parser (`edgeguard::config`), so a bad configuration is refused before deploy
//! instead of answering 500 to every request after it.
//!
//! Exit codes: 0 valid, 1 invalid configuration (every error listed), 2 usage or I/O error.

#![forbid(unsafe_code)]

use edgeguard::alg::OPTIONAL_FEATURES;
use edgeguard::config::{Config, Issuers, VarValue, VAR_NAMES};
use edgeguard::error::ConfigError;
use std::collections::HashMap;
use std::process::ExitCode;

const USAGE: &str = "\
usage: edgeguard-check [--issuers FILE] [--wrangler FILE] [--env NAME]
  --issuers FILE   the ISSUERS secret's JSON (what `wrangler secret put ISSUERS` reads);
                   without it only the vars are checked (and ISSUERS if [vars] sets it)
  --wrangler FILE  wrangler.toml whose [vars] to check (default: ./wrangler.toml)
  --env NAME       check [env.NAME.vars] instead of [vars] (wrangler does not inherit vars)
It checks for a Worker built with the same optional features as itself (ES384/ES512/ES256K
need extra-curves: `cargo run -p edgeguard-check --features extra-curves -- ...`). When
EDGEGUARD_FEATURES is set (the variable scripts/build.sh builds the Worker from), it must
name exactly those features, or the check stops (exit 2) with the cargo command to use.
exit: 0 valid, 1 invalid configuration, 2 usage or file error";

#[derive(Debug, Default, PartialEq, Eq)]
struct Args {
    issuers: Option<String>,
    wrangler: Option<String>,
    env: Option<String>,
}

/// A usage or I/O failure: exit 2, with what to do.
struct Usage(String);

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, Usage> {
    let mut out = Args::default();
    while let Some(arg) = args.next() {
        let slot = match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--issuers" => &mut out.issuers,
            "--wrangler" => &mut out.wrangler,
            "--env" => &mut out.env,
            _ => return Err(Usage(format!("unknown argument {arg:?}\n{USAGE}"))),
        };
        match args.next() {
            Some(value) if slot.is_none() => *slot = Some(value),
            Some(_) => return Err(Usage(format!("{arg} is given twice\n{USAGE}"))),
            None => return Err(Usage(format!("{arg} needs a value\n{USAGE}"))),
        }
    }
    Ok(Some(out))
}

/// What was read from wrangler.toml: the vars as the Worker reads them (text), the errors
/// that only the TOML form can have, and names the Worker ignores.
#[derive(Debug, Default)]
struct TomlVars {
    vars: HashMap<String, String>,
    errors: Vec<ConfigError>,
    ignored: Vec<String>,
}

/// The `[vars]` (or `[env.NAME.vars]`) of wrangler.toml's text.
fn toml_vars(text: &str, env: Option<&str>) -> Result<TomlVars, String> {
    let doc: toml::Table = text
        .parse()
        .map_err(|e| format!("is not valid TOML: {e}"))?;
    let (table, place) = match env {
        None => (&doc, "[vars]".to_string()),
        Some(name) => {
            let table = doc
                .get("env")
                .and_then(|envs| envs.get(name))
                .and_then(toml::Value::as_table)
                .ok_or_else(|| format!("has no [env.{name}]: check the --env name"))?;
            (table, format!("[env.{name}.vars]"))
        }
    };
    let vars = match table.get("vars") {
        None => return Ok(TomlVars::default()),
        Some(toml::Value::Table(vars)) => vars,
        Some(_) => return Err(format!("{place} must be a table")),
    };
    let mut out = TomlVars::default();
    for (name, value) in vars {
        if name != "ISSUERS" && !VAR_NAMES.contains(&name.as_str()) {
            out.ignored.push(name.clone());
            continue;
        }
        match var_value(value) {
            Some(value) => {
                out.vars.insert(name.clone(), value.into_text());
            }
            None => out.errors.push(ConfigError::new(
                name,
                "is a TOML date-time; write it as a quoted string",
            )),
        }
    }
    Ok(out)
}

/// A TOML value as the Worker receives it (wrangler passes `[vars]` on as JS values).
fn var_value(value: &toml::Value) -> Option<VarValue> {
    Some(match value {
        toml::Value::String(s) => VarValue::Text(s.clone()),
        toml::Value::Boolean(b) => VarValue::Bool(*b),
        // As a JS number: what the Worker gets (integers past 2^53 lose precision there too).
        toml::Value::Integer(i) => VarValue::Number(*i as f64),
        toml::Value::Float(f) => VarValue::Number(*f),
        toml::Value::Datetime(_) => return None,
        // Cannot fail: TOML keys are strings and every TOML value serializes.
        toml::Value::Array(_) | toml::Value::Table(_) => {
            VarValue::structured(serde_json::to_value(value).unwrap_or_default())
        }
    })
}

/// `EDGEGUARD_FEATURES` (comma or space separated, as scripts/build.sh reads it) against the
/// features this binary was built with: a check built otherwise would accept what the Worker
/// refuses (or the reverse), so it refuses to run and says how to build the right one.
fn features_agree(env: Option<&str>) -> Result<(), Usage> {
    let Some(env) = env else { return Ok(()) };
    let known = || {
        OPTIONAL_FEATURES
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let wanted: Vec<&str> = env
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    if let Some(unknown) = wanted
        .iter()
        .find(|w| !OPTIONAL_FEATURES.iter().any(|(name, _)| name == *w))
    {
        return Err(Usage(format!(
            "EDGEGUARD_FEATURES names {unknown:?}, which is not an optional feature (known: {})",
            known()
        )));
    }
    let mismatch = OPTIONAL_FEATURES
        .iter()
        .any(|(name, built)| wanted.contains(name) != *built);
    if mismatch {
        let features: Vec<&str> = OPTIONAL_FEATURES
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| wanted.contains(name))
            .collect();
        let built: Vec<&str> = OPTIONAL_FEATURES
            .iter()
            .filter(|(_, built)| *built)
            .map(|(name, _)| *name)
            .collect();
        let flag = match features.is_empty() {
            true => String::new(),
            false => format!(" --features {}", features.join(",")),
        };
        let built = match built.is_empty() {
            true => "no optional features".to_string(),
            false => built.join(", "),
        };
        return Err(Usage(format!(
            "EDGEGUARD_FEATURES={env:?} but this edgeguard-check was built with {built}, so it \
             would not check for that Worker build; run `cargo run -p edgeguard-check{flag} -- ...` \
             (scripts/build.sh does this itself)"
        )));
    }
    Ok(())
}

fn read(path: &str, what: &str) -> Result<String, Usage> {
    std::fs::read_to_string(path)
        .map_err(|e| Usage(format!("cannot read {what} {path}: {e}; check the path")))
}

fn run(args: Args) -> Result<ExitCode, Usage> {
    let features = std::env::var("EDGEGUARD_FEATURES").ok();
    features_agree(features.as_deref())?;
    let wrangler = args.wrangler.as_deref().unwrap_or("wrangler.toml");
    let text = read(wrangler, "wrangler.toml").map_err(|Usage(why)| match args.wrangler {
        Some(_) => Usage(why),
        None => Usage(format!("{why}, or pass --wrangler FILE")),
    })?;
    let place = match &args.env {
        Some(name) => format!("{wrangler} [env.{name}.vars]"),
        None => format!("{wrangler} [vars]"),
    };
    let toml =
        toml_vars(&text, args.env.as_deref()).map_err(|why| Usage(format!("{wrangler} {why}")))?;
    for name in &toml.ignored {
        eprintln!("edgeguard-check: warning: {place}: {name} is not a var edgeguard reads (ignored; check its spelling)");
    }
    let from_file = args
        .issuers
        .as_deref()
        .map(|path| read(path, "the ISSUERS file"))
        .transpose()?;
    if from_file.is_some() && toml.vars.contains_key("ISSUERS") {
        eprintln!("edgeguard-check: warning: ISSUERS is set in {place} too; checking the --issuers file (keep ISSUERS in one place)");
    }
    let (issuers, issuers_from) = match (&from_file, toml.vars.get("ISSUERS")) {
        (Some(text), _) => (Issuers::Text(Some(text)), args.issuers.clone()),
        (None, Some(var)) => (Issuers::Text(Some(var)), Some(place.clone())),
        (None, None) => (Issuers::Unchecked, None),
    };
    let mut errors = toml.errors;
    match Config::check(issuers, &toml.vars) {
        Ok(config) if errors.is_empty() => {
            let routes = plural(config.routes.len(), "route");
            match issuers_from {
                Some(from) => println!(
                    "edgeguard-check: valid: {} ({from}), {routes} ({place})",
                    plural(config.issuers.len(), "issuer")
                ),
                None => println!(
                    "edgeguard-check: valid: {routes} ({place}); ISSUERS not checked (pass --issuers FILE)"
                ),
            }
            return Ok(ExitCode::SUCCESS);
        }
        Ok(_) => {}
        Err(more) => errors.extend(more),
    }
    // ISSUERS first, then the vars, each in the order the Worker checks them.
    errors.sort_by_key(|e| !e.field.starts_with("ISSUERS"));
    for error in &errors {
        eprintln!("{error}");
    }
    let checked = match &issuers_from {
        Some(from) => format!("ISSUERS ({from}) and {place}"),
        None => place,
    };
    eprintln!(
        "edgeguard-check: {} in {checked}; fix them and run again (README.md, \"Configuration reference\")",
        plural(errors.len(), "error")
    );
    Ok(ExitCode::from(1))
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn main() -> ExitCode {
    match parse_args(std::env::args().skip(1)) {
        Ok(None) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Some(args)) => run(args).unwrap_or_else(|Usage(why)| {
            eprintln!("edgeguard-check: {why}");
            ExitCode::from(2)
        }),
        Err(Usage(why)) => {
            eprintln!("edgeguard-check: {why}");
            ExitCode::from(2)
        }
    }
}
