//! The crate's plan, checked: every `use` between files points down the layers drawn in
//! `src/lib.rs`, and no group of files imports itself in a circle.
//!
//! Paths are read from the source text (use trees and inline `crate::`/`super::` paths, test
//! modules left out) and followed through `pub use` re-exports to the file that defines the item,
//! so a module's interface in its `mod.rs` does not hide where an import really goes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

/// The top-level modules from the bottom layer up, as `src/lib.rs` draws them. A file may import
/// from its own top-level module or from one listed before it.
const LAYERS: [&str; 15] = [
    "task",
    "atomic_file",
    "seeded",
    "tensorboard",
    "kernels",
    "data",
    "model",
    "weighting",
    "tsne",
    "eval",
    "train",
    "session",
    "lab",
    "ui",
    "cli",
];

type Module = Vec<String>;

struct Crate {
    /// Module path (e.g. ["data", "real", "scan"]) → source text without tests and comments.
    files: BTreeMap<Module, String>,
}

fn read_crate(src: &Path) -> Crate {
    let mut files = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut module: Module = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let last = module.last().cloned().unwrap_or_default();
            if ["mod", "lib", "main"].contains(&last.as_str()) {
                module.pop();
            }
            // main.rs is the binary: it uses the library by its name, not `crate::`.
            if ["tests", "test_util", "main"].contains(&last.as_str()) {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            files.insert(module, without_tests_and_comments(&text));
        }
    }
    Crate { files }
}

