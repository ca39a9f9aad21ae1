//! Facts about the customer from what they wrote, without an LLM: contact data, who they
//! are, which model and branch, budget, when they buy, financing and trade-in, and the
//! signals these imply. Rules favour missing a fact over inventing one: a wrong phone or
//! name in the CRM costs an advisor more than an empty field.
//!
//! Text is matched folded (lowercase, no accents) in two views that remember where each
//! character came from, so what is kept — a name, a trade-in description — is cut from
//! the original with the customer's own accents. Only the first `MAX_SCAN_CHARS` are
//! read: a pasted document must not cost more than a message.

mod contact;
mod interest;
mod view;

use std::ops::Range;
use std::sync::LazyLock;

use jiff::civil::Date;
use regex::Regex;
use serde_json::{Map, Value};

use super::model::{Email, Interest, NationalId, PhoneE164, Profile, Signal, Signals};
use crate::assistant::intent::GENERIC_BRANCH_WORDS;
use crate::config::CatalogConfig;
use crate::flows::input::{InputContext, Lang, PlateCountry};
use contact::{find_email, find_name, find_national_id, find_phone};
use interest::{
    MAX_BUDGET, PRICE_QUESTION, budget_value, financing_value, find_budget, find_financing,
    find_timeframe, timeframe_signals, timeframe_value, trade_in_value,
};
use view::{View, find_phrase, overlaps, words_of};

/// Longest stretch of a message that is read.
pub const MAX_SCAN_CHARS: usize = 2_000;

/// What one text (or one flow's values) says about the customer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extracted {
    pub profile: Profile,
    pub interest: Interest,
    pub signals: Signals,
}

impl Extracted {
    pub fn is_empty(&self) -> bool {
        *self == Extracted::default()
    }
}

/// The rules, with the catalog's names prepared once.
#[derive(Debug, Clone)]
pub struct Extractor {
    /// `(model id, name as folded words)`, longest names first.
    models: Vec<(String, String)>,
    /// `(branch id, name as folded words)`, longest names first.
    branches: Vec<(String, String)>,
    /// `(city as customers see it, name as folded words)`.
    cities: Vec<(String, String)>,
    /// Car brands as folded words: the catalog's and other common ones.
    brands: Vec<String>,
    region: phonenumber::country::Id,
}

/// Main Colombian cities, as written with their accents.
const CITIES: &[&str] = &[
    "Bogotá",
    "Medellín",
    "Cali",
    "Barranquilla",
    "Cartagena",
    "Bucaramanga",
    "Pereira",
    "Manizales",
    "Cúcuta",
    "Ibagué",
    "Santa Marta",
    "Villavicencio",
    "Pasto",
    "Montería",
    "Neiva",
    "Armenia",
    "Popayán",
    "Valledupar",
    "Sincelejo",
    "Tunja",
    "Palmira",
    "Buenaventura",
    "Tuluá",
    "Jamundí",
    "Yumbo",
    "Cartago",
    "Buga",
    "Soacha",
    "Envigado",
    "Itagüí",
    "Floridablanca",
    "Riohacha",
    "Quibdó",
    "Yopal",
    "Chía",
    "Zipaquirá",
    "Girardot",
    "Rionegro",
    "Sogamoso",
    "Duitama",
];

/// Brands a trade-in description is recognised by, besides the catalog's.
const COMMON_BRANDS: &[&str] = &[
    "chevrolet",
    "chevy",
    "renault",
    "mazda",
    "toyota",
    "kia",
    "hyundai",
    "nissan",
    "ford",
    "volkswagen",
    "vw",
    "suzuki",
    "honda",
    "bmw",
    "mercedes",
    "audi",
    "peugeot",
    "fiat",
    "jeep",
    "mitsubishi",
    "subaru",
    "citroen",
    "skoda",
    "seat",
    "byd",
    "volvo",
    "dodge",
    "jac",
    "chery",
    "mg",
    "great wall",
    "ssangyong",
];

/// How customers name a branch by its distinctive word: "sede norte", "north branch".
const BRANCH_PREFIXES: &[&str] = &[
    "sede",
    "sede del",
    "sede de",
    "sucursal",
    "sucursal del",
    "sucursal de",
    "vitrina",
    "vitrina del",
    "vitrina de",
    "concesionario del",
    "concesionario de",
    "branch",
];

