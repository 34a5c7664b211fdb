//! Generated files stay in step with the code. `man/observer.1` is rendered
//! from the clap definitions in `src/cli/` (the same doc comments that are
//! the `--help` text) plus the hand-written sections below, and compared with
//! the checked-in copy. When they differ the test fails;
//! `UPDATE_GENERATED=1 cargo test --test generated` rewrites the file.

use std::path::Path;

use clap::CommandFactory;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, italic, roman};
use observer::cli::Cli;
use observer::exit;

const MAN_PAGE: &str = "man/observer.1";

/// EXIT STATUS: each code with what it means.
const EXIT_STATUS: [(i32, &str); 5] = [
    (exit::SUCCESS, "Success."),
    (
        exit::FAILURE,
        "Failure; the message on standard error says why. validate exits 1 when it found any problem; \
         run stops with 1 when an event file shrank or was rewritten, and names the file.",
    ),
    (exit::USAGE, "Usage error: the command line was wrong."),
    (
        exit::LOCKED,
        "The state directory is locked by another run or rebuild (EX_TEMPFAIL); \
         the message names the holder. With --wait the command waits instead.",
    ),
    (
        3,
        "check only, which answers in the Nagios way: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (no world yet, or a \
         bad threshold or window).",
    ),
];

/// FILES, relative to the root (`--root`, default /opt/homelab); each part
/// can be moved with its own flag.
const FILES: [(&str, &str); 17] = [
    (
        "events/",
        "Events, append-only, searched recursively. *.json holds exactly one event; *.jsonl and *.ndjson \
         one event per line. Names starting with a dot or ending in .tmp or .partial are ignored, and so are \
         symbolic links. A trailing line without its newline, or a .json file that does not parse yet, \
         waits for a later run.",
    ),
    ("events/observer/ticks-YYYY-MM-DD.jsonl", "The tick events that run appends (one per run, unless --no-tick)."),
    ("events/observer/probes-YYYY-MM-DD.jsonl", "The probe_result events that probe and run --probe append."),
    ("events/emit/", "One file per event written by emit."),
    (
        "state/observer_checkpoint.json",
        "Per-file cursors, and how much of the engine state under state/engine/ they commit; written after \
         the world files. Deleting it makes the next run start from scratch.",
    ),
    (
        "state/engine/",
        "The engine state: snapshot-N.json, written once, and journal-N.jsonl, to which each pass appends \
         the entities that changed; compacted into a new snapshot when the journal passes half of it. \
         entities-N.bin, written with the snapshot, holds the hash of each of its entities, so that a run \
         need not read them out of the snapshot, and the minute each id that left the hot view (or of the \
         duplicate window) is filed under, so that a load need not file them all again; deleted or \
         damaged, it is only missed. Its instants are \
         integers, milliseconds since the epoch (RFC 3339 in every other file).",
    ),
    ("state/rejects.json", "The most recent rejected events (at most 1000), each with file, line and reason."),
    (
        "state/last-run.json",
        "Facts about the last run or rebuild: wall-clock start, duration, version, files and bytes read. \
         Kept apart from the world.",
    ),
    (
        "state/last-failure.json",
        "The last run, probe or rebuild that failed, while no later one succeeded; check is CRITICAL meanwhile.",
    ),
    (
        "state/.observer.lock",
        "The lock that run and rebuild hold; it names the holder's pid and command, and its modification time is \
         when it was taken.",
    ),
    (
        "state/deployments/ID/",
        "Stage markers written by deploy scripts for the deployment whose correlation_id is ID: one file per \
         stage, named after the stage; its content may be a JSON object with status and ts, otherwise the \
         stage is completed.",
    ),
    (
        "world/",
        "nodes.json, services.json, deployments.json, incidents.json and runtime-summary.json; written by \
         observer only, each replaced atomically and only when it changed.",
    ),
    (
        "world/metrics.prom",
        "The world and the observer's own health in the Prometheus text format, for node_exporter's textfile \
         collector; rewritten by every run, and the one world file a rebuild does not reproduce (it holds the run's \
         duration and time).",
    ),
    ("systemd/", "observer.service, observer.timer and observer-watch.service, written by init --systemd."),
    (
        "logs/",
        "Diagnostics that deployment_failed events name in payload.diagnostics. They are only looked at \
         (exists, size), never read, and a path that leaves logs/ through .. or a symlink is refused.",
    ),
    (
        "inventory/",
        "The homelab inventory: topology.yaml (nodes and their roles) and hosts/NODE/services.yaml (the \
         services of each host, with their probes), either directly in the directory or under its inventory/ \
         subdirectory.",
    ),
    ("observer.yaml", "The config file; observer config --defaults prints every key with its default."),
];

