//! One run of a store variant, summed up, and the comparison's table of several.

use std::fmt::Write as _;

use microsim::{Report, SimulationError};

use super::{Options, Variant, build};

/// What one run of a variant gave: the report, and what its books say.
pub struct Outcome {
    pub variant: Variant,
    pub report: Report,
    /// Orders taken, completed and cancelled.
    pub orders: usize,
    pub completed: usize,
    pub cancelled: usize,
    /// Refunds and stock releases made.
    pub compensations: u64,
    /// From placing an order to shipping it, ms: p50 and p99.
    pub shipped_p50_ms: f64,
    pub shipped_p99_ms: f64,
}

/// Builds and runs one variant.
pub fn run(options: &Options) -> Result<Outcome, Box<dyn std::error::Error>> {
    let store = build(options)?;
    let report = store
        .simulation
        .run()
        .map_err(|e: SimulationError| Box::new(e) as Box<dyn std::error::Error>)?;
    let books = store.books.lock();
    let (orders, cancelled, completed) = books.order_counts();
    let shipped = books.time_to_ship(options.warmup);
    let ms = |q: f64| shipped.quantile(q).as_secs_f64() * 1e3;
    Ok(Outcome {
        variant: options.variant,
        orders,
        completed,
        cancelled,
        compensations: books.compensations,
        shipped_p50_ms: ms(0.5),
        shipped_p99_ms: ms(0.99),
        report,
    })
}

/// The side-by-side table: a row per figure, a column per variant.
pub fn table(outcomes: &[Outcome]) -> String {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |name: &str, cell: &dyn Fn(&Outcome) -> String| {
        rows.push((name.to_string(), outcomes.iter().map(cell).collect()));
    };
    fn checkout(o: &Outcome) -> &microsim::report::WorkloadReport {
        &o.report.workloads["checkout"]
    }
    row("checkout p50 / p99 (ms)", &|o| {
        let l = &checkout(o).latency_ms;
        format!("{:.1} / {:.1}", l.p50, l.p99)
    });
    row("settled p50 / p99 (ms)", &|o| {
        let l = &checkout(o).settled_ms;
        format!("{:.1} / {:.1}", l.p50, l.p99)
    });
    row("placed to shipped p50 / p99 (ms)", &|o| {
        format!("{:.1} / {:.1}", o.shipped_p50_ms, o.shipped_p99_ms)
    });
    row("throughput (answered/s)", &|o| {
        format!("{:.1}", checkout(o).throughput_per_s)
    });
    row("failed requests", &|o| {
        checkout(o).counts.failed.to_string()
    });
    row("orders completed", &|o| o.completed.to_string());
    row("orders cancelled", &|o| o.cancelled.to_string());
    row("compensations", &|o| o.compensations.to_string());
    let invariants: Vec<String> = outcomes
        .first()
        .map(|o| o.report.invariants.iter().map(|i| i.name.clone()).collect())
        .unwrap_or_default();
    for (index, name) in invariants.iter().enumerate() {
        row(&format!("violations: {name}"), &|o| {
            o.report
                .invariants
                .get(index)
                .map_or("-".to_string(), |i| i.violations.to_string())
        });
    }
    let first = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    let width = 14;
    let mut out = String::new();
    let _ = write!(out, "{:first$}", "");
    for o in outcomes {
        let _ = write!(out, "  {:>width$}", o.variant.name());
    }
    out.push('\n');
    for (name, cells) in rows {
        let _ = write!(out, "{name:first$}");
        for cell in cells {
            let _ = write!(out, "  {cell:>width$}");
        }
        out.push('\n');
    }
    out
}
