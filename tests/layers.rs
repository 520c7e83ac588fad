//! The shape of src/: the module graph has no cycle, and each stage uses only the stages
//! below it (ARCHITECTURE.md draws them). A reference is any `crate::…`, `super::…` or
//! `self::…` path, and a parent's `child::…` path, outside comments and test modules; it
//! points at the deepest module its path names (a file: `a.rs`, `a/mod.rs`). Test code may
//! reach anywhere, so `#[cfg(test)]` modules and `tests.rs` / `*_tests.rs` files are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// The stages, bottom first. A module belongs to the stage of its first path segment;
/// the crate root (lib.rs: the Worker's entry points) sits above all of them.
const STAGES: &[&[&str]] = &[
    &["alg", "json", "bounded"],
    &["error"],
    &["path"],
    &["token"],
    &["config"],
    &["verify"],
    &["keys"],
    &["policy"],
    &["decide"],
    &["edge"],
];

type Module = Vec<String>;

fn stage_of(module: &Module) -> usize {
    match module.first() {
        None => STAGES.len(),
        Some(top) => STAGES
            .iter()
            .position(|s| s.contains(&top.as_str()))
            .unwrap_or_else(|| panic!("module `{top}` is in no stage: add it to STAGES")),
    }
}

/// Every module of the tree under `src`, with its source minus comments and test code.
fn read_tree(src: &Path) -> BTreeMap<Module, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![(src.to_path_buf(), Vec::<String>::new())];
    while let Some((dir, prefix)) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("src/ is readable") {
            let path = entry.expect("a directory entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                stack.push((path, [prefix.clone(), vec![name]].concat()));
                continue;
            }
            let Some(stem) = name.strip_suffix(".rs") else {
                continue;
            };
            if stem == "tests" || stem.ends_with("_tests") {
                continue;
            }
            let module = match stem {
                "lib" if prefix.is_empty() => vec![],
                "mod" => prefix.clone(),
                _ => [prefix.clone(), vec![stem.to_owned()]].concat(),
            };
            let text = fs::read_to_string(&path).expect("a source file is readable");
            out.insert(module, code_only(&text));
        }
    }
    out
}

/// `text` without comments, with the contents of string and char literals blanked (a `//`
/// or a brace inside a string is not code), and without inline `#[cfg(test)] mod … { … }`
/// blocks.
fn code_only(text: &str) -> String {
    let code = strip_literals_and_comments(text);
    let mut out = String::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = rest[at + "#[cfg(test)]".len()..].trim_start();
        let after = after
            .strip_prefix("pub(crate)")
            .unwrap_or(after)
            .trim_start();
        let header_end = after.find(['{', ';']).unwrap_or(after.len());
        if after.starts_with("mod ") && after[header_end..].starts_with('{') {
            // Skip the block, braces balanced (literals are blank by now).
            let body = &after[header_end..];
            let mut depth = 0usize;
            let mut end = body.len();
            for (i, c) in body.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = i + 1;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            rest = &body[end..];
        } else {
            // `#[cfg(test)] mod x;` or a test-only item: drop only the attribute.
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Rust source with `//` and `/* */` comments removed and the contents of string, raw
/// string and char literals replaced by spaces (quotes and line breaks kept). A `'` starts
/// a char literal only when it closes within a few characters; otherwise it is a lifetime.
fn strip_literals_and_comments(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let blank = |ch: char| if ch == '\n' { '\n' } else { ' ' };
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < c.len() {
        let next = c.get(i + 1).copied();
        let word_start = i == 0 || !is_ident(c[i - 1]);
        if c[i] == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if c[i] == '/' && next == Some('*') {
            let mut depth = 0usize;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(c[i]));
                    i += 1;
                }
            }
        } else if c[i] == 'r' && word_start && matches!(next, Some('"') | Some('#')) {
            let mut j = i + 1;
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if c.get(j) != Some(&'"') {
                out.push(c[i]);
                i += 1;
                continue;
            }
            out.push('"');
            j += 1;
            while j < c.len() {
                if c[j] == '"' && (1..=hashes).all(|k| c.get(j + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                out.push(blank(c[j]));
                j += 1;
            }
            out.push('"');
            i = j;
        } else if c[i] == '"' {
            out.push('"');
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < c.len() {
                    out.push(blank(c[i]));
                    i += 1;
                }
            }
            out.push('"');
            i += 1;
        } else if c[i] == '\'' {
            let close = if next == Some('\\') {
                (i + 2..c.len().min(i + 12)).find(|&k| c[k] == '\'')
            } else {
                (c.get(i + 2) == Some(&'\'')).then_some(i + 2)
            };
            match close {
                Some(k) => {
                    out.push_str("' '");
                    i = k + 1;
                }
                None => {
                    out.push('\'');
                    i += 1;
                }
            }
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The paths starting at `text` (just after `crate::` or the like), with `{a, b::c}`
/// groups expanded; each path as its segments.
fn paths_at(text: &str) -> Vec<Vec<String>> {
    let mut segments = Vec::new();
    let mut rest = text;
    loop {
        let len = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
        if len == 0 {
            if let Some(group) = rest.strip_prefix('{') {
                let mut out = Vec::new();
                let mut depth = 0usize;
                let mut start = 0;
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => {
                            out.extend(paths_at(group[start..i].trim_start()));
                            break;
                        }
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            out.extend(paths_at(group[start..i].trim_start()));
                            start = i + 1;
                        }
                        _ => {}
                    }
                }
                return out
                    .into_iter()
                    .map(|p| [segments.clone(), p].concat())
                    .collect();
            }
            return vec![segments];
        }
        segments.push(rest[..len].to_owned());
        match rest[len..].strip_prefix("::") {
            Some(next) => rest = next,
            None => return vec![segments],
        }
    }
}

