//! Security: outputs never go through a symlink planted in `world/` or
//! `state/`; files are created with the modes the umask gives (0644 and
//! 0755 under the usual 022); event content never reaches a shell or a path
//! outside the root; a command probe's argv never goes through a shell.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::json;

use crate::support::{BIN, Ev, Homelab, WORLD_FILES, lines};

fn events(lab: &Homelab) {
    let events = [
        Ev::new("2026-05-12T12:00:00Z", "heartbeat").node("saturn"),
        Ev::new("2026-05-12T12:01:00Z", "service_unhealthy").node("saturn").service("mqtt"),
    ];
    lab.write("events/a.jsonl", &(lines(&events) + "not json\n"));
}

#[test]
fn outputs_are_never_written_through_symlinks_planted_in_world_or_state() {
    let lab = Homelab::new();
    events(&lab);
    lab.run();
    lab.append("events/a.jsonl", &Ev::new("2026-05-12T12:02:00Z", "heartbeat").node("venus").line());
    let state_files = ["observer_checkpoint.json", "rejects.json", "last-run.json"];
    let mut planted = Vec::new();
    let world_files = WORLD_FILES.iter().chain(&["metrics.prom"]);
    let targets = world_files.map(|n| ("world", *n)).chain(state_files.iter().map(|n| ("state", *n)));
    for (dir, name) in targets {
        for link in [name.to_string(), format!(".{name}.tmp")] {
            let target = lab.path(&format!("outside/{dir}-{link}"));
            lab.write(&format!("outside/{dir}-{link}"), "precious\n");
            let at = lab.path(&format!("{dir}/{link}"));
            let _ = fs::remove_file(&at);
            std::os::unix::fs::symlink(&target, &at).unwrap();
            planted.push((at, target));
        }
    }
    // A checkpoint that is a link is not read either: the run refuses it,
    // and a rebuild replaces it.
    lab.observer(["run", "--no-tick"]).run().code(1).stderr_has("it is a symlink");
    lab.observer(["rebuild"]).run().success();
    for (at, target) in &planted {
        assert_eq!(fs::read_to_string(target).unwrap(), "precious\n", "written through {}", at.display());
        let name = at.file_name().unwrap().to_string_lossy().into_owned();
        if WORLD_FILES.contains(&name.as_str()) && at.parent() == Some(lab.path("world").as_path()) {
            // A world file is observer's own link through world/..data now.
            assert_eq!(fs::read_link(at).unwrap(), Path::new("..data").join(&name), "{} replaced", at.display());
        } else if !name.ends_with(".tmp") {
            assert!(!fs::symlink_metadata(at).unwrap().file_type().is_symlink(), "{} replaced", at.display());
        }
    }
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 3);
    lab.assert_world_equals_rebuild();
}

#[test]
fn a_fifo_or_a_link_to_a_device_in_world_is_replaced_not_read() {
    // Reading either to compare contents would block or never end.
    let lab = Homelab::new();
    events(&lab);
    fs::create_dir_all(lab.path("world")).unwrap();
    let fifo = std::process::Command::new("mkfifo").arg(lab.path("world/nodes.json")).status().unwrap();
    assert!(fifo.success());
    std::os::unix::fs::symlink("/dev/zero", lab.path("world/services.json")).unwrap();
    let mut child = lab.spawn(["run", "--no-tick"], &[]);
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            panic!("the run hangs on a FIFO or /dev/zero in world/");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(fs::metadata(lab.path("world/nodes.json")).unwrap().is_file());
    assert_eq!(fs::read_link(lab.path("world/services.json")).unwrap(), Path::new("..data/services.json"));
    assert!(fs::metadata(lab.path("world/services.json")).unwrap().is_file());
    lab.assert_world_equals_rebuild();
}

