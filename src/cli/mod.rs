//! The offline commands staff and operators run. Output is for people: what happened,
//! what is wrong, where, and how to fix it; `--json` where a script wants the data.
//!
//! - [`flows`]: `showroom flows check|test|schema`.
//! - [`kb`]: `showroom kb ingest|search|eval`.
//! - [`ask`]: `showroom ask QUESTION` and `showroom ask --eval FILE`.
//! - [`leads`]: `showroom leads list|show|export`.
//! - [`outbox`]: `showroom outbox list|retry|replay`.
//! - [`privacy`]: `showroom privacy export|erase`.

mod ask;
mod flows;
mod kb;
mod leads;
mod outbox;
mod privacy;

pub use ask::{AskCommand, ask};
pub use flows::{FlowsCommand, flows};
pub use kb::{KbCommand, kb};
pub use leads::{ExportFormat, LeadListArgs, LeadsCommand, leads};
pub use outbox::{OutboxCommand, outbox};
pub use privacy::{CustomerSelector, PrivacyCommand, privacy};

pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Shown for a value that is not known.
pub(crate) const NONE: &str = "—";

/// A stored time (Unix milliseconds) as a person reads it in the dealer's time zone.
pub(crate) fn local_time(ms: i64, tz: &jiff::tz::TimeZone) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(at) => at
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%d %H:%M")
            .to_string(),
        Err(_) => format!("{ms} ms"),
    }
}

/// Opens the database the way `serve` does, with a hint when it is not reachable.
pub(crate) async fn open_store(
    config: &crate::config::Config,
) -> anyhow::Result<crate::store::Store> {
    crate::store::Store::connect(&config.database_url, &config.store)
        .await
        .map_err(|err| {
            anyhow::anyhow!(
                "{err}\n  hint: the database is set by `database_url` / DATABASE_URL (SQLite in SHOWROOM_DATA_DIR by default)"
            )
        })
}

/// Columns padded to their widest cell, two spaces apart; the last column is not padded
/// so long texts do not push trailing blanks.
pub(crate) struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(headers: &[&'static str]) -> Self {
        Self {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub(crate) fn render(&self) -> String {
        let columns = self.headers.len();
        let width = |text: &str| text.chars().count();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(width(cell));
            }
        }
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut out = String::new();
            for (i, cell) in cells.enumerate().take(columns) {
                if i > 0 {
                    out.push_str("  ");
                }
                out.push_str(cell);
                if i + 1 < columns {
                    out.extend(std::iter::repeat_n(' ', widths[i] - width(cell)));
                }
            }
            out.trim_end().to_owned()
        };
        let mut out = line(&mut self.headers.iter().copied());
        for row in &self.rows {
            out.push('\n');
            out.push_str(&line(&mut row.iter().map(String::as_str)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_by_characters() {
        let mut table = Table::new(&["ID", "NAME", "CITY"]);
        table.row(vec!["1".into(), "José Pérez".into(), "Bogotá".into()]);
        table.row(vec!["22".into(), NONE.into(), "Cali".into()]);
        assert_eq!(
            table.render(),
            "ID  NAME        CITY\n1   José Pérez  Bogotá\n22  —           Cali"
        );
    }

    #[test]
    fn times_show_in_the_dealers_zone() {
        let bogota = jiff::tz::TimeZone::get("America/Bogota").unwrap();
        // 2026-12-01T19:05:00Z
        assert_eq!(local_time(1_796_151_900_000, &bogota), "2026-12-01 14:05");
    }
}
