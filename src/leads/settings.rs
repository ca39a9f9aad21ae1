//! `[leads]` in `showroom.toml`: score thresholds, points per signal, how soon an advisor
//! calls back, the advisors themselves and the version of the consent text. Checked
//! against the catalog so an advisor can never point at a branch or brand that does not
//! exist. The built-in advisors belong to the built-in branches: a dealer who lists their
//! own `[[branches]]` but no advisors gets leads routed to branches without a named
//! advisor instead of a settings error about advisors they never wrote.

use std::collections::{BTreeMap, HashSet};

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use super::model::{Email, PhoneE164, Signal};
use crate::config::{CatalogConfig, ConfigError, invalid, parse_duration};

/// `[leads]` as written in `showroom.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RawLeads {
    /// Score from which a lead is warm.
    pub warm_from: u32,
    /// Score from which a lead is hot.
    pub hot_from: u32,
    /// Score at which a lead is handed off even without a booking or an advisor request.
    pub handoff_from: u32,
    /// How soon an advisor contacts the customer during business hours.
    pub response_time: String,
    /// Points per signal (`asked_price = 15`); a signal left out keeps its default.
    pub score: BTreeMap<String, i32>,
    pub advisors: Vec<RawAdvisor>,
}

impl Default for RawLeads {
    fn default() -> Self {
        Self {
            warm_from: 40,
            hot_from: 70,
            handoff_from: 70,
            response_time: "30m".into(),
            score: default_points()
                .into_iter()
                .map(|(signal, points)| (signal.as_str().to_owned(), points))
                .collect(),
            advisors: default_advisors(),
        }
    }
}

/// One `[[leads.advisors]]` entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RawAdvisor {
    pub id: String,
    pub name: String,
    /// A `[[branches]]` id.
    pub branch: String,
    /// Brands this advisor sells; empty = every brand.
    #[serde(default)]
    pub brands: Vec<String>,
    #[serde(default)]
    pub email: String,
    /// International form: `+57 300 123 4567`.
    #[serde(default)]
    pub phone: String,
}

/// Points per signal when `[leads.score]` does not say otherwise.
pub fn default_points() -> BTreeMap<Signal, i32> {
    Signal::ALL
        .iter()
        .map(|&signal| {
            let points = match signal {
                Signal::BookedTestDrive => 40,
                Signal::BookedService => 10,
                Signal::AskedPrice => 15,
                Signal::AskedFinancing => 15,
                Signal::BuysWithin30Days => 20,
                Signal::HasTradeIn => 10,
                Signal::ReturningCustomer => 10,
                Signal::RequestedAdvisor => 30,
                Signal::GaveContact => 5,
                Signal::JustLooking => -20,
                Signal::BuysLater => -10,
                Signal::OptedOut => -40,
            };
            (signal, points)
        })
        .collect()
}

/// Two advisors for each built-in branch (`norte`, `sur`, `palmira`): one for the brands
/// whose demo cars the branch has, one for every brand.
pub fn default_advisors() -> Vec<RawAdvisor> {
    let advisor = |id: &str, name: &str, branch: &str, brands: &[&str]| RawAdvisor {
        id: id.into(),
        name: name.into(),
        branch: branch.into(),
        brands: brands.iter().map(|b| b.to_string()).collect(),
        email: String::new(),
        phone: String::new(),
    };
    vec![
        advisor(
            "laura_gomez",
            "Laura Gómez",
            "norte",
            &["Volkswagen", "Mazda"],
        ),
        advisor("andres_rojas", "Andrés Rojas", "norte", &[]),
        advisor(
            "camila_torres",
            "Camila Torres",
            "sur",
            &["Renault", "Chevrolet"],
        ),
        advisor("julian_vargas", "Julián Vargas", "sur", &[]),
        advisor("valentina_rios", "Valentina Ríos", "palmira", &["Toyota"]),
        advisor("santiago_munoz", "Santiago Muñoz", "palmira", &[]),
    ]
}

/// Validated `[leads]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadsConfig {
    pub warm_from: u8,
    pub hot_from: u8,
    pub handoff_from: u8,
    pub response_time: SignedDuration,
    /// Points for every signal (defaults filled in).
    pub points: BTreeMap<Signal, i32>,
    pub advisors: Vec<Advisor>,
}

