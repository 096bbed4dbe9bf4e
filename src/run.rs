//! `iobench run`: load and check the scenarios, create the run folder, run every trial
//! through the orchestrator, write `summary.json` and print the table.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::measure::machine::Machine;
use crate::measure::rusage::raise_nofile_limit;
use crate::orchestrator::{self, ResultsFile};
use crate::plan::{
    Cell, ModelKind, RUN_SCHEMA, RunCell, Shard, ShardInfo, check_run_schema, fingerprint,
};
use crate::record::{TrialRecord, civil_from_unix, utc_now_rfc3339};
use crate::report::console::{Progress, summary_table};
use crate::report::summary::{CellStatus, Summary, summarize};
use crate::scenario::{DEFAULT_SCENARIO_PATH, DEFAULT_SCENARIO_TOML, Overrides, Scenario};
use crate::target::TargetKind;
use crate::target::launch::Targets;
use crate::workload::disk::Scratch;

/// What `run` produced.
pub struct RunOutcome {
    pub dir: PathBuf,
    /// report.html, or why it could not be written (the results are on disk either way).
    pub report: Result<PathBuf, String>,
    pub summary: Summary,
    pub interrupted: bool,
}

/// `run.json`: what was asked for and on which machine, written before the first trial.
#[derive(Serialize)]
struct RunInfo<'a> {
    /// [`RUN_SCHEMA`]: the layout's version, which readers check.
    pub schema: u32,
    pub scenarios: Vec<String>,
    pub started_at: String,
    /// The seed of the order the trials ran in (`--seed` repeats it).
    pub seed: u64,
    pub machine: &'a Machine,
    /// A sharded run (`--shard I/N`): which shard, of the whole run's cells.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<&'a ShardInfo>,
    /// [`fingerprint`] of the whole run's cells (every shard's), and the binary that ran
    /// them: what `run --resume` checks.
    pub fingerprint: &'a str,
    pub binary: &'a BinaryId,
    pub cells: &'a [RunCell],
}

/// Which iobench binary ran a run: its version and commit, and the size and modification
/// time of its file (a rebuilt binary has another), so that a run is only resumed by the
/// binary that started it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinaryId {
    /// This binary's version and commit; `None` for another binary (an A/B run's sides).
    pub version: Option<String>,
    pub git_commit: Option<String>,
    pub size: u64,
    pub modified_unix_ns: u64,
}

impl BinaryId {
    /// The binary running now, at `exe`.
    pub fn this(exe: &Path) -> anyhow::Result<BinaryId> {
        Ok(BinaryId {
            version: Some(env!("CARGO_PKG_VERSION").into()),
            git_commit: Some(env!("IOBENCH_GIT_COMMIT").to_string()).filter(|c| !c.is_empty()),
            ..BinaryId::file(exe)?
        })
    }

    /// Another binary, by its file alone.
    pub fn file(exe: &Path) -> anyhow::Result<BinaryId> {
        let meta =
            std::fs::metadata(exe).with_context(|| format!("cannot read {}", exe.display()))?;
        let modified = meta
            .modified()?
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Ok(BinaryId {
            version: None,
            git_commit: None,
            size: meta.len(),
            modified_unix_ns: modified.as_nanos() as u64,
        })
    }
}

/// What `run --resume` reads back from run.json.
#[derive(Deserialize)]
struct Resumable {
    #[serde(default)]
    schema: Option<u32>,
    seed: u64,
    #[serde(default)]
    shard: Option<ShardInfo>,
    #[serde(default)]
    fingerprint: Option<String>,
    #[serde(default)]
    binary: Option<BinaryId>,
}

