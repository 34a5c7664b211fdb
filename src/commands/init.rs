//! `observer init`: a new root, ready for `observer run`. The layout of
//! SPEC §1, an `observer.yaml` that lists every key with its default
//! (commented out, so that the defaults of a later version still apply
//! until a key is uncommented), and the example inventory shipped in
//! `inventory/`, which `validate` accepts as it is.
//!
//! It never overwrites: on a root that already holds any part of the
//! layout, it changes nothing and lists what is there. The systemd units
//! (`--systemd`) are judged on their own, so that they can be added to a
//! root made earlier.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use anyhow::{Context as _, Result};

use super::context::Context;
use super::{print, shown};
use crate::cli::InitArgs;
use crate::config::DEFAULTS_YAML;

/// The example inventory, as shipped in the source's `inventory/`.
const INVENTORY: [(&str, &str); 6] = [
    ("topology.yaml", include_str!("../../inventory/topology.yaml")),
    ("hosts/jupiter/services.yaml", include_str!("../../inventory/hosts/jupiter/services.yaml")),
    ("hosts/mars/services.yaml", include_str!("../../inventory/hosts/mars/services.yaml")),
    ("hosts/saturn/services.yaml", include_str!("../../inventory/hosts/saturn/services.yaml")),
    ("hosts/venus/services.yaml", include_str!("../../inventory/hosts/venus/services.yaml")),
    ("runbooks/nextcloud.md", include_str!("../../inventory/runbooks/nextcloud.md")),
];

pub fn execute(context: &Context, args: &InitArgs) -> Result<i32> {
    let dirs = &context.dirs;
    let root = std::path::absolute(&dirs.root).with_context(|| format!("cannot resolve {}", dirs.root.display()))?;
    let config = dirs.config.clone().unwrap_or_else(|| dirs.root.join("observer.yaml"));
    let inventory = dirs.inventory.clone().unwrap_or_else(|| dirs.root.join("inventory"));
    let layout: [&Path; 6] = [&dirs.events, &dirs.state, &dirs.world, &dirs.logs, &config, &inventory];
    let there: Vec<String> = layout.iter().filter(|path| exists(path)).map(|path| shown(path)).collect();
    let mut text = String::new();
    if there.is_empty() {
        for dir in &layout[..4] {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        create(&config, &commented_config())?;
        for (rel, content) in INVENTORY {
            create(&inventory.join(rel), content)?;
        }
        text.push_str(&format!(
            "created {}: events/, state/, world/, logs/, observer.yaml (every key at its default, commented out) and \
             the example inventory in inventory/ (topology.yaml, hosts/*/services.yaml)\n\
             next: describe your lab in inventory/, then run `observer --root {} validate` and `observer --root {} run`\n",
            shown(&root),
            shown(&root),
            shown(&root),
        ));
    } else {
        text.push_str(&format!(
            "{} is already set up; nothing was changed. Already there: {}\n",
            shown(&root),
            there.join(", ")
        ));
    }
    if args.systemd {
        text.push_str(&systemd(&root)?);
    }
    print(&text)?;
    Ok(crate::exit::SUCCESS)
}

/// Writes the units to `ROOT/systemd/` unless one of them is there, and
/// says how to install them.
fn systemd(root: &Path) -> Result<String> {
    let binary = std::env::current_exe().context("cannot tell where the observer binary is")?;
    let dir = root.join("systemd");
    let units = crate::systemd::units(&binary, root);
    let there: Vec<String> =
        units.iter().map(|(name, _)| dir.join(name)).filter(|path| exists(path)).map(|p| shown(&p)).collect();
    if !there.is_empty() {
        return Ok(format!("systemd units already there, nothing was changed: {}\n", there.join(", ")));
    }
    for (name, content) in &units {
        create(&dir.join(name), content)?;
    }
    let dir = shown(&dir);
    Ok(format!(
        "wrote {dir}/observer.service, observer.timer and observer-watch.service; install the timer with:\n  \
         sudo cp {dir}/observer.service {dir}/observer.timer /etc/systemd/system/\n  \
         sudo systemctl daemon-reload && sudo systemctl enable --now observer.timer\n"
    ))
}

/// `DEFAULTS_YAML` with every key commented out: the file holds no
/// setting, and removing a line's `# ` sets that key.
pub fn commented_config() -> String {
    let mut text = String::from(
        "# Written by `observer init`. Every key is commented out, so the built-in\n\
         # defaults apply; remove the leading \"# \" of a line to set its key.\n\
         # `observer config` shows the configuration in effect.\n#\n",
    );
    for line in DEFAULTS_YAML.lines() {
        let setting = !line.trim().is_empty() && !line.trim_start().starts_with('#');
        text.push_str(if setting { "# " } else { "" });
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// Creates `path` (and its directories) with `content`; never replaces a
/// file.
fn create(path: &Path, content: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut file = File::create_new(path).with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(content.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

/// There in any form, a dangling symlink included.
fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn the_example_inventory_holds_every_file_of_the_shipped_one() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("inventory");
        let mut files: Vec<String> = walkdir::WalkDir::new(&shipped)
            .into_iter()
            .map(|entry| entry.unwrap())
            .filter(|entry| entry.file_type().is_file())
            .map(|entry| entry.path().strip_prefix(&shipped).unwrap().display().to_string())
            .collect();
        files.sort();
        let mut written: Vec<String> = INVENTORY.iter().map(|(name, _)| name.to_string()).collect();
        written.sort();
        assert_eq!(written, files, "init would write an inventory that is not the shipped one");
    }

    #[test]
    fn the_commented_config_holds_no_setting_and_lists_every_default() {
        let text = commented_config();
        assert_eq!(Config::parse(&text, Path::new("observer.yaml")).unwrap(), Config::default());
        let body: Vec<&str> = text.lines().skip(4).collect();
        let defaults: Vec<&str> = DEFAULTS_YAML.lines().collect();
        assert_eq!(body.len(), defaults.len());
        for (line, default) in body.iter().zip(defaults) {
            if default.trim().is_empty() || default.trim_start().starts_with('#') {
                assert_eq!(*line, default);
            } else {
                assert_eq!(*line, format!("# {default}"), "a setting is commented out");
            }
        }
    }
}
