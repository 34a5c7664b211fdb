//! The binary: parse arguments, call the library, map the outcome to an exit code.
#![forbid(unsafe_code)]

use clap::{CommandFactory, Parser};
use observer::cli::{Cli, Command};
use observer::commands;
use observer::commands::context::Context;
use observer::diagnostics::{self, LogFormat, Settings};
use observer::exit;
use observer::store::lock::LockError;

fn main() {
    observer::threads::start();
    let cli = Cli::try_parse().unwrap_or_else(|error| usage_error(error));
    let context = Context::new(&cli.paths);
    diagnostics::configure(Settings {
        format: cli.log_format,
        lines_per_minute: context.log_lines_per_minute(),
        fixed_now: context.fixed_now(),
    });
    commands::progress::install_if_terminal();
    let result = match &cli.command {
        Command::Run(args) => commands::run::execute(&context, args),
        Command::Rebuild(args) => commands::rebuild::execute(&context, args),
        Command::Status(args) => commands::status::execute(&context, args),
        Command::Deployments(args) => commands::deployments::execute(&context, args),
        Command::Alerts(args) => commands::alerts::execute(&context, args),
        Command::Probe(args) => commands::probe::execute(&context, args),
        Command::Emit(args) => commands::emit::execute(&context, args),
        Command::Relay(args) => commands::relay::execute(&context, args),
        Command::Ack(args) => commands::ack::execute(&context, args),
        Command::Validate => commands::validate::execute(&context),
        Command::Config(args) => commands::config::execute(&context, args),
        Command::Maintenance(args) => commands::maintenance::execute(&context, args),
        Command::Notify(args) => commands::notify::execute(&context, args),
        Command::Check(args) => commands::check::execute(&context, args),
        Command::Init(args) => commands::init::execute(&context, args),
        Command::Explain(args) => commands::explain::execute(&context, args),
        Command::Verify(args) => commands::verify::execute(&context, args),
        Command::Completions(args) => commands::completions::execute(args),
        Command::Schema(args) => commands::schema::execute(args),
        Command::Watch(args) => commands::watch::execute(&context, args),
    };
    // The warnings left out are counted before the error that ends the command.
    commands::progress::clear();
    diagnostics::flush();
    let code = match result {
        Ok(code) => code,
        Err(error) if is_broken_pipe(&error) => exit::SUCCESS,
        Err(error) => {
            commands::warn(&format!("observer: error: {error:#}"));
            if error.downcast_ref::<LockError>().is_some_and(|e| matches!(e, LockError::Held { .. })) {
                exit::LOCKED
            } else {
                exit::FAILURE
            }
        }
    };
    std::process::exit(code);
}

/// Prints clap's message and exits: with clap's code (2 for a usage
/// error, 0 for `--help`), except that `check` answers a usage error as
/// a Nagios plugin must, UNKNOWN (3) with a status line on stdout.
fn usage_error(error: clap::Error) -> ! {
    let for_check = error.use_stderr()
        && Cli::command().ignore_errors(true).try_get_matches().is_ok_and(|m| m.subcommand_name() == Some("check"));
    if for_check {
        let text = error.to_string();
        let first = text.lines().next().unwrap_or_default();
        let _ = commands::print(&format!("OBSERVER UNKNOWN - {}\n", first.strip_prefix("error: ").unwrap_or(first)));
    }
    let code = if for_check { observer::check::Status::Unknown.code() } else { error.exit_code() };
    if error.use_stderr() && json_asked() {
        // `--log-format json` holds for a usage error too: clap's message, one JSON line.
        let fixed_now = std::env::var("OBSERVER_NOW").ok().and_then(|text| observer::time::Ts::parse(&text).ok());
        diagnostics::configure(Settings { format: LogFormat::Json, fixed_now, ..Settings::default() });
        let text = error.render().to_string();
        let text = text.trim_end().strip_prefix("error: ").unwrap_or(text.trim_end());
        diagnostics::emit(diagnostics::Level::Error, text, &[("exit_code", code.into())]);
    } else {
        let _ = error.print();
    }
    std::process::exit(code);
}

/// Whether the arguments that clap refused ask for `--log-format json`.
fn json_asked() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2).any(|pair| pair[0] == "--log-format" && pair[1] == "json")
        || args.iter().any(|arg| arg == "--log-format=json")
}

/// A closed stdout (`observer status | head -1`) is not an error.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
}
