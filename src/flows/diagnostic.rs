//! Problems found in flow files, each pointing at `file:line:col`, in plain words with a
//! hint on how to fix it. All problems are collected and reported together.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_saphyr::Spanned;

/// Where something is in a flow file. Lines and columns start at 1.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SourcePos {
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
}

impl SourcePos {
    pub fn new(file: &Path, line: u64, column: u64) -> Self {
        Self {
            file: file.to_path_buf(),
            line: line.max(1),
            column: column.max(1),
        }
    }

    pub fn of<T>(file: &Path, spanned: &Spanned<T>) -> Self {
        Self::new(file, spanned.referenced.line(), spanned.referenced.column())
    }
}

impl fmt::Display for SourcePos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub pos: SourcePos,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(pos: SourcePos, message: impl Into<String>) -> Self {
        Self {
            pos,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: error: {}", self.pos, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every problem found in a flow folder, sorted by position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn sorted(mut self) -> Self {
        self.0.sort_by(|a, b| a.pos.cmp(&b.pos));
        self.0.dedup();
        self
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for diagnostic in &self.0 {
            writeln!(f, "{diagnostic}")?;
        }
        let n = self.0.len();
        write!(f, "{n} problem{} found", if n == 1 { "" } else { "s" })
    }
}

/// The closest of `candidates` to `wanted`, when it is close enough to be a typo.
pub fn did_you_mean<'a>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| {
            (
                c,
                strsim::damerau_levenshtein(&wanted.to_lowercase(), &c.to_lowercase()),
            )
        })
        .filter(|(c, distance)| {
            *distance <= (c.chars().count() / 3).max(1) + 1 && *distance < c.chars().count()
        })
        .min_by_key(|(_, distance)| *distance)
        .map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_for_typos_only() {
        let keys = ["say", "ask", "save", "goto", "action"];
        assert_eq!(did_you_mean("sya", keys), Some("say"));
        assert_eq!(did_you_mean("acion", keys), Some("action"));
        assert_eq!(did_you_mean("zzzzzz", keys), None);
    }

    #[test]
    fn display_is_file_line_col() {
        let d = Diagnostic::new(
            SourcePos::new(Path::new("flows/a.yaml"), 4, 5),
            "unknown key `sya`",
        )
        .hint("did you mean `say`?");
        assert_eq!(
            d.to_string(),
            "flows/a.yaml:4:5: error: unknown key `sya`\n  hint: did you mean `say`?"
        );
    }
}
