//! Folding and tokenizing: the one place that decides what a word is, so documents,
//! questions, synonyms and the vocabulary all cut text the same way.
//!
//! Customers write without accents and glue or split model names ("cx30", "t cross"),
//! and spec sheets write numbers the Spanish way ("1.984 cc", "9,1 l/100 km"). Folding
//! removes the first difference; tokens carry a hyphenated or glued name both joined and
//! in parts, and numbers get one spelling, so both sides meet on the same terms.

/// Lowercases, removes accents and other diacritics (ñ → n, ü → u) and collapses runs
/// of whitespace into one space. Punctuation is kept.
pub fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = !folded.is_empty();
            continue;
        }
        for lower in c.to_lowercase() {
            let replacement = match fold_char(lower) {
                Folded::Keep => None,
                Folded::Drop => continue,
                Folded::Into(text) => Some(text),
            };
            if pending_space {
                folded.push(' ');
                pending_space = false;
            }
            match replacement {
                Some(text) => folded.push_str(text),
                None => folded.push(lower),
            }
        }
    }
    folded
}

/// What folding does with one lowercase character.
enum Folded {
    Keep,
    Drop,
    Into(&'static str),
}

fn fold_char(c: char) -> Folded {
    let folded = match c {
        'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'é' | 'è' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'í' | 'ì' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => "i",
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' | 'ō' | 'ő' => "o",
        'ú' | 'ù' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => "u",
        'ñ' | 'ń' | 'ň' => "n",
        'ç' | 'ć' | 'č' => "c",
        'ý' | 'ÿ' => "y",
        'š' | 'ś' => "s",
        'ž' | 'ź' | 'ż' => "z",
        'ł' => "l",
        'ř' => "r",
        'ď' => "d",
        'ť' => "t",
        'ğ' => "g",
        'æ' => "ae",
        'œ' => "oe",
        'ß' => "ss",
        '¹' => "1",
        '²' => "2",
        '³' => "3",
        // Typographic quotes and hyphens from word processors and PDFs.
        '\u{2018}' | '\u{2019}' | '\u{02bc}' | '´' | '`' => "'",
        '\u{201c}' | '\u{201d}' | '«' | '»' => "\"",
        '\u{2010}' | '\u{2011}' => "-",
        // "1º", "3ª fila": the indicator adds nothing a customer would type.
        'º' | 'ª' => return Folded::Drop,
        // Decomposed accents (NFD text, common in PDFs) lose their combining mark.
        '\u{0300}'..='\u{036f}' => return Folded::Drop,
        _ => return Folded::Keep,
    };
    Folded::Into(folded)
}

/// A word of text. A hyphenated or glued name ("cx-30", "t-cross", "cx30", "150hp")
/// is one token whose `text` is the joined form and whose `parts` are its pieces, so
/// "cx30", "cx-30" and "cx 30" all share terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub text: String,
    /// Pieces of a compound token; empty for a plain word.
    pub parts: Vec<String>,
}

impl Token {
    fn plain(text: String) -> Self {
        Self {
            text,
            parts: Vec::new(),
        }
    }

    pub fn is_compound(&self) -> bool {
        !self.parts.is_empty()
    }

    /// The words a phrase is matched against: the parts of a compound, else the word.
    pub fn words(&self) -> &[String] {
        if self.parts.is_empty() {
            std::slice::from_ref(&self.text)
        } else {
            &self.parts
        }
    }
}

/// Folds `text` and cuts it into tokens.
pub(crate) fn tokens(text: &str) -> Vec<Token> {
    tokenize(&fold(text))
}

