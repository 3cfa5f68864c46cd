//! A progress bar on standard error for long work (publishing a file, uploading or
//! downloading evidence), drawn only when standard error is a terminal, so that scripts
//! and logs get the summary alone.

use std::io::IsTerminal;

/// What a bar counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Items of a file.
    Items,
    /// Bytes of a file, shown in KiB, MiB or GiB.
    Bytes,
}

/// A bar: `label [#####-----] done/total`.
#[derive(Debug)]
pub struct Progress {
    label: &'static str,
    total: u64,
    unit: Unit,
    enabled: bool,
    /// The last width drawn, in thousandths, so that a bar is redrawn at most ~1,000 times.
    drawn: Option<u64>,
}

impl Progress {
    /// A bar for `total` units of work, drawn when standard error is a terminal.
    pub fn new(label: &'static str, total: u64, unit: Unit) -> Self {
        Self::with_terminal(label, total, unit, std::io::stderr().is_terminal())
    }

    fn with_terminal(label: &'static str, total: u64, unit: Unit, enabled: bool) -> Self {
        Self {
            label,
            total,
            unit,
            enabled,
            drawn: None,
        }
    }

    /// Shows that `done` units are done.
    pub fn draw(&mut self, done: u64) {
        if !self.enabled {
            return;
        }
        let permille = done.saturating_mul(1_000) / self.total.max(1);
        if self.drawn == Some(permille) && done != self.total {
            return;
        }
        self.drawn = Some(permille);
        eprint!("\r{}", self.line(done));
    }

    /// Ends the bar's line, if one was drawn.
    pub fn finish(&self) {
        if self.enabled && self.drawn.is_some() {
            eprintln!();
        }
    }

    /// The bar after `done` units.
    pub fn line(&self, done: u64) -> String {
        const WIDTH: u64 = 30;
        let filled = (done.saturating_mul(WIDTH) / self.total.max(1)).min(WIDTH);
        let count = |n: u64| match self.unit {
            Unit::Items => n.to_string(),
            Unit::Bytes => bytes(n),
        };
        format!(
            "{} [{}{}] {}/{}",
            self.label,
            "#".repeat(filled as usize),
            "-".repeat((WIDTH - filled) as usize),
            count(done),
            count(self.total)
        )
    }
}

/// A size for people: `512 B`, `3.0 KiB`, `1.5 MiB`, `1.0 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 3] = ["KiB", "MiB", "GiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_with_the_work_done() {
        let progress = Progress::with_terminal("publishing", 1_000, Unit::Items, false);
        assert_eq!(
            progress.line(500),
            "publishing [###############---------------] 500/1000"
        );
        assert!(
            progress
                .line(0)
                .contains("[------------------------------]")
        );
        assert!(
            progress
                .line(1_000)
                .contains("[##############################]")
        );
        // More than expected (a file that grew while read): full, no overflow.
        assert!(
            progress
                .line(1_001)
                .contains("[##############################]")
        );
        let empty = Progress::with_terminal("uploading", 0, Unit::Bytes, false);
        assert!(empty.line(0).ends_with("0 B/0 B"));
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 * 1024), "3.0 KiB");
        assert_eq!(bytes(3 * 1024 * 1024 / 2), "1.5 MiB");
        assert_eq!(bytes(1 << 30), "1.0 GiB");
        let progress = Progress::with_terminal("uploading", 1 << 30, Unit::Bytes, false);
        assert_eq!(
            progress.line(1 << 29),
            "uploading [###############---------------] 512.0 MiB/1.0 GiB"
        );
    }
}
