//! Colombian identification numbers: the cédula de ciudadanía (6–10 digits, no check
//! digit, so none is invented) and the NIT with its DIAN check digit (modulo 11).
//! Both are shown with dots, "1.020.304.050", in either language, as printed on the
//! documents themselves.

use std::sync::LazyLock;

use regex::Regex;

use super::{Invalid, Parsed, fold, group_thousands};

static CEDULA_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:(?:mi|my|la|el)\s+)?(?:(?:numero\s+de\s+)?(?:cedula(?:\s+de\s+ciudadania)?|documento|identificacion)|c\.\s?c\.?|cc|id(?:\s+number)?)(?:\s+(?:es|is))?(?:\s*(?:no\.?|#))?(?:\s*[:=]\s*|\s+|$)",
    )
    .expect("valid regex")
});

static NIT_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:(?:mi|my|el|the|our)\s+)?(?:nit|n\.i\.t\.?|tax\s+id)(?:\s+(?:es|is))?(?:\s*(?:no\.?|#))?(?:\s*[:=]\s*|\s*)",
    )
    .expect("valid regex")
});

const CEDULA_DIGITS: std::ops::RangeInclusive<usize> = 6..=10;
/// DIAN's weights cover 15 digits; company NITs have 9, people's NITs are their cédula.
const NIT_DIGITS: std::ops::RangeInclusive<usize> = 6..=15;
const NIT_WEIGHTS: [u32; 15] = [3, 7, 13, 17, 19, 23, 29, 37, 41, 43, 47, 53, 59, 67, 71];

pub(super) fn parse_cedula(text: &str) -> Result<Parsed, Invalid> {
    if super::too_long(text) {
        return Err(cedula_invalid());
    }
    let folded = fold(text);
    let rest = CEDULA_PREFIX
        .find(&folded)
        .map_or(folded.as_str(), |m| &folded[m.end()..]);
    // Dots, spaces and the apostrophe some Colombians use for millions: 1'020.304.050.
    let digits: String = rest
        .chars()
        .filter(|c| !matches!(c, '.' | ',' | '\'' | '’') && !c.is_whitespace())
        .collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(cedula_invalid());
    }
    if !CEDULA_DIGITS.contains(&digits.len()) {
        return Err(Invalid::new(
            "La cédula tiene entre 6 y 10 dígitos. Revísala y escríbela de nuevo, por ejemplo 1.020.304.050.",
            "A cédula has 6 to 10 digits. Please check it and type it again, for example 1.020.304.050.",
        ));
    }
    if digits.starts_with('0') {
        return Err(Invalid::new(
            "La cédula no empieza por 0. Revísala y escríbela de nuevo, por ejemplo 1.020.304.050.",
            "A cédula doesn't start with 0. Please check it and type it again, for example 1.020.304.050.",
        ));
    }
    let display = group_thousands(&digits, '.');
    Ok(Parsed::new(digits, display))
}

fn cedula_invalid() -> Invalid {
    Invalid::new(
        "Escribe tu número de cédula solo con números, por ejemplo 1020304050.",
        "Please type your cédula number with digits only, for example 1020304050.",
    )
}