/// Cuts folded text into tokens. Letters and digits make words; `-`, `_` and `'` join
/// words only between letters or digits, and `.` and `,` only between digits.
pub(crate) fn tokenize(folded: &str) -> Vec<Token> {
    let chars: Vec<char> = folded.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_alphanumeric() {
            i += 1;
            continue;
        }
        let mut end = i;
        loop {
            while end < chars.len() && chars[end].is_alphanumeric() {
                end += 1;
            }
            let joins = end + 1 < chars.len()
                && chars[end + 1].is_alphanumeric()
                && match chars[end] {
                    '-' | '_' | '\'' => true,
                    '.' | ',' => chars[end - 1].is_ascii_digit() && chars[end + 1].is_ascii_digit(),
                    _ => false,
                };
            if !joins {
                break;
            }
            end += 1;
        }
        push_segment(&chars[i..end], &mut tokens);
        i = end;
    }
    add_thousands(&mut tokens);
    tokens
}

/// Turns one run of joined characters ("cx-30", "what's", "1.984") into tokens.
fn push_segment(segment: &[char], tokens: &mut Vec<Token>) {
    let text: String = segment.iter().collect();
    let text = drop_apostrophes(&text);
    let pieces: Vec<&str> = text.split(['-', '_']).filter(|p| !p.is_empty()).collect();
    if pieces.len() > 1 {
        if pieces.iter().all(|p| is_number(p)) {
            // Ranges, dates and phone numbers ("8-9", "2024-2025"): separate numbers.
            for piece in pieces {
                tokens.extend(number_tokens(piece).into_iter().map(Token::plain));
            }
        } else {
            let parts: Vec<String> = pieces.iter().map(|p| normalize_numbers(p)).collect();
            tokens.push(Token {
                text: parts.concat(),
                parts,
            });
        }
        return;
    }
    let Some(piece) = pieces.first() else {
        return;
    };
    if is_number(piece) {
        tokens.extend(number_tokens(piece).into_iter().map(Token::plain));
        return;
    }
    let word = normalize_numbers(piece);
    match split_letters_digits(&word) {
        Some((first, second)) => tokens.push(Token {
            parts: vec![first.to_owned(), second.to_owned()],
            text: word,
        }),
        None => tokens.push(Token::plain(word)),
    }
}

/// "what's" → "what", "driver's" → "driver", "don't" → "dont".
fn drop_apostrophes(text: &str) -> String {
    if !text.contains('\'') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\'') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let possessive = after.starts_with('s')
            && after[1..]
                .chars()
                .next()
                .is_none_or(|c| c == '-' || c == '_');
        rest = if possessive { &after[1..] } else { after };
    }
    out.push_str(rest);
    out
}

fn is_number(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_digit())
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
}

/// One spelling per number: thousands separators go ("1.984" → "1984", "100.000" →
/// "100000"), a decimal comma becomes a point ("9,1" → "9.1"); anything else with
/// several separators (a date such as "12.5.2024") becomes its groups.
fn number_tokens(text: &str) -> Vec<String> {
    let groups: Vec<&str> = text.split(['.', ',']).collect();
    if groups.len() == 1 {
        return vec![text.to_owned()];
    }
    let thousands = groups[0].len() <= 3 && groups[1..].iter().all(|g| g.len() == 3);
    if thousands {
        vec![groups.concat()]
    } else if groups.len() == 2 {
        vec![format!("{}.{}", groups[0], groups[1])]
    } else {
        groups.into_iter().map(str::to_owned).collect()
    }
}

/// Applies [`number_tokens`] to the digit runs inside a word ("2,0tsi" → "2.0tsi").
fn normalize_numbers(word: &str) -> String {
    if !word.contains(['.', ',']) {
        return word.to_owned();
    }
    let mut out = String::with_capacity(word.len());
    let mut run = String::new();
    for c in word.chars() {
        if c.is_ascii_digit() || ((c == '.' || c == ',') && !run.is_empty()) {
            run.push(c);
        } else {
            out.push_str(&number_tokens(&run).join("."));
            run.clear();
            out.push(c);
        }
    }
    out.push_str(&number_tokens(&run).join("."));
    out
}

