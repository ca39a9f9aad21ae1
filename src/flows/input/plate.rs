//! Licence plates for the branch's country. Spaces, dashes and dots are dropped because
//! customers type them every which way; the canonical value has none, and the display
//! puts the dash back where the physical plate has it. Patterns are the common car and
//! motorcycle series only; special series (diplomatic, trailers, old formats) are rejected.

use std::sync::LazyLock;

use regex::Regex;

use super::{InputContext, Invalid, Parsed, PlateCountry};

static PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:(?:mi|my|la|el|the)\s+)?(?:placa|plate|patente|matr[ií]cula)(?:\s+(?:es|is))?(?:\s*[:=#]\s*|\s+|$)",
    )
    .expect("valid regex")
});

/// `L` a letter, `D` a digit, `X` either; `-` in the shape is where the display puts a dash.
type Shape = &'static str;

fn shapes(country: PlateCountry) -> &'static [Shape] {
    match country {
        // Cars ABC-123, motorcycles ABC-12D.
        PlateCountry::Co => &["LLL-DDD", "LLL-DDL"],
        // Federal and state series: ABC-123-D, ABC-1234, and the shorter ABC-123.
        PlateCountry::Mx => &["LLL-DDD-L", "LLL-DDDD-L", "LLL-DDDD", "LLL-DDD"],
        // ABC-123 and the current A1B-234: three letters-or-digits, then three digits.
        PlateCountry::Pe => &["LXX-DDD"],
        // Current BBBB-12 and the older AB-1234.
        PlateCountry::Cl => &["LLLL-DD", "LL-DDDD"],
        PlateCountry::Ec => &["LLL-DDDD", "LLL-DDD"],
    }
}

pub(super) fn parse(text: &str, ctx: &InputContext) -> Result<Parsed, Invalid> {
    let country = ctx.plate_country;
    if super::too_long(text) {
        return Err(invalid(country));
    }
    let lower = text.to_lowercase();
    let rest = PREFIX
        .find(&lower)
        .map_or(lower.as_str(), |m| &lower[m.end()..]);
    let plate: String = rest
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | '·' | '_' | '–' | '—') && !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .collect();
    if plate.is_empty() || !plate.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(invalid(country));
    }
    for shape in shapes(country) {
        if let Some(display) = fit(&plate, shape) {
            return Ok(Parsed::new(plate, display));
        }
    }
    Err(invalid(country))
}

/// The display form when `plate` fits `shape`.
fn fit(plate: &str, shape: Shape) -> Option<String> {
    let slots = shape.chars().filter(|&c| c != '-').count();
    if plate.chars().count() != slots {
        return None;
    }
    let mut display = String::with_capacity(shape.len());
    let mut chars = plate.chars();
    for slot in shape.chars() {
        if slot == '-' {
            display.push('-');
            continue;
        }
        let c = chars.next()?;
        let ok = match slot {
            'L' => c.is_ascii_uppercase(),
            'D' => c.is_ascii_digit(),
            _ => c.is_ascii_alphanumeric(),
        };
        if !ok {
            return None;
        }
        display.push(c);
    }
    Some(display)
}

