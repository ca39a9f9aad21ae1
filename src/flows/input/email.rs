//! E-mail addresses: a pragmatic check (one "@", a dotted domain, no spaces), not RFC 5322.
//! The whole address is lowercased: every mainstream provider ignores case in the local
//! part, phone keyboards capitalize the first letter, and one spelling per customer keeps
//! leads from duplicating. Likely domain typos ("gmial.com") are rejected with a
//! suggestion rather than corrected, because a silent fix could send mail to a stranger.

use std::sync::LazyLock;

use regex::Regex;

use super::{Invalid, Parsed};

const MAX_LEN: usize = 254;
const MAX_LOCAL: usize = 64;

/// "mi correo es", "email:", "my e-mail is"; it must end in a space or colon so that an
/// address like "mail.ana@x.com" keeps its first word.
static PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:(?:mi|my|el|the)\s+)?(?:correo(?:\s+electr[oó]nico)?|e-?mail(?:\s+address)?|mail)(?:\s+(?:es|is))?(?:\s*[:=]\s*|\s+)|^mailto:",
    )
    .expect("valid regex")
});

/// Phone keyboards add a space after "." and some people type "ana @ gmail.com".
static SPACE_AROUND: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\s*([.@])\s*").expect("valid regex"));

/// Big free providers, whose near-misses are almost always typos.
const PROVIDERS: &[&str] = &["gmail", "hotmail", "outlook", "yahoo", "icloud"];

/// Real domains a near-miss check would otherwise flag ("email" is one letter from "gmail").
const REAL_LOOKALIKES: &[&str] = &[
    "mail",
    "email",
    "ymail",
    "gmx",
    "cloud",
    "live",
    "msn",
    "me",
    "mac",
    "aol",
    "proton",
    "protonmail",
    "zoho",
    "yandex",
    "hotmail",
    "outlook",
    "gmail",
    "yahoo",
    "icloud",
];

/// Endings that are not top-level domains but are what "com" looks like after a slip.
const COM_TYPOS: &[&str] = &[
    "con", "cmo", "ocm", "xom", "vom", "cpm", "comm", "c0m", "coom", "comn", "cim", "cok",
];

pub(super) fn parse(text: &str) -> Result<Parsed, Invalid> {
    // Not the shared short-input cap: a valid address may be up to 254 characters.
    if text.chars().count() > 2 * MAX_LEN {
        return Err(invalid());
    }
    let lower = text.to_lowercase();
    let rest = PREFIX
        .find(&lower)
        .map_or(lower.as_str(), |m| &lower[m.end()..]);
    let rest = rest
        .trim()
        .trim_start_matches(['<', '"', '\'', '('])
        .trim_end_matches(['>', '"', '\'', ')', '.', ',', ';', '!', '?']);
    let address = SPACE_AROUND.replace_all(rest, "$1");

    if address.is_empty() {
        return Err(invalid());
    }
    if address.chars().any(char::is_whitespace) {
        return Err(Invalid::new(
            "El correo no lleva espacios. Escríbelo todo junto, por ejemplo ana.gomez@gmail.com.",
            "An e-mail address has no spaces. Please type it all together, for example ana.gomez@gmail.com.",
        ));
    }
    let Some((local, domain)) = address.split_once('@') else {
        return Err(Invalid::new(
            "Al correo le falta la @. Escríbelo completo, por ejemplo ana@gmail.com.",
            "The e-mail address is missing the @. Please type it in full, for example ana@gmail.com.",
        ));
    };
    if domain.contains('@')
        || address.chars().count() > MAX_LEN
        || !valid_local(local)
        || !valid_domain(domain)
    {
        return Err(invalid());
    }
    if let Some(better) = suggestion(domain) {
        let suggested = format!("{local}@{better}");
        return Err(Invalid::new(
            format!("¿Quisiste decir {suggested}? Si es así, escríbelo de nuevo, por favor."),
            format!("Did you mean {suggested}? If so, please type it again."),
        ));
    }
    Ok(Parsed::text(address.into_owned()))
}

fn invalid() -> Invalid {
    Invalid::new(
        "Ese correo no parece válido. Escríbelo completo, por ejemplo ana@gmail.com.",
        "That doesn't look like a valid e-mail address. Please type it in full, for example ana@gmail.com.",
    )
}

