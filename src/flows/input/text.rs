//! Free text: anything non-empty up to 1000 characters. Control characters (other than
//! line breaks and tabs) are dropped because they come from broken keyboards or pasted
//! terminal output and only make the stored answer harder to read.

use super::{Invalid, Parsed};

const MAX_CHARS: usize = 1000;

pub(super) fn parse(text: &str) -> Result<Parsed, Invalid> {
    let cleaned: String = text
        .chars()
        .filter(|&c| !c.is_control() || c == '\n' || c == '\t')
        .collect();
    let cleaned = cleaned.trim();
    // Invisible characters alone (zero-width spaces, BOM) are as empty as nothing.
    if cleaned.chars().all(|c| {
        c.is_whitespace() || matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
    }) {
        return Err(Invalid::new(
            "No recibí tu respuesta. Escríbela en un mensaje, por favor.",
            "I didn't get your answer. Please type it in a message.",
        ));
    }
    if cleaned.chars().count() > MAX_CHARS {
        return Err(Invalid::new(
            "Tu mensaje es muy largo (máximo 1000 caracteres). ¿Puedes resumirlo?",
            "Your message is too long (1000 characters at most). Could you shorten it?",
        ));
    }
    Ok(Parsed::text(cleaned))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::ctx;
    use super::super::{InputKind, parse};

    #[test]
    fn accepts() {
        let long = "á".repeat(1000);
        let cases: &[(&str, &str)] = &[
            ("hola", "hola"),
            ("  Quiero cotizar un carro  ", "Quiero cotizar un carro"),
            ("😀", "😀"),
            ("línea 1\nlínea 2", "línea 1\nlínea 2"),
            ("a", "a"),
            ("¿Tienen el Mazda 3 en rojo?", "¿Tienen el Mazda 3 en rojo?"),
            ("مرحبا", "مرحبا"),
            ("ok\u{7}", "ok"),
            (&long, &long),
        ];
        for (input, want) in cases {
            let p = parse(InputKind::Text, input, &ctx())
                .unwrap_or_else(|e| panic!("{input:?} rejected: {e}"));
            assert_eq!(p.value, serde_json::json!(want), "{input:?}");
            assert_eq!(p.display, *want);
        }
    }

    #[test]
    fn rejects() {
        let too_long = "a".repeat(1001);
        for input in [
            "",
            "   ",
            "\n\t",
            "\u{0}\u{1}",
            "\u{200B}",
            too_long.as_str(),
        ] {
            assert!(parse(InputKind::Text, input, &ctx()).is_err(), "{input:?}");
        }
        let e = parse(InputKind::Text, &too_long, &ctx()).unwrap_err();
        assert!(e.es.contains("1000"));
    }
}
