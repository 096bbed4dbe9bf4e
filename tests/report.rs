//! The report: `iobench report DIR` on a fixed fixture (a real run's records, trimmed, with
//! a fixed machine stamp, one failed trial, one skipped cell and one cell that never ran).

mod common;

use std::path::{Path, PathBuf};

use common::bin;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/report");

/// A copy of the fixture in a fresh folder, with `edit` applied to each file's text.
fn fixture(edit: impl Fn(&str, String) -> String) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    for f in ["run.json", "results.jsonl"] {
        let text = std::fs::read_to_string(Path::new(FIXTURE).join(f)).unwrap();
        std::fs::write(run.join(f), edit(f, text)).unwrap();
    }
    (dir, run)
}

fn report(dir: &Path) -> std::process::Output {
    bin().arg("report").arg(dir).output().unwrap()
}

/// Parses `text` as strict XML (a DOCTYPE allowed).
fn xml(text: &str) -> Result<roxmltree::Document<'_>, roxmltree::Error> {
    let opt = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(text, opt)
}

fn read(dir: &Path, f: &str) -> String {
    std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"))
}

#[test]
fn markdown_snapshot() {
    let (_t, dir) = fixture(|_, s| s);
    let out = report(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    insta::assert_snapshot!("report_md", read(&dir, "report.md"));
}

#[test]
fn summary_table_snapshot() {
    let (_t, dir) = fixture(|_, s| s);
    assert!(report(&dir).status.success());
    let summary: iobench::report::summary::Summary =
        serde_json::from_str(&read(&dir, "summary.json")).unwrap();
    insta::assert_snapshot!(
        "summary_table",
        iobench::report::console::summary_table(&summary)
    );
}

#[test]
fn the_html_and_every_svg_are_well_formed_and_pngs_have_their_size() {
    let (_t, dir) = fixture(|_, s| s);
    assert!(report(&dir).status.success());
    let html = read(&dir, "report.html");
    // Written as XHTML-compatible markup: a strict XML parser reads the whole page,
    // inline SVG included.
    let doc = xml(&html).unwrap_or_else(|e| panic!("report.html: {e}"));
    let svgs = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "svg")
        .count();
    assert!(svgs >= 10, "{svgs} inline charts");
    assert!(
        !html.contains("http://") || !html.contains("<script"),
        "nothing fetched"
    );
    assert!(!html.contains("<link") && !html.contains("<script"));
    for section in [
        "Which model: the decision map",
        "Findings",
        "Failed, skipped and missing cells",
        "Fixture CPU",
    ] {
        assert!(html.contains(section), "{section}");
    }
    let charts = dir.join("charts");
    let mut n = 0;
    for e in std::fs::read_dir(&charts).unwrap() {
        let p = e.unwrap().path();
        match p.extension().and_then(|e| e.to_str()) {
            Some("svg") => {
                let text = std::fs::read_to_string(&p).unwrap();
                xml(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                n += 1;
            }
            Some("png") => {
                let b = std::fs::read(&p).unwrap();
                assert_eq!(&b[1..4], b"PNG", "{}", p.display());
                let w = u32::from_be_bytes(b[16..20].try_into().unwrap());
                let h = u32::from_be_bytes(b[20..24].try_into().unwrap());
                assert_eq!(
                    (w, h),
                    (
                        iobench::report::charts::WIDTH,
                        iobench::report::charts::HEIGHT
                    )
                );
            }
            _ => {}
        }
    }
    assert_eq!(n, svgs, "each inline chart has its SVG file");
}

#[test]
fn cell_tables_sort_by_every_column_with_no_script() {
    let (_t, dir) = fixture(|_, s| s);
    assert!(report(&dir).status.success());
    let html = read(&dir, "report.html");
    assert!(!html.contains("<script"));
    let doc = xml(&html).unwrap();
    let table = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("cells"))
        .expect("a cell table");
    let wrapper = table.parent().unwrap();
    let radios = wrapper
        .children()
        .filter(|n| n.attribute("type") == Some("radio"))
        .count();
    let rows: Vec<_> = table
        .children()
        .filter(|n| n.has_tag_name("tr") && n.attribute("style").is_some())
        .collect();
    let columns = table.children().find(|n| n.has_tag_name("tr")).unwrap();
    let columns = columns.children().filter(|n| n.has_tag_name("th")).count();
    assert_eq!(radios, 2 * columns, "ascending and descending per column");
    // Each row's rank in the descending order of column 3 (ops/s median): a permutation
    // that puts the largest median first.
    let rank = |row: &roxmltree::Node, key: &str| -> usize {
        let style = row.attribute("style").unwrap();
        let at = style.find(&format!("{key}:")).unwrap() + key.len() + 1;
        style[at..].split(';').next().unwrap().parse().unwrap()
    };
    let value = |row: &roxmltree::Node| -> f64 {
        let td = row
            .children()
            .filter(|n| n.has_tag_name("td"))
            .nth(3)
            .unwrap();
        td.text()
            .unwrap_or("-")
            .parse()
            .unwrap_or(f64::NEG_INFINITY)
    };
    let mut by: Vec<(usize, f64)> = rows.iter().map(|r| (rank(r, "--k3d"), value(r))).collect();
    by.sort_by_key(|(r, _)| *r);
    let ranks: Vec<usize> = by.iter().map(|(r, _)| *r).collect();
    assert_eq!(ranks, (1..=rows.len()).collect::<Vec<_>>());
    assert!(
        by.windows(2).all(|w| w[0].1 >= w[1].1),
        "descending: {by:?}"
    );
}

