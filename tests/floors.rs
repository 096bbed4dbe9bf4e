//! The crate is a house with floors (docs/ARCHITECTURE.md, "Floors"): each module imports
//! only modules on floors below its own, and no two files import each other, directly or
//! through others. This test reads the floors table from ARCHITECTURE.md and every
//! `crate::…`, `super::…` and child-module path in src/, so that a new import across a
//! floor fails with the file, the line and the rule it breaks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One row of the floors table: its number, its modules, and pairs (module, module it
/// may never import though it is below).
#[derive(Debug)]
struct Floor {
    number: u32,
    modules: Vec<String>,
    never: Vec<(String, String)>,
    rule: String,
}

/// The floors table: the rows of the table under "## Floors" whose first cell is a number.
fn floors(architecture: &str) -> Vec<Floor> {
    let section = architecture
        .split("\n## ")
        .find(|s| s.starts_with("Floors"))
        .expect("docs/ARCHITECTURE.md has a section \"## Floors\"");
    let ticked = |cell: &str| -> Vec<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(|m| m.trim_end_matches('/').to_string())
            .collect()
    };
    section
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim().trim_matches('|').split('|').collect();
            let number = cells.first()?.trim().parse().ok()?;
            let rule = cells.last()?.trim().to_string();
            // "`report` never `model`": the last module named before "never", and after.
            let never = match rule.split_once(" never ") {
                Some((before, after)) => ticked(before)
                    .last()
                    .into_iter()
                    .flat_map(|m| ticked(after).into_iter().map(|n| (m.clone(), n)))
                    .collect(),
                None => Vec::new(),
            };
            Some(Floor {
                number,
                modules: ticked(cells.get(1)?),
                never,
                rule,
            })
        })
        .collect()
}

/// A source file: its path from the crate root (`src/…`), its module path, its text.
struct Source {
    path: String,
    module: Vec<String>,
    text: String,
}

fn module_of(path: &str) -> Vec<String> {
    let rel = path.trim_start_matches("src/").trim_end_matches(".rs");
    let mut parts: Vec<String> = rel.split('/').map(String::from).collect();
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts
}

/// A path a file names: the line it is on, and its segments from the crate root.
struct Import {
    line: usize,
    segments: Vec<String>,
    /// In a `#[cfg(test)]` module: checked against the floors, not part of a cycle.
    in_tests: bool,
}

fn identifier(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The segments after `prefix` at `at`, and, for a `{…}` group, each item's first ones.
fn paths_at(text: &str, at: usize) -> Vec<Vec<String>> {
    let mut segments = Vec::new();
    let mut rest = &text[at..];
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            return inner
                .split(',')
                .map(|item| {
                    let mut s = segments.clone();
                    s.extend(
                        item.trim()
                            .split("::")
                            .map(identifier)
                            .take_while(|p| !p.is_empty() && p != "self"),
                    );
                    s
                })
                .collect();
        }
        let id = identifier(rest);
        if id.is_empty() {
            break;
        }
        rest = &rest[id.len()..];
        segments.push(id);
        match rest.strip_prefix("::") {
            Some(r) => rest = r,
            None => break,
        }
    }
    vec![segments]
}

/// Every path `source` names outside comments: `crate::…` anywhere; outside its tests,
/// `super::…`, `self::…` and `use child::…` of a child module it declares.
fn imports(source: &Source) -> Vec<Import> {
    let mut out = Vec::new();
    let children: BTreeSet<String> = source
        .text
        .lines()
        .filter_map(|l| {
            let l = l.trim().strip_prefix("pub ").unwrap_or(l.trim());
            let name = l.strip_prefix("mod ")?.strip_suffix(';')?;
            Some(name.to_string())
        })
        .collect();
    let mut in_tests = false;
    let lines: Vec<&str> = source.text.lines().collect();
    for (n, raw) in lines.iter().copied().enumerate() {
        // A test module's body (`#[cfg(test)] mod tests { … }`), not the declaration of a
        // test file (`#[cfg(test)] mod tests;`), which may come before other imports.
        let declares_file = lines
            .get(n + 1)
            .is_some_and(|l| l.trim_end().ends_with(';'));
        if raw.trim_start().starts_with("#[cfg(test)]") && !declares_file {
            in_tests = true;
        }
        let line = match raw.find("//") {
            Some(i) => &raw[..i],
            None => raw,
        };
        let mut push = |base: Vec<String>, at: usize| {
            for tail in paths_at(line, at) {
                let mut segments = base.clone();
                segments.extend(tail);
                out.push(Import {
                    line: n + 1,
                    segments,
                    in_tests,
                });
            }
        };
        for (i, _) in line.match_indices("crate::") {
            let before = line[..i].chars().last();
            if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_')) {
                push(Vec::new(), i + "crate::".len());
            }
        }
        if in_tests {
            continue;
        }
        // Every file is the module `source.module`; `super::` is its parent.
        let parent = source.module[..source.module.len().saturating_sub(1)].to_vec();
        for (i, _) in line.match_indices("super::") {
            let before = line[..i].chars().last();
            if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':')) {
                push(parent.clone(), i + "super::".len());
            }
        }
        let trimmed = line.trim_start();
        let used = ["use ", "pub use ", "pub(crate) use "]
            .iter()
            .find_map(|p| trimmed.strip_prefix(p));
        if let Some(rest) = used {
            if children.contains(&identifier(rest)) {
                push(source.module.clone(), line.len() - rest.len());
            }
        }
    }
    out
}