/// A validated advisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advisor {
    pub id: String,
    pub name: String,
    /// A `[[branches]]` id that exists.
    pub branch: String,
    /// Brands as the catalog spells them; empty = every brand.
    pub brands: Vec<String>,
    pub email: Option<Email>,
    pub phone: Option<PhoneE164>,
}

impl Advisor {
    /// Sells `brand` (any brand when the advisor lists none). Case-insensitive.
    pub fn sells(&self, brand: &str) -> bool {
        self.brands.is_empty() || self.brands.iter().any(|b| b.eq_ignore_ascii_case(brand))
    }
}

/// Longest accepted `response_time`: beyond three days a promise stops meaning much.
const MAX_RESPONSE_TIME: SignedDuration = SignedDuration::from_hours(72);
const MAX_POINTS: i32 = 100;

impl LeadsConfig {
    pub fn from_settings(
        raw: &RawLeads,
        catalog: &CatalogConfig,
    ) -> Result<LeadsConfig, ConfigError> {
        let (warm_from, hot_from, handoff_from) = thresholds(raw)?;
        let response_time = response_time(&raw.response_time)?;
        let points = points(&raw.score)?;
        let built_in = raw.advisors == default_advisors();
        let mut advisors = Vec::with_capacity(raw.advisors.len());
        let mut seen = HashSet::new();
        for (index, advisor) in raw.advisors.iter().enumerate() {
            if built_in && !catalog.branches.iter().any(|b| b.id == advisor.branch) {
                continue;
            }
            let advisor = validate_advisor(index, advisor, catalog)?;
            if !seen.insert(advisor.id.clone()) {
                return Err(invalid(
                    &format!("leads.advisors[{index}].id"),
                    &advisor.id,
                    "each advisor id to be used once is expected; give this advisor another id",
                ));
            }
            advisors.push(advisor);
        }
        Ok(LeadsConfig {
            warm_from,
            hot_from,
            handoff_from,
            response_time,
            points,
            advisors,
        })
    }

    pub fn advisor(&self, id: &str) -> Option<&Advisor> {
        self.advisors.iter().find(|a| a.id == id)
    }

    /// Points of `signal` (0 for a signal without points, which validation prevents).
    pub fn points(&self, signal: Signal) -> i32 {
        self.points.get(&signal).copied().unwrap_or(0)
    }
}

fn thresholds(raw: &RawLeads) -> Result<(u8, u8, u8), ConfigError> {
    let score = |key: &str, value: u32| {
        u8::try_from(value)
            .ok()
            .filter(|v| (1..=100).contains(v))
            .ok_or_else(|| invalid(key, value, "a score from 1 to 100 is expected"))
    };
    let warm_from = score("leads.warm_from", raw.warm_from)?;
    let hot_from = score("leads.hot_from", raw.hot_from)?;
    let handoff_from = score("leads.handoff_from", raw.handoff_from)?;
    if warm_from >= hot_from {
        return Err(invalid(
            "leads.warm_from",
            warm_from,
            &format!("a score below leads.hot_from ({hot_from}) is expected, so cold < warm < hot"),
        ));
    }
    Ok((warm_from, hot_from, handoff_from))
}

fn response_time(text: &str) -> Result<SignedDuration, ConfigError> {
    let expected = "a duration from 1m to 72h is expected, like \"30m\" or \"2h\"";
    let parsed = parse_duration("leads.response_time", text)?;
    let parsed = SignedDuration::try_from(parsed)
        .map_err(|_| invalid("leads.response_time", text, expected))?;
    if parsed < SignedDuration::from_mins(1) || parsed > MAX_RESPONSE_TIME {
        return Err(invalid("leads.response_time", text, expected));
    }
    Ok(parsed)
}