#[test]
fn every_chart_point_has_a_tooltip_naming_its_numbers() {
    let (_t, dir) = fixture(|_, s| s);
    assert!(report(&dir).status.success());
    let html = read(&dir, "report.html");
    let doc = xml(&html).unwrap();
    for svg in doc.descendants().filter(|n| n.tag_name().name() == "svg") {
        let titles: Vec<&str> = svg
            .descendants()
            .filter(|n| n.tag_name().name() == "title")
            .map(|t| t.text().unwrap_or(""))
            .collect();
        assert!(!titles.is_empty(), "a chart without tooltips");
        for t in titles {
            // `model, C = 10: 1000 ops/s (median; trials 990–1000 ops/s)`, or in the
            // progression `model, C = 10, trial 2 of 3, 7 in the run: 995 ops/s, …`.
            assert!(
                t.contains(": ") && t.contains("trials ") && t.contains('–'),
                "{t}"
            );
        }
    }
    // One tooltip per ok cell in the throughput charts (each cell is in one of them).
    let summary: serde_json::Value = serde_json::from_str(&read(&dir, "summary.json")).unwrap();
    let cells = summary["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| matches!(c["status"].as_str(), Some("ok" | "partial")))
        .filter(|c| c["throughput_ops_per_sec"]["median"].is_number())
        .count();
    let mut tips = 0;
    for e in std::fs::read_dir(dir.join("charts")).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with('w') && name.ends_with("-throughput.svg") {
            tips += std::fs::read_to_string(&p)
                .unwrap()
                .matches("<title>")
                .count();
        }
    }
    assert_eq!(tips, cells);
}

#[test]
fn strings_from_scenarios_and_results_are_escaped() {
    let evil = "<script>alert(1)</script>";
    let (_t, dir) = fixture(|f, s| match f {
        "run.json" => s.replacen("\"report-sample\"", &format!("\"{evil}\""), 1),
        _ => s.replace(
            "trial process killed by signal 9 (SIGKILL)",
            &format!("killed {evil}"),
        ),
    });
    assert!(report(&dir).status.success());
    let html = read(&dir, "report.html");
    assert!(!html.contains("<script"), "unescaped markup in report.html");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    xml(&html).unwrap();
    let md = read(&dir, "report.md");
    assert!(!md.contains("<script"), "unescaped markup in report.md");
}

#[test]
fn a_report_renders_from_a_results_file_cut_mid_line() {
    let (_t, dir) = fixture(|f, s| match f {
        "results.jsonl" => {
            // Drop the last two whole records (the skipped cell's) and cut the one before
            // in half, as a run killed while writing would leave it.
            let lines: Vec<&str> = s.lines().collect();
            let keep = &lines[..lines.len() - 2];
            let (last, whole) = keep.split_last().unwrap();
            format!("{}\n{}", whole.join("\n"), &last[..last.len() / 2])
        }
        _ => s,
    });
    let out = report(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("could not be read"),
        "the cut line is reported"
    );
    let md = read(&dir, "report.md");
    assert!(
        md.contains("| missing |"),
        "missing cells are said to be missing"
    );
    xml(&read(&dir, "report.html")).unwrap();
}

#[test]
fn a_folder_without_a_run_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = report(dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("run.json"));
}

#[test]
fn a_folder_compared_with_a_baseline_shows_each_cells_change() {
    let (_a, base) = fixture(|_, s| s);
    let (_b, new) = fixture(|_, s| s);
    assert!(report(&base).status.success() && report(&new).status.success());
    let out = bin().arg("compare").arg(&base).arg(&new).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(new.join("compare.json").is_file() && new.join("compare.html").is_file());
    let md = read(&new, "report.md");
    assert!(md.contains("## Against the baseline"), "{md}");
    assert!(md.contains("Gate: passed"), "{md}");
    // The same trials on both sides: every throughput a change of +0.0%.
    let rows: Vec<&str> = md
        .lines()
        .skip_while(|l| !l.starts_with("## Against the baseline"))
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .filter(|l| l.starts_with("| ") && !l.starts_with("| model"))
        .collect();
    assert!(!rows.is_empty(), "{md}");
    let mut same = 0;
    for r in &rows {
        let throughput = r.split(" | ").nth(3).unwrap();
        // A cell with too few ok trials to test says why.
        assert!(
            throughput.starts_with("+0.0%") || throughput.starts_with("– inconclusive: "),
            "{r}"
        );
        same += usize::from(throughput.starts_with("+0.0%"));
    }
    assert!(same >= rows.len() / 2, "{rows:#?}");
    let html = read(&new, "report.html");
    xml(&html).unwrap();
    assert!(html.contains("id=\"baseline\""));
    // A compare.json of another layout is said, not shown as changes.
    let path = new.join("compare.json");
    let text =
        std::fs::read_to_string(&path)
            .unwrap()
            .replacen("\"schema\": 1", "\"schema\": 9", 1);
    std::fs::write(&path, text).unwrap();
    assert!(report(&new).status.success());
    assert!(read(&new, "report.md").contains("has layout 9, this iobench reads layout 1"));
}
