//! Which models and brands a question names. "cuánto gasta la tigan" names the Tiguan
//! even misspelt; "la camioneta de toyota" names a brand. Retrieval then prefers the
//! documents of what was named (see [`super::search`]).
//!
//! Names come from settings (`[[models]]` with their synonyms) and from the knowledge's
//! own front matter (`brand`, `model`), so a spec sheet for a model the dealer has not
//! listed in settings is still recognised.

use std::collections::BTreeSet;

use super::DocumentMeta;
use super::analysis::Analyzer;
use crate::config::RawModel;

/// Brand nicknames customers use.
const BRAND_ALIASES: &[(&str, &str)] = &[
    ("vw", "volkswagen"),
    ("volks", "volkswagen"),
    ("chevy", "chevrolet"),
    ("chevrolet", "chevrolet"),
];

#[derive(Debug, Clone, Default)]
pub struct ModelCatalog {
    models: Vec<NamedModel>,
    brands: Vec<NamedBrand>,
}

#[derive(Debug, Clone)]
struct NamedModel {
    /// The id used in front matter and payloads (`corolla_cross`).
    id: String,
    /// Folded word sequences that name it (`["corolla", "cross"]`, `["corolla"]`).
    names: Vec<Vec<String>>,
}

#[derive(Debug, Clone)]
struct NamedBrand {
    /// As written in front matter (`Toyota`), which is what payload filters compare.
    brand: String,
    names: Vec<Vec<String>>,
}

/// What a question names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mentions {
    /// Model ids.
    pub models: Vec<String>,
    /// Brands as written in front matter.
    pub brands: Vec<String>,
}

impl ModelCatalog {
    pub fn new<'a>(
        settings: &[RawModel],
        documents: impl IntoIterator<Item = &'a DocumentMeta>,
    ) -> Self {
        let mut models: Vec<NamedModel> = Vec::new();
        let mut brands: Vec<NamedBrand> = Vec::new();
        let mut add_model = |id: &str, names: Vec<String>| {
            let names = names
                .iter()
                .flat_map(|name| name_variants(name))
                .collect::<BTreeSet<_>>();
            match models.iter_mut().find(|m| m.id == id) {
                Some(model) => {
                    for name in names {
                        if !model.names.contains(&name) {
                            model.names.push(name);
                        }
                    }
                }
                None => models.push(NamedModel {
                    id: id.to_owned(),
                    names: names.into_iter().collect(),
                }),
            }
        };
        for model in settings {
            let mut names = vec![model.id.clone(), model.name.clone()];
            names.extend(model.synonyms.iter().cloned());
            add_model(&model.id, names);
        }
        let mut document_brands = BTreeSet::new();
        for meta in documents {
            if let Some(id) = &meta.model {
                add_model(id, vec![id.clone()]);
            }
            if let Some(brand) = &meta.brand {
                document_brands.insert(brand.clone());
            }
        }
        for brand in document_brands {
            let folded = Analyzer::fold(&brand);
            let mut names: Vec<Vec<String>> = name_variants(&brand).into_iter().collect();
            for (alias, target) in BRAND_ALIASES {
                if *target == folded {
                    names.push(vec![(*alias).to_owned()]);
                }
            }
            brands.push(NamedBrand { brand, names });
        }
        // Longer names first, so "corolla cross" wins over "corolla" in reports.
        for model in &mut models {
            model.names.sort_by_key(|n| std::cmp::Reverse(n.len()));
        }
        Self { models, brands }
    }

    /// Models and brands named in `question`, tolerating one typo in names of five or
    /// more letters ("tigan", "sportaje").
    pub fn mentions(&self, question: &str) -> Mentions {
        let words = words(&Analyzer::fold(question));
        let mut mentions = Mentions::default();
        for model in &self.models {
            if model.names.iter().any(|name| contains_name(&words, name)) {
                mentions.models.push(model.id.clone());
            }
        }
        for brand in &self.brands {
            if brand.names.iter().any(|name| contains_name(&words, name)) {
                mentions.brands.push(brand.brand.clone());
            }
        }
        mentions
    }

    pub fn is_empty(&self) -> bool {
        self.models.is_empty() && self.brands.is_empty()
    }
}