fn points(raw: &BTreeMap<String, i32>) -> Result<BTreeMap<Signal, i32>, ConfigError> {
    let mut points = default_points();
    for (name, &value) in raw {
        let Some(signal) = Signal::ALL.iter().copied().find(|s| s.as_str() == name) else {
            let known: Vec<&str> = Signal::ALL.iter().map(|s| s.as_str()).collect();
            return Err(invalid(
                &format!("leads.score.{name}"),
                value,
                &format!("one of these signals is expected: {}", known.join(", ")),
            ));
        };
        if !(-MAX_POINTS..=MAX_POINTS).contains(&value) {
            return Err(invalid(
                &format!("leads.score.{name}"),
                value,
                "points from -100 to 100 are expected",
            ));
        }
        points.insert(signal, value);
    }
    Ok(points)
}

fn validate_advisor(
    index: usize,
    raw: &RawAdvisor,
    catalog: &CatalogConfig,
) -> Result<Advisor, ConfigError> {
    let key = |field: &str| format!("leads.advisors[{index}].{field}");
    let id = raw.id.trim();
    let valid_id = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid_id {
        return Err(invalid(
            &key("id"),
            &raw.id,
            "an id of lowercase letters, digits and _ is expected (like \"laura_gomez\"); the CRM receives it",
        ));
    }
    let name = raw.name.trim();
    if name.is_empty() {
        return Err(invalid(
            &key("name"),
            &raw.name,
            "the advisor's name as customers will read it is expected, like \"Laura Gómez\"",
        ));
    }
    if !catalog.branches.iter().any(|b| b.id == raw.branch) {
        let known: Vec<&str> = catalog.branches.iter().map(|b| b.id.as_str()).collect();
        return Err(invalid(
            &key("branch"),
            &raw.branch,
            &format!(
                "one of the [[branches]] ids is expected: {}",
                list_or_none(&known)
            ),
        ));
    }
    let mut brands = Vec::with_capacity(raw.brands.len());
    for (b, brand) in raw.brands.iter().enumerate() {
        let Some(model) = catalog
            .models
            .iter()
            .find(|m| m.brand.trim().eq_ignore_ascii_case(brand.trim()))
        else {
            let mut known: Vec<&str> = catalog.models.iter().map(|m| m.brand.as_str()).collect();
            known.sort_unstable();
            known.dedup();
            return Err(invalid(
                &format!("leads.advisors[{index}].brands[{b}]"),
                brand,
                &format!(
                    "a brand of the [[models]] is expected: {} (leave brands empty for every brand)",
                    list_or_none(&known)
                ),
            ));
        };
        let brand = model.brand.trim().to_owned();
        if !brands.contains(&brand) {
            brands.push(brand);
        }
    }
    let email = match raw.email.trim() {
        "" => None,
        text => Some(Email::parse(text).ok_or_else(|| {
            invalid(
                &key("email"),
                &raw.email,
                "an e-mail address like laura.gomez@example.com is expected, or leave it empty",
            )
        })?),
    };
    let phone = match raw.phone.trim() {
        "" => None,
        text => Some(international_phone(text).ok_or_else(|| {
            invalid(
                &key("phone"),
                &raw.phone,
                "a phone number with + and the country code is expected, like \"+57 300 123 4567\", or leave it empty",
            )
        })?),
    };
    Ok(Advisor {
        id: id.to_owned(),
        name: name.to_owned(),
        branch: raw.branch.clone(),
        brands,
        email,
        phone,
    })
}

/// Only numbers with their country code: settings name no region to assume.
fn international_phone(text: &str) -> Option<PhoneE164> {
    if !text.starts_with('+') {
        return None;
    }
    let ctx = crate::flows::input::InputContext {
        now: jiff::Timestamp::UNIX_EPOCH.to_zoned(jiff::tz::TimeZone::UTC),
        default_region: phonenumber::country::Id::CO,
        plate_country: crate::flows::input::PlateCountry::Co,
        language: crate::flows::input::Lang::Es,
    };
    PhoneE164::parse(text, &ctx)
}

fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "(none defined)".to_owned()
    } else {
        items.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawSettings;

    fn catalog() -> CatalogConfig {
        let raw = RawSettings::default();
        CatalogConfig {
            models: raw.models,
            branches: raw.branches,
        }
    }

    fn refused(raw: &RawLeads) -> String {
        LeadsConfig::from_settings(raw, &catalog())
            .expect_err("refused")
            .to_string()
    }

    #[track_caller]
    fn assert_mentions(message: &str, parts: &[&str]) {
        for part in parts {
            assert!(message.contains(part), "{part:?} missing in: {message}");
        }
    }

    #[test]
    fn defaults_are_valid_with_two_advisors_per_branch() {
        let config = LeadsConfig::from_settings(&RawLeads::default(), &catalog()).unwrap();
        assert_eq!(
            (config.warm_from, config.hot_from, config.handoff_from),
            (40, 70, 70)
        );
        assert_eq!(config.response_time, SignedDuration::from_mins(30));
        assert_eq!(config.points(Signal::BookedTestDrive), 40);
        assert_eq!(config.points(Signal::OptedOut), -40);
        assert_eq!(config.points.len(), Signal::ALL.len());
        for branch in catalog().branches {
            let count = config
                .advisors
                .iter()
                .filter(|a| a.branch == branch.id)
                .count();
            assert_eq!(count, 2, "branch {}", branch.id);
        }
        assert_eq!(config.advisor("laura_gomez").unwrap().name, "Laura Gómez");
    }

    #[test]
    fn a_score_left_out_keeps_its_default() {
        let raw = RawLeads {
            score: BTreeMap::from([("asked_price".to_owned(), 25)]),
            ..RawLeads::default()
        };
        let config = LeadsConfig::from_settings(&raw, &catalog()).unwrap();
        assert_eq!(config.points(Signal::AskedPrice), 25);
        assert_eq!(config.points(Signal::BookedTestDrive), 40);
    }

    #[test]
    fn the_section_reads_from_toml() {
        let raw: RawLeads = toml_from(
            "warm_from = 30\nresponse_time = \"1h\"\n[score]\njust_looking = -30\n\
             [[advisors]]\nid = \"ana\"\nname = \"Ana Ruiz\"\nbranch = \"sur\"\n\
             brands = [\"renault\"]\nphone = \"+57 300 123 4567\"\nemail = \"Ana@Example.com\"\n",
        );
        let config = LeadsConfig::from_settings(&raw, &catalog()).unwrap();
        assert_eq!(config.warm_from, 30);
        assert_eq!(config.response_time, SignedDuration::from_hours(1));
        assert_eq!(config.points(Signal::JustLooking), -30);
        assert_eq!(config.points(Signal::AskedPrice), 15);
        let ana = &config.advisors[0];
        assert_eq!(config.advisors.len(), 1);
        assert_eq!(ana.brands, vec!["Renault".to_owned()], "catalog spelling");
        assert_eq!(ana.phone.as_ref().unwrap().as_str(), "+573001234567");
        assert_eq!(ana.email.as_ref().unwrap().as_str(), "ana@example.com");
        assert!(ana.sells("RENAULT") && !ana.sells("Mazda"));
    }

    fn toml_from(text: &str) -> RawLeads {
        use figment::providers::{Format, Toml};
        figment::Figment::from(Toml::string(text))
            .extract()
            .expect("valid toml")
    }

    #[test]
    fn the_shipped_file_shows_the_defaults() {
        use figment::providers::{Format, Toml};
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/showroom.toml");
        let shipped: RawLeads = figment::Figment::from(Toml::file_exact(file))
            .extract_inner("leads")
            .expect("[leads] in showroom.toml");
        assert_eq!(shipped, RawLeads::default());
    }

    #[test]
    fn unknown_keys_are_refused() {
        use figment::providers::{Format, Toml};
        let err = figment::Figment::from(Toml::string("warm_form = 30\n"))
            .extract::<RawLeads>()
            .unwrap_err()
            .to_string();
        assert!(err.contains("warm_form"), "{err}");
    }

    #[test]
    fn an_unknown_signal_lists_the_valid_ones() {
        let raw = RawLeads {
            score: BTreeMap::from([("asked_prize".to_owned(), 10)]),
            ..RawLeads::default()
        };
        assert_mentions(
            &refused(&raw),
            &["leads.score.asked_prize", "asked_price", "opted_out"],
        );
        let raw = RawLeads {
            score: BTreeMap::from([("asked_price".to_owned(), 500)]),
            ..RawLeads::default()
        };
        assert_mentions(
            &refused(&raw),
            &["leads.score.asked_price", "500", "-100 to 100"],
        );
    }

    #[test]
    fn thresholds_must_be_in_order_and_in_range() {
        let raw = RawLeads {
            warm_from: 80,
            ..RawLeads::default()
        };
        assert_mentions(
            &refused(&raw),
            &["leads.warm_from", "80", "leads.hot_from (70)"],
        );
        let raw = RawLeads {
            handoff_from: 0,
            ..RawLeads::default()
        };
        assert_mentions(&refused(&raw), &["leads.handoff_from", "1 to 100"]);
        let raw = RawLeads {
            hot_from: 300,
            ..RawLeads::default()
        };
        assert_mentions(&refused(&raw), &["leads.hot_from", "300"]);
    }

    #[test]
    fn response_time_is_checked() {
        let raw = RawLeads {
            response_time: "soon".into(),
            ..RawLeads::default()
        };
        assert_mentions(&refused(&raw), &["leads.response_time", "soon"]);
        let raw = RawLeads {
            response_time: "100h".into(),
            ..RawLeads::default()
        };
        assert_mentions(&refused(&raw), &["leads.response_time", "72h"]);
    }

    fn with_advisor(advisor: RawAdvisor) -> RawLeads {
        let mut raw = RawLeads::default();
        raw.advisors.push(advisor);
        raw
    }

    fn ana() -> RawAdvisor {
        RawAdvisor {
            id: "ana_ruiz".into(),
            name: "Ana Ruiz".into(),
            branch: "norte".into(),
            brands: Vec::new(),
            email: String::new(),
            phone: String::new(),
        }
    }

    #[test]
    fn an_advisor_at_an_unknown_branch_names_the_branches() {
        let raw = with_advisor(RawAdvisor {
            branch: "centro".into(),
            ..ana()
        });
        assert_mentions(
            &refused(&raw),
            &["leads.advisors[6].branch", "centro", "norte, sur, palmira"],
        );
    }

    #[test]
    fn an_unknown_brand_names_the_catalogs_brands() {
        let raw = with_advisor(RawAdvisor {
            brands: vec!["Ferrari".into()],
            ..ana()
        });
        assert_mentions(
            &refused(&raw),
            &[
                "leads.advisors[6].brands[0]",
                "Ferrari",
                "Chevrolet",
                "Volkswagen",
            ],
        );
    }

    #[test]
    fn duplicate_ids_and_bad_contacts_are_refused() {
        let raw = with_advisor(RawAdvisor {
            id: "laura_gomez".into(),
            ..ana()
        });
        assert_mentions(
            &refused(&raw),
            &["leads.advisors[6].id", "laura_gomez", "once"],
        );
        let raw = with_advisor(RawAdvisor {
            id: "Ana Ruiz".into(),
            ..ana()
        });
        assert_mentions(&refused(&raw), &["leads.advisors[6].id", "lowercase"]);
        let raw = with_advisor(RawAdvisor {
            phone: "300 123 4567".into(),
            ..ana()
        });
        assert_mentions(&refused(&raw), &["leads.advisors[6].phone", "+57"]);
        let raw = with_advisor(RawAdvisor {
            email: "ana-at-example".into(),
            ..ana()
        });
        assert_mentions(&refused(&raw), &["leads.advisors[6].email"]);
        let raw = with_advisor(RawAdvisor {
            name: " ".into(),
            ..ana()
        });
        assert_mentions(&refused(&raw), &["leads.advisors[6].name"]);
    }

    #[test]
    fn built_in_advisors_give_way_to_the_dealers_own_branches() {
        let mut catalog = catalog();
        catalog.branches.retain(|b| b.id == "sur");
        catalog.branches[0].id = "centro".into();
        let config = LeadsConfig::from_settings(&RawLeads::default(), &catalog).unwrap();
        assert!(config.advisors.is_empty());
        // Written advisors are always checked.
        let raw = RawLeads {
            advisors: vec![ana()],
            ..RawLeads::default()
        };
        let err = LeadsConfig::from_settings(&raw, &catalog)
            .unwrap_err()
            .to_string();
        assert_mentions(&err, &["leads.advisors[0].branch", "centro"]);
    }
}
