//! Each workload's parameters come from one declaration: the scenario parser refuses every
//! other workload's keys (exit 2, with the file, line and column, the key, the kind and the
//! keys it takes), the README's tables are made from it, its defaults are what a scenario
//! that writes them gets, and the shipped scenarios still make the same cells.

mod common;

use std::path::Path;

use common::{bin, scenario};
use iobench::{Scenario, WorkloadKind, WorkloadSpec};

const START: &str = "<!-- workload-parameters:start -->\n";
const END: &str = "<!-- workload-parameters:end -->";

#[test]
fn the_readme_tables_are_the_declarations() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let (Some(a), Some(b)) = (readme.find(START), readme.find(END)) else {
        panic!("README.md has no {START} … {END} section");
    };
    let want = iobench::list::markdown();
    let have = &readme[a + START.len()..b];
    if have != want && std::env::var_os("IOBENCH_BLESS_README").is_some() {
        let text = format!("{}{START}{want}{}", &readme[..a], &readme[b..]);
        std::fs::write(&path, text).unwrap();
        return;
    }
    assert!(
        have == want,
        "README.md's workload parameters differ from the declarations; \
         IOBENCH_BLESS_README=1 cargo test --test params rewrites them. Expected:\n{want}"
    );
}

/// A value of `key` as written in TOML (its default where it has one to write).
fn some_value(kind: WorkloadKind, key: &str) -> String {
    let p = kind.params().into_iter().find(|p| p.name == key).unwrap();
    match p.default.starts_with(['(', '$']) {
        true => "\"x\"".into(),
        false => p.default,
    }
}

#[test]
fn every_workload_refuses_every_other_workloads_keys() {
    let mut checked = 0;
    for &kind in WorkloadKind::ALL {
        let takes: Vec<&str> = kind.params().iter().map(|p| p.name).collect();
        let takes_line = format!("{} takes: {}", kind.name(), takes.join(", "));
        for &other in WorkloadKind::ALL {
            for p in other.params() {
                if takes.contains(&p.name) {
                    continue;
                }
                let toml = format!(
                    "name = \"x\"\n[[workload]]\nkind = \"{}\"\n{} = {}\n",
                    kind.name(),
                    p.name,
                    some_value(other, p.name)
                );
                let (_dir, path, out) = scenario(&toml);
                let output = bin()
                    .arg("run")
                    .arg(&path)
                    .arg("--out")
                    .arg(&out)
                    .output()
                    .unwrap();
                let stderr = String::from_utf8_lossy(&output.stderr);
                assert_eq!(output.status.code(), Some(2), "{toml}\n{stderr}");
                for words in [
                    format!("{}:4:1:", path.display()),
                    format!("`{}` is not a parameter of `{}`", p.name, kind.name()),
                    takes_line.clone(),
                    "hint:".to_string(),
                ] {
                    assert!(stderr.contains(&words), "expected `{words}` in:\n{stderr}");
                }
                assert!(!out.exists(), "a run folder was written for:\n{toml}");
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} cases");
}

#[test]
fn a_key_of_another_workload_names_the_workloads_that_take_it() {
    let src = "name = \"x\"\n[[workload]]\nkind = \"sleep\"\nlatency = \"10ms\"\npool_min = 3\nquery = \"sleep\"\n";
    let e = Scenario::parse(src, Path::new("s.toml")).unwrap_err();
    assert_eq!(e.location, Some((5, 1)));
    assert_eq!(
        e.message,
        "`pool_min` is not a parameter of `sleep` (it is one of postgres, redis); sleep takes: latency, block_every"
    );
    let src = "name = \"x\"\n[[workload]]\nkind = \"sleep\"\nlatncy = \"10ms\"\n";
    let e = Scenario::parse(src, Path::new("s.toml")).unwrap_err();
    assert_eq!(e.location, Some((4, 1)));
    assert_eq!(
        e.message,
        "`latncy` is not a parameter of `sleep`; sleep takes: latency, block_every"
    );
    assert!(e.hint.unwrap().contains("trials, warmup"), "the [run] keys");
}

/// Writing every default that can be written gives the workload a table without them gets.
#[test]
fn the_declared_defaults_are_the_defaults() {
    for &kind in WorkloadKind::ALL {
        let mut toml = format!("name = \"x\"\n[[workload]]\nkind = \"{}\"\n", kind.name());
        for p in kind.params() {
            // postgres's server_delay is refused unless query = "sleep", which is no default.
            let refused = (kind, p.name) == (WorkloadKind::Postgres, "server_delay");
            if !p.default.starts_with(['(', '$']) && !refused {
                toml += &format!("{} = {}\n", p.name, p.default);
            }
        }
        let written = Scenario::parse(&toml, Path::new("d.toml")).unwrap_or_else(|e| {
            panic!("{toml}\n{e}");
        });
        assert_eq!(
            written.workloads[0].0,
            WorkloadSpec::default_of(kind),
            "{toml}"
        );
    }
}

/// The cells of every scenario in scenarios/, as they were before the parameters had one
/// declaration (tests/fixtures/scenario_cells.txt): cell ids are how runs are compared.
#[test]
fn the_shipped_scenarios_make_the_same_cells() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(root.join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut have = String::new();
    for f in files {
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        for c in Scenario::load(&f).unwrap().cells() {
            have += &format!("{name} {}\n", c.id);
        }
    }
    let want = std::fs::read_to_string(root.join("tests/fixtures/scenario_cells.txt")).unwrap();
    assert!(have == want, "the cells changed:\n{have}");
}
