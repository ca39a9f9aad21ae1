//! Finding the dictionary words closest to a misspelt one, fast.
//!
//! A symmetric deletion index (the SymSpell idea): every dictionary word is stored
//! under each string obtained by deleting up to two of its characters, and a query looks
//! up its own deletions. Two words within edit distance d always share such a string
//! when both sides delete up to d characters, so candidates come from a handful of
//! binary searches instead of comparing against ~50,000 words; each candidate is then
//! checked with the real Damerau–Levenshtein distance. Only hashes of the deletions are
//! stored (a collision just adds a candidate that the check throws away).

/// The largest edit distance a query word of `len` characters may be corrected by:
/// none below 4 characters (too many short words are one edit apart), 1 up to 7, 2 from 8.
pub(crate) fn max_distance(len: usize) -> usize {
    match len {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// Dictionary words of this many characters or more are stored with two deletions (a
/// query of 8+ characters may be two edits away from them); shorter ones with one.
const TWO_DELETIONS_FROM: usize = 8;
/// Dictionary words outside this range are never suggested: shorter ones are too
/// ambiguous, longer ones are codes or URLs and would bloat the index.
const MIN_WORD: usize = 3;
const MAX_WORD: usize = 24;

/// Words a correction may lead to: letters only (a figure or a model code is never
/// changed), at least three characters, not stopwords.
pub(crate) fn is_correction_target(word: &str) -> bool {
    word.chars().count() >= MIN_WORD
        && word.chars().all(char::is_alphabetic)
        && !super::stem::is_stopword(word)
}

#[derive(Clone, Default)]
pub(crate) struct TypoIndex {
    words: Vec<Box<str>>,
    /// Deletion hashes, sorted, with the id of the word each came from.
    hashes: Vec<u64>,
    ids: Vec<u32>,
    /// `buckets[b]` is the first position in `hashes` whose top bits are `b` or more:
    /// a lookup jumps straight to a handful of entries instead of binary-searching
    /// millions (each probe of which would be a cache miss).
    buckets: Vec<u32>,
    bucket_shift: u32,
}

/// A dictionary word within reach of the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Candidate<'a> {
    pub word: &'a str,
    pub distance: usize,
}

impl TypoIndex {
    pub fn build<'a>(words: impl IntoIterator<Item = &'a str>) -> Self {
        let mut entries: Vec<(u64, u32)> = Vec::new();
        let mut kept = Vec::new();
        let mut variants = Vec::new();
        for word in words {
            let chars: Vec<char> = word.chars().collect();
            if !(MIN_WORD..=MAX_WORD).contains(&chars.len()) {
                continue;
            }
            let Ok(id) = u32::try_from(kept.len()) else {
                break;
            };
            let depth = if chars.len() >= TWO_DELETIONS_FROM {
                2
            } else {
                1
            };
            variants.clear();
            deletion_hashes(&chars, depth, &mut variants);
            variants.sort_unstable();
            variants.dedup();
            entries.extend(variants.iter().map(|&hash| (hash, id)));
            kept.push(Box::<str>::from(word));
        }
        entries.sort_unstable();
        let (hashes, ids): (Vec<u64>, Vec<u32>) = entries.into_iter().unzip();
        // About four entries per bucket.
        let bits = (hashes.len() / 4).max(1).ilog2().clamp(1, 30) + 1;
        let bucket_shift = 64 - bits;
        let mut buckets = Vec::with_capacity((1 << bits) + 1);
        let mut position = 0usize;
        for bucket in 0..=(1u64 << bits) {
            while position < hashes.len() && (hashes[position] >> bucket_shift) < bucket {
                position += 1;
            }
            buckets.push(u32::try_from(position).unwrap_or(u32::MAX));
        }
        Self {
            words: kept,
            hashes,
            ids,
            buckets,
            bucket_shift,
        }
    }

    /// Positions in `hashes` holding `hash`.
    fn positions(&self, hash: u64) -> std::ops::Range<usize> {
        let bucket = (hash >> self.bucket_shift) as usize;
        let (Some(&start), Some(&end)) = (self.buckets.get(bucket), self.buckets.get(bucket + 1))
        else {
            return 0..0;
        };
        let slice = &self.hashes[start as usize..end as usize];
        let first = slice.partition_point(|&h| h < hash);
        let last = first + slice[first..].partition_point(|&h| h == hash);
        start as usize + first..start as usize + last
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Dictionary words within [`max_distance`] of `query`, nearest first (ties in
    /// dictionary order). `query` itself is included when it is in the dictionary.
    pub fn lookup(&self, query: &str) -> Vec<Candidate<'_>> {
        let chars: Vec<char> = query.chars().collect();
        let reach = max_distance(chars.len());
        if reach == 0 || self.words.is_empty() {
            return Vec::new();
        }
        let mut variants = Vec::new();
        deletion_hashes(&chars, reach, &mut variants);
        variants.sort_unstable();
        variants.dedup();
        let mut ids: Vec<u32> = Vec::new();
        for hash in variants {
            ids.extend_from_slice(&self.ids[self.positions(hash)]);
        }
        ids.sort_unstable();
        ids.dedup();
        let mut found: Vec<Candidate<'_>> = ids
            .into_iter()
            .filter_map(|id| {
                let word: &str = &self.words[id as usize];
                if word.chars().count().abs_diff(chars.len()) > reach {
                    return None;
                }
                let distance = strsim::damerau_levenshtein(query, word);
                (distance <= reach).then_some(Candidate { word, distance })
            })
            .collect();
        found.sort_by_key(|c| c.distance);
        found
    }
}

impl std::fmt::Debug for TypoIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypoIndex")
            .field("words", &self.words.len())
            .field("deletions", &self.hashes.len())
            .finish()
    }
}