pub(super) fn parse_nit(text: &str) -> Result<Parsed, Invalid> {
    if super::too_long(text) {
        return Err(nit_invalid());
    }
    let folded = fold(text);
    let rest = NIT_PREFIX
        .find(&folded)
        .map_or(folded.as_str(), |m| &folded[m.end()..]);
    let compact: String = rest
        .chars()
        .filter(|c| !matches!(c, '.' | ',' | '\'' | '’') && !c.is_whitespace())
        .collect();
    if compact.is_empty() || !compact.chars().all(|c| c.is_ascii_digit() || c == '-') {
        return Err(nit_invalid());
    }
    // Only a dash followed by a single final digit introduces the check digit; other
    // dashes are grouping ("900-123-456-8").
    let (base, typed_dv) = match compact.rsplit_once('-') {
        Some((base, dv)) if dv.len() == 1 => (base.replace('-', ""), dv.chars().next()),
        _ => (compact.replace('-', ""), None),
    };
    let (base, dv) = match typed_dv {
        Some(dv) => (base, dv),
        None => match split_trailing_dv(&base) {
            Some(split) => split,
            None if base.is_empty() => return Err(nit_invalid()),
            None => return Err(missing_dv()),
        },
    };
    if !NIT_DIGITS.contains(&base.len()) || base.starts_with('0') {
        return Err(nit_invalid());
    }
    if check_digit(&base) != dv.to_digit(10) {
        return Err(Invalid::new(
            "El dígito de verificación no coincide con ese NIT. Revísalo en el RUT y escríbelo así: 900.123.456-8.",
            "The check digit doesn't match that NIT. Please check it on the RUT and type it like 900.123.456-8.",
        ));
    }
    let display = format!("{}-{dv}", group_thousands(&base, '.'));
    Ok(Parsed::new(format!("{base}-{dv}"), display))
}

/// Ten digits without a dash are a company NIT with its check digit glued on, when the
/// last digit is right for the first nine. Other lengths are too ambiguous (a person's
/// NIT is their cédula, which has no check digit of its own).
fn split_trailing_dv(digits: &str) -> Option<(String, char)> {
    if digits.len() != 10 {
        return None;
    }
    let (base, dv) = digits.split_at(9);
    let dv = dv.chars().next()?;
    (check_digit(base) == dv.to_digit(10)).then(|| (base.to_string(), dv))
}

/// DIAN check digit: weights from the right, sum modulo 11; 0 and 1 stand for
/// themselves, anything else is 11 minus the remainder. None if not 1–15 digits.
pub(super) fn check_digit(base: &str) -> Option<u32> {
    if base.is_empty() || base.len() > NIT_WEIGHTS.len() {
        return None;
    }
    let mut sum = 0;
    for (c, weight) in base.chars().rev().zip(NIT_WEIGHTS) {
        sum += c.to_digit(10)? * weight;
    }
    Some(match sum % 11 {
        r @ (0 | 1) => r,
        r => 11 - r,
    })
}

fn nit_invalid() -> Invalid {
    Invalid::new(
        "Ese NIT no parece válido. Escríbelo con el dígito de verificación, por ejemplo 900.123.456-8.",
        "That NIT doesn't look valid. Please type it with its check digit, for example 900.123.456-8.",
    )
}