/// The trials a run folder already holds, after checking that `fingerprint` (the cells
/// of these scenarios and options) and `binary` are those it was started with: the seed
/// it ran in, and its records. Refused (exit 2) with the reason otherwise.
fn resume_from(
    dir: &Path,
    fingerprint: &str,
    shard: Option<&ShardInfo>,
    binary: &BinaryId,
) -> Result<(u64, Vec<TrialRecord>), Error> {
    let refuse = |why: String| Error::Usage(format!("cannot resume {}: {why}", dir.display()));
    let path = dir.join("run.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| refuse(format!("cannot read {}: {e}", path.display())))?;
    let run: Resumable = serde_json::from_str(&text)
        .map_err(|e| refuse(format!("{} is not a run's run.json: {e}", path.display())))?;
    check_run_schema(run.schema).map_err(refuse)?;
    if run.fingerprint.as_deref() != Some(fingerprint) {
        return Err(refuse(format!(
            "it was started with other cells (fingerprint {}, these scenarios and options give {fingerprint}); resume it with the same scenario files and options",
            run.fingerprint.as_deref().unwrap_or("none")
        )));
    }
    let same_shard = |a: Option<&ShardInfo>, b: Option<&ShardInfo>| {
        a.map(|s| (s.index, s.count)) == b.map(|s| (s.index, s.count))
    };
    if !same_shard(run.shard.as_ref(), shard) {
        return Err(refuse(
            "it was started as another shard (or unsharded); give the same --shard".into(),
        ));
    }
    if run.binary.as_ref() != Some(binary) {
        return Err(refuse(format!(
            "it was started by another iobench binary ({}), this one is {}; resume it with the binary that started it",
            run.binary
                .as_ref()
                .map_or("unknown".into(), describe_binary),
            describe_binary(binary)
        )));
    }
    let path = dir.join("results.jsonl");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| refuse(format!("cannot read {}: {e}", path.display())))?;
    let mut records = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let r = crate::record::read_line(line)
            .map_err(|why| refuse(format!("{}:{}: {why}", path.display(), i + 1)))?;
        records.push(r);
    }
    Ok((run.seed, records))
}

fn describe_binary(b: &BinaryId) -> String {
    format!(
        "version {}, commit {}, {} bytes, modified at {} ns",
        b.version.as_deref().unwrap_or("unknown"),
        b.git_commit.as_deref().unwrap_or("unknown"),
        b.size,
        b.modified_unix_ns
    )
}

/// Loads the scenarios (the default one when none is given) and applies the overrides.
pub fn load_scenarios(paths: &[PathBuf], overrides: &Overrides) -> Result<Vec<Scenario>, Error> {
    let mut out = Vec::new();
    if paths.is_empty() {
        let default = Path::new(DEFAULT_SCENARIO_PATH);
        let s = if default.exists() {
            Scenario::load(default)?
        } else {
            Scenario::parse(DEFAULT_SCENARIO_TOML, Path::new("<built-in quick.toml>"))?
        };
        out.push(s);
    }
    for p in paths {
        out.push(Scenario::load(p)?);
    }
    for s in &mut out {
        s.apply(overrides).map_err(Error::Usage)?;
    }
    Ok(out)
}

fn default_run_dir() -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, mo, d, h, mi, s) = civil_from_unix(secs);
    let base = format!("{y:04}-{mo:02}-{d:02}T{h:02}-{mi:02}-{s:02}Z");
    let mut dir = Path::new("reports").join(&base);
    let mut n = 1;
    while dir.exists() {
        n += 1;
        dir = Path::new("reports").join(format!("{base}-{n}"));
    }
    dir
}

/// Points `reports/latest` at `dir`.
fn update_latest(dir: &Path) {
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        return;
    };
    let link = parent.join("latest");
    let _ = std::fs::remove_file(&link);
    let _ = std::os::unix::fs::symlink(name, &link);
}

pub(crate) fn write_json(path: &Path, value: &impl Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    crate::files::write_whole(path, text + "\n")
}

/// Fills a new run folder `dir` (which must exist) before its first trial: `run.json` and
/// an empty `results.jsonl`, returned open for the trials' records.
#[allow(clippy::too_many_arguments)]
pub(crate) fn start_folder(
    dir: &Path,
    scenarios: &[String],
    seed: u64,
    machine: &Machine,
    shard: Option<&ShardInfo>,
    fingerprint: &str,
    binary: &BinaryId,
    cells: &[RunCell],
) -> anyhow::Result<ResultsFile> {
    write_json(
        &dir.join("run.json"),
        &RunInfo {
            schema: RUN_SCHEMA,
            scenarios: scenarios.to_vec(),
            started_at: utc_now_rfc3339(),
            seed,
            machine,
            shard,
            fingerprint,
            binary,
            cells,
        },
    )?;
    ResultsFile::create(&dir.join("results.jsonl"))
}

