//! Traces: their spans add up exactly, their exports parse and nest, their memory is bounded.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use microsim::trace::{SpanKind, Tracing};
use microsim::{Capacity, Distribution, Report, Script, Simulation, Topic, Workload};

fn ms(ms: u64) -> Distribution {
    Distribution::constant(Duration::from_millis(ms))
}

fn exp_ms(mean: f64) -> Distribution {
    Distribution::exponential(Duration::from_secs_f64(mean / 1000.0))
}

/// A front end calling a database twice in parallel and publishing an event that a mailer
/// handles; random link latencies and work, queues that build up.
fn shop(seconds: u64, rate: f64, tracing: Tracing) -> Report {
    let mut sim = Simulation::builder()
        .seed(11)
        .duration(Duration::from_secs(seconds))
        .default_latency(exp_ms(0.5))
        .tracing(tracing)
        .build()
        .unwrap();
    let db = sim
        .add_service("db", Script::new().work(exp_ms(4.0)), Capacity::workers(2))
        .unwrap();
    let mailer = sim
        .add_service(
            "mailer",
            Script::new().work(exp_ms(2.0)),
            Capacity::workers(1),
        )
        .unwrap();
    let orders = sim
        .add_topic::<()>("orders", Topic::at_most_once())
        .unwrap();
    sim.subscribe(&orders, &mailer, |_| ()).unwrap();
    let front = sim
        .add_service(
            "front",
            Script::new()
                .work(exp_ms(1.0))
                .parallel([Script::new().call(&db), Script::new().call(&db)])
                .publish(&orders),
            Capacity::workers(4),
        )
        .unwrap();
    sim.add_workload("buy", &front, Workload::poisson(rate), |_| ())
        .unwrap();
    sim.run().unwrap()
}

#[test]
fn a_chain_of_constant_hops_has_exactly_the_spans_it_should() {
    let mut sim = Simulation::builder()
        .duration(Duration::from_secs(1))
        .default_latency(ms(1))
        .tracing(Tracing::default().rate(1.0))
        .build()
        .unwrap();
    let db = sim
        .add_service("db", Script::new().work(ms(3)), Capacity::workers(1))
        .unwrap();
    let api = sim
        .add_service(
            "api",
            Script::new().work(ms(2)).call(&db),
            Capacity::workers(1),
        )
        .unwrap();
    sim.add_workload("load", &api, Workload::constant_rate(10.0), |_| ())
        .unwrap();
    let report = sim.run().unwrap();
    let traces = report.traces.as_ref().unwrap();
    assert_eq!(traces.requests, 10);
    assert_eq!(traces.traces.len(), 10, "a rate of 1 keeps every trace");
    for trace in &traces.traces {
        let t0 = trace.root().unwrap().start_ns;
        let kinds: Vec<(SpanKind, &str, u64, u64)> = trace
            .spans
            .iter()
            .map(|s| {
                (
                    s.kind,
                    s.service.as_str(),
                    (s.start_ns - t0) / 1_000_000,
                    (s.end_ns - t0) / 1_000_000,
                )
            })
            .collect();
        // Nobody queues: one request every 100 ms, 9 ms each.
        assert_eq!(
            kinds,
            [
                (SpanKind::Request, "client", 0, 9),
                (SpanKind::Call, "client", 0, 9),
                (SpanKind::Link, "client", 0, 1),
                (SpanKind::Processing, "api", 1, 8),
                (SpanKind::Call, "api", 3, 8),
                (SpanKind::Link, "api", 3, 4),
                (SpanKind::Processing, "db", 4, 7),
                (SpanKind::Link, "db", 7, 8),
                (SpanKind::Link, "api", 8, 9),
            ]
        );
        assert_eq!(trace.latency_ns, 9_000_000);
    }
    let path = &report.critical_path["load"];
    let of = |place: &str| {
        path.segments
            .iter()
            .find(|s| s.place == place)
            .map(|s| s.mean_ms)
    };
    assert_eq!(of("api"), Some(2.0));
    assert_eq!(of("db"), Some(3.0));
    assert_eq!(of("client -> api"), Some(1.0));
    assert_eq!(of("db -> api"), Some(1.0));
    assert_eq!(path.total_ms(), 9.0);
}

