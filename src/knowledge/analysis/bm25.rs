//! The document side of BM25: saturated, length-normalised term frequencies.
//!
//! The index multiplies these by each term's IDF at query time (Qdrant's IDF modifier),
//! so IDF is never applied here and stays right as documents are added or removed.

use super::term_id::term_id;
use super::terms::TextTerms;
use crate::knowledge::SparseVector;

/// Term-frequency saturation: the third mention of a word adds less than the second.
pub const K1: f32 = 1.2;
/// How much a long passage's terms are discounted for its length.
pub const B: f32 = 0.75;
/// The length of a typical passage, in counted words: words kept after stopwords, a
/// compound counting its parts, English stems not counted.
///
/// A constant instead of the corpus average so a passage's vector never depends on the
/// other passages (each is encoded once, at ingest). Chunks are cut at headings and at
/// ~320 cl100k tokens: a full chunk keeps ~120–150 words after stopwords, a short section
/// far fewer (the shipped knowledge's `##` sections average ~45). 100 sits between, so
/// short answers are favoured only mildly; the shipped evaluation barely moves between
/// 40 and 250 (see `recall_tests`).
pub const AVG_LEN: f32 = 100.0;

/// `tf·(k1+1) / (tf + k1·(1 − b + b·len/avg_len))`.
pub fn tf_weight(tf: f32, length: f32) -> f32 {
    tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * length / AVG_LEN))
}

/// The sparse vector of a passage's terms.
pub(crate) fn encode(text_terms: &TextTerms) -> SparseVector {
    let mut counts: std::collections::HashMap<u32, f32> = std::collections::HashMap::new();
    for term in &text_terms.terms {
        *counts.entry(term_id(&term.text)).or_default() += 1.0;
    }
    let length = text_terms.length as f32;
    SparseVector::from_pairs(
        counts
            .into_iter()
            .map(|(id, tf)| (id, tf_weight(tf, length))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_weigh_more_but_saturate() {
        let once = tf_weight(1.0, AVG_LEN);
        let twice = tf_weight(2.0, AVG_LEN);
        let many = tf_weight(50.0, AVG_LEN);
        assert!(
            (once - 1.0).abs() < 1e-6,
            "one mention at average length is 1"
        );
        assert!(twice > once);
        assert!(twice - once > tf_weight(3.0, AVG_LEN) - twice);
        assert!(many < K1 + 1.0);
    }

    #[test]
    fn longer_passages_weigh_each_mention_less() {
        assert!(tf_weight(1.0, 20.0) > tf_weight(1.0, AVG_LEN));
        assert!(tf_weight(1.0, AVG_LEN) > tf_weight(1.0, 400.0));
    }
}