/// The cells a run of `scenarios` runs (one shard's, with `shard`), the whole run's
/// fingerprint, and the shard; refused when a cell is declared twice.
pub struct Planned {
    pub cells: Vec<RunCell>,
    pub whole: String,
    pub shard: Option<ShardInfo>,
}

pub fn plan(scenarios: &[Scenario], shard: Option<Shard>) -> Result<Planned, Error> {
    let mut cells: Vec<RunCell> = scenarios
        .iter()
        .flat_map(Scenario::cells)
        .map(RunCell::new)
        .collect();
    for (i, c) in cells.iter().enumerate() {
        if cells[..i].iter().any(|d| d.id == c.id) {
            return Err(Error::Usage(format!(
                "cell {} is declared twice (by two workloads or two scenarios); each cell may run once per run",
                c.id
            )));
        }
    }
    let whole = fingerprint(cells.iter().map(|c| &c.cell));
    let shard = shard.map(|s| ShardInfo {
        index: s.index,
        count: s.count,
        cells: cells.len(),
        fingerprint: whole.clone(),
    });
    if let Some(s) = &shard {
        let mut k = 0;
        cells.retain(|_| {
            k += 1;
            Shard {
                index: s.index,
                count: s.count,
            }
            .selects(k - 1)
        });
        eprintln!(
            "shard {}/{}: {} of the run's {} cells",
            s.index,
            s.count,
            cells.len(),
            s.cells
        );
    }
    Ok(Planned {
        cells,
        whole,
        shard,
    })
}