const PLACE_TRANSLATIONS: &[(&str, &str)] = &[
    ("norte", "north"),
    ("sur", "south"),
    ("oriente", "east"),
    ("occidente", "west"),
    ("centro", "downtown"),
];

impl Extractor {
    pub fn new(catalog: &CatalogConfig, region: phonenumber::country::Id) -> Self {
        let mut models = Vec::new();
        for model in &catalog.models {
            let mut names = vec![model.name.clone(), model.id.replace('_', " ")];
            names.extend(model.synonyms.iter().cloned());
            for name in names {
                let words = words_of(&name);
                let glued = words.replace(' ', "");
                for pattern in [words, glued] {
                    if !pattern.is_empty() && !models.contains(&(model.id.clone(), pattern.clone()))
                    {
                        models.push((model.id.clone(), pattern));
                    }
                }
            }
        }
        models.sort_by_key(|(_, pattern)| std::cmp::Reverse(pattern.len()));

        let mut branches = Vec::new();
        for branch in &catalog.branches {
            let name = words_of(&branch.name);
            let distinctive: Vec<&str> = name
                .split(' ')
                .filter(|w| !GENERIC_BRANCH_WORDS.contains(w))
                .collect();
            let mut patterns = vec![name.clone()];
            if !distinctive.is_empty() {
                let mut places = vec![distinctive.join(" ")];
                if let [word] = distinctive.as_slice() {
                    places.extend(
                        PLACE_TRANSLATIONS
                            .iter()
                            .filter(|(es, _)| es == word)
                            .map(|(_, en)| (*en).to_owned()),
                    );
                }
                for place in places {
                    patterns.extend(BRANCH_PREFIXES.iter().map(|p| format!("{p} {place}")));
                    patterns.push(format!("{place} branch"));
                }
            }
            for pattern in patterns {
                if !pattern.is_empty() && !branches.contains(&(branch.id.clone(), pattern.clone()))
                {
                    branches.push((branch.id.clone(), pattern));
                }
            }
        }
        branches.sort_by_key(|(_, pattern)| std::cmp::Reverse(pattern.len()));

        let mut cities: Vec<(String, String)> = Vec::new();
        let written = CITIES
            .iter()
            .map(|c| (*c).to_owned())
            .chain(catalog.branches.iter().map(|b| b.city.trim().to_owned()));
        for city in written {
            let words = words_of(&city);
            if !words.is_empty() && !cities.iter().any(|(_, w)| *w == words) {
                cities.push((city, words));
            }
        }
        cities.sort_by_key(|(_, words)| std::cmp::Reverse(words.len()));

        let mut brands: Vec<String> = COMMON_BRANDS.iter().map(|b| (*b).to_owned()).collect();
        for model in &catalog.models {
            let brand = words_of(&model.brand);
            if !brand.is_empty() && !brands.contains(&brand) {
                brands.push(brand);
            }
        }

        Self {
            models,
            branches,
            cities,
            brands,
            region,
        }
    }

    /// Facts in what the customer wrote. `today` (branch-local) places "en diciembre".
    /// Never panics; reads at most the first `MAX_SCAN_CHARS` characters.
    pub fn extract(&self, text: &str, today: Date) -> Extracted {
        let text = head(text, MAX_SCAN_CHARS);
        let folded = View::folded(text);
        let words = View::words(&folded);
        let ctx = self.context(today);
        let mut out = Extracted::default();
        // Stretches of the original already used by one fact, so another rule does not
        // read them again (a cédula is not a phone number, a trade-in is not the model).
        let mut used: Vec<Range<usize>> = Vec::new();

        if let Some((email, at)) = find_email(text) {
            out.profile.email = Some(email);
            used.push(at);
        }
        if let Some((id, at)) = find_national_id(&folded) {
            out.profile.national_id = Some(id);
            used.push(at);
        }
        if let Some(phone) = find_phone(&folded, &used, &ctx) {
            out.profile.phone = Some(phone);
        }
        if let Some((name, at)) = find_name(text, &words, &self.cities, &ctx) {
            out.profile.name = Some(name);
            used.push(at);
        }
        let branch = self.find_branch(&words);
        if let Some((_, at)) = &branch {
            used.push(at.clone());
        }
        out.interest.branch = branch.map(|(id, _)| id);
        out.profile.city = self.find_city(&words, &used);
        if let Some((description, at)) = self.find_trade_in(&words) {
            out.interest.trade_in = Some(description);
            used.extend(at);
        }
        out.interest.model = self.find_model(&words, &used);
        out.interest.budget_cop = find_budget(&folded);
        let (timeframe, just_looking) = find_timeframe(&words, &folded, today);
        out.interest.timeframe = timeframe;
        let (financing, asked_financing) = find_financing(&words);
        out.interest.financing = financing;

        let signals = &mut out.signals;
        if out.profile.phone.is_some() || out.profile.email.is_some() {
            signals.insert(Signal::GaveContact);
        }
        timeframe_signals(signals, timeframe, just_looking);
        if asked_financing {
            signals.insert(Signal::AskedFinancing);
        }
        if out.interest.trade_in.is_some() {
            signals.insert(Signal::HasTradeIn);
        }
        if PRICE_QUESTION.is_match(&words.text) {
            signals.insert(Signal::AskedPrice);
        }
        out
    }

