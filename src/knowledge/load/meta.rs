//! Document metadata written by staff: a Markdown file's YAML front matter, or the
//! `<file>.meta.yaml` sidecar next to a PDF or CSV (those formats have nowhere to put it).
//! Both use the same keys; unknown keys are refused so a typo (`modelo:`) does not silently
//! drop a document out of its model's filter.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::flows::diagnostic::did_you_mean;

/// The keys staff may write, in the order the hint lists them.
pub(crate) const KNOWN_KEYS: [&str; 6] = ["title", "brand", "model", "year", "kind", "url"];

/// Metadata as written; every key optional.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMeta {
    pub title: Option<String>,
    pub brand: Option<String>,
    pub model: Option<String>,
    pub year: Option<u16>,
    pub kind: Option<String>,
    pub url: Option<String>,
}

impl RawMeta {
    /// Blank values count as absent: `brand: ""` is what a template left unfilled.
    pub(crate) fn cleaned(self) -> Self {
        let keep =
            |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        Self {
            title: keep(self.title),
            brand: keep(self.brand),
            model: keep(self.model),
            year: self.year,
            kind: keep(self.kind),
            url: keep(self.url),
        }
    }
}

/// A YAML problem, positioned in the file that holds the YAML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct YamlProblem {
    pub line: u64,
    pub column: u64,
    pub problem: String,
    pub fix: String,
}

/// Parses metadata YAML that starts on line `first_line` of its file (2 for front matter
/// after the opening `---`, 1 for a sidecar), so positions point into the file itself.
pub(crate) fn parse_meta(yaml: &str, first_line: u64) -> Result<RawMeta, YamlProblem> {
    if yaml.trim().is_empty() {
        return Ok(RawMeta::default());
    }
    serde_saphyr::from_str::<RawMeta>(yaml)
        .map(RawMeta::cleaned)
        .map_err(|err| describe(&err, first_line))
}

/// Where the sidecar of a PDF or CSV would be: `ficha.pdf` → `ficha.pdf.meta.yaml`.
pub fn sidecar_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".meta.yaml");
    path.with_file_name(name)
}

/// The file a sidecar describes (`ficha.pdf.meta.yaml` → `ficha.pdf`), so a watcher can
/// re-ingest it when only its metadata changed.
pub fn sidecar_owner(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let owner = name.strip_suffix(".meta.yaml")?;
    (!owner.is_empty()).then(|| path.with_file_name(owner))
}

fn describe(err: &serde_saphyr::Error, first_line: u64) -> YamlProblem {
    let (line, column) = err
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((1, 1));
    let line = line.max(1) + first_line - 1;
    let column = column.max(1);
    // The first line reads "error: line 2 column 1: unknown field `modelo`, expected …";
    // the position is ours to report, so keep only the message.
    let rendered = err.to_string();
    let first = rendered.lines().next().unwrap_or_default();
    let message = first
        .split_once(": ")
        .and_then(|(_, rest)| rest.split_once(": ").map(|(_, msg)| msg))
        .unwrap_or(first)
        .trim();
    let known = KNOWN_KEYS.join(", ");
    let (problem, fix) = if let Some(rest) = message.strip_prefix("unknown field `") {
        let key = rest.split('`').next().unwrap_or(rest);
        let fix = match did_you_mean(key, KNOWN_KEYS) {
            Some(close) => format!("Did you mean `{close}`? The keys allowed are: {known}"),
            None => format!("The keys allowed are: {known}"),
        };
        (format!("unknown key `{key}` in the metadata"), fix)
    } else if message.contains("u16") {
        (
            format!("the year is not a number ({message})"),
            "Write the model year as a plain number, e.g. `year: 2025`".to_owned(),
        )
    } else if message.contains("expected mapping") {
        (
            format!("the metadata is not a list of `key: value` lines ({message})"),
            format!("Write one `key: value` per line, using the keys {known}"),
        )
    } else {
        (
            format!("the metadata is not valid YAML ({message})"),
            "Write one `key: value` per line, and put values containing `:`, `#` or `[` in \
             quotes, e.g. `title: \"Kia Sportage: ficha técnica\"`"
                .to_owned(),
        )
    };
    YamlProblem {
        line,
        column,
        problem,
        fix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_keys_are_read_and_blanks_dropped() {
        let meta = parse_meta(
            "title: Kia Sportage\nbrand: Kia\nmodel: sportage\nyear: 2025\nkind: spec_sheet\nurl: \"\"\n",
            2,
        )
        .unwrap();
        assert_eq!(meta.title.as_deref(), Some("Kia Sportage"));
        assert_eq!(meta.brand.as_deref(), Some("Kia"));
        assert_eq!(meta.model.as_deref(), Some("sportage"));
        assert_eq!(meta.year, Some(2025));
        assert_eq!(meta.kind.as_deref(), Some("spec_sheet"));
        assert_eq!(meta.url, None);
    }

    #[test]
    fn empty_yaml_is_no_metadata() {
        assert_eq!(parse_meta("  \n", 2).unwrap(), RawMeta::default());
    }

    #[test]
    fn unknown_key_names_position_in_file_and_suggests() {
        let err = parse_meta("title: Kia\nmodelo: sportage\n", 2).unwrap_err();
        assert_eq!((err.line, err.column), (3, 1));
        assert!(err.problem.contains("`modelo`"), "{err:?}");
        assert!(err.fix.contains("Did you mean `model`?"), "{err:?}");
        assert!(
            err.fix.contains("title, brand, model, year, kind, url"),
            "{err:?}"
        );
    }

    #[test]
    fn bad_year_is_explained() {
        let err = parse_meta("year: dos mil\n", 1).unwrap_err();
        assert_eq!((err.line, err.column), (1, 7));
        assert!(err.fix.contains("year: 2025"), "{err:?}");
    }

    #[test]
    fn sidecars_pair_with_their_file() {
        let pdf = Path::new("specs/ficha.pdf");
        assert_eq!(sidecar_path(pdf), Path::new("specs/ficha.pdf.meta.yaml"));
        assert_eq!(sidecar_owner(&sidecar_path(pdf)).as_deref(), Some(pdf));
        assert_eq!(sidecar_owner(Path::new("specs/ficha.pdf")), None);
        assert_eq!(sidecar_owner(Path::new(".meta.yaml")), None);
    }
}
