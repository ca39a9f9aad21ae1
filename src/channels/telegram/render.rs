//! A `Reply` as Telegram messages, without talking to Telegram: HTML with `parse_mode=HTML`
//! (text escaped, citations as links), split into messages of at most 4,096 characters,
//! buttons as an inline keyboard on the last message, and the "share my number" keyboard
//! when the reply asks for the phone.
//!
//! Telegram counts a message's length in UTF-16 code units of the text the customer
//! sees, so the plain text is split first and escaped after: a split can never land
//! inside an entity or a tag.
//!
//! A message carries one keyboard. A reply that asks for the phone *and* has buttons
//! keeps its inline buttons on the text and gets a short second message carrying the
//! contact keyboard ("O toca el botón para compartir tu número.").

use crate::engine::{Citation, Language, Reply};

/// Telegram's limit on a message's text, in UTF-16 code units (after entity parsing).
pub const MAX_MESSAGE_UNITS: usize = 4096;

/// Titles at most this long go two to a row.
const SHORT_TITLE_CHARS: usize = 18;

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutMessage {
    /// The text in Telegram's HTML.
    pub html: String,
    pub markup: Markup,
    /// What joined this part to the one before it in the reply's text ("\n\n", "\n",
    /// " " or nothing); empty for the first part.
    pub joined_by: &'static str,
    /// The extra message that only carries the contact keyboard.
    pub contact_prompt: bool,
}

/// The keyboard under a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Markup {
    None,
    /// Rows of inline buttons: (title, callback_data).
    Inline(Vec<Vec<(String, String)>>),
    /// A one-time reply keyboard with one `request_contact` button with this label.
    Contact(String),
}

/// The label of the share-phone button.
pub fn share_phone_label(language: Language) -> &'static str {
    match language {
        Language::Es => "📱 Compartir mi número",
        Language::En => "📱 Share my number",
    }
}

/// The short message that carries the contact keyboard when the text has buttons.
pub fn contact_prompt_text(language: Language) -> &'static str {
    match language {
        Language::Es => "O toca el botón para compartir tu número.",
        Language::En => "Or tap the button to share your number.",
    }
}

/// Renders `reply`; `callback_data[i]` is the encoded payload of `reply.buttons[i]`.
pub fn render(reply: &Reply, callback_data: &[String], language: Language) -> Vec<OutMessage> {
    let mut messages: Vec<OutMessage> = split_text(&reply.text, MAX_MESSAGE_UNITS)
        .into_iter()
        .map(|(part, joined_by)| OutMessage {
            html: escape(part),
            markup: Markup::None,
            joined_by,
            contact_prompt: false,
        })
        .collect();
    if messages.is_empty() {
        messages.push(OutMessage {
            html: String::new(),
            markup: Markup::None,
            joined_by: "",
            contact_prompt: false,
        });
    }
    append_citations(&mut messages, &reply.citations);
    let keyboard = inline_keyboard(reply, callback_data);
    let last = messages.len() - 1;
    match (keyboard, reply.asks_contact) {
        (Some(rows), true) => {
            messages[last].markup = Markup::Inline(rows);
            messages.push(OutMessage {
                html: escape(contact_prompt_text(language)),
                markup: Markup::Contact(share_phone_label(language).to_owned()),
                joined_by: "",
                contact_prompt: true,
            });
        }
        (Some(rows), false) => messages[last].markup = Markup::Inline(rows),
        (None, true) => {
            messages[last].markup = Markup::Contact(share_phone_label(language).to_owned());
        }
        (None, false) => {}
    }
    messages
}

fn inline_keyboard(reply: &Reply, callback_data: &[String]) -> Option<Vec<Vec<(String, String)>>> {
    if reply.buttons.is_empty() {
        return None;
    }
    let buttons: Vec<(String, String)> = reply
        .buttons
        .iter()
        .zip(callback_data)
        .map(|(button, data)| (button.title.clone(), data.clone()))
        .collect();
    let short = buttons
        .iter()
        .all(|(title, _)| title.chars().count() <= SHORT_TITLE_CHARS);
    let per_row = if short { 2 } else { 1 };
    Some(buttons.chunks(per_row).map(<[_]>::to_vec).collect())
}