    /// The facts a flow saved (`name`, `phone`, `email`, `cedula`/`nit`/`national_id`,
    /// `city`, `model`, `branch`, `budget`, `timeframe`, `financing`, `trade_in`).
    /// Values that do not parse, and `*_display` keys, are ignored.
    pub fn from_values(&self, values: &Map<String, Value>) -> Extracted {
        let mut out = Extracted::default();
        let ctx = self.context(Date::constant(2000, 1, 1));
        let mut just_looking = false;
        for (key, value) in values {
            if key.ends_with("_display") {
                continue;
            }
            let text = scalar_text(value);
            let text = text.as_deref().map(str::trim).filter(|t| !t.is_empty());
            match (key.as_str(), text) {
                ("name", Some(name)) if name.chars().count() <= 100 => {
                    out.profile.name = Some(name.to_owned());
                }
                ("phone", Some(phone)) => {
                    out.profile.phone = PhoneE164::try_from(phone.to_owned())
                        .ok()
                        .or_else(|| PhoneE164::parse(phone, &ctx));
                }
                ("email", Some(email)) => out.profile.email = Email::parse(email),
                ("cedula" | "nit" | "national_id", Some(id)) => {
                    if let Some(id) = NationalId::parse(id) {
                        out.profile.national_id = Some(id);
                    }
                }
                ("city", Some(city)) if city.chars().count() <= 80 => {
                    let words = words_of(city);
                    out.profile.city = Some(
                        self.cities
                            .iter()
                            .find(|(_, w)| *w == words)
                            .map_or_else(|| city.to_owned(), |(name, _)| name.clone()),
                    );
                }
                ("model", Some(model)) => out.interest.model = self.model_id(model),
                ("branch", Some(branch)) => out.interest.branch = self.branch_id(branch),
                ("budget", _) => {
                    out.interest.budget_cop = match value {
                        Value::Number(n) => n
                            .as_u64()
                            .or_else(|| n.as_f64().filter(|f| *f >= 1.0).map(|f| f as u64))
                            .filter(|&n| n > 0 && n <= MAX_BUDGET),
                        Value::String(s) => budget_value(s),
                        _ => None,
                    };
                }
                ("timeframe", Some(timeframe)) => {
                    let (timeframe, looking) = timeframe_value(timeframe);
                    out.interest.timeframe = timeframe;
                    just_looking = looking;
                }
                ("financing", _) => out.interest.financing = financing_value(value),
                ("trade_in", _) => out.interest.trade_in = trade_in_value(value),
                // The quote flow asks "¿Qué versión…?"; "no sé" is no trim.
                ("trim" | "version", Some(trim))
                    if trim.chars().count() <= 60 && !is_unknown(trim) =>
                {
                    out.interest.trim = Some(trim.to_owned());
                }
                _ => {}
            }
        }
        let signals = &mut out.signals;
        if out.profile.phone.is_some() || out.profile.email.is_some() {
            signals.insert(Signal::GaveContact);
        }
        timeframe_signals(signals, out.interest.timeframe, just_looking);
        if out.interest.financing == Some(true) {
            signals.insert(Signal::AskedFinancing);
        }
        if out.interest.trade_in.is_some() {
            signals.insert(Signal::HasTradeIn);
        }
        out
    }