#[test]
fn the_lock_file_is_never_written_through_a_symlink() {
    let lab = Homelab::new();
    events(&lab);
    lab.write("outside/precious", "precious\n");
    fs::create_dir_all(lab.path("state")).unwrap();
    std::os::unix::fs::symlink(lab.path("outside/precious"), lab.path("state/.observer.lock")).unwrap();
    lab.observer(["run", "--no-tick"]).run().code(1).stderr_has(".observer.lock: it is a symlink");
    lab.observer(["rebuild"]).run().code(1).stderr_has("it is a symlink");
    assert_eq!(lab.read("outside/precious"), "precious\n");
    fs::remove_file(lab.path("state/.observer.lock")).unwrap();
    lab.run();
}

#[test]
fn ticks_are_never_appended_through_a_symlink_in_events_observer() {
    let lab = Homelab::new();
    events(&lab);
    lab.write("outside/ticks", "precious\n");
    fs::create_dir_all(lab.path("events/observer")).unwrap();
    let file = lab.path("events/observer/ticks-2026-05-12.jsonl");
    std::os::unix::fs::symlink(lab.path("outside/ticks"), &file).unwrap();
    lab.observer(["run"]).run().code(1).stderr_has("ticks-2026-05-12.jsonl is a symlink");
    fs::remove_file(&file).unwrap();
    fs::remove_dir(lab.path("events/observer")).unwrap();
    std::os::unix::fs::symlink(lab.path("outside"), lab.path("events/observer")).unwrap();
    lab.observer(["run"]).run().code(1).stderr_has("events/observer is a symlink");
    assert_eq!(lab.read("outside/ticks"), "precious\n");
    assert_eq!(fs::read_dir(lab.path("outside")).unwrap().count(), 1, "nothing was created through the link");
    fs::remove_file(lab.path("events/observer")).unwrap();
    lab.observer(["run"]).run().success();
    assert_eq!(lab.summary()["counters"]["ticks"], 1);
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// `observer ARGS` under a given umask, through `sh -c` in the test only.
fn with_umask(lab: &Homelab, umask: &str, args: &str) {
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" --root \"$1\" {args}"))
        .arg(BIN)
        .arg(lab.root())
        .env("OBSERVER_NOW", "2026-05-12T13:00:00Z")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn files_are_created_with_the_modes_the_umask_gives() {
    for (umask, file, dir) in [("022", 0o644, 0o755), ("077", 0o600, 0o700), ("002", 0o664, 0o775)] {
        let lab = Homelab::new();
        events(&lab);
        with_umask(&lab, umask, "run");
        with_umask(&lab, umask, "emit --type heartbeat --node n --ts 2026-05-12T12:05:00Z");
        for name in WORLD_FILES {
            assert_eq!(mode(&lab.path(&format!("world/{name}"))), file, "umask {umask}: world/{name}");
        }
        for name in ["observer_checkpoint.json", "rejects.json", "last-run.json", ".observer.lock"] {
            assert_eq!(mode(&lab.path(&format!("state/{name}"))), file, "umask {umask}: state/{name}");
        }
        let ticks = fs::read_dir(lab.path("events/observer")).unwrap().next().unwrap().unwrap().path();
        assert_eq!(mode(&ticks), file, "umask {umask}: {}", ticks.display());
        let emitted = fs::read_dir(lab.path("events/emit")).unwrap().next().unwrap().unwrap().path();
        assert_eq!(mode(&emitted), file, "umask {umask}: {}", emitted.display());
        for created in ["world", "state", "events/observer", "events/emit"] {
            assert_eq!(mode(&lab.path(created)), dir, "umask {umask}: {created}/");
        }
        // Replacing a file gives it the mode of a new one: a mode set by
        // hand on a world file does not survive the next write.
        fs::set_permissions(lab.path("world/nodes.json"), fs::Permissions::from_mode(0o600)).unwrap();
        lab.append("events/a.jsonl", &Ev::new("2026-05-12T12:09:00Z", "heartbeat").node("x").line());
        with_umask(&lab, umask, "run --no-tick");
        assert_eq!(mode(&lab.path("world/nodes.json")), file, "umask {umask}: a replaced file");
    }
}

