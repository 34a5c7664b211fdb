//! The binary: parse arguments, call the library, map the outcome to an exit code.
#![forbid(unsafe_code)]

use clap::{CommandFactory, Parser};
use observer::cli::{Cli, Command};
use observer::commands;
use observer::commands::context::Context;
use observer::exit;
use observer::store::lock::LockError;

fn main() {
    let cli = Cli::try_parse().unwrap_or_else(|error| usage_error(error));
    let context = Context::new(&cli.paths);
    let result = match &cli.command {
        Command::Run(args) => commands::run::execute(&context, args),
        Command::Rebuild(args) => commands::rebuild::execute(&context, args),
        Command::Status(args) => commands::status::execute(&context, args),
        Command::Alerts(args) => commands::alerts::execute(&context, args),
        Command::Probe(args) => commands::probe::execute(&context, args),
        Command::Emit(args) => commands::emit::execute(&context, args),
        Command::Ack(args) => commands::ack::execute(&context, args),
        Command::Validate => commands::validate::execute(&context),
        Command::Config(args) => commands::config::execute(&context, args),
        Command::Maintenance(args) => commands::maintenance::execute(&context, args),
        Command::Notify(args) => commands::notify::execute(&context, args),
        Command::Check(args) => commands::check::execute(&context, args),
        Command::Init(args) => commands::init::execute(&context, args),
        Command::Completions(args) => commands::completions::execute(args),
        Command::Watch(args) => commands::watch::execute(&context, args),
    };
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
    let _ = error.print();
    std::process::exit(if for_check { observer::check::Status::Unknown.code() } else { error.exit_code() });
}

/// A closed stdout (`observer status | head -1`) is not an error.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
}
