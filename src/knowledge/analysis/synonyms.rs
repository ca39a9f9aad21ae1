//! Regional vocabulary from `knowledge/synonyms.yaml`: groups of words and phrases that
//! mean the same (baúl / cajuela / maletero). When a question contains one member of a
//! group, the other members are added to it with a lower weight; documents are indexed
//! as written, so editing the file needs no re-indexing.
//!
//! Members are compared word by word on folded text, also accepting a plural ("llanta"
//! matches "llantas") or a word with the same Spanish stem ("gastaron" matches "gasta").
//! When a phrase of one group covers a shorter match of another ("llantas de lujo" over
//! "llantas"), only the phrase counts: that is how the file gives a word two senses.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use serde_saphyr::Spanned;

use super::normalize::tokens;
use super::stem::spanish_stem;
use super::terms::TextTerms;
use super::typo::{Candidate, TypoIndex, is_correction_target};

/// Groups of equivalent words and phrases. The default has none.
#[derive(Clone, Default)]
pub struct Synonyms {
    groups: Vec<Vec<Member>>,
    /// Every member's words: customers' words even when the knowledge never uses them
    /// ("caballos" where the sheets say "hp"), so typos are corrected towards them too.
    words: HashSet<String>,
    typos: TypoIndex,
}

impl fmt::Debug for Synonyms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Synonyms")
            .field("groups", &self.groups.len())
            .field("words", &self.words.len())
            .finish()
    }
}

/// One word or phrase of a group, ready for matching and for expanding a question.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    /// Folded words, stopwords included ("caballos de fuerza").
    words: Vec<MatchWord>,
    /// What the member adds to a question when another member of its group matched.
    pub terms: TextTerms,
}

/// A folded word with its Spanish stem, compared to a member's word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MatchWord {
    text: String,
    stem: String,
}

impl MatchWord {
    pub fn new(folded: &str) -> Self {
        Self {
            text: folded.to_owned(),
            stem: spanish_stem(folded),
        }
    }

    fn matches(&self, member: &MatchWord) -> bool {
        self.text == member.text
            || is_plural_of(&self.text, &member.text)
            || is_plural_of(&member.text, &self.text)
            // Short stems ("pas" of "pase" and "pasa") would join unrelated words.
            || (self.stem == member.stem && self.stem.chars().count() >= 4)
    }
}

fn is_plural_of(plural: &str, singular: &str) -> bool {
    plural
        .strip_prefix(singular)
        .is_some_and(|ending| ending == "s" || ending == "es")
}

/// The synonyms file is unusable; says where and how to fix it, for staff.
#[derive(Debug, thiserror::Error)]
#[error("{}: {problem}. How to fix: {hint}", place(.file, .line, .column))]
pub struct SynonymsError {
    /// The file as given (`knowledge/synonyms.yaml`).
    pub file: String,
    /// 1-based line and column of the problem, when it is in the text.
    pub line: Option<u64>,
    pub column: Option<u64>,
    pub problem: String,
    pub hint: String,
}

fn place(file: &str, line: &Option<u64>, column: &Option<u64>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!("{file}, line {line}, column {column}"),
        (Some(line), None) => format!("{file}, line {line}"),
        _ => file.to_owned(),
    }
}

const FORMAT_HINT: &str = "each group is one line starting with `- ` and a list of words in square brackets separated by commas, like `- [baúl, cajuela, maletero]` (see the examples at the top of the file)";

