use super::*;

fn canonical(raw: &str) -> String {
    RequestPath::parse(raw).unwrap().canonical().to_owned()
}

fn readings(raw: &str) -> Vec<String> {
    RequestPath::parse(raw)
        .unwrap()
        .readings()
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect()
}

#[test]
fn canonical_paths_merge_slashes_resolve_dots_and_decode_unreserved() {
    for (raw, want) in [
        ("/a/b", "/a/b"),
        ("/", "/"),
        ("", "/"),
        ("//admin/users", "/admin/users"),
        ("/.//admin/users", "/admin/users"),
        ("///admin//users", "/admin/users"),
        ("/admin/users/", "/admin/users/"),
        ("/admin//", "/admin/"),
        ("/a/../b", "/b"),
        ("/a/%2e%2E/b", "/b"),
        ("/a/b/..", "/a/"),
        ("/a/b/.", "/a/b/"),
        ("/../../x", "/x"),
        ("/%61dmin/%7Euser", "/admin/~user"),
        // Reserved characters stay encoded; their hex goes upper case.
        ("/a%2fb", "/a%2Fb"),
        ("/a%3bb/%c3%a9", "/a%3Bb/%C3%A9"),
        // A `%` that starts no escape is a percent sign, written as one: `%25`.
        ("/%zz", "/%25zz"),
        ("/%", "/%25"),
        ("/%4", "/%254"),
        ("/%6%31dmin", "/%2561dmin"),
        ("/PU%5%61d", "/PU%255ad"),
        // `;` and case are kept: they are only other readings.
        ("/Admin;x=1/users", "/Admin;x=1/users"),
    ] {
        assert_eq!(canonical(raw), want, "{raw}");
    }
}

#[test]
fn readings_cover_decoding_and_path_parameters() {
    assert_eq!(readings("/admin/users"), vec!["/admin/users"]);
    assert_eq!(
        readings("/admin;x=1/users"),
        vec!["/admin;x=1/users", "/admin/users"]
    );
    assert_eq!(
        readings("/public/..%2Fadmin"),
        vec!["/public/..%2Fadmin", "/admin"]
    );
    assert_eq!(readings("/a%2Fb"), vec!["/a%2Fb", "/a/b"]);
    assert_eq!(readings("/a/..%5Cb"), vec!["/a/..%5Cb", "/b"]);
    assert_eq!(readings("/a/..\\b"), vec!["/a/..\\b", "/b"]);
    // Tomcat's `..;`: parameters go first, then the dot segment resolves.
    assert_eq!(
        readings("/public/..;/admin"),
        vec!["/public/..;/admin", "/admin"]
    );
    // Double encoding: decoded once, then again.
    assert_eq!(
        readings("/p/..%252Fadmin"),
        vec!["/p/..%252Fadmin", "/p/..%2Fadmin", "/admin"]
    );
    // An encoded `;` becomes a parameter once decoded.
    assert!(readings("/admin%3Bx/users").contains(&"/admin/users".to_owned()));
}

#[test]
fn stacked_encodings_are_refused_not_guessed() {
    let deep = format!("/a%25{}2F/b", "25".repeat(20));
    assert_eq!(RequestPath::parse(&deep), Err(PathError::TooManyReadings));
    // A few layers are still read.
    assert!(RequestPath::parse("/a%25252F..%25252Fb").is_ok());
}

#[test]
fn climbing_out_of_a_base_path_is_refused_only_with_one() {
    for raw in [
        "/..%2Fadmin",
        "/..%5Cadmin",
        "/..;/admin",
        "/a/..%2F..%2Fadmin",
        "/%2E%2E%2Fx",
    ] {
        let path = RequestPath::parse(raw).unwrap();
        assert_eq!(
            path.check_base(true),
            Err(PathError::EscapesBasePath),
            "{raw}"
        );
        assert_eq!(path.check_base(false), Ok(()), "{raw}");
    }
    // Dot segments that are not hidden are resolved before forwarding: nothing climbs.
    for raw in ["/../admin", "/a/..%2Fb", "/a/%2e%2e/b", "/x;y/../z"] {
        assert_eq!(
            RequestPath::parse(raw).unwrap().check_base(true),
            Ok(()),
            "{raw}"
        );
    }
}

#[test]
fn case_folding_includes_letters_that_fold_to_ascii() {
    assert_eq!(fold_case(b"/ADMIN/Users"), b"/admin/users");
    assert_eq!(fold_case("/\u{17F}ecret".as_bytes()), b"/secret");
    assert_eq!(
        fold_case("/\u{212A}ey/adm\u{131}n/\u{130}".as_bytes()),
        b"/key/admin/i"
    );
    assert_eq!(fold_case("/é".as_bytes()), "/é".as_bytes());
}

/// The canonical form is a fixed point (found by fuzz/route_match: `/PU%5%61d` once became
/// `/PU%5ad`, which canonicalises again to `/PUZd`): config patterns are checked to be
/// canonical, so a request's canonical path must be one too.
#[test]
fn canonicalising_twice_changes_nothing() {
    for raw in [
        "/PU%5%61d",
        "/%6%31dmin",
        "/%%341",
        "/%",
        "/%%",
        "/%2%35",
        "/a%2F%2e%2e/%2561",
        "/%7e%7E%7",
        "/..%2F..%2f%2E%2e",
        "/a;b=%3B/%5C..%5c",
    ] {
        let once = canonical(raw);
        assert_eq!(canonical(&once), once, "{raw}");
    }
}
