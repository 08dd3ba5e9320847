//! Doc drift: every crate's top-level docs (`src/lib.rs`) name each of its modules as a link
//! (`[`name`]`), so a module added or renamed shows up where developers start reading.

use std::path::Path;

#[test]
fn every_module_is_named_in_its_crates_docs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut missing = Vec::new();
    let mut crates = 0;
    for entry in std::fs::read_dir(&root).expect("the workspace is readable") {
        let lib = entry.expect("a directory entry").path().join("src/lib.rs");
        let Ok(text) = std::fs::read_to_string(&lib) else {
            continue;
        };
        crates += 1;
        let docs: String = text
            .lines()
            .filter(|l| l.starts_with("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        for line in text.lines() {
            let decl = line
                .strip_prefix("pub mod ")
                .or_else(|| line.strip_prefix("pub(crate) mod "))
                .or_else(|| line.strip_prefix("mod "));
            if let Some(name) = decl.and_then(|d| d.strip_suffix(';'))
                && !docs.contains(&format!("[`{name}`]"))
            {
                missing.push(format!("{}: {name}", lib.display()));
            }
        }
    }
    assert!(
        crates >= 6,
        "found only {crates} crates under {}",
        root.display()
    );
    assert!(
        missing.is_empty(),
        "modules not named in their crate's docs:\n{}",
        missing.join("\n")
    );
}