/// The tree under test: every file, by its module path.
struct Tree {
    sources: Vec<Source>,
    by_module: BTreeMap<Vec<String>, usize>,
    /// (file, name) → the path a `pub use` in that file re-exports under `name`.
    reexports: BTreeMap<(usize, String), Vec<String>>,
}

impl Tree {
    fn new(sources: Vec<Source>) -> Tree {
        let by_module = sources
            .iter()
            .enumerate()
            .map(|(i, s)| (s.module.clone(), i))
            .collect();
        let mut tree = Tree {
            sources,
            by_module,
            reexports: BTreeMap::new(),
        };
        for i in 0..tree.sources.len() {
            let source = &tree.sources[i];
            for import in imports(source) {
                let text = source.text.lines().nth(import.line - 1).unwrap_or("");
                if text.trim_start().starts_with("pub use ") {
                    if let Some(name) = import.segments.last() {
                        tree.reexports
                            .insert((i, name.clone()), import.segments.clone());
                    }
                }
            }
        }
        tree
    }

    /// The file a path leads to: its longest prefix that is a module, followed through
    /// that module's re-exports.
    fn resolve(&self, segments: &[String]) -> Option<usize> {
        let mut seen = 0;
        let mut segments = segments.to_vec();
        loop {
            let (file, used) = (1..=segments.len())
                .rev()
                .find_map(|n| self.by_module.get(&segments[..n]).map(|&f| (f, n)))?;
            let next = segments.get(used);
            match next.and_then(|name| self.reexports.get(&(file, name.clone()))) {
                Some(target) if seen < 8 && target != &segments => {
                    let mut s = target.clone();
                    s.extend(segments[used + 1..].iter().cloned());
                    segments = s;
                    seen += 1;
                }
                _ => return Some(file),
            }
        }
    }
}

/// What breaks the floors: imports across them, files on no floor, import cycles.
fn violations(architecture: &str, sources: Vec<Source>) -> Vec<String> {
    let floors = floors(architecture);
    assert!(
        floors.len() >= 3,
        "the floors table has too few rows: {floors:?}"
    );
    let top = floors.iter().map(|f| f.number).max().unwrap_or(0);
    let floor_of = |module: &str| {
        floors
            .iter()
            .find(|f| f.modules.iter().any(|m| m == module))
    };
    let tree = Tree::new(sources);
    let mut out = Vec::new();
    let mut edges: BTreeMap<usize, BTreeMap<usize, usize>> = BTreeMap::new();
    for (i, source) in tree.sources.iter().enumerate() {
        let Some(own) = source.module.first() else {
            continue; // lib.rs and main.rs: the crate's root and its binary
        };
        let Some(floor) = floor_of(own) else {
            out.push(format!(
                "{}: module `{own}` is on no floor; add it to the floors table in docs/ARCHITECTURE.md",
                source.path
            ));
            continue;
        };
        for import in imports(source) {
            let Some(to) = import.segments.first() else {
                continue;
            };
            if let Some(target) = tree.resolve(&import.segments) {
                if target != i && !import.in_tests {
                    edges
                        .entry(i)
                        .or_default()
                        .entry(target)
                        .or_insert(import.line);
                }
            }
            if to == own || !tree.by_module.contains_key(&vec![to.clone()]) {
                continue;
            }
            let Some(theirs) = floor_of(to) else {
                continue; // reported on that module's own files
            };
            let across = theirs.number > floor.number
                || (theirs.number == floor.number && floor.number != top)
                || floor.never.iter().any(|(m, n)| m == own && n == to);
            if across {
                out.push(format!(
                    "{}:{}: `{own}` (floor {}) imports `crate::{}` (floor {}); the rule of floor {}: {}",
                    source.path,
                    import.line,
                    floor.number,
                    import.segments.join("::"),
                    theirs.number,
                    floor.number,
                    floor.rule
                ));
            }
        }
    }
    // Import cycles between files: a depth-first search for a back edge.
    let mut state = vec![0u8; tree.sources.len()];
    let mut stack = Vec::new();
    fn visit(
        f: usize,
        edges: &BTreeMap<usize, BTreeMap<usize, usize>>,
        state: &mut [u8],
        stack: &mut Vec<usize>,
        tree: &Tree,
        out: &mut Vec<String>,
    ) {
        state[f] = 1;
        stack.push(f);
        for (&g, &line) in edges.get(&f).into_iter().flatten() {
            match state[g] {
                0 => visit(g, edges, state, stack, tree, out),
                1 => {
                    let from = stack.iter().position(|&s| s == g).unwrap_or(0);
                    let mut names: Vec<&str> = stack[from..]
                        .iter()
                        .map(|&s| tree.sources[s].path.as_str())
                        .collect();
                    names.push(tree.sources[g].path.as_str());
                    out.push(format!(
                        "import cycle: {} (closed by {}:{line})",
                        names.join(" -> "),
                        tree.sources[f].path
                    ));
                }
                _ => {}
            }
        }
        stack.pop();
        state[f] = 2;
    }
    for f in 0..tree.sources.len() {
        if state[f] == 0 {
            visit(f, &edges, &mut state, &mut stack, &tree, &mut out);
        }
    }
    out
}