/// ENVIRONMENT: each variable with what it does.
const ENVIRONMENT: [(&str, &str); 5] = [
    ("OBSERVER_ROOT", "The root directory, as --root."),
    ("OBSERVER_INVENTORY", "The inventory directory, as --inventory."),
    ("OBSERVER_CONFIG", "The config file, as --config."),
    (
        "OBSERVER_NOW",
        "An RFC 3339 time that replaces the wall clock: the tick of run, the default ts of emit, the \
         times in state/last-run.json, the freshness shown by status and the ages check judges. For tests and demos.",
    ),
    (
        "OBSERVER_PROGRESS_MIN_BYTES",
        "Bytes a pass must have to read before a progress bar is drawn on a terminal (default 8388608, 8 MiB). \
         For tests.",
    ),
];

/// EXAMPLES: what it does, then the command lines.
/// PROBES: the probe format, in short; the README has the whole story.
const PROBES_TEXT: [&str; 5] = [
    "Probes are declared per service in the inventory's hosts/NODE/services.yaml, under probes: as a list. \
     Each has exactly one check: tcp: {host, port}; http: {url, expect_status, body_contains, ca_file, tls_verify} \
     (a GET, redirects not followed); command: [argv...] (a Nagios plugin run without a shell: exit 0 ok, 1 warning, 2 critical, 3 unknown); \
     path: PATH (exists); disk: {path, min_free_percent, min_free_bytes, warn_free_percent}.",
    "An https:// certificate is verified against the system's trust store (the distribution's bundle, or only \
     SSL_CERT_FILE and SSL_CERT_DIR when set), or, for one probe, against the CA certificates of ca_file (PEM; a \
     relative path is taken from the inventory directory; checked by validate), or not at all with tls_verify: false \
     (insecure; for a device whose self-signed certificate cannot be replaced).",
    "Each may set name (default: the check's kind), interval and timeout (500ms, 30s, 5m, 1h or seconds), \
     timeout_outcome, and breaker: and debounce: (seconds, count) to override the config for this probe.",
    "observer probe runs the due probes and appends one probe_result event per run to \
     events/observer/probes-YYYY-MM-DD.jsonl; debounce, circuit breakers, uptime, service status and incidents are \
     folded from those events, so rebuild reproduces them. services.json shows checks, breaker and probes per \
     service.",
    "An example:",
];

const PROBES_EXAMPLE: &str = "services:
  mosquitto:
    probes:
      - name: port
        tcp: {host: saturn.lan, port: 1883}
        interval: 30s
        timeout: 3s
        breaker: {failure_threshold: 3}
      - name: broker
        command: [/usr/lib/nagios/plugins/check_mqtt, -H, saturn.lan]
        timeout_outcome: unknown";

