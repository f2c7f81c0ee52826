//! The layering of `src/`, checked on the source: who may import whom (docs/architecture.md draws it).

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::Path,
};

/// Top-level module -> the top-level modules its files name as `crate::...`.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let tops: BTreeSet<String> = fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() || p.extension().is_some_and(|x| x == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut graph = BTreeMap::new();
    for (file, text) in source_files(&src) {
        let top = file.split('/').next().unwrap().trim_end_matches(".rs");
        let uses: &mut BTreeSet<String> = graph.entry(top.to_string()).or_default();
        uses.extend(
            crate_refs(&text)
                .into_iter()
                .filter(|m| tops.contains(m) && m != top),
        );
    }
    graph
}

/// Every `.rs` file under `dir`, as (path relative to `src/`, text).
fn source_files(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let rel = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, fs::read_to_string(&path).unwrap()));
            }
        }
    }
    out
}

/// The first path segment after each `crate::`, including each member of a `crate::{a::x, b}` group.
fn crate_refs(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        let Some(group) = rest.strip_prefix('{') else {
            out.insert(leading_ident(rest));
            continue;
        };
        let (mut depth, mut start) = (0, 0);
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    out.insert(leading_ident(&group[start..i]));
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.insert(leading_ident(&group[start..i]));
                    start = i + 1;
                }
                _ => {}
            }
        }
    }
    out.remove("");
    out
}

fn leading_ident(text: &str) -> String {
    text.trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

#[test]
fn top_level_modules_import_each_other_without_a_cycle() {
    let graph = module_graph();
    // Kahn's algorithm: whatever cannot be ordered sits on a cycle.
    let mut remaining = graph;
    while let Some(leaf) = remaining
        .iter()
        .find(|(_, uses)| uses.iter().all(|u| !remaining.contains_key(u)))
        .map(|(m, _)| m.clone())
    {
        remaining.remove(&leaf);
    }
    assert!(remaining.is_empty(), "import cycle among {remaining:?}");
}

#[test]
fn each_layer_imports_only_the_layers_below_it() {
    let graph = module_graph();
    let allowed: &[(&str, &[&str])] = &[
        ("domain", &["clock"]),
        ("db", &["config", "domain", "clock", "trace_context"]),
        ("cache", &["config", "trace_context"]),
        ("rate_limit", &["config"]),
        (
            "auth",
            &["config", "domain", "clock", "request_id", "trace_context"],
        ),
        (
            "outbox",
            &["config", "db", "domain", "clock", "trace_context"],
        ),
        ("trace_context", &[]),
        ("state", &["auth", "cache", "config", "db", "outbox"]),
        (
            "service",
            &[
                "auth",
                "cache",
                "clock",
                "config",
                "db",
                "domain",
                "outbox",
                "request_id",
                "state",
                "trace_context",
            ],
        ),
    ];
    for (module, may_use) in allowed {
        let extra: Vec<_> = graph[*module]
            .iter()
            .filter(|u| !may_use.contains(&u.as_str()))
            .collect();
        assert!(extra.is_empty(), "{module} must not import {extra:?}");
    }
}

#[test]
fn handlers_call_the_service_layer_and_never_storage_or_a_sibling_handler() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let handlers = [
        "address_formats",
        "addresses",
        "admin",
        "health",
        "preferences",
        "privacy",
        "profiles",
        "users",
        "users_preferences",
    ];
    for (file, text) in source_files(&src) {
        let name = file.trim_end_matches(".rs");
        if !handlers.contains(&name) {
            continue;
        }
        let refs = crate_refs(&text);
        for layer in ["db", "cache"] {
            assert!(!refs.contains(layer), "http/{file} uses {layer}:: directly");
        }
        for sibling in handlers.iter().filter(|h| **h != name) {
            assert!(
                !text.contains(&format!("http::{sibling}::"))
                    && !text.contains(&format!("{sibling}::{{")),
                "http/{file} imports the handler module http/{sibling}.rs"
            );
        }
    }
}

#[test]
fn only_the_transport_and_the_server_know_axum() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (file, text) in source_files(&src) {
        if file.starts_with("http/") || file == "server.rs" {
            continue;
        }
        assert!(!text.contains("axum"), "{file} names axum");
    }
}
