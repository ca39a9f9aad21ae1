//! Signals → a score from 0 to 100, a band and the reasons behind it, by the points in
//! `[leads.score]`. Pure and cheap: re-scored on every change of a lead, so the CRM
//! always sees the reasons for the score it receives.

use std::collections::BTreeMap;

use super::model::{Band, Qualification, Reason, Signal, Signals};
use super::settings::LeadsConfig;

/// The scoring part of `[leads]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreRules {
    warm_from: u8,
    hot_from: u8,
    handoff_from: u8,
    points: BTreeMap<Signal, i32>,
}

impl From<&LeadsConfig> for ScoreRules {
    fn from(config: &LeadsConfig) -> Self {
        Self::new(config)
    }
}

impl ScoreRules {
    pub fn new(config: &LeadsConfig) -> Self {
        Self {
            warm_from: config.warm_from,
            hot_from: config.hot_from,
            handoff_from: config.handoff_from,
            points: config.points.clone(),
        }
    }

    /// The sum of the signals' points, clamped to 0–100, its band, and one reason per
    /// signal, the weightiest first.
    pub fn qualify(&self, signals: &Signals) -> Qualification {
        let mut reasons: Vec<Reason> = signals
            .iter()
            .map(|&signal| Reason {
                signal,
                points: self.points.get(&signal).copied().unwrap_or(0),
                text: signal.describe().to_owned(),
            })
            .collect();
        reasons.sort_by(|a, b| b.points.cmp(&a.points).then(a.signal.cmp(&b.signal)));
        let sum: i64 = reasons.iter().map(|r| i64::from(r.points)).sum();
        let score = u8::try_from(sum.clamp(0, 100)).unwrap_or(100);
        Qualification {
            score,
            band: self.band(score),
            reasons,
        }
    }

    pub fn band(&self, score: u8) -> Band {
        if score >= self.hot_from {
            Band::Hot
        } else if score >= self.warm_from {
            Band::Warm
        } else {
            Band::Cold
        }
    }

    /// The score alone is reason enough to hand the lead to an advisor.
    pub fn hands_off(&self, qualification: &Qualification) -> bool {
        qualification.score >= self.handoff_from
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CatalogConfig;
    use crate::leads::settings::RawLeads;

    fn rules() -> ScoreRules {
        let config = LeadsConfig::from_settings(&RawLeads::default(), &CatalogConfig::default())
            .expect("defaults are valid");
        ScoreRules::from(&config)
    }

    fn signals(list: &[Signal]) -> Signals {
        list.iter().copied().collect()
    }

    #[test]
    fn no_signals_is_cold_zero() {
        let q = rules().qualify(&Signals::new());
        assert_eq!(q.score, 0);
        assert_eq!(q.band, Band::Cold);
        assert!(q.reasons.is_empty());
        assert!(!rules().hands_off(&q));
    }

    #[test]
    fn points_add_up_with_reasons_weightiest_first() {
        let q = rules().qualify(&signals(&[
            Signal::GaveContact,
            Signal::AskedPrice,
            Signal::AskedFinancing,
            Signal::BuysWithin30Days,
        ]));
        assert_eq!(q.score, 5 + 15 + 15 + 20);
        assert_eq!(q.band, Band::Warm);
        let order: Vec<(Signal, i32)> = q.reasons.iter().map(|r| (r.signal, r.points)).collect();
        assert_eq!(
            order,
            vec![
                (Signal::BuysWithin30Days, 20),
                // Equal points: in the signals' own order.
                (Signal::AskedPrice, 15),
                (Signal::AskedFinancing, 15),
                (Signal::GaveContact, 5),
            ]
        );
        assert_eq!(q.reasons[0].text, "Quiere comprar en los próximos 30 días");
    }

    #[test]
    fn the_score_is_clamped_to_0_and_100() {
        let q = rules().qualify(&signals(&[Signal::JustLooking, Signal::OptedOut]));
        assert_eq!(q.score, 0);
        assert_eq!(q.reasons.last().map(|r| r.points), Some(-40));
        let q = rules().qualify(&signals(&[
            Signal::BookedTestDrive,
            Signal::RequestedAdvisor,
            Signal::BuysWithin30Days,
            Signal::AskedPrice,
            Signal::AskedFinancing,
        ]));
        assert_eq!(q.score, 100, "120 points");
        assert_eq!(q.band, Band::Hot);
        let q = rules().qualify(&signals(Signal::ALL));
        assert_eq!(q.score, 85, "every signal: 125 points, minus 70");
    }

    #[test]
    fn bands_and_handoff_follow_the_thresholds() {
        let r = rules();
        assert_eq!(r.band(39), Band::Cold);
        assert_eq!(r.band(40), Band::Warm);
        assert_eq!(r.band(69), Band::Warm);
        assert_eq!(r.band(70), Band::Hot);
        // Test drive (40) + advisor request (30) = 70: handed off on score alone.
        let q = r.qualify(&signals(&[
            Signal::BookedTestDrive,
            Signal::RequestedAdvisor,
        ]));
        assert_eq!((q.score, q.band), (70, Band::Hot));
        assert!(r.hands_off(&q));
        let q = r.qualify(&signals(&[Signal::BookedTestDrive, Signal::AskedPrice]));
        assert!(!r.hands_off(&q), "55 is below 70");
    }

    #[test]
    fn custom_points_and_thresholds_apply() {
        let raw = RawLeads {
            warm_from: 10,
            hot_from: 20,
            handoff_from: 15,
            score: BTreeMap::from([("gave_contact".to_owned(), 12)]),
            ..RawLeads::default()
        };
        let config = LeadsConfig::from_settings(&raw, &CatalogConfig::default()).unwrap();
        let r = ScoreRules::new(&config);
        let q = r.qualify(&signals(&[Signal::GaveContact]));
        assert_eq!((q.score, q.band), (12, Band::Warm));
        assert!(!r.hands_off(&q));
        let q = r.qualify(&signals(&[Signal::GaveContact, Signal::HasTradeIn]));
        assert_eq!((q.score, q.band), (22, Band::Hot));
        assert!(r.hands_off(&q));
    }
}
