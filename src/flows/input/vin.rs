//! Vehicle identification numbers (ISO 3779): 17 characters, validated with the
//! North American check digit in position 9. I, O and Q never appear in a VIN, so they
//! are read as 1, 0 and 0 (what the customer almost surely saw); the check digit then
//! guards that guess. VINs whose maker skips the check digit are still rejected, with a
//! message saying where to read the VIN again, as the brief prefers a re-ask to a typo.

use std::sync::LazyLock;

use regex::Regex;

use super::{Invalid, Parsed};

const LEN: usize = 17;
const WEIGHTS: [u32; LEN] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
const CHECK_POSITION: usize = 8;

static PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:(?:mi|my|el|the)\s+)?(?:vin|n[uú]mero\s+de\s+(?:chasis|serie|vin)|chasis|serial|serie)(?:\s+(?:es|is))?(?:\s*(?:no\.?|#))?(?:\s*[:=]\s*|\s+|$)",
    )
    .expect("valid regex")
});

pub(super) fn parse(text: &str) -> Result<Parsed, Invalid> {
    if super::too_long(text) {
        return Err(invalid());
    }
    let lower = text.to_lowercase();
    let rest = PREFIX
        .find(&lower)
        .map_or(lower.as_str(), |m| &lower[m.end()..]);
    let vin: String = rest
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | '_') && !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .map(|c| match c {
            'I' => '1',
            'O' | 'Q' => '0',
            other => other,
        })
        .collect();
    if vin.is_empty() || !vin.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(invalid());
    }
    let count = vin.len();
    if count != LEN {
        return Err(Invalid::new(
            format!("El VIN tiene 17 caracteres y recibí {count}. {}", WHERE_ES),
            format!("A VIN has 17 characters and I got {count}. {}", WHERE_EN),
        ));
    }
    if check_digit(&vin) != vin.chars().nth(CHECK_POSITION) {
        return Err(Invalid::new(
            format!(
                "Parece que algún carácter del VIN no coincide. Revísalo, por favor. {WHERE_ES}"
            ),
            format!(
                "It looks like a character of the VIN doesn't match. Please double-check it. {WHERE_EN}"
            ),
        ));
    }
    Ok(Parsed::text(vin))
}

const WHERE_ES: &str = "Lo encuentras en la esquina inferior del parabrisas (lado del conductor), en el marco de la puerta del conductor o en la tarjeta de propiedad.";
const WHERE_EN: &str = "You can find it at the lower corner of the windshield (driver's side), on the driver's door frame or on the registration card (tarjeta de propiedad).";

fn invalid() -> Invalid {
    Invalid::new(
        format!(
            "Ese VIN no parece válido: son 17 letras y números, por ejemplo 1HGCM82633A004352. {WHERE_ES}"
        ),
        format!(
            "That VIN doesn't look valid: it has 17 letters and digits, for example 1HGCM82633A004352. {WHERE_EN}"
        ),
    )
}

/// North American transliteration: letters map to 1–9 in runs that skip I, O and Q.
fn value(c: char) -> Option<u32> {
    Some(match c {
        '0'..='9' => c.to_digit(10)?,
        'A' | 'J' => 1,
        'B' | 'K' | 'S' => 2,
        'C' | 'L' | 'T' => 3,
        'D' | 'M' | 'U' => 4,
        'E' | 'N' | 'V' => 5,
        'F' | 'W' => 6,
        'G' | 'P' | 'X' => 7,
        'H' | 'Y' => 8,
        'R' | 'Z' => 9,
        _ => return None,
    })
}

/// The check digit `vin` should carry in position 9, or None if it is not 17 valid characters.
fn check_digit(vin: &str) -> Option<char> {
    if vin.chars().count() != LEN {
        return None;
    }
    let mut sum = 0;
    for (c, weight) in vin.chars().zip(WEIGHTS) {
        sum += value(c)? * weight;
    }
    match sum % 11 {
        10 => Some('X'),
        r => char::from_digit(r, 10),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::ctx;
    use super::super::{InputKind, parse};
    use super::check_digit;

    #[test]
    fn check_digit_of_known_vins() {
        assert_eq!(check_digit("1HGCM82633A004352"), Some('3'));
        assert_eq!(check_digit("11111111111111111"), Some('1'));
        assert_eq!(check_digit("1M8GDM9AXKP042788"), Some('X'));
        assert_eq!(check_digit("1HGCM8263"), None);
        assert_eq!(check_digit("1HGCM82633A00435I"), None);
    }

    #[test]
    fn accepts() {
        let cases = [
            ("1HGCM82633A004352", "1HGCM82633A004352"),
            ("1hgcm82633a004352", "1HGCM82633A004352"),
            ("11111111111111111", "11111111111111111"),
            ("1HG CM826 33A 004352", "1HGCM82633A004352"),
            ("1HG-CM826-33A004352", "1HGCM82633A004352"),
            ("VIN: 1HGCM82633A004352", "1HGCM82633A004352"),
            ("mi vin es 1hgcm82633a004352", "1HGCM82633A004352"),
            ("1HGCM82633AOO4352", "1HGCM82633A004352"),
            ("IHGCM82633A004352", "1HGCM82633A004352"),
            ("1M8GDM9AXKP042788", "1M8GDM9AXKP042788"),
            ("Número de chasis 1M8GDM9AXKP042788", "1M8GDM9AXKP042788"),
        ];
        for (input, want) in cases {
            let p = parse(InputKind::Vin, input, &ctx())
                .unwrap_or_else(|e| panic!("{input:?} rejected: {e}"));
            assert_eq!(p.value, serde_json::json!(want), "{input:?}");
            assert_eq!(p.display, want);
        }
    }

    #[test]
    fn rejects() {
        let cases = [
            ("", "no parece"),
            ("1HGCM82633A00435", "recibí 16"),
            ("1HGCM82633A0043521", "recibí 18"),
            ("1HGCM82634A004352", "no coincide"),
            ("9BWZZZ377VT004251", "no coincide"),
            ("1HGCM82633A00435Ñ", "no parece"),
            ("1HGCM82633A00435😀", "no parece"),
            ("vin", "no parece"),
            ("hola", "recibí 4"),
        ];
        for (input, expected) in cases {
            let e = parse(InputKind::Vin, input, &ctx())
                .expect_err(&format!("{input:?} should be rejected"));
            assert!(e.es.contains(expected), "{input:?}: {}", e.es);
            assert!(e.es.contains("tarjeta de propiedad"), "{input:?}");
            assert!(e.en.contains("windshield"), "{input:?}");
        }
    }
}