/// The modules `module`'s code refers to (never itself).
fn references(module: &Module, code: &str, tree: &BTreeMap<Module, String>) -> BTreeSet<Module> {
    let children: Vec<&String> = tree
        .keys()
        .filter(|m| m.len() == module.len() + 1 && m.starts_with(module))
        .map(|m| m.last().unwrap())
        .collect();
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("::") {
        // The identifier just before this `::`, if it starts a path.
        let head_start = code[..at]
            .rfind(|c: char| !is_ident(c))
            .map_or(0, |i| i + 1);
        let head = &code[head_start..at];
        if head.is_empty() || code[..head_start].ends_with("::") {
            continue;
        }
        let mut base: Module = match head {
            "crate" => vec![],
            "self" => module.clone(),
            "super" => module[..module.len().saturating_sub(1)].to_vec(),
            child if children.iter().any(|c| c.as_str() == child) => {
                [module.clone(), vec![child.to_owned()]].concat()
            }
            _ => continue,
        };
        let mut tail = &code[at + 2..];
        while let Some(next) = tail.strip_prefix("super::") {
            base.pop();
            tail = next;
        }
        for path in paths_at(tail) {
            let mut target = base.clone();
            for segment in path {
                let deeper = [target.clone(), vec![segment]].concat();
                if !tree.contains_key(&deeper) {
                    break;
                }
                target = deeper;
            }
            if &target != module {
                found.insert(target);
            }
        }
    }
    found
}

fn graph(tree: &BTreeMap<Module, String>) -> BTreeMap<Module, BTreeSet<Module>> {
    tree.iter()
        .map(|(m, code)| (m.clone(), references(m, code, tree)))
        .collect()
}

/// One cycle of `graph`, as the modules along it, if there is one.
fn find_cycle(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        m: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        marks: &mut BTreeMap<Module, Mark>,
        path: &mut Vec<Module>,
    ) -> Option<Vec<Module>> {
        match marks.get(m) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = path.iter().position(|p| p == m).unwrap();
                return Some([&path[start..], &[m.clone()][..]].concat());
            }
            None => {}
        }
        marks.insert(m.clone(), Mark::Open);
        path.push(m.clone());
        for next in graph.get(m).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(m.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    graph
        .keys()
        .find_map(|m| visit(m, graph, &mut marks, &mut Vec::new()))
}

fn show(m: &Module) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

fn src_graph() -> BTreeMap<Module, BTreeSet<Module>> {
    graph(&read_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
    ))
}

