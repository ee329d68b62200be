//! The topology: every edge something crossed, with its count, rate and mean latency as the
//! engine measured them -- exact where simulated time is exact -- drawn as Mermaid, DOT and
//! SVG, and written by the command.

use std::time::Duration;

use microsim::report::topology::{EdgeKind, Topology};
use microsim::scenario::Scenario;
use microsim::{Capacity, Distribution, Script, Simulation, Workload};

use crate::support::ms;

/// client -> api -> db, 1 ms each way on every link, api works 1 ms, db 2 ms; 50 requests a
/// second for 2 s, the first second warm-up.
fn chain() -> microsim::Report {
    let mut sim = Simulation::builder()
        .duration(Duration::from_secs(2))
        .warmup(Duration::from_secs(1))
        .default_latency(Distribution::constant(ms(1)))
        .build()
        .unwrap();
    let db = sim
        .add_service(
            "db",
            Script::new().work(Distribution::constant(ms(2))),
            Capacity::workers(8),
        )
        .unwrap();
    let api = sim
        .add_service(
            "api",
            Script::new()
                .work(Distribution::constant(ms(1)))
                .call(&db)
                .send(&db),
            Capacity::workers(8),
        )
        .unwrap();
    sim.add_workload("load", &api, Workload::constant_rate(50.0), |_| ())
        .unwrap();
    sim.run().unwrap()
}

#[test]
fn each_edge_counts_what_crossed_it_in_the_measured_window_exactly() {
    let report = chain();
    let edges: Vec<(&str, &str, EdgeKind, u64, u64)> = report
        .edges
        .iter()
        .map(|e| (e.from.as_str(), e.to.as_str(), e.kind, e.count, e.failed))
        .collect();
    // 50 requests sent in the measured second, each one call and one send from the api.
    assert_eq!(
        edges,
        [
            ("api", "db", EdgeKind::Call, 50, 0),
            ("api", "db", EdgeKind::Send, 50, 0),
            ("client", "api", EdgeKind::Call, 50, 0),
        ]
    );
    let mean = |from: &str, kind| {
        report
            .edges
            .iter()
            .find(|e| e.from == from && e.kind == kind)
            .unwrap()
    };
    // api -> db: 1 ms out, 2 ms of work, 1 ms back. client -> api: 1 ms out, 1 ms of work,
    // the 4 ms call, 1 ms back (the send does not wait).
    assert_eq!(mean("api", EdgeKind::Call).mean_ms, Some(4.0));
    assert_eq!(mean("client", EdgeKind::Call).mean_ms, Some(7.0));
    assert_eq!(mean("api", EdgeKind::Send).mean_ms, None);
    assert_eq!(mean("client", EdgeKind::Call).rate_per_s, 50.0);
    // The diagrams say the same.
    let topology = Topology::of(&report);
    let mermaid = topology.to_mermaid();
    for line in [
        "    n0((\"client\"))",
        "    n1 -->|\"50/s · 4.00 ms\"| n2",
        "    n1 -.->|\"50/s one-way\"| n2",
        "    n0 -->|\"50/s · 7.00 ms\"| n1",
    ] {
        assert!(mermaid.lines().any(|l| l == line), "{line}\n{mermaid}");
    }
    // The edges go into the JSON and come back.
    let json = report.to_json();
    let back: microsim::Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back.edges, report.edges);
}

#[test]
fn retries_and_failures_count_on_their_edge() {
    let text = r#"
[simulation]
duration = "20s"

[services.flaky]
workers = 4
work = { constant = "1ms" }
steps = [{ fail = 0.5, error = "flaky" }]

[workloads.w]
target = "flaky"
open = { rate = 100.0 }

[[policies]]
from = "client"
to = "flaky"
retry = { max_attempts = 2 }
"#;
    let report = Scenario::parse(text, "t.toml")
        .unwrap()
        .to_simulation(None)
        .unwrap()
        .run()
        .unwrap();
    let edge = &report.edges[0];
    let policy = report.policies.values().next().unwrap();
    // Every attempt crossed the edge: the first of each request, and each retry.
    assert_eq!(edge.count, policy.counts.attempts);
    assert_eq!(
        edge.count,
        report.workloads["w"].counts.sent + policy.counts.retries
    );
    // Half of the attempts fail, within 4 sd of 2,000 x 0.5 over about 3,000 attempts.
    let share = edge.failed as f64 / edge.count as f64;
    assert!(
        (share - 0.5).abs() < 4.0 * (0.25 / edge.count as f64).sqrt(),
        "{share}"
    );
}

#[test]
fn publishes_and_deliveries_are_edges_too() {
    let overrides = [microsim::scenario::Override::parse("simulation.duration=4s").unwrap()];
    let report =
        Scenario::load_with_overrides(std::path::Path::new("scenarios/events.toml"), &overrides)
            .unwrap()
            .to_simulation(None)
            .unwrap()
            .run()
            .unwrap();
    let publishes: Vec<&str> = report
        .edges
        .iter()
        .filter(|e| e.kind == EdgeKind::Publish)
        .map(|e| e.to.as_str())
        .collect();
    assert_eq!(publishes, ["order-placed", "payment-done"]);
    let placed = report
        .edges
        .iter()
        .find(|e| e.to == "order-placed")
        .unwrap();
    assert_eq!(placed.count, report.topics["order-placed"].counts.published);
    let dot = Topology::of(&report).to_dot();
    assert!(
        dot.contains("\"order-placed\" -> \"email\" [label=\"") && dot.contains("style=dashed"),
        "{dot}"
    );
    let svg = Topology::of(&report).to_svg().unwrap();
    let document = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let boxes = document
        .descendants()
        .filter(|n| n.has_tag_name("rect"))
        .count();
    // The client, 7 services and 4 topics (two dead-letter topics among them).
    assert_eq!(boxes, 1 + report.services.len() + report.topics.len());
}

#[cfg(feature = "cli")]
#[test]
fn the_command_writes_the_topology_in_the_format_its_extension_names() {
    let dir = std::env::temp_dir().join(format!("microsim-topology-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |file: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_microsim"))
            .args([
                "run",
                "scenarios/mm1.toml",
                "--quiet",
                "--set",
                "simulation.duration=2s",
                "--set",
                "simulation.warmup=1s",
            ])
            .arg("--topology")
            .arg(file)
            .output()
            .unwrap()
    };
    let (dot, mermaid, bad) = (dir.join("t.dot"), dir.join("t.mmd"), dir.join("t.png"));
    for path in [&dot, &mermaid] {
        let output = run(path);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let dot = std::fs::read_to_string(&dot).unwrap();
    assert!(
        dot.starts_with("digraph microsim {") && dot.contains("\"client\" -> "),
        "{dot}"
    );
    let mermaid = std::fs::read_to_string(&mermaid).unwrap();
    assert!(
        mermaid.starts_with("flowchart LR\n") && mermaid.contains("n0 -->|"),
        "{mermaid}"
    );
    // An unknown extension is refused before the run, and nothing is written.
    let output = run(&bad);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(".dot or .gv") && stderr.contains(".mmd"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty() && !bad.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