fn read_tree(dir: &Path, root: &Path, out: &mut Vec<Source>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("src/ is readable")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            read_tree(&p, root, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            let path = p
                .strip_prefix(root)
                .expect("under the crate")
                .to_string_lossy()
                .into_owned();
            out.push(Source {
                module: module_of(&path),
                text: std::fs::read_to_string(&p).expect("source is readable"),
                path,
            });
        }
    }
}

#[test]
fn every_import_goes_down_a_floor_and_no_files_import_each_other() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let architecture =
        std::fs::read_to_string(root.join("docs/ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let mut sources = Vec::new();
    read_tree(&root.join("src"), root, &mut sources);
    assert!(sources.len() > 40, "read {} files of src/", sources.len());
    let v = violations(&architecture, sources);
    assert!(v.is_empty(), "the floors are broken:\n{}", v.join("\n"));
}

fn source(path: &str, text: &str) -> Source {
    Source {
        path: path.into(),
        module: module_of(path),
        text: text.into(),
    }
}

const TABLE: &str = "# A\n\n## Floors\n\n| floor | modules | holds | may import |\n|---|---|---|---|\n\
| 1 | `op` | outcomes | nothing of the crate |\n\
| 2 | `workload/` | ops | floor 1 |\n\
| 3 | `model/`, `report/` | models | floors 1–2; `report` never `model` |\n\
| 4 | `run`, `ab` | commands | anything below, and each other |\n\n## Next\n";

#[test]
fn the_check_finds_an_import_up_a_floor_a_forbidden_one_a_cycle_and_a_stray_module() {
    let v = violations(
        TABLE,
        vec![
            source("src/op.rs", "use crate::workload::Spec;\n"),
            source(
                "src/workload/mod.rs",
                "pub mod a;\npub mod b;\n#[cfg(test)]\nmod tests;\npub use a::Spec;\n",
            ),
            source("src/workload/a.rs", "use super::b::B;\npub struct Spec;\n"),
            source(
                "src/workload/b.rs",
                "use crate::workload::Spec;\npub struct B;\n",
            ),
            source(
                "src/report/mod.rs",
                "// crate::model in a comment is no import\nuse crate::model::M;\n",
            ),
            source(
                "src/model/mod.rs",
                "use crate::op::Timing;\npub struct M;\n",
            ),
            source("src/run.rs", "use crate::ab::go;\nuse crate::model::M;\n"),
            source("src/ab.rs", "pub fn go() {}\n"),
            source("src/extra.rs", "pub fn f() {}\n"),
        ],
    );
    let has = |needle: &str| v.iter().any(|l| l.contains(needle));
    assert!(
        has("src/op.rs:1: `op` (floor 1) imports `crate::workload::Spec` (floor 2)"),
        "{v:#?}"
    );
    assert!(
        has("src/report/mod.rs:2: `report` (floor 3) imports `crate::model::M`"),
        "{v:#?}"
    );
    assert!(
        has("import cycle: src/workload/a.rs -> src/workload/b.rs -> src/workload/a.rs"),
        "{v:#?}"
    );
    assert!(has("src/extra.rs: module `extra` is on no floor"), "{v:#?}");
    assert!(!has("src/run.rs"), "the top floor imports anything: {v:#?}");
    assert!(!has("src/model/mod.rs"), "{v:#?}");
    assert_eq!(v.len(), 4, "{v:#?}");
}