fn without_tests_and_comments(text: &str) -> String {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    code.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e` (spaces removed, `as` renames dropped).
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let Some(open) = tree.find('{') else {
        let plain = tree.split(" as ").next().unwrap_or("").replace(' ', "");
        return vec![plain];
    };
    let prefix = tree[..open].replace(' ', "");
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, ch) in inner.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(|p| expand(p).into_iter().map(|e| format!("{prefix}{e}")))
        .collect()
}

/// Every `use` statement: (is it `pub use`, expanded paths), and the text with them removed.
fn use_statements(text: &str) -> (Vec<(bool, String)>, String) {
    let mut paths = Vec::new();
    let mut rest = String::new();
    let mut cursor = 0;
    while let Some(found) = find_use(text, cursor) {
        let (start, body_start, public) = found;
        let end = text[body_start..]
            .find(';')
            .map_or(text.len(), |e| body_start + e);
        for p in expand(&text[body_start..end]) {
            paths.push((public, p));
        }
        rest.push_str(&text[cursor..start]);
        cursor = (end + 1).min(text.len());
    }
    rest.push_str(&text[cursor..]);
    (paths, rest)
}

/// The next `use` keyword at a statement start from `from`: (statement start, body start, pub).
fn find_use(text: &str, from: usize) -> Option<(usize, usize, bool)> {
    let mut at = from;
    while let Some(i) = text[at..].find("use ") {
        let i = at + i;
        let before = text[..i].trim_end();
        let line_start = before.rfind(['\n', ';', '{', '}']).map_or(0, |p| p + 1);
        let lead = before[line_start..].trim();
        let boundary = i == 0 || !text.as_bytes()[i - 1].is_ascii_alphanumeric();
        if boundary && (lead.is_empty() || lead.starts_with("pub")) {
            return Some((line_start.min(i), i + 4, lead.starts_with("pub")));
        }
        at = i + 4;
    }
    None
}

/// Inline `crate::a::b` and `super::a` paths outside use statements.
fn inline_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["crate::", "super::"] {
        let mut at = 0;
        while let Some(i) = code[at..].find(key) {
            let i = at + i;
            at = i + key.len();
            let prev = code[..i].chars().last();
            if prev.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let tail: String = code[i..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push(tail.trim_end_matches(':').to_string());
        }
    }
    out
}

impl Crate {
    /// An absolute module path for `path` written in `module`, or None for external crates.
    fn absolute(&self, module: &Module, path: &str) -> Option<Module> {
        let segs: Vec<String> = path.split("::").map(String::from).collect();
        match segs[0].as_str() {
            "crate" => Some(segs[1..].to_vec()),
            "self" => Some(module.iter().chain(&segs[1..]).cloned().collect()),
            "super" => {
                let mut base = module.clone();
                let mut rest = &segs[..];
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop();
                    rest = &rest[1..];
                }
                Some(base.into_iter().chain(rest.iter().cloned()).collect())
            }
            first => {
                let mut child = module.clone();
                child.push(first.to_string());
                self.files
                    .contains_key(&child)
                    .then(|| module.iter().chain(&segs).cloned().collect())
            }
        }
    }

    /// The file an absolute item path lands in, following `pub use` re-exports.
    fn resolve(
        &self,
        full: &[String],
        reexports: &HashMap<(Module, String), Module>,
    ) -> Option<Module> {
        let mut path = full.to_vec();
        for _ in 0..16 {
            let k = (1..=path.len())
                .rev()
                .find(|&k| self.files.contains_key(&path[..k]))?;
            let file: Module = path[..k].to_vec();
            match path
                .get(k)
                .and_then(|name| reexports.get(&(file.clone(), name.clone())))
            {
                Some(target) => {
                    let mut next = target.clone();
                    next.extend(path[k + 1..].iter().cloned());
                    path = next;
                }
                None => return Some(file),
            }
        }
        None
    }

    /// File → files it imports from.
    fn edges(&self) -> BTreeMap<Module, BTreeSet<Module>> {
        let mut uses = BTreeMap::new();
        let mut reexports = HashMap::new();
        for (module, text) in &self.files {
            let (statements, rest) = use_statements(text);
            for (public, path) in &statements {
                if !public || path.ends_with('*') {
                    continue;
                }
                if let Some(full) = self.absolute(module, path) {
                    let name = full.last().cloned().unwrap_or_default();
                    reexports.insert((module.clone(), name), full);
                }
            }
            let mut all: Vec<String> = statements.into_iter().map(|(_, p)| p).collect();
            all.extend(inline_paths(&rest));
            uses.insert(module.clone(), all);
        }
        let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
        for (module, paths) in uses {
            for path in paths {
                let Some(full) = self.absolute(&module, path.trim_end_matches("::*")) else {
                    continue;
                };
                if let Some(target) = self.resolve(&full, &reexports)
                    && target != module
                {
                    edges.entry(module.clone()).or_default().insert(target);
                }
            }
        }
        edges
    }
}

fn layer(module: &Module) -> Option<usize> {
    LAYERS
        .iter()
        .position(|l| module.first().is_some_and(|m| m == l))
}

/// Groups of files that import each other in a circle (Tarjan's strongly connected components).
fn circles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct State<'a> {
        edges: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: HashMap<&'a Module, usize>,
        low: HashMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on_stack: BTreeSet<&'a Module>,
        found: Vec<Vec<Module>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Module) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.edges.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut group = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                group.push(w.clone());
                if w == v {
                    break;
                }
            }
            if group.len() > 1 {
                s.found.push(group);
            }
        }
    }
    let mut s = State {
        edges,
        index: HashMap::new(),
        low: HashMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.found
}

fn crate_edges() -> (Crate, BTreeMap<Module, BTreeSet<Module>>) {
    let krate = read_crate(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let edges = krate.edges();
    (krate, edges)
}

#[test]
fn every_top_level_module_has_a_layer() {
    let (krate, _) = crate_edges();
    let unplaced: BTreeSet<&String> = krate
        .files
        .keys()
        .filter(|m| !m.is_empty() && layer(m).is_none())
        .map(|m| &m[0])
        .collect();
    assert!(
        unplaced.is_empty(),
        "add these to LAYERS and src/lib.rs: {unplaced:?}"
    );
}

#[test]
fn imports_point_down_the_layers() {
    let (_, edges) = crate_edges();
    let mut upward = Vec::new();
    for (from, targets) in &edges {
        for to in targets {
            if let (Some(a), Some(b)) = (layer(from), layer(to))
                && b > a
            {
                upward.push(format!("{} -> {}", from.join("/"), to.join("/")));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports from a lower layer to a higher one:\n{}",
        upward.join("\n")
    );
}

#[test]
fn no_files_import_each_other_in_a_circle() {
    let (_, edges) = crate_edges();
    let found: Vec<String> = circles(&edges)
        .into_iter()
        .map(|g| {
            g.iter()
                .map(|m| m.join("/"))
                .collect::<Vec<_>>()
                .join(" ↔ ")
        })
        .collect();
    assert!(found.is_empty(), "circles:\n{}", found.join("\n"));
}

#[test]
fn the_checker_sees_circles_and_upward_imports() {
    // A tiny crate with one circle (a ↔ b, one of them through a re-export) and one upward
    // import (task → ui): the checker must report both, or it proves nothing.
    let file = |m: &[&str]| m.iter().map(|s| s.to_string()).collect::<Module>();
    let mut files = BTreeMap::new();
    files.insert(
        file(&["data"]),
        "pub mod a;\npub use a::Thing;\n".to_string(),
    );
    files.insert(
        file(&["data", "a"]),
        "use super::b::helper;\npub struct Thing;\n".into(),
    );
    files.insert(
        file(&["data", "b"]),
        "use crate::data::Thing;\npub fn helper() {}\n".into(),
    );
    files.insert(file(&["task"]), "fn f() { crate::ui::draw(); }\n".into());
    files.insert(file(&["ui"]), "pub fn draw() {}\n".into());
    let krate = Crate { files };
    let edges = krate.edges();
    let groups = circles(&edges);
    assert_eq!(groups.len(), 1, "{edges:?}");
    assert!(edges[&file(&["task"])].contains(&file(&["ui"])));
    assert!(
        edges[&file(&["data", "b"])].contains(&file(&["data", "a"])),
        "re-export followed"
    );
}

/// Every `.rs` file under `dir`, with its path relative to the crate root.
fn rust_files(dir: &Path) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                out.push((rel, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn only_the_panels_know_egui() {
    // The window's state (lab) and everything below it build without a GUI toolkit: only
    // ui/ draws, and only cli/ starts the window through ui.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let named: Vec<String> = rust_files(&root.join("src"))
        .into_iter()
        .filter(|(path, _)| !path.starts_with("src/ui/"))
        .filter(|(_, text)| {
            let code = without_tests_and_comments(text);
            ["egui", "eframe"].iter().any(|name| {
                code.match_indices(name).any(|(i, _)| {
                    let before = code[..i].chars().last();
                    let after = code[i + name.len()..].chars().next();
                    !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                        && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
                })
            })
        })
        .map(|(path, _)| path)
        .collect();
    assert!(
        named.is_empty(),
        "files outside ui/ that name egui or eframe: {named:?}"
    );
}

#[test]
fn no_test_draws_unseeded_random_inputs() {
    // A test whose inputs change from run to run can pass today and fail tomorrow: every
    // random input must come from a seeded generator (the kernels' `seeded_normal`,
    // `ChaCha8Rng::seed_from_u64`).
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let unseeded = [
        "Tensor::randn",
        "Tensor::rand(",
        "randn_like",
        "rand_like",
        "thread_rng",
        "rand::rng()",
        "rand::random",
        "from_entropy",
        "from_os_rng",
        "OsRng",
    ];
    let mut found = Vec::new();
    for dir in ["src", "tests"] {
        for (path, text) in rust_files(&root.join(dir)) {
            // In src/ only the test modules are tests; tests/ is all test code.
            let test_code = if dir == "src" {
                text.split("#[cfg(test)]")
                    .skip(1)
                    .collect::<Vec<_>>()
                    .join("\n")
            } else {
                text.clone()
            };
            if path.ends_with("architecture.rs") {
                continue;
            }
            let test_code: String = test_code
                .lines()
                .map(|l| l.split("//").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n");
            for pattern in unseeded {
                if test_code.contains(pattern) {
                    found.push(format!("{path}: {pattern}"));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "unseeded random inputs:\n{}",
        found.join("\n")
    );
}