#[test]
fn event_content_never_reaches_a_shell_or_a_path_outside_the_root() {
    let lab = Homelab::new();
    // Relative: names with `/` are rejected at the boundary anyway. Every
    // command runs in the root, where a shell would create it.
    let hostile = [
        "$(touch pwned)".to_string(),
        "`touch pwned`".to_string(),
        "; touch pwned".to_string(),
        "| touch pwned".to_string(),
        "..".to_string(),
        "-rf".to_string(),
        "~root".to_string(),
    ];
    let mut text = String::new();
    for (i, name) in hostile.iter().enumerate() {
        let ts = format!("2026-05-12T12:00:{i:02}Z");
        text += &Ev::new(&ts, "service_unhealthy").node(name).service(name).message(name).line();
        let correlation = [name.clone(), format!("../../outside-{i}"), "..".into(), "/tmp".into()];
        for (j, id) in correlation.iter().enumerate() {
            let diagnostics =
                json!([name, "../../../../etc/passwd", "/etc/shadow", "../state/observer_checkpoint.json"]);
            text += &Ev::new(&format!("2026-05-12T12:01:{:02}Z", i * 4 + j), "deployment_failed")
                .correlation(id)
                .node(name)
                .service("s")
                .payload(json!({"diagnostics": diagnostics}))
                .line();
        }
    }
    lab.write("events/hostile.jsonl", &text);
    // Stage markers for a deployment whose id tries to leave state/deployments/.
    lab.write("outside-0/stage", "{\"status\":\"failed\"}");
    let in_root = |args: &[&str]| {
        let mut invocation = lab.observer(args);
        invocation.command.current_dir(lab.root());
        invocation.run()
    };
    let out = in_root(&["run", "--no-tick"]).success();
    in_root(&["rebuild"]).success();
    in_root(&["status"]).success();
    in_root(&["validate"]);
    assert!(!lab.path("pwned").exists(), "a shell ran event content");
    assert!(!lab.root().parent().unwrap().join("pwned").exists(), "a shell ran event content");
    assert_eq!(listing(lab.root()), ["events", "logs", "outside-0", "state", "world"], "nothing else was created");
    assert_eq!(listing(&lab.path("outside-0")), ["stage"]);
    let deployments = lab.json("world/deployments.json");
    for (id, deployment) in deployments["deployments"].as_object().unwrap() {
        assert!(deployment["stages"].as_array().unwrap().is_empty(), "{id}: no marker read outside state/");
        for diagnostic in deployment["diagnostics"].as_array().unwrap() {
            let path = diagnostic["path"].as_str().unwrap();
            assert!(
                diagnostic["exists"] == false,
                "{id}: `{path}` looked up outside logs/: {diagnostic}\nstderr: {}",
                out.stderr
            );
        }
    }
    let nodes = lab.json("world/nodes.json");
    for name in &hostile {
        assert!(nodes["nodes"].get(name).is_some(), "{name} is kept as data");
    }
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn a_command_probe_runs_its_argv_without_a_shell() {
    // Probes (and hooks) run argv directly (SPEC §5): a shell would turn
    // inventory content into code. `touch` shows which: run directly, it
    // creates one file named after each argument; through a shell, the
    // syntax would run and `pwned` (or an expanded `*`) would appear.
    let lab = Homelab::new();
    let words = [
        "$(touch pwned)",
        "`touch pwned`",
        "x; touch pwned",
        "y | touch pwned",
        "z && touch pwned",
        "'quoted' \"twice\"",
        "*",
        "~root",
        "$HOME",
    ];
    let argv = json!(std::iter::once("touch").chain(words).collect::<Vec<_>>());
    lab.write(
        "inventory/hosts/saturn/services.yaml",
        &format!("services:\n  tool:\n    probes:\n      - name: touch\n        command: {argv}\n"),
    );
    // The plugin runs in observer's working directory.
    let scratch = lab.path("scratch");
    fs::create_dir(&scratch).unwrap();
    lab.write("scratch/existing", "");
    let mut invocation = lab.observer(["probe"]);
    invocation.command.current_dir(&scratch);
    invocation.run().success().stdout_has("saturn/tool/touch: ok");
    let mut expected: Vec<String> = words.iter().map(|w| w.to_string()).chain(["existing".to_string()]).collect();
    expected.sort();
    assert_eq!(listing(&scratch), expected, "each argument reached `touch` as it was written");
}