#[test]
fn the_module_graph_has_no_cycle() {
    if let Some(cycle) = find_cycle(&src_graph()) {
        let names: Vec<String> = cycle.iter().map(show).collect();
        panic!(
            "modules refer to each other in a circle: {}",
            names.join(" -> ")
        );
    }
}

/// References from a module to a stage above its own, as `from -> to`.
fn upward(
    graph: &BTreeMap<Module, BTreeSet<Module>>,
    stage: impl Fn(&Module) -> usize,
) -> Vec<String> {
    let mut wrong = Vec::new();
    for (m, refs) in graph {
        for r in refs {
            if stage(r) > stage(m) {
                wrong.push(format!("{} -> {}", show(m), show(r)));
            }
        }
    }
    wrong
}

#[test]
fn each_stage_uses_only_the_stages_below_it() {
    let wrong = upward(&src_graph(), stage_of);
    assert!(
        wrong.is_empty(),
        "a stage uses one above it (STAGES, bottom first): {wrong:#?}"
    );
}

/// The checker itself, on a small made-up tree: it sees each kind of reference, skips
/// comments and test code, and reports a cycle.
#[test]
fn the_checker_finds_what_it_should() {
    let tree: BTreeMap<Module, String> = [
        (vec![], "mod a; mod b;"),
        (
            vec!["a"],
            "mod inner;\nuse crate::b::{Thing, deep::{X}};\nfn f() { inner::g() }",
        ),
        (
            vec!["a", "inner"],
            "pub fn g() { super::h() } // crate::c::Nothing",
        ),
        (vec!["b"], "pub struct Thing;"),
        (
            vec!["b", "deep"],
            "pub struct X; pub fn y() { crate::c::z() }",
        ),
        (
            vec!["c"],
            "pub fn z() {}\n#[cfg(test)]\nmod tests { use crate::a::f; fn s() -> &'static str { \"}\" } }\nfn after() { crate::d::w() }",
        ),
        (
            vec!["d"],
            "pub fn w() { let u = \"https://x/ crate::a::f\"; let b = '{'; let l: &'static str = r#\"crate::b \"}\"#; self::v() } fn v() {}",
        ),
    ]
    .into_iter()
    .map(|(m, t)| (m.into_iter().map(String::from).collect(), code_only(t)))
    .collect();
    let g = graph(&tree);
    let names = |m: &[&str]| -> BTreeSet<String> {
        g[&m.iter().map(|s| s.to_string()).collect::<Module>()]
            .iter()
            .map(show)
            .collect()
    };
    assert_eq!(
        names(&["a"]),
        ["a::inner", "b", "b::deep"].map(String::from).into()
    );
    assert_eq!(names(&["a", "inner"]), ["a"].map(String::from).into());
    // The test module (with a brace inside a string) is skipped, and the code after it kept.
    assert_eq!(names(&["c"]), ["d"].map(String::from).into());
    // Paths inside strings are not references; `self::` stays in the module.
    assert_eq!(names(&["d"]), BTreeSet::new());
    assert_eq!(names(&["b", "deep"]), ["c"].map(String::from).into());
    // a -> a::inner -> a is a cycle (a child using its parent while the parent uses it).
    let cycle = find_cycle(&g).expect("the cycle a -> a::inner -> a");
    assert_eq!(cycle.first(), cycle.last());
    assert!(cycle.iter().any(|m| show(m) == "a::inner"), "{cycle:?}");
    // With b below a, and c and d above both: b::deep -> c reaches up.
    let stage = |m: &Module| match m.first().map(String::as_str) {
        Some("b") => 0,
        Some("a") => 1,
        _ => 2,
    };
    assert_eq!(upward(&g, stage), vec!["b::deep -> c".to_string()]);
}

/// `cargo test --test layers -- --ignored --nocapture` prints the graph, stage by stage.
#[test]
#[ignore = "prints the module graph; not a check"]
fn print_the_module_graph() {
    let g = src_graph();
    let mut by_stage: Vec<_> = g.iter().collect();
    by_stage.sort_by_key(|(m, _)| (stage_of(m), (*m).clone()));
    for (m, refs) in by_stage {
        let refs: Vec<String> = refs.iter().map(show).collect();
        println!("{:<24} -> {}", show(m), refs.join(", "));
    }
}
