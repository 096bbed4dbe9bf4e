//! The `iobench` binary: parse the command line, call the library, map errors to exit
//! codes (0 ok, 1 failure, 2 bad input, 130 interrupted).

use std::process::ExitCode;

use clap::Parser;
use iobench::cli::{Cli, Command, RunArgs};
use iobench::scenario::{Cell, Overrides};
use iobench::{Error, list, model, run, server, target, trial};

fn run_command(args: RunArgs) -> Result<ExitCode, Error> {
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
    let outcome = run::run(&scenarios, args.out.as_deref())?;
    print!("{}", run::closing_text(&outcome));
    Ok(if outcome.interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

fn report_command(dir: &std::path::Path) -> Result<ExitCode, Error> {
    if !dir.join("run.json").is_file() {
        return Err(Error::Usage(format!(
            "{} is not a run folder: it has no run.json",
            dir.display()
        )));
    }
    let r = iobench::report::page::regenerate(dir)?;
    if r.unreadable_lines > 0 {
        eprintln!(
            "warning: {} line(s) of results.jsonl could not be read (a run cut short mid-write); the report leaves them out",
            r.unreadable_lines
        );
    }
    println!(
        "Report of {} trial record(s), {} chart(s):\n  {}\n  {}",
        r.records,
        r.written.charts,
        r.written.html.display(),
        r.written.markdown.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn trial_command(cell: &str, trial: u32) -> Result<ExitCode, Error> {
    let cell: Cell = serde_json::from_str(cell)
        .map_err(|e| Error::Usage(format!("--cell is not a cell: {e}")))?;
    let record = trial::run_trial(&cell, trial);
    println!(
        "{}",
        serde_json::to_string(&record).map_err(anyhow::Error::from)?
    );
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
        Some(Command::List) => {
            print!("{}", list::render());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Report { dir }) => report_command(&dir),
        Some(Command::Trial { cell, trial }) => trial_command(&cell, trial),
        Some(Command::Serve {
            kind,
            listen,
            watch_stdin,
        }) => target::serve(kind, listen, watch_stdin)
            .map(|()| ExitCode::SUCCESS)
            .map_err(Error::from),
        Some(Command::Worker) => model::processes::worker_main()
            .map(|()| ExitCode::SUCCESS)
            .map_err(Error::from),
        Some(Command::Sut { model, spec }) => match serde_json::from_str(&spec) {
            Ok(spec) => server::sut_main(model, spec)
                .map(|()| ExitCode::SUCCESS)
                .map_err(Error::from),
            Err(e) => Err(Error::Usage(format!("--spec is not a server spec: {e}"))),
        },
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