fn valid_local(local: &str) -> bool {
    !local.is_empty()
        && local.chars().count() <= MAX_LOCAL
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c))
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let Some(tld) = labels.last() else {
        return false;
    };
    labels.len() >= 2
        && tld.chars().count() >= 2
        && tld.chars().all(char::is_alphabetic)
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// The domain the customer probably meant, when it is a likely typo.
fn suggestion(domain: &str) -> Option<String> {
    let (name, ending) = domain.split_once('.')?;
    let last = domain.rsplit('.').next()?;
    let com_typo = COM_TYPOS.contains(&last);

    let provider = PROVIDERS.iter().copied().find(|p| *p == name).or_else(|| {
        if REAL_LOOKALIKES.contains(&name) {
            return None;
        }
        PROVIDERS.iter().copied().find(|p| {
            let allowed = if p.len() <= 5 { 1 } else { 2 };
            strsim::damerau_levenshtein(name, p) <= allowed
        })
    });

    match provider {
        // Gmail has no country domains, so any other ending is a slip.
        Some("gmail") if ending != "com" => Some("gmail.com".into()),
        Some("icloud") if ending != "com" => Some("icloud.com".into()),
        Some(p) if p != name => {
            let ending = if com_typo || ending == "co" {
                "com"
            } else {
                ending
            };
            Some(format!("{p}.{ending}"))
        }
        // "hotmail.co" and "hotmail.com.co" do not exist; ".co" alone is Colombia's own
        // domain and fine for everyone else.
        Some(p) if com_typo || ending == "co" || ending == "com.co" => Some(format!("{p}.com")),
        _ if com_typo => {
            let stem = domain.strip_suffix(last)?;
            Some(format!("{stem}com"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::ctx;
    use super::super::{InputKind, Lang, parse};

    #[test]
    fn accepts() {
        let cases = [
            ("ana@example.com", "ana@example.com"),
            ("Ana.Gomez@Gmail.com", "ana.gomez@gmail.com"),
            (
                "  juan_perez+autos@hotmail.es ",
                "juan_perez+autos@hotmail.es",
            ),
            ("mi correo es ana@gmail.com", "ana@gmail.com"),
            ("My email is JOHN@Outlook.com.", "john@outlook.com"),
            ("ana@gmail. com", "ana@gmail.com"),
            ("ana @ gmail.com", "ana@gmail.com"),
            (
                "<ventas@concesionario.com.co>",
                "ventas@concesionario.com.co",
            ),
            ("pedro@empresa.co", "pedro@empresa.co"),
            ("maria@ymail.com", "maria@ymail.com"),
            ("info@email.com", "info@email.com"),
            ("josé@dominio.com", "josé@dominio.com"),
            ("correo: carlos.r@yahoo.com.mx", "carlos.r@yahoo.com.mx"),
            ("mailto:a@b.io", "a@b.io"),
            ("mailbox@empresa.com", "mailbox@empresa.com"),
            ("email@empresa.com", "email@empresa.com"),
        ];
        for (input, want) in cases {
            let p = parse(InputKind::Email, input, &ctx())
                .unwrap_or_else(|e| panic!("{input:?} rejected: {e}"));
            assert_eq!(p.value, serde_json::json!(want), "{input:?}");
            assert_eq!(p.display, want);
        }
    }

    #[test]
    fn length_limit_is_254() {
        let domain = format!(
            "{}.{}.{}.com",
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(57)
        );
        let longest = format!("{}@{domain}", "a".repeat(64));
        assert_eq!(longest.chars().count(), 254);
        assert!(parse(InputKind::Email, &longest, &ctx()).is_ok());
        let too_long = format!("{}@e{domain}", "a".repeat(64));
        assert!(parse(InputKind::Email, &too_long, &ctx()).is_err());
    }

    #[test]
    fn suggests_fixes_for_common_typos() {
        let cases = [
            ("ana@gmial.com", "ana@gmail.com"),
            ("ana@gmail.co", "ana@gmail.com"),
            ("ana@gmail.con", "ana@gmail.com"),
            ("ana@gmail.com.co", "ana@gmail.com"),
            ("ana@gamil.com", "ana@gmail.com"),
            ("ana@hotmial.com", "ana@hotmail.com"),
            ("ana@hotmail.con", "ana@hotmail.com"),
            ("ana@hotmal.es", "ana@hotmail.es"),
            ("ana@yaho.com", "ana@yahoo.com"),
            ("ana@outlok.com", "ana@outlook.com"),
            ("ana@outlook.co", "ana@outlook.com"),
            ("ana@empresa.con", "ana@empresa.com"),
        ];
        for (input, suggested) in cases {
            let e = parse(InputKind::Email, input, &ctx())
                .expect_err(&format!("{input:?} should get a suggestion"));
            assert_eq!(
                e.message(Lang::Es),
                format!("¿Quisiste decir {suggested}? Si es así, escríbelo de nuevo, por favor."),
            );
            assert!(e.message(Lang::En).contains(suggested));
        }
    }

    #[test]
    fn rejects() {
        let long = format!("{}@gmail.com", "a".repeat(250));
        let cases = [
            "",
            "ana",
            "ana@",
            "@gmail.com",
            "ana@gmail",
            "ana@@gmail.com",
            "ana@b@gmail.com",
            "ana gomez@gmail.com",
            "ana@gmail..com",
            ".ana@gmail.com",
            "ana.@gmail.com",
            "ana@-gmail.com",
            "ana@gmail.c",
            "ana@gmail.c0",
            "ana(at)gmail.com",
            "😀@gmail.com",
            long.as_str(),
        ];
        for input in cases {
            assert!(
                parse(InputKind::Email, input, &ctx()).is_err(),
                "{input:?} should be rejected"
            );
        }
        let e = parse(InputKind::Email, "ana gomez@gmail.com", &ctx()).unwrap_err();
        assert!(e.es.contains("espacios"));
        let e = parse(InputKind::Email, "anagmail.com", &ctx()).unwrap_err();
        assert!(e.es.contains("@"));
    }
}
