//! The report as one self-contained HTML page: its tables, the figures inlined as SVG, and
//! the full text report -- readable offline, with no script, style sheet, font or image
//! fetched from anywhere.

use std::fmt::Write as _;

use super::Report;
use crate::metrics::LatencySummary;

/// A figure of the page: a title and its SVG markup (inlined as it is).
#[derive(Clone, Debug)]
pub struct Figure {
    /// Shown above the figure.
    pub title: String,
    /// A whole `<svg>` element.
    pub svg: String,
}

/// Escapes text for HTML content and attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:72rem;\
color:#1d2330;padding:0 1rem}h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;\
border-bottom:1px solid #d5d9e0;padding-bottom:.2rem}table{border-collapse:collapse;\
font-size:.85rem;margin:.5rem 0}th,td{padding:.2rem .6rem;text-align:right;\
border-bottom:1px solid #eceef2}th{background:#f4f5f8}td:first-child,th:first-child\
{text-align:left;white-space:nowrap}.bad{color:#b3261e;font-weight:600}.ok{color:#1e7b34}.note{color:#5b6475;\
font-size:.85rem}figure{margin:1rem 0}figure svg{max-width:100%;height:auto}\
pre{font-size:.75rem;background:#f7f8fa;padding:.8rem;overflow-x:auto}";

fn latency_cells(out: &mut String, latency: &LatencySummary) {
    for value in [
        latency.mean,
        latency.p50,
        latency.p90,
        latency.p99,
        latency.p999,
        latency.max,
    ] {
        let _ = write!(out, "<td>{value:.3}</td>");
    }
}

impl Report {
    /// The report as one HTML page, with `figures` (plots, diagrams) inlined. The page
    /// fetches nothing: styles are inline, figures are inline SVG.
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::report::html::Figure;
    /// use microsim::{Capacity, Script, Simulation, Distribution, Workload};
    ///
    /// let mut sim = Simulation::builder().duration(Duration::from_secs(1)).build()?;
    /// let api = sim.add_service(
    ///     "api",
    ///     Script::new().work(Distribution::constant(Duration::from_millis(1))),
    ///     Capacity::workers(1),
    /// )?;
    /// sim.add_workload("load", &api, Workload::constant_rate(100.0), |_| ())?;
    /// let report = sim.run()?;
    /// let page = report.to_html(&[Figure {
    ///     title: "a square".into(),
    ///     svg: r#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>"#.into(),
    /// }]);
    /// assert!(page.starts_with("<!DOCTYPE html>"));
    /// assert!(page.contains("<h2>Workloads</h2>") && page.contains("a square"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_html(&self, figures: &[Figure]) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>microsim report, seed {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
            self.seed
        );
        let _ = write!(
            out,
            "<h1>microsim report</h1>\n<p class=\"note\">seed {} &middot; {} clock &middot; \
             {:.3} s simulated, {:.3} s measured, drained at {:.3} s{}</p>\n",
            self.seed,
            match self.clock {
                crate::clock::ClockKind::Virtual => "virtual",
                crate::clock::ClockKind::Real => "real",
            },
            self.simulated_seconds,
            self.measured_seconds,
            self.drained_seconds,
            self.interrupted_at
                .map(|at| format!(" &middot; <span class=\"bad\">interrupted at {at:.3} s</span>"))
                .unwrap_or_default(),
        );
        if !self.overrides.is_empty() {
            let _ = writeln!(
                out,
                "<p class=\"note\">overrides: {}</p>",
                escape(&self.overrides.join(", "))
            );
        }

        out.push_str(
            "<h2>Workloads</h2>\n<table>\n<tr><th>workload</th><th>sent</th><th>completed</th>\
             <th>failed</th><th>rejected</th><th>timed out</th><th>throughput/s</th>\
             <th>mean ms</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th>\
             <th>max ms</th><th>settled p99 ms</th></tr>\n",
        );
        for (name, workload) in &self.workloads {
            let counts = &workload.counts;
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td{}>{}</td><td>{}</td><td>{}</td>\
                 <td>{:.1}</td>",
                escape(name),
                counts.sent,
                counts.completed,
                if counts.failed > 0 {
                    " class=\"bad\""
                } else {
                    ""
                },
                counts.failed,
                counts.rejected,
                counts.timed_out,
                workload.throughput_per_s,
            );
            latency_cells(&mut out, &workload.latency_ms);
            let _ = writeln!(out, "<td>{:.3}</td></tr>", workload.settled_ms.p99);
        }
        out.push_str(
            "</table>\n<p class=\"note\">Latency of completed requests, from the intended send \
             time; settled: until every event and message the request caused was handled.</p>\n",
        );
        for (name, workload) in &self.workloads {
            if workload.errors_by_cause.is_empty() {
                continue;
            }
            let causes: Vec<String> = workload
                .errors_by_cause
                .iter()
                .map(|(cause, count)| format!("{count} {}", escape(cause)))
                .collect();
            let _ = writeln!(
                out,
                "<p class=\"note\">{}: failed by cause: {}</p>",
                escape(name),
                causes.join(", ")
            );
        }

        let topology = super::topology::Topology::of(self);
        if let Some(svg) = topology.to_svg() {
            let _ = write!(
                out,
                "<h2>Topology</h2>\n<figure>\n{svg}\n</figure>\n<p class=\"note\">What \
                 crossed each edge in the measured window: rate, mean latency of those that did \
                 not fail, failures. Solid: calls and publishes; dashed: one-way sends and \
                 deliveries.</p>\n<details><summary>Mermaid source</summary><pre>{}</pre>\
                 </details>\n",
                escape(&topology.to_mermaid())
            );
        }

        for (workload, path) in &self.critical_path {
            let _ = write!(
                out,
                "<h2>Critical path of {}</h2>\n<p class=\"note\">Where the time of the {} \
                 requests went (mean {:.3} ms).</p>\n<table>\n<tr><th>where</th>\
                 <th>ms</th><th>share</th></tr>\n",
                escape(workload),
                path.of_what(),
                path.mean_latency_ms
            );
            for segment in &path.segments {
                let _ = writeln!(
                    out,
                    "<tr><td>{} {}</td><td>{:.3}</td><td>{:.1}%</td></tr>",
                    segment.kind.as_str(),
                    escape(&segment.place),
                    segment.mean_ms,
                    segment.share * 100.0
                );
            }
            out.push_str("</table>\n");
        }

        for figure in figures {
            let _ = write!(
                out,
                "<h2>{}</h2>\n<figure>\n{}\n</figure>\n",
                escape(&figure.title),
                figure.svg
            );
        }

        out.push_str(
            "<h2>Services</h2>\n<table>\n<tr><th>service</th><th>workers</th><th>queue</th>\
             <th>handled</th><th>rejected</th><th>failed</th><th>util</th><th>wait p99 ms</th>\
             <th>mean ms</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th>\
             <th>max ms</th></tr>\n",
        );
        for (name, service) in &self.services {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td{}>{}</td><td{}>{}</td>\
                 <td>{}</td><td>{:.3}</td>",
                escape(name),
                service
                    .workers
                    .map_or("unlimited".to_string(), |w| w.to_string()),
                service
                    .queue_capacity
                    .map_or("unbounded".to_string(), |q| q.to_string()),
                service.counts.handled,
                if service.counts.rejected > 0 {
                    " class=\"bad\""
                } else {
                    ""
                },
                service.counts.rejected,
                if service.counts.failed > 0 {
                    " class=\"bad\""
                } else {
                    ""
                },
                service.counts.failed,
                service
                    .utilization
                    .map_or(format!("{:.2} busy", service.busy_workers), |u| format!(
                        "{u:.3}"
                    )),
                service.queue_wait_ms.p99,
            );
            latency_cells(&mut out, &service.latency_ms);
            out.push_str("</tr>\n");
        }
        out.push_str(
            "</table>\n<p class=\"note\">Latency from arrival at the service to its response, \
             of requests handled without error.</p>\n",
        );

        if !self.topics.is_empty() {
            out.push_str(
                "<h2>Topics</h2>\n<table>\n<tr><th>topic</th><th>published</th>\
                 <th>delivered</th><th>redelivered</th><th>duplicates</th>\
                 <th>dead-lettered</th><th>lost</th></tr>\n",
            );
            for (name, topic) in &self.topics {
                let c = &topic.counts;
                let _ = writeln!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                     <td>{}</td></tr>",
                    escape(name),
                    c.published,
                    c.delivered,
                    c.redelivered,
                    c.duplicates,
                    c.dead_lettered,
                    c.lost
                );
            }
            out.push_str("</table>\n");
        }

        if !self.faults.is_empty() {
            out.push_str(
                "<h2>Faults</h2>\n<table>\n<tr><th>fault</th><th>from s</th><th>to s</th></tr>\n",
            );
            for fault in &self.faults {
                let _ = writeln!(
                    out,
                    "<tr><td>{}</td><td>{:.3}</td><td>{}</td></tr>",
                    escape(&fault.fault),
                    fault.start_seconds,
                    fault
                        .end_seconds
                        .map_or("the end".to_string(), |end| format!("{end:.3}"))
                );
            }
            out.push_str("</table>\n");
        }

        if !self.invariants.is_empty() {
            out.push_str(
                "<h2>Invariants</h2>\n<table>\n<tr><th>invariant</th><th>violations</th>\
                 <th>first</th></tr>\n",
            );
            for invariant in &self.invariants {
                let (class, status) = if invariant.holds() {
                    ("ok", "ok".to_string())
                } else {
                    (
                        "bad",
                        invariant
                            .examples
                            .first()
                            .map(|example| escape(example))
                            .unwrap_or_default(),
                    )
                };
                let _ = writeln!(
                    out,
                    "<tr><td>{}</td><td class=\"{class}\">{}</td><td class=\"{class}\" \
                     style=\"text-align:left\">{status}</td></tr>",
                    escape(&invariant.name),
                    invariant.violations,
                );
            }
            out.push_str("</table>\n");
        }

        let _ = write!(
            out,
            "<h2>The whole report</h2>\n<details><summary>as the command prints it</summary>\
             \n<pre>{}</pre>\n</details>\n</body>\n</html>\n",
            escape(&self.to_string())
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