/// Citations go under the answer, one per line, in the last message when they fit and
/// in a message of their own when they do not.
fn append_citations(messages: &mut Vec<OutMessage>, citations: &[Citation]) {
    if citations.is_empty() {
        return;
    }
    let lines: Vec<(String, usize)> = citations
        .iter()
        .map(|citation| {
            let mut label = citation.title.clone();
            if let Some(section) = &citation.section {
                label.push_str(" — ");
                label.push_str(section);
            }
            let visible = utf16_len(&label) + 2;
            let html = match &citation.url {
                Some(url) => format!("📄 <a href=\"{}\">{}</a>", escape_attr(url), escape(&label)),
                None => format!("📄 {}", escape(&label)),
            };
            (html, visible)
        })
        .collect();
    for (html, visible) in lines {
        let Some(last) = messages.last_mut() else {
            return;
        };
        let separator = if last.html.is_empty() {
            ""
        } else if last.html.contains("📄 ") {
            "\n"
        } else {
            "\n\n"
        };
        if visible_len(&last.html) + utf16_len(separator) + visible <= MAX_MESSAGE_UNITS {
            last.html.push_str(separator);
            last.html.push_str(&html);
        } else if visible <= MAX_MESSAGE_UNITS {
            messages.push(OutMessage {
                html,
                markup: Markup::None,
                joined_by: "\n\n",
                contact_prompt: false,
            });
        }
    }
}

/// Splits plain `text` into parts of at most `limit` UTF-16 units, at a paragraph break,
/// else a line break, else a space, else anywhere (never inside a character). Each part
/// comes with the separator that was dropped before it.
pub fn split_text(text: &str, limit: usize) -> Vec<(&str, &'static str)> {
    let mut parts = Vec::new();
    let mut rest = text;
    let mut joined_by = "";
    while utf16_len(rest) > limit {
        let cut = prefix_within(rest, limit);
        let window = &rest[..cut];
        let at_separator = ["\n\n", "\n", " "].into_iter().find_map(|separator| {
            window
                .rfind(separator)
                .filter(|&at| at > 0)
                .map(|at| (at, separator))
        });
        let (part, next, separator) = match at_separator {
            Some((at, separator)) => (&rest[..at], &rest[at + separator.len()..], separator),
            None => (window, &rest[cut..], ""),
        };
        parts.push((part, joined_by));
        joined_by = separator;
        rest = next;
    }
    if !rest.is_empty() || parts.is_empty() && !text.is_empty() {
        parts.push((rest, joined_by));
    }
    parts
}

/// The byte length of the longest prefix of `text` within `limit` UTF-16 units.
fn prefix_within(text: &str, limit: usize) -> usize {
    let mut units = 0;
    for (at, c) in text.char_indices() {
        units += c.len_utf16();
        if units > limit {
            return at;
        }
    }
    text.len()
}

pub fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// Text for Telegram's HTML: `&`, `<` and `>` escaped (all it requires outside tags).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// An attribute value (a link's `href`): quotes escaped too.
pub fn escape_attr(text: &str) -> String {
    escape(text).replace('"', "&quot;")
}

/// The tags Telegram's HTML mode accepts (https://core.telegram.org/bots/api#html-style).
pub const ALLOWED_TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "tg-emoji",
    "code",
    "pre",
    "blockquote",
];

