//! Compiles the UI with its translations bundled. A message a catalogue leaves untranslated
//! (empty `msgstr`) falls back to Czech, not to the English source: the catalogues are copied to
//! `OUT_DIR` with the Czech text filled in, and those copies are bundled.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// `(msgid, msgstr)` of every single-line entry.
fn entries(po: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut id: Option<String> = None;
    for line in po.lines() {
        if let Some(rest) = line.strip_prefix("msgid \"") {
            id = rest.strip_suffix('"').map(str::to_owned);
        } else if let Some(rest) = line.strip_prefix("msgstr \"")
            && let (Some(i), Some(s)) = (id.take(), rest.strip_suffix('"'))
        {
            out.push((i, s.to_owned()));
        }
    }
    out
}

fn with_fallback(po: &str, czech: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut id: Option<String> = None;
    for line in po.lines() {
        if let Some(rest) = line.strip_prefix("msgid \"") {
            id = rest.strip_suffix('"').map(str::to_owned);
        }
        match (line, &id) {
            ("msgstr \"\"", Some(i)) if !i.is_empty() => {
                let fallback = czech.get(i).cloned().unwrap_or_default();
                out.push_str(&format!("msgstr \"{fallback}\"\n"));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

fn prepare(src: &Path, dst: &Path) -> std::io::Result<()> {
    let file = |lang: &str| src.join(lang).join("LC_MESSAGES").join("kiosk-app.po");
    let czech: HashMap<String, String> = entries(&std::fs::read_to_string(file("cs"))?)
        .into_iter()
        .filter(|(_, s)| !s.is_empty())
        .collect();
    for entry in std::fs::read_dir(src)? {
        let lang = entry?.file_name().to_string_lossy().into_owned();
        let Ok(po) = std::fs::read_to_string(file(&lang)) else {
            continue;
        };
        let dir = dst.join(&lang).join("LC_MESSAGES");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("kiosk-app.po"), with_fallback(&po, &czech))?;
    }
    Ok(())
}

fn main() {
    println!("cargo::rerun-if-changed=translations");
    println!("cargo::rerun-if-changed=ui");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("translations");
    if let Err(e) = prepare(Path::new("translations"), &out) {
        println!("cargo::error=cannot prepare the translations: {e}");
        return;
    }
    let config = slint_build::CompilerConfiguration::new()
        .with_style("fluent".into())
        // One catalogue entry per text, whichever component shows it.
        .with_default_translation_context(slint_build::DefaultTranslationContext::None)
        // Element names in the generated code, so Slint's testing backend can find elements
        // (the interaction tests tap them); it costs a few strings, no frame time.
        .with_debug_info(true)
        .with_bundled_translations(out);
    if let Err(e) = slint_build::compile_with_config("ui/app.slint", config) {
        println!("cargo::error=cannot compile the UI: {e}");
    }
}
