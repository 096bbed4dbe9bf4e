//! The `iobench` binary: parse the command line, call the library, map errors to exit
//! codes (0 ok, 1 failure, 2 bad input, 130 interrupted).

use std::process::ExitCode;

use clap::Parser;
use iobench::cli::{AbArgs, Cli, Command, CompareArgs, ExportArgs, GateArgs, RunArgs};
use iobench::plan::RunCell;
use iobench::scenario::Overrides;
use iobench::{Error, list, model, run, server, target, trial};

/// Writes the exports asked for from a run folder's summary.
fn exports(args: &ExportArgs, summary: &iobench::report::summary::Summary) -> Result<(), Error> {
    for (format, file) in args.pairs().map_err(Error::Usage)? {
        for written in iobench::export::write(format, summary, &file)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))?
        {
            println!("Exported {format:?} to {}", written.display());
        }
    }
    Ok(())
}

fn baseline_path(name: &str) -> Result<std::path::PathBuf, Error> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(Error::Usage(format!(
            "baseline name `{name}`: use letters, digits, `-`, `_` and `.`"
        )));
    }
    Ok(std::path::Path::new("reports/baselines").join(format!("{name}.json")))
}

fn compare_command(args: CompareArgs) -> Result<ExitCode, Error> {
    use iobench::compare;
    let (base_path, new_path) = match (&args.baseline, args.base, args.new) {
        (Some(name), Some(new), None) => (baseline_path(name)?, new),
        (Some(_), _, _) => {
            return Err(Error::Usage("with --baseline NAME, give only NEW".into()));
        }
        (None, Some(base), Some(new)) => (base, new),
        (None, _, _) => return Err(Error::Usage("give BASE and NEW".into())),
    };
    let opts = gate_options(&args.gate)?;
    let opts = compare::Options {
        allow_missing: args.allow_missing,
        ..opts
    };
    let base = compare::load(&base_path)?;
    let new = compare::load(&new_path)?;
    let mut report = compare::compare(&base, &new, &opts)?;
    report.base = base_path.display().to_string();
    report.new = new_path.display().to_string();
    let json = args.json.unwrap_or_else(|| {
        let dir = if new_path.is_dir() {
            new_path.clone()
        } else {
            new_path
                .parent()
                .map(|p| p.to_path_buf())
                .unwrap_or_default()
        };
        dir.join("compare.json")
    });
    let code = verdicts(&report, &json)?;
    // Verdicts written into NEW's run folder: its report shows each cell's change.
    if new_path.is_dir()
        && json.parent() == Some(new_path.as_path())
        && new_path.join("run.json").is_file()
    {
        match iobench::report::write::write(&new_path, &new) {
            Ok(w) => println!("Report with each cell's change: {}", w.html.display()),
            Err(e) => eprintln!(
                "warning: cannot write the report of {}: {e:#}",
                new_path.display()
            ),
        }
    }
    Ok(code)
}

/// The gate's options, checked: every level and share is a fraction between 0 and 1.
fn gate_options(g: &GateArgs) -> Result<iobench::compare::Options, Error> {
    for (name, f) in [
        ("--threshold", g.threshold),
        ("--significance", g.significance),
        ("--max-error-rate", g.max_error_rate),
    ] {
        if !(f > 0.0 && f < 1.0) {
            return Err(Error::Usage(format!(
                "{name} is a fraction between 0 and 1, got {f}"
            )));
        }
    }
    Ok(iobench::compare::Options {
        threshold: g.threshold,
        significance: g.significance,
        max_error_rate: g.max_error_rate,
        gate_all: g.gate_all,
        fail_on_inconclusive: g.fail_on_inconclusive,
        allow_missing: false,
    })
}