/// Where a run's results go: a new folder (`out`, or one under `reports/`), or the folder
/// of an interrupted run to resume.
#[derive(Clone, Copy, Debug)]
pub enum Folder<'a> {
    New(Option<&'a Path>),
    /// `run --resume DIR`: the same scenarios, options and binary as its run.json says,
    /// the trials already in its results.jsonl skipped, the rest appended.
    Resume(&'a Path),
}

/// Runs the scenarios into a run folder (see [`Folder`]).
/// `seed` shuffles each round's order of cells (`orchestrator::schedule`); a resumed run
/// keeps its own. With `shard`, only that shard's cells run, and run.json says which shard
/// of which run it is.
pub fn run(
    scenarios: &[Scenario],
    into: Folder<'_>,
    seed: u64,
    shard: Option<Shard>,
) -> Result<RunOutcome, Error> {
    let Planned {
        mut cells,
        whole,
        shard,
    } = plan(scenarios, shard)?;
    let names: Vec<String> = scenarios.iter().map(|s| s.name.clone()).collect();
    let exe = std::env::current_exe().context("cannot find the iobench binary")?;
    let binary = BinaryId::this(&exe)?;
    let (dir, seed, earlier) = match into {
        Folder::Resume(dir) => {
            let (seed, earlier) = resume_from(dir, &whole, shard.as_ref(), &binary)?;
            (dir.to_path_buf(), seed, Some(earlier))
        }
        Folder::New(out) => {
            let dir = out.map_or_else(default_run_dir, Path::to_path_buf);
            if dir.join("results.jsonl").exists() {
                return Err(Error::Usage(format!(
                    "{} already holds a run (results.jsonl); give --out a new folder, or --resume it",
                    dir.display()
                )));
            }
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            if out.is_none() {
                update_latest(&dir);
            }
            (dir, seed, None)
        }
    };
    raise_nofile_limit();
    // The trials run from a copy of their own, removed when the run ends (see
    // `orchestrator::PrivateBinary`); the targets keep running this binary. Copied before
    // the targets start.
    let trial_exe = orchestrator::PrivateBinary::copy(&exe, &dir.join(".iobench-trials"), true)?;
    // From here a Ctrl-C stops the run between trials, so that what `prepare` makes (the
    // targets, the scratch folders) is always taken down.
    orchestrator::install_interrupt_handler();
    let targets = prepare(&exe, &mut cells)?;
    let machine = Machine::detect();
    let (mut results, earlier) = match earlier {
        None => {
            let f = start_folder(
                &dir,
                &names,
                seed,
                &machine,
                shard.as_ref(),
                &whole,
                &binary,
                &cells,
            )?;
            (f, Vec::new())
        }
        Some(earlier) => (ResultsFile::create(&dir.join("results.jsonl"))?, earlier),
    };
    let done: std::collections::HashSet<(String, u32)> = earlier
        .iter()
        .map(|r| (r.cell.id.clone(), r.trial))
        .collect();
    let order = orchestrator::remaining(&cells, seed, &done);
    if !earlier.is_empty() {
        eprintln!(
            "resuming {}: {} trials already recorded, {} to run",
            dir.display(),
            earlier.len(),
            order.len()
        );
    }
    eprintln!("trial order seed {seed} (repeat this order with --seed {seed})");
    // The estimate of what is left, with a trial's start cost measured where the run is
    // long enough to want one.
    let start_cost = (order.len() >= 10)
        .then(|| crate::check::start_cost(trial_exe.path(), 1))
        .flatten();
    let estimate =
        crate::check::Estimate::of_trials(order.iter().map(|&(ci, _)| &cells[ci]), start_cost);
    eprintln!("{}", estimate.describe());
    let progress = Progress::new(order.len());
    let (new, interrupted) = orchestrator::run_all(
        trial_exe.path(),
        &cells,
        order,
        &earlier,
        &mut results,
        &progress,
    )?;
    progress.finish();
    let records: Vec<TrialRecord> = earlier.into_iter().chain(new).collect();
    drop(targets);
    drop(trial_exe);
    let planned: Vec<Cell> = cells.into_iter().map(|c| c.cell).collect();
    let summary = summarize(&names.join(", "), machine, &planned, &records);
    write_json(&dir.join("summary.json"), &summary)?;
    let report = crate::report::write::write(&dir, &summary)
        .map(|w| w.html)
        .map_err(|e| format!("{e:#}"));
    Ok(RunOutcome {
        report,
        dir,
        summary,
        interrupted,
    })
}

/// What a run set up before its trials: its embedded targets and its scratch folders.
/// Dropping it stops the one and removes the other, however the run ended.
pub struct Prepared {
    pub targets: Targets,
    pub scratch: Vec<Scratch>,
}

/// Starts the embedded targets the cells need and points the cells at them, points
/// database cells at their servers (skipping those that do not answer), and makes and
/// fills the disk workloads' scratch folders (one per workload, shared by its cells).
pub fn prepare(exe: &Path, cells: &mut [RunCell]) -> anyhow::Result<Prepared> {
    let targets = start_targets(exe, cells)?;
    resolve_services(cells);
    for c in cells.iter_mut() {
        if let Some(why) = c.external.as_ref().and_then(missing_environment) {
            c.skip = Some(why);
        }
    }
    for c in cells.iter_mut() {
        c.resolved.rounds = c.resolved.rounds.or_else(|| c.workload.calibrate());
    }
    if cells.iter().any(|c| c.model == ModelKind::IoUring) {
        if let Some(why) = crate::model::io_uring::probe() {
            for c in cells.iter_mut().filter(|c| c.model == ModelKind::IoUring) {
                c.skip = Some(why.clone());
            }
        }
    }
    let mut scratch: Vec<Scratch> = Vec::new();
    let mut made: std::collections::HashMap<String, String> = Default::default();
    for c in cells.iter_mut() {
        let label = c.workload.label();
        let Some(need) = c.workload.scratch() else {
            continue;
        };
        let (dir, fill) = (need.dir, need.fill);
        let path = match made.get(&label) {
            Some(p) => p.clone(),
            None => {
                let s = Scratch::create(dir)?;
                if let Some((files, size)) = fill {
                    s.fill(files, size).map_err(|e| {
                        anyhow::anyhow!(
                            "cannot fill the scratch folder {}: {e}",
                            s.path().display()
                        )
                    })?;
                }
                let p = s.path().display().to_string();
                scratch.push(s);
                made.insert(label, p.clone());
                p
            }
        };
        c.resolved.scratch = Some(path);
    }
    Ok(Prepared { targets, scratch })
}

fn start_targets(exe: &Path, cells: &mut [RunCell]) -> anyhow::Result<Targets> {
    let kinds: BTreeSet<TargetKind> = cells
        .iter()
        .filter_map(|c| c.workload.needs_target())
        .collect();
    let targets = Targets::start(exe, &kinds)?;
    for c in cells.iter_mut() {
        if let Some(kind) = c.workload.needs_target() {
            c.resolved.target = Some(targets.addr(kind).expect("started above").to_string());
            c.target_pid = targets.pid(kind);
            c.served = targets.count_file(kind).map(Path::to_path_buf);
        }
    }
    Ok(targets)
}

/// Why an external model cannot run here, when its command is the private Python
/// environment's interpreter and that environment has not been made. (Any other command
/// that is missing fails its trials, with the reason.)
fn missing_environment(e: &crate::plan::External) -> Option<String> {
    let program = Path::new(e.role.argv().first()?);
    let private = program
        .components()
        .any(|c| c.as_os_str() == crate::scenario::models::PYTHON_ENV);
    (private && !program.exists()).then(|| {
        format!(
            "model `{}` needs the Python environment {}, which is not there; make it with scripts/python-env.sh (it needs python3 with venv, e.g. apt-get install python3-venv), or set IOBENCH_PYTHON to an interpreter that has the packages of external/python/requirements.txt",
            e.name,
            program.display()
        )
    })
}

/// Points database cells at their server (the workload's `url`, or the environment's, or
/// the default) and marks them skipped when it does not answer.
fn resolve_services(cells: &mut [RunCell]) {
    let mut probed: std::collections::HashMap<String, Option<String>> = Default::default();
    for c in cells {
        let Some((service, url)) = c.cell.workload.service() else {
            continue;
        };
        let u = url.get_or_insert_with(|| service.url_from_env()).clone();
        let why = probed
            .entry(u.clone())
            .or_insert_with(|| service.unreachable(&u))
            .clone();
        c.skip = why;
    }
}

/// The closing lines of a run on the console.
pub fn closing_text(o: &RunOutcome) -> String {
    let mut s = summary_table(&o.summary);
    let failed = o
        .summary
        .cells
        .iter()
        .filter(|c| matches!(c.status, CellStatus::Failed | CellStatus::Partial))
        .count();
    if failed > 0 {
        s += &format!("\n{failed} cell(s) had failed trials; their reasons are in summary.json.\n");
    }
    let mut skipped: Vec<&str> = o
        .summary
        .cells
        .iter()
        .filter(|c| c.status == CellStatus::Skipped)
        .filter_map(|c| c.reasons.first().map(String::as_str))
        .collect();
    if !skipped.is_empty() {
        let n = skipped.len();
        skipped.dedup();
        s += &format!("\n{n} cell(s) skipped:\n");
        for why in skipped {
            s += &format!("  {why}\n");
        }
    }
    if o.interrupted {
        s += "\nInterrupted: the trials that finished are kept.\n";
    }
    s += &format!(
        "\nRun folder: {}\n  results.jsonl  one record per trial\n  summary.json   medians per cell\n",
        o.dir.display()
    );
    match &o.report {
        Ok(html) => {
            s += &format!(
                "  report.html    charts, tables and findings: {}\n  report.md      the same tables in Markdown\n",
                html.display()
            )
        }
        Err(e) => {
            s += &format!(
                "  the report could not be written ({e}); `iobench report {}` tries again\n",
                o.dir.display()
            )
        }
    }
    s
}