/// Splits folded text into words of letters and digits.
fn words(folded: &str) -> Vec<String> {
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The word sequences a name can be written as: "CX-30" → [cx, 30] and [cx30];
/// "corolla_cross" → [corolla, cross] and [corollacross].
fn name_variants(name: &str) -> Vec<Vec<String>> {
    let folded = Analyzer::fold(&name.replace('_', " "));
    let parts = words(&folded);
    if parts.is_empty() {
        return Vec::new();
    }
    let mut variants = vec![parts.clone()];
    if parts.len() > 1 {
        variants.push(vec![parts.concat()]);
    }
    variants
}

fn contains_name(words: &[String], name: &[String]) -> bool {
    if name.is_empty() || words.len() < name.len() {
        return false;
    }
    words
        .windows(name.len())
        .any(|window| window.iter().zip(name).all(|(w, n)| word_matches(w, n)))
}

fn word_matches(word: &str, name: &str) -> bool {
    if word == name {
        return true;
    }
    // Plurals ("las tiguan", "los trackers") and one typo in longer names. Cheap checks
    // first: this runs for every word of every question against every model name.
    let len = name.chars().count();
    if len < 5 {
        return false;
    }
    if word.strip_suffix('s') == Some(name) {
        return true;
    }
    // One edit changes the length by at most one; people rarely mistype the first letter.
    word.chars().count().abs_diff(len) <= 1
        && word.chars().next() == name.chars().next()
        && strsim::damerau_levenshtein(word, name) <= 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> ModelCatalog {
        let settings = vec![
            RawModel {
                id: "t_cross".into(),
                name: "T-Cross".into(),
                brand: "Volkswagen".into(),
                synonyms: vec!["tcross".into()],
            },
            RawModel {
                id: "cx_30".into(),
                name: "CX-30".into(),
                brand: "Mazda".into(),
                synonyms: vec![],
            },
        ];
        let documents = vec![
            DocumentMeta {
                brand: Some("Kia".into()),
                model: Some("sportage".into()),
                ..DocumentMeta::default()
            },
            DocumentMeta {
                brand: Some("Volkswagen".into()),
                model: Some("tiguan".into()),
                ..DocumentMeta::default()
            },
        ];
        ModelCatalog::new(&settings, &documents)
    }

    #[test]
    fn names_written_many_ways_are_recognised() {
        let catalog = catalog();
        for question in [
            "cuanto gasta la T-Cross",
            "la tcross",
            "t cross 2025",
            "la T‑CROSS",
        ] {
            assert_eq!(
                catalog.mentions(question).models,
                vec!["t_cross"],
                "{question}"
            );
        }
        for question in ["la cx30", "CX-30 turbo", "mazda cx 30"] {
            assert_eq!(
                catalog.mentions(question).models,
                vec!["cx_30"],
                "{question}"
            );
        }
    }

    #[test]
    fn one_typo_in_a_long_name_is_forgiven_but_short_words_are_exact() {
        let catalog = catalog();
        assert_eq!(
            catalog.mentions("la tigan tiene baul grande?").models,
            vec!["tiguan"]
        );
        assert_eq!(catalog.mentions("la sportaje").models, vec!["sportage"]);
        assert!(catalog.mentions("la cruz roja").models.is_empty());
    }

    #[test]
    fn brands_and_their_nicknames() {
        let catalog = catalog();
        assert_eq!(catalog.mentions("la camioneta de kia").brands, vec!["Kia"]);
        assert_eq!(catalog.mentions("algo de vw").brands, vec!["Volkswagen"]);
        assert!(
            catalog
                .mentions("cuanto cuesta el seguro")
                .brands
                .is_empty()
        );
    }
}
