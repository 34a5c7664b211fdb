//! `observer schema [NAME]`: the list of JSON Schemas, or one of them as
//! `schemas/NAME.schema.json` holds it. Needs no root: the schemas are part
//! of the binary.

use anyhow::Result;

use crate::cli::SchemaArgs;
use crate::schema::{DOCUMENTS, find};

pub fn execute(args: &SchemaArgs) -> Result<i32> {
    let Some(name) = &args.name else {
        let width = DOCUMENTS.iter().map(|document| document.name.len()).max().unwrap_or(0);
        let mut text = String::new();
        for document in &DOCUMENTS {
            text.push_str(&format!(
                "{:width$}  {}{}: {}\n",
                document.name, document.under, document.describes, document.summary
            ));
        }
        text.push_str("`observer schema NAME` prints one (JSON Schema draft 2020-12).\n");
        super::print(&text)?;
        return Ok(crate::exit::SUCCESS);
    };
    // clap admits only the names of DOCUMENTS.
    let Some(document) = find(name) else {
        super::warn(&format!("error: no schema named `{name}`; the schemas are {}", crate::schema::names()));
        return Ok(crate::exit::USAGE);
    };
    super::print(&String::from_utf8_lossy(&document.rendered()))?;
    Ok(crate::exit::SUCCESS)
}
