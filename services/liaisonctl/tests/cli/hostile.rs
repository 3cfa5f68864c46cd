//! Text from another agency reaches the officer's terminal as text: escape sequences,
//! bell, C1 controls and bidi overrides in a notification's title are shown escaped, in
//! tables and JSON alike, while Cyrillic, Vietnamese and Latvian text passes unchanged
//! and lines up.

use liaison_testkit::{Backend, TestHub, both};
use serde_json::Value;

use crate::support::{liaisonctl_ok, stdout};

both!(hostile_and_non_latin_text_reaches_the_terminal_as_text);

/// What a terminal would act on: C0 (but the line break), DEL, C1, bidi controls.
fn acts_on_terminal(c: char) -> bool {
    (c.is_control() && c != '\n') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

async fn hostile_and_non_latin_text_reaches_the_terminal_as_text(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let hostile = "Кібердіалог Україна – ЄС \u{1b}]8;;https://evil.example/\u{7}відкрити\u{1b}]8;;\u{7}\u{1b}[2J\u{9b}31m\u{202e}fdp.exe";
    let sent = liaisonctl_ok(
        &hub,
        "UA-CERT/officer",
        &[
            "cbm",
            "notify",
            "--kind",
            "incident",
            "--title",
            hostile,
            "--body",
            "Bộ Công an; Valsts policija — krāpšana Rīgā",
            "--language",
            "uk",
            "--scope",
            "agencies:RS-MUP",
            "-o",
            "json",
        ],
    )
    .await?;
    let raw = stdout(&sent);
    assert!(!raw.chars().any(acts_on_terminal), "{raw:?}");
    let value: Value = serde_json::from_str(&raw)?;
    assert_eq!(
        value["title"], hostile,
        "JSON keeps the exact text, escaped"
    );
    let id = value["id"].as_str().expect("an id").to_owned();

    for args in [vec!["cbm", "inbox"], vec!["cbm", "show", &id]] {
        let shown = liaisonctl_ok(&hub, "RS-MUP/officer", &args).await?;
        let text = stdout(&shown);
        assert!(!text.chars().any(acts_on_terminal), "{args:?}: {text:?}");
        assert!(
            text.contains("Кібердіалог Україна – ЄС \\u{1b}]8;;https://evil.example/\\u{7}"),
            "{text}"
        );
        assert!(text.contains("\\u{9b}31m\\u{202e}fdp.exe"), "{text}");
    }
    let json = liaisonctl_ok(&hub, "RS-MUP/officer", &["cbm", "inbox", "-o", "json"]).await?;
    let raw = stdout(&json);
    assert!(!raw.chars().any(acts_on_terminal), "{raw:?}");
    let listed: Vec<Value> = serde_json::from_str(&raw)?;
    assert_eq!(listed[0]["title"], hostile);
    assert_eq!(
        listed[0]["body"],
        "Bộ Công an; Valsts policija — krāpšana Rīgā"
    );
    hub.stop().await
}