/// Splits a word made of exactly one run of letters and one run of digits ("cx30",
/// "150hp", "1.6l") into the two runs. "4x4" (three runs) stays whole.
fn split_letters_digits(word: &str) -> Option<(&str, &str)> {
    let is_digit = |c: char| c.is_ascii_digit() || c == '.';
    let mut chars = word.char_indices();
    let (_, first) = chars.next()?;
    let first_is_digit = is_digit(first);
    let (boundary, _) = chars.find(|&(_, c)| is_digit(c) != first_is_digit)?;
    let (head, tail) = word.split_at(boundary);
    if tail.chars().all(|c| is_digit(c) != first_is_digit) {
        Some((head, tail))
    } else {
        None
    }
}

/// "10 mil" also means "10000", the way spec sheets write it ("10.000 km").
fn add_thousands(tokens: &mut Vec<Token>) {
    let mut i = 0;
    while i + 1 < tokens.len() {
        let amount = (!tokens[i].is_compound() && tokens[i + 1].text == "mil")
            .then(|| tokens[i].text.parse::<u64>().ok())
            .flatten()
            .and_then(|n| n.checked_mul(1000));
        if let Some(amount) = amount {
            tokens.insert(i + 2, Token::plain(amount.to_string()));
            i += 3;
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<String> {
        tokens(text).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn folding_removes_case_accents_and_extra_spaces() {
        assert_eq!(fold("  La Tigüán\t de  PEÑA  "), "la tiguan de pena");
        assert_eq!(fold("ÑANDÚ Ação Çedilla"), "nandu acao cedilla");
        // Decomposed "é" (e + combining acute) from a PDF.
        assert_eq!(fold("cafe\u{301}"), "cafe");
        assert_eq!(fold("¿Cuánto vale?"), "¿cuanto vale?");
        assert_eq!(fold("what\u{2019}s"), "what's");
        assert_eq!(fold(""), "");
    }

    #[test]
    fn words_are_cut_at_punctuation() {
        assert_eq!(
            texts("¿La Tiguan trae 4MOTION? Sí, y DSG."),
            ["la", "tiguan", "trae", "4motion", "si", "y", "dsg"]
        );
        assert!(texts("¿?¡! ... --- //").is_empty());
    }

    #[test]
    fn numbers_get_one_spelling() {
        assert_eq!(texts("1.984 cc"), ["1984", "cc"]);
        assert_eq!(texts("100.000 km"), ["100000", "km"]);
        assert_eq!(texts("9,1 l/100 km"), ["9.1", "l", "100", "km"]);
        assert_eq!(texts("motor 1.6 o 1,6"), ["motor", "1.6", "o", "1.6"]);
        assert_eq!(texts("14,5 km/l"), ["14.5", "km", "l"]);
        assert_eq!(texts("fin de frase 2025."), ["fin", "de", "frase", "2025"]);
        assert_eq!(texts("8-9 km/l"), ["8", "9", "km", "l"]);
        assert_eq!(
            texts("la de los 10 mil"),
            ["la", "de", "los", "10", "mil", "10000"]
        );
    }

    #[test]
    fn hyphenated_and_glued_names_keep_joined_form_and_parts() {
        let cx = tokens("Mazda CX-30");
        assert_eq!(cx[1].text, "cx30");
        assert_eq!(cx[1].parts, ["cx", "30"]);
        assert_eq!(tokens("cx30")[0].parts, ["cx", "30"]);
        let tc = tokens("T-Cross");
        assert_eq!(tc[0].text, "tcross");
        assert_eq!(tc[0].parts, ["t", "cross"]);
        assert_eq!(tokens("150hp")[0].parts, ["150", "hp"]);
        assert_eq!(tokens("2.0tsi")[0].parts, ["2.0", "tsi"]);
        assert!(!tokens("4x4")[0].is_compound());
    }

    #[test]
    fn apostrophes_do_not_split_words() {
        assert_eq!(
            texts("what's the driver's fee"),
            ["what", "the", "driver", "fee"]
        );
        assert_eq!(texts("don't"), ["dont"]);
    }
}