impl Synonyms {
    /// Reads and parses a synonyms file. A missing or unreadable file is an error.
    pub fn load(path: &Path) -> Result<Self, SynonymsError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|err| {
            let hint = if err.kind() == std::io::ErrorKind::InvalidData {
                "save the file as UTF-8 text (most editors offer it under \"Save as\" / \"Encoding\")"
            } else {
                "check that the file exists at this path and can be read; without it questions are not expanded with regional words"
            };
            SynonymsError {
                file: file.clone(),
                line: None,
                column: None,
                problem: format!("cannot read the synonyms file ({err})"),
                hint: hint.to_owned(),
            }
        })?;
        Self::parse(&text, &file)
    }

    /// Parses the YAML text of a synonyms file: a list of groups, each a list of words or
    /// phrases. `file_name` only names the file in errors.
    pub fn parse(text: &str, file_name: &str) -> Result<Self, SynonymsError> {
        let raw: Vec<Spanned<Vec<Spanned<String>>>> =
            serde_saphyr::from_str(text).map_err(|err| yaml_error(file_name, &err))?;
        let mut groups = Vec::with_capacity(raw.len());
        for group in raw {
            let at = |location: &serde_saphyr::Location| SynonymsError {
                file: file_name.to_owned(),
                line: Some(location.line()),
                column: Some(location.column()),
                problem: String::new(),
                hint: String::new(),
            };
            let mut members = Vec::with_capacity(group.value.len());
            for word in &group.value {
                let member = Member::new(&word.value).ok_or_else(|| SynonymsError {
                    problem: format!("\"{}\" has no letters or digits to search for", word.value),
                    hint: "write a word or phrase here, or delete the empty entry (two commas in a row leave one)".to_owned(),
                    ..at(&word.referenced)
                })?;
                members.push(member);
            }
            if members.len() < 2 {
                return Err(SynonymsError {
                    problem: "this group has fewer than two words, so it cannot add anything to a question".to_owned(),
                    hint: "add the other words that mean the same inside the brackets, like `- [baúl, cajuela, maletero]`, or delete the line".to_owned(),
                    ..at(&group.referenced)
                });
            }
            groups.push(members);
        }
        let words: HashSet<String> = groups
            .iter()
            .flatten()
            .flat_map(|member| member.words.iter().map(|w| w.text.clone()))
            .filter(|w| is_correction_target(w))
            .collect();
        let typos = TypoIndex::build(words.iter().map(String::as_str));
        Ok(Self {
            groups,
            words,
            typos,
        })
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Whether a folded word appears in some group.
    pub(crate) fn knows(&self, word: &str) -> bool {
        self.words.contains(word)
    }

    /// Group words near a misspelt word, nearest first (see [`TypoIndex::lookup`]).
    pub(crate) fn nearest(&self, word: &str) -> Vec<Candidate<'_>> {
        self.typos.lookup(word)
    }

    /// The groups that a question (its folded words in order, each with its accepted
    /// spellings: as typed and typo corrections) mentions.
    pub(crate) fn matching_groups<'a>(&'a self, question: &[Vec<MatchWord>]) -> Vec<&'a [Member]> {
        let mut found: Vec<Found> = Vec::new();
        for (group, members) in self.groups.iter().enumerate() {
            for member in members {
                if member.terms.length == 0 {
                    // Only stopwords ("at" for automatic): would match everyday words.
                    continue;
                }
                let len = member.words.len();
                for start in 0..question.len().saturating_sub(len - 1) {
                    let hit = member.words.iter().enumerate().all(|(k, word)| {
                        question[start + k]
                            .iter()
                            .any(|spelling| spelling.matches(word))
                    });
                    if hit {
                        found.push(Found { group, start, len });
                    }
                }
            }
        }
        let mut groups: Vec<usize> = found
            .iter()
            .filter(|m| !found.iter().any(|other| other.covers(m)))
            .map(|m| m.group)
            .collect();
        groups.sort_unstable();
        groups.dedup();
        groups
            .into_iter()
            .map(|g| self.groups[g].as_slice())
            .collect()
    }
}

/// A member found in a question: which group, and the words it spans.
#[derive(Debug, Clone, Copy)]
struct Found {
    group: usize,
    start: usize,
    len: usize,
}

impl Found {
    /// Whether this match of another group spans `other` and more.
    fn covers(&self, other: &Found) -> bool {
        self.group != other.group
            && self.len > other.len
            && self.start <= other.start
            && self.start + self.len >= other.start + other.len
    }
}

impl Member {
    /// `None` when the text has no words at all.
    fn new(text: &str) -> Option<Self> {
        let tokens = tokens(text);
        let words: Vec<MatchWord> = tokens
            .iter()
            .flat_map(|t| t.words())
            .map(|w| MatchWord::new(w))
            .collect();
        if words.is_empty() {
            return None;
        }
        Some(Self {
            words,
            terms: TextTerms::of_tokens(&tokens),
        })
    }
}

impl fmt::Display for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<&str> = self.words.iter().map(|w| w.text.as_str()).collect();
        f.write_str(&words.join(" "))
    }
}

