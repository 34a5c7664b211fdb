//! Snapshots of the shipped demo: the world files and the CLI output a
//! newcomer sees in the README's quick start.

use crate::support::{Homelab, WORLD_FILES, example_inventory};

fn demo() -> Homelab {
    let lab = Homelab::from_fixture("fixtures/demo").with_inventory(&example_inventory());
    let out = lab.observer(["run", "--no-tick"]).run().success();
    insta::assert_snapshot!("demo_run_stdout", lab.redact(&out.stdout));
    insta::assert_snapshot!("demo_run_stderr", lab.redact(&out.stderr));
    lab
}

#[test]
fn the_demo_world() {
    let lab = demo();
    for name in WORLD_FILES {
        insta::assert_snapshot!(format!("demo_world_{name}"), lab.world(name));
    }
    lab.assert_world_equals_rebuild();
}

#[test]
fn the_demo_status() {
    let lab = demo();
    let text = lab.observer(["status"]).env("OBSERVER_NOW", "2026-05-12T13:00:00Z").run().success().stdout;
    insta::assert_snapshot!("demo_status", lab.redact(&text));
}

#[test]
fn the_demo_validate() {
    let lab = Homelab::from_fixture("fixtures/demo").with_inventory(&example_inventory());
    let out = lab.observer(["validate"]).run();
    insta::assert_snapshot!(
        "demo_validate",
        format!("exit {:?}\n{}{}", out.code, lab.redact(&out.stdout), lab.redact(&out.stderr))
    );
}
