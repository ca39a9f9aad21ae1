//! Named option lists for questions (`options: models`): the dealer's catalog and
//! branches from settings. Bookings add available slots.

use super::model::Choice;
use crate::config::{CatalogConfig, Localized};

pub trait Sources: Send + Sync {
    fn names(&self) -> Vec<String>;
    /// The current options of a list, `None` for an unknown list.
    fn options(&self, name: &str) -> Option<Vec<Choice>>;
}

/// Models and branches from settings.
pub struct CatalogSources {
    catalog: CatalogConfig,
}

impl CatalogSources {
    pub fn new(catalog: CatalogConfig) -> Self {
        Self { catalog }
    }
}

impl Sources for CatalogSources {
    fn names(&self) -> Vec<String> {
        vec!["models".into(), "branches".into()]
    }

    fn options(&self, name: &str) -> Option<Vec<Choice>> {
        match name {
            "models" => Some(
                self.catalog
                    .models
                    .iter()
                    .map(|m| Choice {
                        value: m.id.clone(),
                        title: Localized::new(&m.name, &m.name),
                        synonyms: m.synonyms.clone(),
                    })
                    .collect(),
            ),
            "branches" => Some(
                self.catalog
                    .branches
                    .iter()
                    .map(|b| Choice {
                        value: b.id.clone(),
                        title: Localized::new(&b.name, &b.name),
                        synonyms: vec![b.city.clone()],
                    })
                    .collect(),
            ),
            _ => None,
        }
    }
}
