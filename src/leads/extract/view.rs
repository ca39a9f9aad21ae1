//! Folded views of a text: lowercase without accents, and that again as bare words, each
//! remembering which bytes of the original every byte came from. Matching happens on
//! the views; what is kept is cut from the original, accents and all.

use std::ops::Range;

/// A folded form of a text that remembers, for each of its bytes, the bytes of the
/// original character it came from.
pub(super) struct View<'a> {
    /// The original text.
    pub(super) source: &'a str,
    pub(super) text: String,
    pub(super) from: Vec<Range<usize>>,
}

impl<'a> View<'a> {
    /// Lowercase without accents; everything else kept, one character for one.
    pub(super) fn folded(source: &'a str) -> Self {
        let mut text = String::with_capacity(source.len());
        let mut from = Vec::with_capacity(source.len());
        for (at, c) in source.char_indices() {
            let Some(folded) = fold_char(c) else { continue };
            text.push(folded);
            let range = at..at + c.len_utf8();
            from.extend(std::iter::repeat_n(range, folded.len_utf8()));
        }
        Self { source, text, from }
    }

    /// Only letters and digits, words separated by one space.
    pub(super) fn words(folded: &View<'a>) -> Self {
        let mut text = String::with_capacity(folded.text.len());
        let mut from = Vec::with_capacity(folded.text.len());
        let mut gap: Option<Range<usize>> = None;
        for (at, c) in folded.text.char_indices() {
            let origin = folded.from[at].clone();
            if !c.is_alphanumeric() {
                gap.get_or_insert(origin);
                continue;
            }
            if let Some(gap) = gap.take()
                && !text.is_empty()
            {
                text.push(' ');
                from.push(gap);
            }
            text.push(c);
            from.extend(std::iter::repeat_n(origin, c.len_utf8()));
        }
        Self {
            source: folded.source,
            text,
            from,
        }
    }

    /// The stretch of the original that `range` of this view came from.
    pub(super) fn original(&self, range: Range<usize>) -> Range<usize> {
        if range.start >= range.end {
            return 0..0;
        }
        match (self.from.get(range.start), self.from.get(range.end - 1)) {
            (Some(first), Some(last)) => first.start..last.end,
            _ => 0..0,
        }
    }
}

fn fold_char(c: char) -> Option<char> {
    if ('\u{0300}'..='\u{036F}').contains(&c) {
        return None;
    }
    let lower = c.to_lowercase().next().unwrap_or(c);
    Some(match lower {
        'á' | 'à' | 'ä' | 'â' | 'ã' => 'a',
        'é' | 'è' | 'ë' | 'ê' => 'e',
        'í' | 'ì' | 'ï' | 'î' => 'i',
        'ó' | 'ò' | 'ö' | 'ô' | 'õ' => 'o',
        'ú' | 'ù' | 'ü' | 'û' => 'u',
        'ñ' => 'n',
        'ç' => 'c',
        '\u{2019}' | '\u{2018}' | '´' => '\'',
        other => other,
    })
}

/// A name as the words view writes it: "CX-30" → "cx 30".
pub(super) fn words_of(text: &str) -> String {
    View::words(&View::folded(text)).text
}

/// Whole-word occurrences of `needle` (words view form) in `hay` (words view).
pub(super) fn find_phrase<'h>(
    hay: &'h str,
    needle: &'h str,
) -> impl Iterator<Item = Range<usize>> + 'h {
    let bytes = hay.as_bytes();
    hay.match_indices(needle)
        .filter(move |(at, _)| {
            let end = at + needle.len();
            !needle.is_empty()
                && (*at == 0 || bytes[at - 1] == b' ')
                && (end == bytes.len() || bytes[end] == b' ')
        })
        .map(move |(at, _)| at..at + needle.len())
}

/// The words of a words view.
pub(super) fn tokens(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for part in text.split(' ') {
        if !part.is_empty() {
            out.push(start..start + part.len());
        }
        start += part.len() + 1;
    }
    out
}

pub(super) fn overlaps(range: &Range<usize>, used: &[Range<usize>]) -> bool {
    used.iter()
        .any(|u| range.start < u.end && u.start < range.end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_map_back_to_the_original() {
        let text = "Hola, ÁNGELA\u{0301} Muñoz!";
        let folded = View::folded(text);
        let words = View::words(&folded);
        assert_eq!(words.text, "hola angela munoz");
        let at = find_phrase(&words.text, "angela munoz").next().unwrap();
        assert_eq!(&text[words.original(at)], "ÁNGELA\u{0301} Muñoz");
        assert_eq!(words_of("CX-30"), "cx 30");
        assert_eq!(super::super::head("añb", 2), "añ");
    }
}