fn invalid(country: PlateCountry) -> Invalid {
    let (es, en) = match country {
        PlateCountry::Co => (
            "ABC-123 (carro) o ABC-12D (moto)",
            "ABC-123 (car) or ABC-12D (motorcycle)",
        ),
        PlateCountry::Mx => ("ABC-123-D", "ABC-123-D"),
        PlateCountry::Pe => ("A1B-234", "A1B-234"),
        PlateCountry::Cl => ("BBBB-12", "BBBB-12"),
        PlateCountry::Ec => ("ABC-1234", "ABC-1234"),
    };
    Invalid::new(
        format!(
            "Esa placa no parece válida. Escríbela como aparece en el vehículo, por ejemplo {es}."
        ),
        format!(
            "That plate doesn't look valid. Please type it as it appears on the vehicle, for example {en}."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::ctx;
    use super::super::{InputKind, PlateCountry, parse};

    fn check(country: PlateCountry, accepted: &[(&str, &str, &str)], rejected: &[&str]) {
        let mut ctx = ctx();
        ctx.plate_country = country;
        for (input, value, display) in accepted {
            let p = parse(InputKind::Plate, input, &ctx)
                .unwrap_or_else(|e| panic!("{country:?} {input:?} rejected: {e}"));
            assert_eq!(p.value, serde_json::json!(value), "{country:?} {input:?}");
            assert_eq!(p.display, *display, "{country:?} {input:?}");
        }
        for input in rejected {
            assert!(
                parse(InputKind::Plate, input, &ctx).is_err(),
                "{country:?} {input:?} should be rejected"
            );
        }
    }

    #[test]
    fn colombia() {
        check(
            PlateCountry::Co,
            &[
                ("ABC123", "ABC123", "ABC-123"),
                ("abc123", "ABC123", "ABC-123"),
                ("ABC-123", "ABC123", "ABC-123"),
                ("abc 123", "ABC123", "ABC-123"),
                ("A.B.C. 1-2-3", "ABC123", "ABC-123"),
                ("xyz12d", "XYZ12D", "XYZ-12D"),
                ("XYZ-12D", "XYZ12D", "XYZ-12D"),
                ("mi placa es jkl 987", "JKL987", "JKL-987"),
                ("Placa: FTR-456", "FTR456", "FTR-456"),
            ],
            &[
                "",
                "AB123",
                "ABCD123",
                "ABC1234",
                "123ABC",
                "ABC12",
                "ÑBC123",
                "ABC-12-3D",
                "😀",
                "placa",
            ],
        );
        let e = parse(InputKind::Plate, "123", &ctx()).unwrap_err();
        assert!(e.es.contains("ABC-123") && e.es.contains("ABC-12D"));
    }

    #[test]
    fn mexico() {
        check(
            PlateCountry::Mx,
            &[
                ("ABC-123-D", "ABC123D", "ABC-123-D"),
                ("abc123d", "ABC123D", "ABC-123-D"),
                ("ABC1234", "ABC1234", "ABC-1234"),
                ("ABC-12-34", "ABC1234", "ABC-1234"),
                ("ABC 123", "ABC123", "ABC-123"),
            ],
            &["AB1234", "ABC12", "1234ABC", "ABC12345"],
        );
    }

    #[test]
    fn peru() {
        check(
            PlateCountry::Pe,
            &[
                ("ABC-123", "ABC123", "ABC-123"),
                ("a1b-234", "A1B234", "A1B-234"),
                ("A1B234", "A1B234", "A1B-234"),
                ("F5U 597", "F5U597", "F5U-597"),
            ],
            &["1AB234", "ABC12", "ABC-12D", "ABCDEF"],
        );
    }

    #[test]
    fn chile() {
        check(
            PlateCountry::Cl,
            &[
                ("BBBB12", "BBBB12", "BBBB-12"),
                ("bb·bb·12", "BBBB12", "BBBB-12"),
                ("AB1234", "AB1234", "AB-1234"),
                ("patente: hx-1234", "HX1234", "HX-1234"),
            ],
            &["ABC123", "BBBB123", "B1BB12", "12BBBB"],
        );
    }

    #[test]
    fn ecuador() {
        check(
            PlateCountry::Ec,
            &[
                ("ABC-1234", "ABC1234", "ABC-1234"),
                ("pbc1234", "PBC1234", "PBC-1234"),
                ("ABC-123", "ABC123", "ABC-123"),
                ("gsa 0987", "GSA0987", "GSA-0987"),
            ],
            &["AB1234", "ABC12345", "ABC12D", "1234ABC"],
        );
    }

    #[test]
    fn message_example_follows_country() {
        for (country, example) in [
            (PlateCountry::Mx, "ABC-123-D"),
            (PlateCountry::Pe, "A1B-234"),
            (PlateCountry::Cl, "BBBB-12"),
            (PlateCountry::Ec, "ABC-1234"),
        ] {
            let mut ctx = ctx();
            ctx.plate_country = country;
            let e = parse(InputKind::Plate, "?", &ctx).unwrap_err();
            assert!(
                e.es.contains(example) && e.en.contains(example),
                "{country:?}"
            );
        }
    }
}
