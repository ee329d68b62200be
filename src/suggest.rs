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
        .map(|candidate| (edit_distance(name, candidate), candidate))
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

/// Levenshtein distance, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
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
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