    fn context(&self, today: Date) -> InputContext {
        let now = today
            .at(12, 0, 0, 0)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .unwrap_or_else(|_| jiff::Timestamp::UNIX_EPOCH.to_zoned(jiff::tz::TimeZone::UTC));
        InputContext {
            now,
            default_region: self.region,
            plate_country: PlateCountry::Co,
            language: Lang::Es,
        }
    }

    /// A model id from a flow value: the id itself, or a name or synonym.
    fn model_id(&self, text: &str) -> Option<String> {
        if let Some((id, _)) = self.models.iter().find(|(id, _)| id == text) {
            return Some(id.clone());
        }
        let words = words_of(text);
        self.models
            .iter()
            .find(|(_, pattern)| *pattern == words)
            .map(|(id, _)| id.clone())
    }

    fn branch_id(&self, text: &str) -> Option<String> {
        if let Some((id, _)) = self.branches.iter().find(|(id, _)| id == text) {
            return Some(id.clone());
        }
        let words = words_of(text);
        self.branches
            .iter()
            .find(|(id, pattern)| *pattern == words || words_of(id) == words)
            .map(|(id, _)| id.clone())
    }

    /// The first model mentioned outside `used`.
    fn find_model(&self, words: &View, used: &[Range<usize>]) -> Option<String> {
        let mut best: Option<(usize, &str)> = None;
        for (id, pattern) in &self.models {
            for at in find_phrase(&words.text, pattern) {
                if overlaps(&words.original(at.clone()), used) {
                    continue;
                }
                if best.is_none_or(|(start, _)| at.start < start) {
                    best = Some((at.start, id));
                }
                break;
            }
        }
        best.map(|(_, id)| id.to_owned())
    }

    fn find_branch(&self, words: &View) -> Option<(String, Range<usize>)> {
        let mut best: Option<(Range<usize>, &str)> = None;
        for (id, pattern) in &self.branches {
            if let Some(at) = find_phrase(&words.text, pattern).next()
                && best.as_ref().is_none_or(|(b, _)| at.start < b.start)
            {
                best = Some((at, id));
            }
        }
        best.map(|(at, id)| (id.to_owned(), words.original(at)))
    }

    /// A city the customer lives in or writes from: one after "vivo en", "soy de"… wins;
    /// otherwise the first one named outside other facts.
    fn find_city(&self, words: &View, used: &[Range<usize>]) -> Option<String> {
        let mut mentions: Vec<(usize, bool, &str)> = Vec::new();
        for (name, pattern) in &self.cities {
            for at in find_phrase(&words.text, pattern) {
                let original = words.original(at.clone());
                if overlaps(&original, used) {
                    continue;
                }
                let before = &words.text[..at.start];
                let cued = CITY_CUE.is_match(before);
                mentions.push((at.start, cued, name));
            }
        }
        mentions.sort_by_key(|(start, cued, _)| (!cued, *start));
        mentions.first().map(|(_, _, name)| (*name).to_owned())
    }
}

/// At most `max` characters of `text`, cut at a character boundary.
fn head(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// Words right before a city that say the customer is there.
static CITY_CUE: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"\b(?:vivo en|soy de|estoy en|resido en|somos de|desde|ciudad de|ciudad|i live in|i m from|im from|i am from|based in|from)\s?$",
    )
});

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("the extraction patterns are valid")
}