#[test]
fn every_traced_requests_spans_add_up_to_its_latency_exactly() {
    let report = shop(20, 300.0, Tracing::default().rate(0.2).max_sampled(300));
    let traces = report.traces.as_ref().unwrap();
    assert!(traces.traces.len() >= 300, "{}", traces.traces.len());
    let mut calls = 0;
    let mut queued = 0;
    for trace in &traces.traces {
        let root = trace.root().unwrap();
        assert_eq!(root.duration_ns(), trace.latency_ns);
        // The critical path partitions the request's time.
        let path: u64 = trace.critical_path().iter().map(|(_, _, ns)| ns).sum();
        assert_eq!(path, trace.latency_ns, "trace {}", trace.trace_id);
        // A completed call is its link out, queue wait, processing and link back.
        let by_id: BTreeMap<u64, _> = trace.spans.iter().map(|s| (s.id, s)).collect();
        for call in trace.spans.iter().filter(|s| s.kind == SpanKind::Call) {
            if call.error.is_some() {
                continue;
            }
            let parts: u64 = (1..=4)
                .filter_map(|k| by_id.get(&(call.id + k)))
                .map(|s| s.duration_ns())
                .sum();
            assert_eq!(parts, call.duration_ns(), "call {}", call.id);
            calls += 1;
            queued += u64::from(by_id.contains_key(&(call.id + 2)));
        }
        // Every span but the root has its parent in the trace; a delivery follows its
        // publish.
        for span in &trace.spans {
            if let Some(parent) = span.parent {
                assert!(
                    by_id.contains_key(&parent),
                    "span {} of {}",
                    span.id,
                    trace.trace_id
                );
            }
            if span.kind == SpanKind::Delivery {
                assert_eq!(span.follows, span.parent);
                assert_eq!(by_id[&span.parent.unwrap()].kind, SpanKind::Publish);
            }
        }
    }
    assert!(calls > 900, "{calls}");
    assert!(queued > 50, "the database's queue was used: {queued}");
    // The mean critical path of the slowest adds up to their mean latency.
    let path = &report.critical_path["buy"];
    assert_eq!(path.requests, 10);
    assert!((path.total_ms() - path.mean_latency_ms).abs() < 1e-9);
}

#[test]
fn retained_spans_stay_bounded_however_long_the_run() {
    let tracing = Tracing::default().max_sampled(50).keep_slowest(5);
    let short = shop(20, 200.0, tracing.clone());
    let long = shop(200, 200.0, tracing.clone());
    let (short, long) = (short.traces.unwrap(), long.traces.unwrap());
    assert!(long.requests > 39_000, "{}", long.requests);
    assert!(long.spans_recorded > 10 * short.spans_recorded / 2);
    // At most the kept traces' spans: 50 sampled + 5 slowest + 10 failed traces, of at
    // most 14 spans each here (root, 3 calls of 5, a publish of 3 and a delivery of 3).
    let bound = (50 + 5 + 10) * 20;
    for traces in [&short, &long] {
        assert!(traces.traces.len() <= 65, "{}", traces.traces.len());
        assert!(
            traces.retained_spans() <= bound,
            "{}",
            traces.retained_spans()
        );
    }
    // Flat: ten times the run, about the same spans.
    let ratio = long.retained_spans() as f64 / short.retained_spans() as f64;
    assert!((0.8..=1.25).contains(&ratio), "{ratio}");
}

/// The events of one Chrome track, as (start, end) in simulated µs.
type Track = Vec<(f64, f64)>;

