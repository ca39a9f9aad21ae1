//! Index terms to sparse-vector ids.
//!
//! The id is stored in the index and recomputed for every question, possibly by another
//! build of showroom on another machine, so it must never change: FNV-1a (32-bit) over
//! the term's UTF-8 bytes, written out here rather than borrowed from a hasher whose
//! output may change between Rust releases (std's `DefaultHasher` says so).
//! With ~50,000 terms a collision between two terms is possible but rare (≈ 0.3 pairs
//! expected); it only merges the two terms' scores.

/// The sparse index id of an index term.
pub fn term_id(term: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for &byte in term.as_bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_fnv1a_32_and_never_change() {
        // Published FNV-1a test vectors, plus one of our terms: if this fails, every
        // index built before the change returns nothing for the affected terms.
        assert_eq!(term_id(""), 0x811c_9dc5);
        assert_eq!(term_id("a"), 0xe40c_292c);
        assert_eq!(term_id("foobar"), 0xbf9c_f968);
        assert_eq!(term_id("caball"), 0x86bd_94e8);
        assert_ne!(term_id("caball"), term_id("caballo"));
    }
}
