//! "Did you mean ...?": the known name closest to a misspelt one.

/// The candidate closest to `name`, if it is close enough to be a likely typo: within a third
/// of the longer name's length (plus one) in Levenshtein distance. Ties go to the smaller
/// candidate, so the answer does not depend on the candidates' order.
pub(crate) fn closest<'c>(
    name: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::levenshtein(name, candidate), candidate))
        .filter(|(distance, candidate)| {
            *distance <= candidate.chars().count().max(name.chars().count()) / 3 + 1
        })
        .min()
        .map(|(_, candidate)| candidate)
}

/// `; did you mean "x"?` for the candidate closest to `name`, or nothing.
pub(crate) fn did_you_mean<'c>(
    name: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> String {
    closest(name, candidates)
        .map(|candidate| format!("; did you mean {candidate:?}?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_pick_the_closest_name() {
        assert_eq!(
            did_you_mean("paymnet", ["client", "payment", "shipping"]),
            "; did you mean \"payment\"?"
        );
        assert_eq!(did_you_mean("zzzzzz", ["client", "payment"]), "");
        assert_eq!(closest("wrokers", ["workers", "queue"]), Some("workers"));
        // Distances count characters, not bytes: each "é" for "e" is one edit.
        assert_eq!(closest("résumé", ["resume"]), Some("resume"));
        // Ties go to the smaller candidate, whatever the order.
        assert_eq!(closest("cat", ["cot", "bat"]), Some("bat"));
        assert_eq!(closest("cat", ["bat", "cot"]), Some("bat"));
        // The threshold: a third of the longer name's length, plus one (3 edits here).
        assert_eq!(closest("abcdef", ["abcxyz"]), Some("abcxyz"));
        assert_eq!(closest("abcdef", ["abwxyz"]), None);
    }
}