/// Turns the YAML parser's error into one staff can act on.
fn yaml_error(file: &str, err: &serde_saphyr::Error) -> SynonymsError {
    let location = err.location();
    let message = err.without_snippet().to_string();
    // The parser appends "at line N, column M", which we already show up front.
    let message = message
        .rfind(" at line ")
        .map_or(message.as_str(), |at| &message[..at])
        .trim()
        .to_owned();
    let hint = if message.contains("unclosed bracket") {
        "close the group with `]` at the end of the same line; ".to_owned() + FORMAT_HINT
    } else if message.contains("expected string") {
        "inside the brackets write only words or phrases separated by commas; put a word that contains `:`, `#`, `{` or `[` in double quotes, like \"a/c: aire\"".to_owned()
    } else {
        FORMAT_HINT.to_owned()
    };
    SynonymsError {
        file: file.to_owned(),
        line: location.map(|l| l.line()),
        column: location.map(|l| l.column()),
        problem: format!("the synonyms list cannot be read here ({message})"),
        hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(text: &str) -> Vec<Vec<MatchWord>> {
        tokens(text)
            .iter()
            .flat_map(|t| t.words().to_vec())
            .map(|w| vec![MatchWord::new(&w)])
            .collect()
    }

    fn matched(synonyms: &Synonyms, text: &str) -> Vec<String> {
        synonyms
            .matching_groups(&question(text))
            .into_iter()
            .map(|members| members[0].to_string())
            .collect()
    }

    const FILE: &str = "\
# comment
- [baúl, cajuela, maletero, portaequipaje]
- [caballos, hp, caballos de fuerza, horsepower]
- [llantas, neumáticos]
- [rines, llantas de lujo]
- - pase
  - licencia de conducción
- [automático, at, caja automática]
";

    #[test]
    fn parses_flow_and_block_groups() {
        let synonyms = Synonyms::parse(FILE, "synonyms.yaml").unwrap();
        assert_eq!(synonyms.len(), 6);
        assert!(
            Synonyms::parse("# nothing yet\n", "s.yaml")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn words_match_folded_plural_and_by_stem() {
        let synonyms = Synonyms::parse(FILE, "synonyms.yaml").unwrap();
        assert_eq!(matched(&synonyms, "cuanto BAÚL tiene"), ["baul"]);
        assert_eq!(matched(&synonyms, "los maleteros"), ["baul"]);
        assert_eq!(matched(&synonyms, "how much horsepower"), ["caballos"]);
        assert_eq!(matched(&synonyms, "caballos de fuerza"), ["caballos"]);
        assert!(matched(&synonyms, "que pasa si llego tarde").is_empty());
        assert!(matched(&synonyms, "at the dealer").is_empty());
    }

    #[test]
    fn a_longer_phrase_of_another_group_wins() {
        let synonyms = Synonyms::parse(FILE, "synonyms.yaml").unwrap();
        assert_eq!(matched(&synonyms, "trae llantas de lujo"), ["rines"]);
        assert_eq!(matched(&synonyms, "cambio de llantas"), ["llantas"]);
        assert_eq!(matched(&synonyms, "caja automatica"), ["automatico"]);
    }

    #[test]
    fn members_expand_to_their_terms() {
        let synonyms = Synonyms::parse(FILE, "synonyms.yaml").unwrap();
        let groups = synonyms.matching_groups(&question("caballos"));
        let phrase = &groups[0][2];
        let terms: Vec<&str> = phrase.terms.terms.iter().map(|t| t.text.as_str()).collect();
        assert!(
            terms.contains(&"caball") && terms.contains(&"fuerz"),
            "{terms:?}"
        );
        assert_eq!(phrase.terms.length, 2, "`de` is a stopword");
    }

    #[test]
    fn broken_yaml_names_line_column_and_fix() {
        let text = "- [baúl, cajuela]\n- [caballos, hp\n- [a, b]\n";
        let err = Synonyms::parse(text, "knowledge/synonyms.yaml").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.column.is_some());
        let shown = err.to_string();
        assert!(
            shown.starts_with("knowledge/synonyms.yaml, line 2, column"),
            "{shown}"
        );
        assert!(
            shown.contains("How to fix: close the group with `]`"),
            "{shown}"
        );
    }

    #[test]
    fn a_group_that_is_not_a_list_is_explained() {
        let err = Synonyms::parse("- [a, b]\n- cajuela\n", "s.yaml").unwrap_err();
        assert_eq!((err.line, err.column), (Some(2), Some(3)));
        assert!(
            err.hint.contains("- [baúl, cajuela, maletero]"),
            "{}",
            err.hint
        );
    }

    #[test]
    fn one_word_groups_and_empty_words_are_rejected_with_their_place() {
        let err = Synonyms::parse("- [baúl, cajuela]\n- [pito]\n", "s.yaml").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.problem.contains("fewer than two"), "{}", err.problem);
        let err = Synonyms::parse("- [baúl, \"¿?\", cajuela]\n", "s.yaml").unwrap_err();
        assert_eq!((err.line, err.column), (Some(1), Some(10)));
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let err = Synonyms::load(Path::new("/nonexistent/synonyms.yaml")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/synonyms.yaml"));
        assert_eq!(err.line, None);
    }

    #[test]
    fn the_shipped_file_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge/synonyms.yaml");
        let synonyms = Synonyms::load(&path).unwrap();
        assert!(synonyms.len() > 50);
    }
}