/// Prints a comparison, appends it to $GITHUB_STEP_SUMMARY when set, writes the JSON, and
/// gives the exit code (3 when the gate fails).
fn verdicts(report: &iobench::compare::Report, json: &std::path::Path) -> Result<ExitCode, Error> {
    let md = iobench::compare::markdown::markdown(report);
    print!("{md}");
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&summary)
            .map_err(|e| anyhow::anyhow!("cannot append to $GITHUB_STEP_SUMMARY: {e}"))?;
        f.write_all(md.as_bytes()).map_err(anyhow::Error::from)?;
    }
    iobench::files::write_whole(
        json,
        serde_json::to_string_pretty(report).map_err(anyhow::Error::from)? + "\n",
    )?;
    let html = json.with_extension("html");
    iobench::files::write_whole(&html, iobench::compare::html::render(report))?;
    println!("\nVerdicts: {} and {}", json.display(), html.display());
    Ok(if !report.passed {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

fn ab_command(args: AbArgs) -> Result<ExitCode, Error> {
    let overrides = Overrides {
        trials: args.trials,
        ..Overrides::default()
    };
    let paths = if args.scenarios.is_empty() {
        vec![std::path::PathBuf::from("scenarios/ci.toml")]
    } else {
        args.scenarios
    };
    let scenarios = run::load_scenarios(&paths, &overrides)?;
    let opts = gate_options(&args.gate)?;
    let seed = args.seed.unwrap_or_else(iobench::orchestrator::fresh_seed);
    let outcome = iobench::ab::run(&args.a, &args.b, &scenarios, &args.out, &opts, seed)?;
    let mut report = outcome.report;
    report.base = format!("A: {}", args.a.display());
    report.new = format!("B: {}", args.b.display());
    verdicts(&report, &args.out.join("compare.json"))
}

fn run_command(args: RunArgs) -> Result<ExitCode, Error> {
    let export = args.export;
    let save_baseline = args.save_baseline.clone();
    if let Some(name) = &save_baseline {
        baseline_path(name)?;
    }
    export.pairs().map_err(Error::Usage)?;
    let overrides = Overrides {
        models: args.models,
        concurrency: args.concurrency,
        trials: args.trials,
        warmup: args.warmup,
        duration: args.duration,
        workloads: args.workloads,
        target: args.target,
    };
    let scenarios = run::load_scenarios(&args.scenarios, &overrides)?;
    let seed = args.seed.unwrap_or_else(iobench::orchestrator::fresh_seed);
    let shard = args
        .shard
        .as_deref()
        .map(|s| iobench::plan::Shard::parse(s, |v| std::env::var(v).ok()))
        .transpose()
        .map_err(Error::Usage)?;
    if args.dry_run {
        let planned = run::plan(&scenarios, shard)?;
        print!("{}", iobench::check::check(&scenarios, &planned.cells)?);
        return Ok(ExitCode::SUCCESS);
    }
    let into = match &args.resume {
        Some(dir) => run::Folder::Resume(dir),
        None => run::Folder::New(args.out.as_deref()),
    };
    let outcome = run::run(&scenarios, into, seed, shard)?;
    print!("{}", run::closing_text(&outcome));
    exports(&export, &outcome.summary)?;
    if let Some(name) = &save_baseline {
        let path = baseline_path(name)?;
        std::fs::create_dir_all("reports/baselines").map_err(anyhow::Error::from)?;
        let summary = outcome.dir.join("summary.json");
        let text = std::fs::read(&summary)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", summary.display()))?;
        iobench::files::write_whole(&path, text)?;
        println!("Baseline saved: {}", path.display());
    }
    Ok(if outcome.interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

fn report_command(dir: &std::path::Path, export: &ExportArgs) -> Result<ExitCode, Error> {
    export.pairs().map_err(Error::Usage)?;
    if !dir.join("run.json").is_file() {
        return Err(Error::Usage(format!(
            "{} is not a run folder: it has no run.json",
            dir.display()
        )));
    }
    let r = iobench::report::write::regenerate(dir)?;
    warn_skipped(&r.skipped, "the report leaves it out");
    if r.records == 0 {
        eprintln!(
            "warning: {} holds no trial record to trust; every cell is missing",
            dir.join("results.jsonl").display()
        );
    }
    println!(
        "Report of {} trial record(s), {} chart(s):\n  {}\n  {}",
        r.records,
        r.written.charts,
        r.written.html.display(),
        r.written.markdown.display()
    );
    exports(export, &r.summary)?;
    Ok(ExitCode::SUCCESS)
}

/// Warns of each line of a results file left out (the first 20, then how many more), by
/// file and line, and what became of it.
fn warn_skipped(skipped: &[iobench::record::Skipped], then: &str) {
    const SHOWN: usize = 20;
    for s in skipped.iter().take(SHOWN) {
        eprintln!("warning: {s}; {then}");
    }
    if skipped.len() > SHOWN {
        eprintln!(
            "warning: {} more line(s) of results.jsonl left out",
            skipped.len() - SHOWN
        );
    }
}

fn trial_command(cell: &str, trial: u32) -> Result<ExitCode, Error> {
    let cell: RunCell = serde_json::from_str(cell)
        .map_err(|e| Error::Usage(format!("--cell is not a cell: {e}")))?;
    let record = trial::run_trial(&cell, trial);
    println!(
        "{}",
        serde_json::to_string(&record).map_err(anyhow::Error::from)?
    );
    Ok(ExitCode::SUCCESS)
}

/// `iobench merge OUT DIR...`.
fn merge_command(
    out: &std::path::Path,
    dirs: &[std::path::PathBuf],
    partial: bool,
) -> Result<ExitCode, Error> {
    let m = iobench::merge::merge(out, dirs, partial)?;
    if !m.missing.is_empty() {
        let names: Vec<String> = m
            .missing
            .iter()
            .map(|i| format!("{i}/{}", m.count))
            .collect();
        eprintln!(
            "warning: merged without shard(s) {} (--partial); their cells are missing",
            names.join(", ")
        );
    }
    warn_skipped(&m.skipped, "left out of the merged run");
    if m.records == 0 {
        eprintln!("warning: the shards hold no trial record to trust; every cell is missing");
    }
    if m.machines > 1 {
        eprintln!(
            "warning: the shards ran on {} different machines; the report lists them and marks the workloads whose cells mix them",
            m.machines
        );
    }
    println!(
        "Merged {} shard(s) of {}, {} trial record(s), into {}:\n  {}\n  {}",
        m.shards.len(),
        m.count,
        m.records,
        m.out.display(),
        m.report.written.html.display(),
        m.report.written.markdown.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `iobench list [SCENARIO...]`.
fn list_command(paths: &[std::path::PathBuf]) -> Result<ExitCode, Error> {
    let mut text = list::render();
    for p in paths {
        let s = iobench::scenario::Scenario::load(p)?;
        text += &list::scenario_models(&s);
    }
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    // A `processes` worker skips clap: its memory is part of what the model is measured
    // to cost, so it touches no more than it needs.
    if std::env::args_os().nth(1).is_some_and(|a| a == "worker") && std::env::args_os().len() == 2 {
        return match model::processes::worker_main() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: worker: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let cli = Cli::parse();
    let result = match cli.command {
        None => run_command(RunArgs::default()),
        Some(Command::Run(args)) => run_command(args),
        Some(Command::Check(args)) => run_command(RunArgs {
            dry_run: true,
            ..args
        }),
        Some(Command::List { scenarios }) => list_command(&scenarios),
        Some(Command::Merge { out, dirs, partial }) => merge_command(&out, &dirs, partial),
        Some(Command::Report { dir, export }) => report_command(&dir, &export),
        Some(Command::Compare(args)) => compare_command(args),
        Some(Command::Ab(args)) => ab_command(args),
        Some(Command::Trial { cell, trial }) => trial_command(&cell, trial),
        Some(Command::Serve {
            kind,
            listen,
            watch_stdin,
            count,
        }) => target::serve(kind, listen, watch_stdin, count.as_deref())
            .map(|()| ExitCode::SUCCESS)
            .map_err(Error::from),
        Some(Command::Worker) => model::processes::worker_main()
            .map(|()| ExitCode::SUCCESS)
            .map_err(Error::from),
        Some(Command::Sut { model, spec }) => match serde_json::from_str(&spec) {
            Ok(spec) => server::Serving::bind(spec)
                .and_then(|s| iobench::model::serve(model, s))
                .map(|()| ExitCode::SUCCESS)
                .map_err(Error::from),
            Err(e) => Err(Error::Usage(format!("--spec is not a server spec: {e}"))),
        },
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