const EXAMPLES: [(&str, &[&str]); 10] = [
    (
        "Fold the demo shipped with the source (without ticks, so that the clock stays in the story) and look at it:",
        &["observer --root fixtures/demo --inventory inventory run --no-tick", "observer --root fixtures/demo status"],
    ),
    ("One pass every minute, from cron:", &["* * * * * observer --root /opt/homelab run"]),
    ("The active incidents:", &["jq '.incidents[] | select(.status == \"active\")' /opt/homelab/world/incidents.json"]),
    (
        "Report a failing service from a script:",
        &[
            "observer emit --type service_unhealthy --node saturn --service mosquitto \\",
            "    --severity error --message 'port 1883 refused'",
        ],
    ),
    (
        "The world as it was at noon, written to another directory without touching the live state:",
        &["observer rebuild --until 2026-05-12T12:00:00Z --out /tmp/world-at-noon"],
    ),
    ("Check the events, the inventory and the config:", &["observer validate"]),
    ("A new root with the example inventory and systemd units:", &["observer --root /opt/homelab init --systemd"]),
    (
        "The Nagios/Icinga check, every 5 minutes, critical when no run succeeded for 10 minutes:",
        &["observer --root /opt/homelab check --window 5m --age-critical 600"],
    ),
    ("The failed deployments on saturn, as JSON:", &["observer deployments --status failed --node saturn --json"]),
    (
        "A run from a systemd unit, its diagnostics as JSON lines for journald or Loki:",
        &["observer --root /opt/homelab --log-format json run"],
    ),
];

#[test]
fn man_page_is_up_to_date() {
    check_generated(MAN_PAGE, &man_page());
}

/// `schemas/NAME.schema.json` is what `observer schema NAME` derives from
/// the types, for every name, and `schemas/` holds nothing else.
#[test]
fn schemas_are_up_to_date() {
    let mut expected = Vec::new();
    for document in &observer::schema::DOCUMENTS {
        let rel = format!("schemas/{}", document.file_name());
        check_generated(&rel, &String::from_utf8(document.rendered()).expect("a schema is UTF-8"));
        expected.push(document.file_name());
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .expect("schemas/")
        .map(|entry| entry.expect("an entry").file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    expected.sort();
    assert_eq!(found, expected, "schemas/ holds a file no schema writes, or lacks one");
}

/// One page: the top-level command, a subsection for each subcommand, then
/// the sections that clap does not know about.
fn man_page() -> String {
    let mut command = Cli::command();
    command.build();
    let man = Man::new(command.clone()).manual("User Commands");
    let mut page = String::new();
    page.push_str(&rendered(|w| man.render_title(w)));
    for render in [Man::render_name_section, Man::render_synopsis_section, Man::render_description_section] {
        page.push_str(&without_preamble(&rendered(|w| render(&man, w))));
    }
    page.push_str(&without_preamble(&rendered(|w| man.render_options_section(w))));
    page.push_str(&subcommands(&command));
    page.push_str(&without_preamble(&extra_sections().render()));
    page.push_str(&without_preamble(&rendered(|w| man.render_version_section(w))));
    page
}

/// `.SS "observer run"` for each subcommand: its synopsis, description and
/// own options. The global options are described once, above.
fn subcommands(command: &clap::Command) -> String {
    let mut out = Roff::new();
    out.control("SH", ["SUBCOMMANDS"]);
    let mut text = without_preamble(&out.render());
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set() && sub.get_name() != "help") {
        let sub = sub
            .clone()
            .mut_args(|arg| if arg.is_global_set() || arg.get_id() == "help" { arg.hide(true) } else { arg });
        let man = Man::new(sub.clone());
        let mut heading = Roff::new();
        heading.control("SS", [sub.get_bin_name().unwrap_or_else(|| sub.get_name())]);
        text.push_str(&without_preamble(&heading.render()));
        text.push_str(&as_subsection_body(&rendered(|w| man.render_synopsis_section(w))));
        text.push_str(".PP\n");
        text.push_str(&as_subsection_body(&rendered(|w| man.render_description_section(w))));
        text.push_str(&as_subsection_body(&rendered(|w| man.render_options_section(w))));
    }
    text
}

fn extra_sections() -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in EXIT_STATUS {
        roff.control("TP", []).text([bold(code.to_string())]).text([roman(meaning)]);
    }

    roff.control("SH", ["FILES"]);
    for (path, meaning) in FILES {
        roff.control("TP", []).text([italic("ROOT"), roman("/"), bold(path)]).text([roman(meaning)]);
    }

    roff.control("SH", ["ENVIRONMENT"]);
    for (name, meaning) in ENVIRONMENT {
        roff.control("TP", []).text([bold(name)]).text([roman(meaning)]);
    }

    roff.control("SH", ["PROBES"]);
    for paragraph in PROBES_TEXT {
        roff.control("PP", []).text([roman(paragraph)]);
    }
    roff.control("RS", ["4"]).control("nf", []);
    for line in PROBES_EXAMPLE.lines() {
        roff.text([roman(line)]);
    }
    roff.control("fi", []).control("RE", []);

    roff.control("SH", ["EXAMPLES"]);
    for (what, lines) in EXAMPLES {
        roff.control("PP", []).text([roman(what)]);
        roff.control("RS", ["4"]).control("nf", []);
        for line in lines {
            roff.text([roman(*line)]);
        }
        roff.control("fi", []).control("RE", []);
    }
    roff
}

