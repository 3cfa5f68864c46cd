//! Shell completions and man pages come from the command definitions: bash completes a
//! new subcommand for real, the zsh and fish scripts and the man pages name it.

use std::process::Output;

use crate::support::{assert_success, liaisonctl_command, stdout};

async fn generate(home: &std::path::Path, args: &[&str]) -> anyhow::Result<Output> {
    let mut command = liaisonctl_command(home);
    command.args(args).kill_on_drop(true);
    let output = command.output().await?;
    assert_success(&output);
    Ok(output)
}

#[tokio::test]
async fn completions_and_man_pages_follow_the_commands() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("liaisonctl.bash");
    std::fs::write(
        &script,
        generate(dir.path(), &["completions", "bash"]).await?.stdout,
    )?;
    // Bash itself: what `liaisonctl mla pres<TAB>` and `… preservation <TAB>` offer.
    let complete = |words: &str, current: usize| {
        format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={current}; \
             _liaisonctl liaisonctl \"${{COMP_WORDS[$COMP_CWORD]}}\" \"${{COMP_WORDS[$COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        )
    };
    let offered = tokio::process::Command::new("bash")
        .args([
            "--norc",
            "--noprofile",
            "-c",
            &complete("liaisonctl mla pres", 2),
        ])
        .output()
        .await?;
    assert_success(&offered);
    assert_eq!(
        stdout(&offered).trim(),
        "preservation",
        "{}",
        stdout(&offered)
    );
    let steps = tokio::process::Command::new("bash")
        .args([
            "--norc",
            "--noprofile",
            "-c",
            &complete("liaisonctl mla preservation ''", 3),
        ])
        .output()
        .await?;
    let steps = stdout(&steps);
    for step in ["confirm", "request-extension", "extend", "hold", "release"] {
        assert!(
            steps.lines().any(|line| line == step),
            "{step} not offered: {steps}"
        );
    }

    let zsh = stdout(&generate(dir.path(), &["completions", "zsh"]).await?);
    assert!(
        zsh.starts_with("#compdef liaisonctl"),
        "{}",
        &zsh[..80.min(zsh.len())]
    );
    assert!(
        zsh.contains("'request-extension:"),
        "zsh names the preservation steps"
    );
    let fish = stdout(&generate(dir.path(), &["completions", "fish"]).await?);
    assert!(fish.contains("complete -c liaisonctl"), "fish script");
    assert!(
        fish.contains("-a \"request-extension\""),
        "fish names the preservation steps"
    );

    let man = dir.path().join("man1");
    generate(dir.path(), &["man", "--out", &man.to_string_lossy()]).await?;
    let page = std::fs::read_to_string(man.join("liaisonctl-mla-preservation-confirm.1"))?;
    assert!(
        page.contains(".TH liaisonctl-mla-preservation-confirm 1"),
        "{page}"
    );
    assert!(page.contains("at least 60 days"), "{page}");
    let top = std::fs::read_to_string(man.join("liaisonctl.1"))?;
    assert!(top.contains("inbox") && top.contains("Exit codes"), "{top}");
    Ok(())
}