/// Reads Telegram HTML back as the customer sees it: tags dropped, entities decoded.
/// Fails on a tag Telegram refuses or on a bare `&`/`<` it could not parse.
pub fn visible_text(html: &str) -> Result<String, String> {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find(['<', '&']) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if rest.starts_with('<') {
            let end = rest
                .find('>')
                .ok_or_else(|| format!("an unclosed tag in {html:?}"))?;
            let tag = rest[1..end].trim_start_matches('/');
            let name = tag.split([' ', '=']).next().unwrap_or_default();
            if !ALLOWED_TAGS.contains(&name) {
                return Err(format!(
                    "the tag <{name}> is not allowed by Telegram in {html:?}"
                ));
            }
            rest = &rest[end + 1..];
        } else {
            let end = rest
                .find(';')
                .ok_or_else(|| format!("a bare & in {html:?}"))?;
            let decoded = match &rest[..=end] {
                "&amp;" => '&',
                "&lt;" => '<',
                "&gt;" => '>',
                "&quot;" => '"',
                other => return Err(format!("the entity {other} is not one Telegram knows")),
            };
            out.push(decoded);
            rest = &rest[end + 1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The visible length of `html` in UTF-16 units (its markup is ours, so it parses).
pub fn visible_len(html: &str) -> usize {
    visible_text(html).map_or_else(|_| utf16_len(html), |text| utf16_len(&text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Button;

    #[test]
    fn text_is_escaped_and_reads_back_the_same() {
        let reply = Reply::text("Precio < $100 & 5 > 3 \"sí\"");
        let messages = render(&reply, &[], Language::Es);
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].html, "Precio &lt; $100 &amp; 5 &gt; 3 \"sí\"");
        assert_eq!(visible_text(&messages[0].html).unwrap(), reply.text);
    }

    #[test]
    fn citations_are_links_with_escaped_hrefs_or_plain_titles() {
        let reply = Reply::text("Rinde 17 km/l.").with_citations(vec![
            Citation {
                title: "Ficha Tiguan".into(),
                section: Some("Consumo".into()),
                url: Some("https://x.co/a?b=1&c=\"2\"".into()),
            },
            Citation {
                title: "Manual <2025>".into(),
                section: None,
                url: None,
            },
        ]);
        let html = &render(&reply, &[], Language::Es)[0].html;
        assert!(
            html.contains(
                "<a href=\"https://x.co/a?b=1&amp;c=&quot;2&quot;\">Ficha Tiguan — Consumo</a>"
            ),
            "{html}"
        );
        assert!(html.contains("📄 Manual &lt;2025&gt;"), "{html}");
        assert_eq!(
            visible_text(html).unwrap(),
            "Rinde 17 km/l.\n\n📄 Ficha Tiguan — Consumo\n📄 Manual <2025>"
        );
    }

    #[test]
    fn long_text_splits_at_paragraphs_then_lines_then_spaces() {
        let paragraph = "a".repeat(3000);
        let text = format!("{paragraph}\n\n{paragraph}\nfin");
        let parts = split_text(&text, MAX_MESSAGE_UNITS);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], (paragraph.as_str(), ""));
        assert_eq!(parts[1].1, "\n\n");

        let words = "palabra ".repeat(1000);
        let parts = split_text(words.trim_end(), 100);
        assert!(parts.iter().all(|(p, _)| utf16_len(p) <= 100));
        assert!(parts.iter().skip(1).all(|(_, j)| *j == " "));
        let joined: String = parts.iter().map(|(p, j)| format!("{j}{p}")).collect();
        assert_eq!(joined, words.trim_end());
    }

    #[test]
    fn length_counts_utf16_units_and_never_cuts_an_entity() {
        // Each emoji is 2 UTF-16 units; `&` becomes 5 bytes of HTML but 1 visible unit.
        let text = "😀&".repeat(2000);
        let messages = render(&Reply::text(text.clone()), &[], Language::Es);
        assert!(messages.len() >= 2);
        let mut joined = String::new();
        for m in &messages {
            let visible = visible_text(&m.html).unwrap();
            assert!(utf16_len(&visible) <= MAX_MESSAGE_UNITS);
            joined.push_str(m.joined_by);
            joined.push_str(&visible);
        }
        assert_eq!(joined, text);
    }

    #[test]
    fn buttons_go_on_the_last_part_two_per_row_when_short() {
        let reply = Reply::text(format!("{}\n\nfin", "x".repeat(4095))).with_buttons(vec![
            Button::new("Sí", "yes"),
            Button::new("No", "no"),
            Button::new("Tal vez", "maybe"),
        ]);
        let data: Vec<String> = ["yes", "no", "maybe"].map(String::from).to_vec();
        let messages = render(&reply, &data, Language::Es);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].markup, Markup::None);
        let Markup::Inline(rows) = &messages[1].markup else {
            panic!("no keyboard: {messages:?}");
        };
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0],
            vec![("Sí".into(), "yes".into()), ("No".into(), "no".into())]
        );

        let long = Reply::text("¿Qué necesitas?").with_buttons(vec![
            Button::new("Cambiar el día o la hora de la cita", "a"),
            Button::new("No", "b"),
        ]);
        let data = vec!["a".to_owned(), "b".to_owned()];
        let Markup::Inline(rows) = &render(&long, &data, Language::Es)[0].markup else {
            panic!("no keyboard");
        };
        assert_eq!(rows.len(), 2, "one per row when a title is long");
    }

    #[test]
    fn a_phone_question_gets_the_contact_keyboard() {
        let reply = Reply::text("¿Tu celular?").asking_contact();
        let messages = render(&reply, &[], Language::En);
        assert_eq!(messages.len(), 1);
        assert_eq!(
            messages[0].markup,
            Markup::Contact("📱 Share my number".into())
        );

        let both = Reply::text("¿Tu celular?")
            .with_buttons(vec![Button::new("Cancelar", "cancel")])
            .asking_contact();
        let messages = render(&both, &["cancel".to_owned()], Language::Es);
        assert_eq!(messages.len(), 2);
        assert!(matches!(messages[0].markup, Markup::Inline(_)));
        assert!(messages[1].contact_prompt);
        assert_eq!(
            messages[1].html,
            "O toca el botón para compartir tu número."
        );
        assert_eq!(
            messages[1].markup,
            Markup::Contact("📱 Compartir mi número".into())
        );
    }

    #[test]
    fn reading_back_refuses_tags_telegram_does_not_know() {
        assert!(visible_text("<div>x</div>").is_err());
        assert!(visible_text("a & b").is_err());
        assert_eq!(visible_text("<b>a</b> &amp; b").unwrap(), "a & b");
    }
}
