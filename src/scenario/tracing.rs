//! `[tracing]`: which traces a run keeps, mapped onto the engine's [`Tracing`]; the engine's
//! rules judge the values when the simulation is built.

use toml::Spanned;

use crate::trace::Tracing;

use super::error::Source;
use super::file::RawTracing;
use super::values::count;

/// Sets one count of a [`Tracing`].
type Setter = fn(Tracing, usize) -> Tracing;

/// Maps `[tracing]` (`None`: absent; `Some(None)`: its mistake already reported) onto
/// [`Tracing`], its defaults where the table says nothing, and reports a mistake of each of
/// its keys. `None` when tracing stays off: no table, or one with a mistake.
pub(super) fn check_tracing(
    source: &Source<'_>,
    tracing: Option<Option<Spanned<RawTracing>>>,
) -> Option<Tracing> {
    let raw = tracing??.into_inner();
    let mut tracing = Tracing::default();
    let mut complete = true;
    if let Some(rate) = raw.rate {
        tracing = tracing.rate(rate.into_inner());
    }
    // The counts: TOML's integers are signed, the engine's are not.
    let counts: [(Option<Spanned<i64>>, &str, Setter); 4] = [
        (raw.max_sampled, "max_sampled", Tracing::max_sampled),
        (raw.keep_slowest, "keep_slowest", Tracing::keep_slowest),
        (raw.keep_failed, "keep_failed", Tracing::keep_failed),
        (
            raw.max_spans_per_trace,
            "max_spans_per_trace",
            Tracing::max_spans_per_trace,
        ),
    ];
    for (written, key, set) in counts {
        let Some(written) = written else {
            continue;
        };
        match count(source, &written, key) {
            Ok(value) => tracing = set(tracing, value),
            Err(error) => {
                source.report(error);
                complete = false;
            }
        }
    }
    complete.then_some(tracing)
}