/// A JSON scalar as text (numbers too, for ids saved as numbers).
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(head(s, MAX_SCAN_CHARS).to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// "no sé", "ni idea", "not sure": an answer that says nothing.
fn is_unknown(text: &str) -> bool {
    let words = words_of(text);
    [
        "no se",
        "nose",
        "ni idea",
        "no lo se",
        "no sabria",
        "cualquiera",
        "not sure",
        "i don t know",
        "dont know",
        "no idea",
    ]
    .contains(&words.as_str())
}

#[cfg(test)]
pub(super) mod test_support {
    use super::*;
    use crate::config::RawSettings;

    pub fn extractor() -> Extractor {
        let raw = RawSettings::default();
        let catalog = CatalogConfig {
            models: raw.models,
            branches: raw.branches,
        };
        Extractor::new(&catalog, phonenumber::country::Id::CO)
    }

    /// Monday 23 Nov 2026.
    pub fn today() -> Date {
        Date::constant(2026, 11, 23)
    }

    pub fn read(text: &str) -> Extracted {
        extractor().extract(text, today())
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{extractor, read, today};
    use super::*;
    use crate::leads::model::Timeframe;
    use serde_json::json;

    #[test]
    fn cities() {
        let city = |text: &str| read(text).profile.city;
        assert_eq!(city("vivo en Medellín").as_deref(), Some("Medellín"));
        assert_eq!(city("soy de bogota").as_deref(), Some("Bogotá"));
        assert_eq!(city("estoy en santa marta").as_deref(), Some("Santa Marta"));
        assert_eq!(city("I live in Cali").as_deref(), Some("Cali"));
        assert_eq!(
            city("iría a la sede de Palmira pero vivo en Cali").as_deref(),
            Some("Cali"),
            "the cued city wins"
        );
        assert_eq!(
            city("me llamo Buga Pérez").as_deref(),
            None,
            "part of the name"
        );
        assert_eq!(city("me interesa la calidad"), None);
        assert_eq!(city("un carro bello"), None);
    }

    #[test]
    fn preferred_branch() {
        let branch = |text: &str| read(text).interest.branch;
        assert_eq!(
            branch("puedo ir a la sede norte?").as_deref(),
            Some("norte")
        );
        assert_eq!(branch("Sede Sur por favor").as_deref(), Some("sur"));
        assert_eq!(branch("la sucursal de palmira").as_deref(), Some("palmira"));
        assert_eq!(branch("the north branch").as_deref(), Some("norte"));
        assert_eq!(branch("vivo en el norte de la ciudad"), None);
        assert_eq!(
            branch("vivo en Palmira"),
            None,
            "a city is not a branch preference"
        );
    }

    #[test]
    fn models_word_bounded() {
        let model = |text: &str| read(text).interest.model;
        assert_eq!(model("me interesa la Tiguan").as_deref(), Some("tiguan"));
        assert_eq!(model("precio de la cx-30?").as_deref(), Some("cx_30"));
        assert_eq!(model("y la CX30").as_deref(), Some("cx_30"));
        assert_eq!(
            model("la T Cross o la tiguan").as_deref(),
            Some("t_cross"),
            "first named"
        );
        assert_eq!(
            model("Corolla Cross híbrida").as_deref(),
            Some("corolla_cross")
        );
        assert_eq!(model("corolla").as_deref(), Some("corolla_cross"));
        assert_eq!(model("los dusters"), None);
        assert_eq!(model("hola"), None);
    }

    #[test]
    fn a_whole_message() {
        let x = read(
            "Hola, me llamo Laura Restrepo, vivo en Cali. Quiero la T-Cross en la sede sur, \
             presupuesto de 110 millones, a crédito, la compro este mes. Mi cel 315 555 1234 y \
             correo laura@example.com",
        );
        assert_eq!(x.profile.name.as_deref(), Some("Laura Restrepo"));
        assert_eq!(x.profile.city.as_deref(), Some("Cali"));
        assert_eq!(
            x.profile.phone.as_ref().map(|p| p.as_str()),
            Some("+573155551234")
        );
        assert_eq!(
            x.profile.email.as_ref().map(|e| e.as_str()),
            Some("laura@example.com")
        );
        assert_eq!(x.interest.model.as_deref(), Some("t_cross"));
        assert_eq!(x.interest.branch.as_deref(), Some("sur"));
        assert_eq!(x.interest.budget_cop, Some(110_000_000));
        assert_eq!(x.interest.financing, Some(true));
        assert_eq!(x.interest.timeframe, Some(Timeframe::Within30Days));
        let signals: Vec<Signal> = x.signals.into_iter().collect();
        assert_eq!(
            signals,
            vec![
                Signal::AskedFinancing,
                Signal::BuysWithin30Days,
                Signal::GaveContact
            ]
        );
    }

    #[test]
    fn nothing_in_small_talk() {
        assert!(read("hola, buenas tardes").is_empty());
        assert!(read("gracias!").is_empty());
        assert!(read("").is_empty());
    }

    #[test]
    fn odd_inputs_never_panic() {
        let long_digits = "3".repeat(10_000);
        let long_mixed = "ñá😀 $1.000.000 cc 12 ".repeat(600);
        let inputs = [
            "",
            " ",
            "😀😀😀",
            "\u{0301}\u{0301}a\u{0301}",
            "İstanbul ﬁ ß ǅ",
            "+",
            "$",
            "cc",
            "cc 1.",
            "me llamo",
            "soy",
            "en",
            "$$$ 1.2.3.4.5 ,,, --- +57",
            "tengo un",
            "parte de pago",
            "\0\n\t\r",
            long_digits.as_str(),
            long_mixed.as_str(),
        ];
        let x = extractor();
        for text in inputs {
            let _ = x.extract(text, today());
        }
        let long_tail = format!("{}{}", "a ".repeat(1_500), " mi cel 3001234567");
        assert_eq!(
            x.extract(&long_tail, today()).profile.phone,
            None,
            "past the scanned part"
        );
    }

    #[test]
    fn values_from_flows() {
        let values = json!({
            "name": "Ana María Gómez",
            "phone": "+573001234567",
            "phone_display": "+57 300 1234567",
            "email": "Ana@Example.com",
            "cedula": 1020304050,
            "city": "medellin",
            "model": "t_cross",
            "branch": "Sede Norte",
            "budget": 120000000,
            "timeframe": "within_30_days",
            "financing": "yes",
            "trade_in": "Mazda 3 2018",
        });
        let x = extractor().from_values(values.as_object().unwrap());
        assert_eq!(x.profile.name.as_deref(), Some("Ana María Gómez"));
        assert_eq!(x.profile.phone.unwrap().as_str(), "+573001234567");
        assert_eq!(x.profile.email.unwrap().as_str(), "ana@example.com");
        assert_eq!(x.profile.national_id.unwrap().as_str(), "1020304050");
        assert_eq!(x.profile.city.as_deref(), Some("Medellín"));
        assert_eq!(x.interest.model.as_deref(), Some("t_cross"));
        assert_eq!(x.interest.branch.as_deref(), Some("norte"));
        assert_eq!(x.interest.budget_cop, Some(120_000_000));
        assert_eq!(x.interest.timeframe, Some(Timeframe::Within30Days));
        assert_eq!(x.interest.financing, Some(true));
        assert_eq!(x.interest.trade_in.as_deref(), Some("Mazda 3 2018"));
        let signals: Vec<Signal> = x.signals.into_iter().collect();
        assert_eq!(
            signals,
            vec![
                Signal::AskedFinancing,
                Signal::BuysWithin30Days,
                Signal::HasTradeIn,
                Signal::GaveContact
            ]
        );
    }

    #[test]
    fn values_that_do_not_parse_are_ignored() {
        let values = json!({
            "phone": "call me",
            "email": "nope",
            "nit": "900.123.456-1",
            "model": "ferrari",
            "branch": "centro",
            "budget": "mucho",
            "timeframe": "no sé",
            "financing": [1, 2],
            "trade_in": false,
            "name": "",
            "model_display": "Tiguan",
            "other": "x",
        });
        let x = extractor().from_values(values.as_object().unwrap());
        assert!(x.is_empty(), "{x:?}");
        let values = json!({
            "nit": "900.123.456-8",
            "model": "Tiguan",
            "budget": "120 millones",
            "timeframe": "just_looking",
            "financing": false,
            "trade_in": true,
        });
        let x = extractor().from_values(values.as_object().unwrap());
        assert_eq!(x.profile.national_id.unwrap().as_str(), "900123456-8");
        assert_eq!(x.interest.model.as_deref(), Some("tiguan"));
        assert_eq!(x.interest.budget_cop, Some(120_000_000));
        assert_eq!(x.interest.timeframe, Some(Timeframe::Later));
        assert_eq!(x.interest.financing, Some(false));
        assert_eq!(x.interest.trade_in.as_deref(), Some(""));
        let signals: Vec<Signal> = x.signals.into_iter().collect();
        assert_eq!(signals, vec![Signal::HasTradeIn, Signal::JustLooking]);
    }
}

#[cfg(test)]
mod trim_tests {
    use serde_json::{Map, Value, json};

    use super::Extractor;

    fn values(pairs: Value) -> Map<String, Value> {
        pairs.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn the_quote_flows_version_is_the_trim_unless_it_is_i_dont_know() {
        let config = crate::config::Config::defaults_with_data_dir("/tmp/unused").unwrap();
        let extractor = Extractor::new(&config.catalog, config.flows.phone_region);
        let read = extractor.from_values(&values(json!({"version": "Highline 1.4 TSI"})));
        assert_eq!(read.interest.trim.as_deref(), Some("Highline 1.4 TSI"));
        let read = extractor.from_values(&values(json!({"version": "No sé"})));
        assert_eq!(read.interest.trim, None);
    }
}