#[test]
fn the_chrome_trace_parses_and_every_track_nests() {
    let report = shop(10, 200.0, Tracing::default().rate(0.1));
    let json: serde_json::Value =
        serde_json::from_str(&report.traces.as_ref().unwrap().to_chrome_json()).unwrap();
    let events = json["traceEvents"].as_array().unwrap();
    let mut processes = BTreeSet::new();
    let mut tracks: BTreeMap<(u64, u64), Track> = BTreeMap::new();
    let mut flows: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
    let mut threads = BTreeSet::new();
    for event in events {
        match event["ph"].as_str().unwrap() {
            "M" if event["name"] == "process_name" => {
                processes.insert(event["args"]["name"].as_str().unwrap().to_string());
            }
            "M" if event["name"] == "thread_name" => {
                threads.insert(event["args"]["name"].as_str().unwrap().to_string());
            }
            "M" => {}
            "X" => {
                let ts = event["ts"].as_f64().unwrap();
                let dur = event["dur"].as_f64().unwrap();
                assert!(dur >= 0.0);
                let key = (
                    event["pid"].as_u64().unwrap(),
                    event["tid"].as_u64().unwrap(),
                );
                tracks.entry(key).or_default().push((ts, ts + dur));
            }
            "s" => flows.entry(event["id"].as_u64().unwrap()).or_default().0 += 1,
            "f" => flows.entry(event["id"].as_u64().unwrap()).or_default().1 += 1,
            other => panic!("unexpected phase {other}"),
        }
    }
    let expected: BTreeSet<String> = ["client", "db", "front", "mailer", "orders"]
        .map(String::from)
        .into();
    assert_eq!(processes, expected);
    assert!(threads.contains("worker 0") && threads.contains("worker 1"));
    assert!(threads.iter().any(|t| t.starts_with("queue")));
    assert!(threads.iter().any(|t| t.starts_with("deliveries")));
    // Proper nesting: on each track, two events are disjoint or one holds the other (to
    // half a nanosecond: times are microseconds as floating point, exact to the ns).
    const NS: f64 = 0.0005;
    for (key, events) in &mut tracks {
        events.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)));
        let mut open: Vec<f64> = Vec::new();
        for &(start, end) in events.iter() {
            while open.last().is_some_and(|&e| e <= start + NS) {
                open.pop();
            }
            if let Some(&e) = open.last() {
                assert!(
                    end <= e + NS,
                    "track {key:?}: [{start}, {end}] overlaps one ending at {e}"
                );
            }
            open.push(end);
        }
    }
    // Each arrow has a start and an end; calls and events both have arrows.
    assert!(flows.values().all(|&(s, f)| s == 1 && f == 1));
    assert!(flows.len() > 100, "{}", flows.len());
    let names: BTreeSet<&str> = events
        .iter()
        .filter(|e| e["ph"] == "s")
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["event", "request"].into());
}