fn missing_dv() -> Invalid {
    Invalid::new(
        "Falta el dígito de verificación. Escribe el NIT con un guion antes del último dígito, por ejemplo 900.123.456-8.",
        "The check digit is missing. Please type the NIT with a dash before the last digit, for example 900.123.456-8.",
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::ctx;
    use super::super::{InputKind, parse};
    use super::check_digit;

    #[test]
    fn cedula_accepts() {
        let cases = [
            ("1020304050", "1020304050", "1.020.304.050"),
            ("1.020.304.050", "1020304050", "1.020.304.050"),
            ("1 020 304 050", "1020304050", "1.020.304.050"),
            ("1'020.304.050", "1020304050", "1.020.304.050"),
            ("79.123.456", "79123456", "79.123.456"),
            ("123456", "123456", "123.456"),
            ("CC 52.345.678", "52345678", "52.345.678"),
            ("mi cédula es 1.098.765.432", "1098765432", "1.098.765.432"),
            ("C.C. 80123456", "80123456", "80.123.456"),
            ("Cédula: 43.210.987", "43210987", "43.210.987"),
        ];
        for (input, value, display) in cases {
            let p = parse(InputKind::Cedula, input, &ctx())
                .unwrap_or_else(|e| panic!("{input:?} rejected: {e}"));
            assert_eq!(p.value, serde_json::json!(value), "{input:?}");
            assert_eq!(p.display, display, "{input:?}");
        }
    }

    #[test]
    fn cedula_rejects() {
        let cases = [
            "",
            "12345",
            "12345678901",
            "0123456789",
            "1020304050a",
            "ABC123",
            "1020-304-050",
            "cédula",
            "😀",
            "10.20.30.40.50.60",
        ];
        for input in cases {
            assert!(
                parse(InputKind::Cedula, input, &ctx()).is_err(),
                "{input:?} should be rejected"
            );
        }
        let e = parse(InputKind::Cedula, "0123456", &ctx()).unwrap_err();
        assert!(e.es.contains("0"));
        let e = parse(InputKind::Cedula, "12345", &ctx()).unwrap_err();
        assert!(e.es.contains("entre 6 y 10"));
    }

    #[test]
    fn nit_check_digits_match_published_nits() {
        // DIAN, Banco de Bogotá, Bancolombia, Ecopetrol, Grupo Éxito.
        assert_eq!(check_digit("800197268"), Some(4));
        assert_eq!(check_digit("860002964"), Some(4));
        assert_eq!(check_digit("890903938"), Some(8));
        assert_eq!(check_digit("899999068"), Some(1));
        assert_eq!(check_digit("890900608"), Some(9));
        assert_eq!(check_digit("900123456"), Some(8));
        assert_eq!(check_digit(""), None);
        assert_eq!(check_digit("1234567890123456"), None);
        assert_eq!(check_digit("12a"), None);
    }

    #[test]
    fn nit_accepts() {
        let cases = [
            ("900.123.456-8", "900123456-8", "900.123.456-8"),
            ("9001234568", "900123456-8", "900.123.456-8"),
            ("900123456-8", "900123456-8", "900.123.456-8"),
            ("900 123 456 - 8", "900123456-8", "900.123.456-8"),
            ("900-123-456-8", "900123456-8", "900.123.456-8"),
            ("NIT 800.197.268-4", "800197268-4", "800.197.268-4"),
            ("nit: 860002964-4", "860002964-4", "860.002.964-4"),
            ("8909039388", "890903938-8", "890.903.938-8"),
            ("899.999.068-1", "899999068-1", "899.999.068-1"),
            ("1020304050-8", "1020304050-8", "1.020.304.050-8"),
        ];
        for (input, value, display) in cases {
            let p = parse(InputKind::Nit, input, &ctx())
                .unwrap_or_else(|e| panic!("{input:?} rejected: {e}"));
            assert_eq!(p.value, serde_json::json!(value), "{input:?}");
            assert_eq!(p.display, display, "{input:?}");
        }
    }

    #[test]
    fn nit_computed_check_digits_round_trip() {
        for base in [
            "800197268",
            "860002964",
            "900000001",
            "901234567",
            "79123456",
            "1020304050",
        ] {
            let dv = check_digit(base).unwrap();
            let p = parse(InputKind::Nit, &format!("{base}-{dv}"), &ctx()).unwrap();
            assert_eq!(p.value, serde_json::json!(format!("{base}-{dv}")));
            let wrong = (dv + 1) % 10;
            assert!(parse(InputKind::Nit, &format!("{base}-{wrong}"), &ctx()).is_err());
        }
    }

    #[test]
    fn nit_rejects() {
        let cases = [
            ("", "no parece"),
            ("900.123.456-7", "no coincide"),
            ("900123456", "Falta el dígito"),
            ("9001234567", "Falta el dígito"),
            ("900.123.456", "Falta el dígito"),
            ("900123456-", "Falta el dígito"),
            ("-8", "no parece"),
            ("12345-6", "no parece"),
            ("090012345-6", "no parece"),
            ("900123456-8a", "no parece"),
            ("ABC", "no parece"),
            ("900123456-88", "Falta el dígito"),
        ];
        for (input, expected) in cases {
            let e = parse(InputKind::Nit, input, &ctx())
                .expect_err(&format!("{input:?} should be rejected"));
            assert!(e.es.contains(expected), "{input:?}: {}", e.es);
        }
    }
}
