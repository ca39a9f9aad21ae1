//! Phone numbers, validated with the `phonenumber` crate (libphonenumber metadata).
//! We hand the crate only "+" and ASCII digits: it has had panics on odd punctuation
//! (rust-phonenumber#43), and customers' separators carry no information anyway.
//! "57 300…" without "+" is read as an international number only for the default
//! region's own country code, so a mistyped local number never becomes a foreign one.

use std::sync::LazyLock;

use phonenumber::country::Id;
use phonenumber::{Mode, PhoneNumber};
use regex::Regex;

use super::{InputContext, Invalid, Parsed, fold};

/// Words people put before the number: "mi cel es", "whatsapp:", "my number is".
static PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:(?:mi|my|el|the)\s+)?(?:(?:numero|num|nro|no)\b\.?(?:\s+de\s+(?:celular|cel|telefono|whatsapp|contacto)\b)?|(?:celular|cel|movil|telefono|tel|whats?app|wpp|wsp|phone\s+number|phone|mobile\s+number|mobile|cell\s+phone|cell|number)\b)?\s*(?:(?:es|is)\b)?\s*[:=]?\s*",
    )
    .expect("valid regex")
});

const MIN_DIGITS: usize = 7;
const MAX_DIGITS: usize = 15;

pub(super) fn parse(text: &str, ctx: &InputContext) -> Result<Parsed, Invalid> {
    if super::too_long(text) {
        return Err(invalid(ctx.default_region));
    }
    let folded = fold(text);
    let rest = PREFIX
        .find(&folded)
        .map_or(folded.as_str(), |m| &folded[m.end()..]);
    let rest = rest.trim();
    if rest.is_empty()
        || !rest
            .chars()
            .all(|c| c.is_ascii_digit() || " \t+().-/".contains(c))
    {
        return Err(invalid(ctx.default_region));
    }
    let mut plus = rest.starts_with('+');
    if rest[1..].contains('+') {
        return Err(invalid(ctx.default_region));
    }
    let mut digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    // "00" is the international call prefix across Latin America: "0057 300…".
    if !plus && let Some(stripped) = digits.strip_prefix("00") {
        digits = stripped.to_string();
        plus = true;
    }
    if !(MIN_DIGITS..=MAX_DIGITS).contains(&digits.len()) {
        return Err(invalid(ctx.default_region));
    }

    let number = if plus {
        valid(None, &format!("+{digits}"))
    } else {
        let meta = phonenumber::metadata::DATABASE.by_id(ctx.default_region.as_ref());
        let local = meta.and_then(|_| valid(Some(ctx.default_region), &digits));
        local.or_else(|| {
            let code = meta?.country_code().to_string();
            digits
                .starts_with(&code)
                .then(|| valid(None, &format!("+{digits}")))
                .flatten()
        })
    };
    let Some(number) = number else {
        return Err(invalid(ctx.default_region));
    };
    let e164 = number.format().mode(Mode::E164).to_string();
    let display = number.format().mode(Mode::International).to_string();
    Ok(Parsed::new(e164, display))
}

fn valid(region: Option<Id>, candidate: &str) -> Option<PhoneNumber> {
    phonenumber::parse(region, candidate)
        .ok()
        .filter(phonenumber::is_valid)
}

fn invalid(region: Id) -> Invalid {
    let (digits, example) = match region {
        Id::CO => (10, "300 123 4567"),
        Id::MX => (10, "55 1234 5678"),
        Id::EC => (10, "099 123 4567"),
        Id::PE => (9, "912 345 678"),
        Id::CL => (9, "9 6123 4567"),
        _ => {
            return Invalid::new(
                "Ese número no parece válido. Escríbelo con el indicativo del país, por ejemplo +57 300 123 4567.",
                "That doesn't look like a valid phone number. Please type it with the country code, for example +57 300 123 4567.",
            );
        }
    };
    Invalid::new(
        format!(
            "Ese número no parece un celular válido. Escríbelo con {digits} dígitos, por ejemplo {example}."
        ),
        format!(
            "That doesn't look like a valid mobile number. Please type it with {digits} digits, for example {example}."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::ctx;
    use super::super::{InputKind, parse};
    use phonenumber::country::Id;

    #[test]
    fn accepts_colombian_forms() {
        let cases = [
            ("300 123 4567", "+573001234567", "+57 300 1234567"),
            ("3001234567", "+573001234567", "+57 300 1234567"),
            ("+57 300-123-4567", "+573001234567", "+57 300 1234567"),
            ("(300) 123 4567", "+573001234567", "+57 300 1234567"),
            ("57 3001234567", "+573001234567", "+57 300 1234567"),
            ("573001234567", "+573001234567", "+57 300 1234567"),
            ("0057 300 123 4567", "+573001234567", "+57 300 1234567"),
            ("300.123.4567", "+573001234567", "+57 300 1234567"),
            (
                "Mi celular es 315 987 6543",
                "+573159876543",
                "+57 315 9876543",
            ),
            (
                "WhatsApp: +57 321 555 1234",
                "+573215551234",
                "+57 321 5551234",
            ),
            (
                "my number is 3001234567",
                "+573001234567",
                "+57 300 1234567",
            ),
            ("6012345678", "+576012345678", "+57 601 2345678"),
            ("+1 212 555 2368", "+12125552368", "+1 212-555-2368"),
            ("+52 55 1234 5678", "+525512345678", "+52 55 1234 5678"),
        ];
        for (input, value, display) in cases {
            let p = parse(InputKind::Phone, input, &ctx())
                .unwrap_or_else(|e| panic!("{input:?} rejected: {e}"));
            assert_eq!(p.value, serde_json::json!(value), "{input:?}");
            assert_eq!(p.display, display, "{input:?}");
        }
    }

    #[test]
    fn rejects() {
        let cases = [
            "",
            "300 123 456",
            "30012345678",
            "1234567",
            "123",
            "abc",
            "300 123 4567 ext 5",
            "+57 300 123 4567 +1",
            "2001234567",
            "no tengo",
            "3OO 123 4567",
            "+999 123 456 789",
            "😀",
        ];
        for input in cases {
            assert!(
                parse(InputKind::Phone, input, &ctx()).is_err(),
                "{input:?} should be rejected"
            );
        }
        let e = parse(InputKind::Phone, "123", &ctx()).unwrap_err();
        assert_eq!(
            e.es,
            "Ese número no parece un celular válido. Escríbelo con 10 dígitos, por ejemplo 300 123 4567."
        );
        assert!(e.en.contains("300 123 4567"));
    }

    #[test]
    fn examples_in_messages_are_valid_in_their_region() {
        for (region, example) in [
            (Id::CO, "300 123 4567"),
            (Id::MX, "55 1234 5678"),
            (Id::EC, "099 123 4567"),
            (Id::PE, "912 345 678"),
            (Id::CL, "9 6123 4567"),
        ] {
            let mut ctx = ctx();
            ctx.default_region = region;
            let p = parse(InputKind::Phone, example, &ctx)
                .unwrap_or_else(|e| panic!("{region:?} example {example:?} rejected: {e}"));
            assert!(p.value.as_str().is_some_and(|v| v.starts_with('+')));
            let e = parse(InputKind::Phone, "12", &ctx).unwrap_err();
            assert!(e.es.contains(example), "{region:?}");
        }
        let mut other = ctx();
        other.default_region = Id::ES;
        let e = parse(InputKind::Phone, "12", &other).unwrap_err();
        assert!(e.es.contains("+57 300 123 4567"));
        assert!(parse(InputKind::Phone, "612 34 56 78", &other).is_ok());
    }
}