#[test]
fn the_otlp_file_has_valid_ids_parents_and_links() {
    let report = shop(10, 200.0, Tracing::default().rate(0.1));
    let json: serde_json::Value =
        serde_json::from_str(&report.traces.as_ref().unwrap().to_otlp_json()).unwrap();
    let mut spans: BTreeMap<(String, String), serde_json::Value> = BTreeMap::new();
    let mut services = BTreeSet::new();
    for resource in json["resourceSpans"].as_array().unwrap() {
        let attributes = &resource["resource"]["attributes"][0];
        assert_eq!(attributes["key"], "service.name");
        services.insert(
            attributes["value"]["stringValue"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        for span in resource["scopeSpans"][0]["spans"].as_array().unwrap() {
            let trace = span["traceId"].as_str().unwrap().to_string();
            let id = span["spanId"].as_str().unwrap().to_string();
            assert_eq!(trace.len(), 32);
            assert_eq!(id.len(), 16);
            let hex = |s: &str| {
                s.chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            };
            assert!(hex(&trace) && hex(&id));
            assert!(trace.chars().any(|c| c != '0') && id.chars().any(|c| c != '0'));
            let start: u64 = span["startTimeUnixNano"].as_str().unwrap().parse().unwrap();
            let end: u64 = span["endTimeUnixNano"].as_str().unwrap().parse().unwrap();
            assert!(start <= end);
            assert!((1..=5).contains(&span["kind"].as_u64().unwrap()));
            assert!(
                spans.insert((trace, id), span.clone()).is_none(),
                "span ids are unique"
            );
        }
    }
    assert_eq!(services.len(), 5);
    let mut roots = 0;
    let mut links = 0;
    for ((trace, _), span) in &spans {
        match span.get("parentSpanId") {
            Some(parent) => {
                let parent = parent.as_str().unwrap().to_string();
                assert!(spans.contains_key(&(trace.clone(), parent)));
            }
            None => roots += 1,
        }
        if let Some(link) = span.get("links") {
            let link = &link[0];
            assert_eq!(link["traceId"].as_str().unwrap(), trace);
            let target = &spans[&(trace.clone(), link["spanId"].as_str().unwrap().to_string())];
            assert_eq!(
                target["kind"], 4,
                "an event's link is to its publish (producer)"
            );
            links += 1;
        }
    }
    let traces: BTreeSet<&String> = spans.keys().map(|(trace, _)| trace).collect();
    assert_eq!(roots, traces.len(), "one root per trace");
    assert!(
        links >= traces.len(),
        "every request published an event: {links}"
    );
}

#[test]
fn tracing_changes_no_figure_of_the_report() {
    let run = |tracing: Option<Tracing>| {
        let mut builder = Simulation::builder()
            .seed(3)
            .duration(Duration::from_secs(10))
            .default_latency(exp_ms(0.5));
        if let Some(tracing) = tracing {
            builder = builder.tracing(tracing);
        }
        let mut sim = builder.build().unwrap();
        let db = sim
            .add_service("db", Script::new().work(exp_ms(4.0)), Capacity::workers(2))
            .unwrap();
        sim.add_workload("w", &db, Workload::poisson(300.0), |_| ())
            .unwrap();
        sim.run().unwrap()
    };
    let (plain, traced) = (run(None), run(Some(Tracing::default())));
    assert!(traced.traces.is_some() && plain.traces.is_none());
    assert_eq!(plain.workloads, traced.workloads);
    assert_eq!(plain.services, traced.services);
}

#[test]
fn the_command_writes_the_traces_and_the_percentiles_it_is_asked_for() {
    let dir = std::env::temp_dir().join(format!("microsim-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (chrome, otlp, hgrm) = (dir.join("t.json"), dir.join("o.json"), dir.join("p.hgrm"));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_microsim"))
        .args([
            "run",
            "scenarios/events.toml",
            "--quiet",
            "--set",
            "simulation.duration=5s",
        ])
        .arg("--trace")
        .arg(&chrome)
        .arg("--otlp")
        .arg(&otlp)
        .arg("--percentiles")
        .arg(&hgrm)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(table.contains("critical path of "), "{table}");
    for path in [&chrome, &otlp] {
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert!(
            json.get("traceEvents")
                .or(json.get("resourceSpans"))
                .is_some()
        );
    }
    let text = std::fs::read_to_string(&hgrm).unwrap();
    assert!(text.starts_with("#[workload "), "{text}");
    assert!(text.contains("       Value     Percentile TotalCount 1/(1-Percentile)"));
    // The last line of each section is 100%.
    assert!(text.contains(" 1.000000000000 "));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--trace` turns tracing on with the defaults only for a file that has no `[tracing]`
/// table: a file's own settings are kept. Ten requests of one kind; the file keeps none by
/// sample and the 3 slowest, so the critical path is the mean of 3 traces (the defaults would
/// keep all 10).
#[cfg(feature = "cli")]
#[test]
fn the_command_keeps_a_files_tracing_table() {
    let dir = std::env::temp_dir().join(format!("microsim-tracing-table-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("traced.toml");
    let text = |tracing: &str| {
        format!(
            "[simulation]\nduration = \"1s\"\n\n{tracing}\n\n[services.api]\nwork = {{ constant = \"2ms\" }}\n\n\
             [workloads.load]\ntarget = \"api\"\nopen = {{ rate = 10.0, arrivals = \"constant\" }}\n"
        )
    };
    let traced_requests = |tracing: &str| {
        std::fs::write(&file, text(tracing)).unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_microsim"))
            .arg("run")
            .arg(&file)
            .args(["--quiet", "--json", "-", "--trace"])
            .arg(dir.join("t.json"))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        json["critical_path"]["load"]["requests"].as_u64().unwrap()
    };
    assert_eq!(
        traced_requests("[tracing]\nrate = 0.0\nkeep_slowest = 3"),
        3
    );
    assert_eq!(traced_requests(""), 10);
    let _ = std::fs::remove_dir_all(&dir);
}
