//! Every text the UI shows through `@tr` (or speaks in audio mode) has a Czech and a Ukrainian translation, and no
//! catalogue carries a text the UI no longer uses. (A gap would still fall back to Czech at
//! run time — see build.rs — but a citizen choosing Ukrainian deserves Ukrainian.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;

/// Every `@tr("…")` text of the `.slint` files under `ui/` (pages and components in folders).
fn ui_texts() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("ui")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let text = std::fs::read_to_string(path).unwrap();
            for part in text.split("@tr(\"").skip(1) {
                out.insert(part.split('"').next().unwrap().to_owned());
            }
        }
    }
    out
}

fn catalogue(lang: &str) -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("translations")
        .join(lang)
        .join("LC_MESSAGES/kiosk-app.po");
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    let mut id = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("msgid \"") {
            id = Some(rest.trim_end_matches('"').to_owned());
        } else if let Some(rest) = line.strip_prefix("msgstr \"")
            && let Some(i) = id.take()
            && !i.is_empty()
        {
            out.push((i, rest.trim_end_matches('"').to_owned()));
        }
    }
    out
}

#[test]
fn czech_and_ukrainian_translate_every_text_and_nothing_else() {
    let mut texts = ui_texts();
    assert!(texts.len() > 30, "{}", texts.len());
    // What only speech says (audio mode) is in the same catalogues.
    texts.extend(
        kiosk_app::access::texts::SPOKEN
            .iter()
            .map(|s| s.to_string()),
    );
    for lang in ["cs", "uk"] {
        let cat = catalogue(lang);
        let ids: BTreeSet<String> = cat.iter().map(|(i, _)| i.clone()).collect();
        let missing: Vec<_> = texts.difference(&ids).collect();
        let stale: Vec<_> = ids.difference(&texts).collect();
        assert!(missing.is_empty(), "{lang}: untranslated {missing:?}");
        assert!(stale.is_empty(), "{lang}: no longer used {stale:?}");
        for (id, s) in &cat {
            assert!(!s.is_empty(), "{lang}: empty translation of {id:?}");
            assert_eq!(
                id.matches("{}").count(),
                s.matches("{}").count(),
                "{lang}: placeholders of {id:?}"
            );
        }
    }
}