/// Hashes of `chars` with every choice of up to `depth` (1 or 2) characters deleted,
/// `chars` itself included. May contain duplicates ("aab" minus either "a").
fn deletion_hashes(chars: &[char], depth: usize, out: &mut Vec<u64>) {
    let n = chars.len();
    out.push(hash_skipping(chars, usize::MAX, usize::MAX));
    for i in 0..n {
        out.push(hash_skipping(chars, i, usize::MAX));
        if depth >= 2 {
            for j in i + 1..n {
                out.push(hash_skipping(chars, i, j));
            }
        }
    }
}

/// FNV-1a (64-bit) of the characters, leaving out positions `skip_a` and `skip_b`.
fn hash_skipping(chars: &[char], skip_a: usize, skip_b: usize) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, &c) in chars.iter().enumerate() {
        if i == skip_a || i == skip_b {
            continue;
        }
        for byte in u32::from(c).to_le_bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nearest(index: &TypoIndex, query: &str) -> Vec<(String, usize)> {
        index
            .lookup(query)
            .into_iter()
            .map(|c| (c.word.to_owned(), c.distance))
            .collect()
    }

    #[test]
    fn finds_substitutions_insertions_deletions_and_transpositions() {
        let index = TypoIndex::build(["caballos", "tiguan", "rendimiento", "tracker", "garantia"]);
        assert_eq!(nearest(&index, "cavallos"), [("caballos".into(), 1)]);
        assert_eq!(nearest(&index, "tigan"), [("tiguan".into(), 1)]);
        assert_eq!(nearest(&index, "rendimeinto"), [("rendimiento".into(), 1)]);
        assert_eq!(nearest(&index, "garnatia"), [("garantia".into(), 1)]);
        // Two edits on a long word.
        assert_eq!(nearest(&index, "kaballoz"), [("caballos".into(), 2)]);
    }

    #[test]
    fn short_words_are_not_corrected_and_reach_grows_with_length() {
        let index = TypoIndex::build(["gas", "tracker", "onix"]);
        assert!(index.lookup("gaz").is_empty());
        // "treaker" has 7 characters, so only one edit is allowed; it is two away.
        assert!(index.lookup("treaker").is_empty());
        assert_eq!(nearest(&index, "onyx"), [("onix".into(), 1)]);
    }

    #[test]
    fn nearest_come_first() {
        let index = TypoIndex::build(["mantenimiento", "mantenimientos", "mantenimento"]);
        let found = nearest(&index, "mantenimiento");
        assert_eq!(found[0], ("mantenimiento".into(), 0));
        assert!(found.iter().all(|(_, d)| *d <= 2));
        assert_eq!(found.len(), 3);
    }
}