fn rendered(render: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut out = Vec::new();
    render(&mut out).expect("rendering into memory cannot fail");
    String::from_utf8(out).expect("the man page is UTF-8")
}

/// Every rendered piece starts with roff's apostrophe preamble; the page
/// needs it once, at the top.
fn without_preamble(text: &str) -> String {
    let preamble = Roff::new().render();
    text.strip_prefix(preamble.as_str()).unwrap_or(text).to_string()
}

/// A rendered section, minus its `.SH` headings, to sit inside a `.SS`.
fn as_subsection_body(text: &str) -> String {
    without_preamble(text).lines().filter(|line| !line.starts_with(".SH ")).map(|line| format!("{line}\n")).collect()
}

/// Compares `rel` (relative to the crate) with `expected`, or rewrites it
/// when `UPDATE_GENERATED` is set.
fn check_generated(rel: &str, expected: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        std::fs::create_dir_all(path.parent().expect("a file has a parent")).expect("create the directory");
        std::fs::write(&path, expected).unwrap_or_else(|e| panic!("cannot write {rel}: {e}"));
        return;
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    if actual != expected {
        let line = actual
            .lines()
            .zip(expected.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| actual.lines().count().min(expected.lines().count()) + 1, |index| index + 1);
        panic!(
            "{rel} is out of date (first difference at line {line}); \
             re-run with `UPDATE_GENERATED=1 cargo test --test generated` to rewrite it"
        );
    }
}

/// The README documents every subcommand, and nothing in it is left to fill.
#[test]
fn readme_documents_every_command() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let man = std::fs::read_to_string(root.join(MAN_PAGE)).expect("man page");
    for command in Cli::command().get_subcommands() {
        let name = command.get_name();
        if name == "help" {
            continue;
        }
        assert!(readme.contains(&format!("**`{name}")), "README.md does not document `observer {name}`");
        assert!(
            man.contains(&format!("observer {name}"))
                || man.contains(&format!("observer\\-{name}"))
                || man.contains(name),
            "the man page lacks {name}"
        );
    }
    assert!(!readme.contains("TODO"), "README.md has a TODO left");
    assert!(
        readme.contains(observer::config::DEFAULTS_YAML),
        "README.md must show `observer config --defaults` as it prints today"
    );
    let quick_start = readme.split("## How it works").next().unwrap_or_default();
    assert!(quick_start.contains("cargo test --locked"), "the quick start must give the test command");
    let ci = std::fs::read_to_string(root.join(".ci/run")).expect(".ci/run");
    assert!(ci.contains("cargo test --locked"), ".ci/run must run the README's test command");
}
