//! The report's timeline: windows of simulated time that add up to the run's totals, exact
//! per-window figures where simulated time is exact, faults in the windows they cover, and
//! a size that depends on the number of windows, not on the run's length.

use std::time::Duration;

use microsim::scenario::Scenario;
use microsim::{Capacity, Distribution, Fault, Script, Simulation, Workload};

use crate::support::ms;

fn s(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

/// 100 requests per second, evenly spaced, into one worker that takes exactly 1 ms (5 ms
/// when slowed), for 10 s in windows of 1 s.
fn paced(slow: Option<Fault>) -> microsim::Report {
    let mut sim = Simulation::builder()
        .duration(s(10))
        .timeline_window(s(1))
        .build()
        .unwrap();
    let api = sim
        .add_service(
            "api",
            Script::new().work(Distribution::constant(ms(1))),
            Capacity::workers(1),
        )
        .unwrap();
    sim.add_workload("load", &api, Workload::constant_rate(100.0), |_| ())
        .unwrap();
    if let Some(fault) = slow {
        sim.add_fault(fault).unwrap();
    }
    sim.run().unwrap()
}

/// Within the 2 significant digits of the timeline's histograms.
fn close(value: Option<f64>, expected: f64) -> bool {
    value.is_some_and(|v| (v - expected).abs() <= expected * 0.01)
}

#[test]
fn a_paced_workload_has_exact_windows() {
    let report = paced(None);
    let timeline = &report.timeline;
    assert_eq!(timeline.windows, 10);
    assert_eq!(timeline.window_seconds, 1.0);
    let load = &timeline.workloads["load"];
    assert_eq!(load.sent, vec![100; 10]);
    assert_eq!(load.completed, vec![100; 10]);
    assert_eq!(load.failed, vec![0; 10]);
    assert_eq!(load.throughput_per_s, vec![100.0; 10]);
    for window in 0..10 {
        // The mean is summed exactly, not read from a histogram.
        assert_eq!(load.mean_ms[window], Some(1.0));
        assert!(close(load.p50_ms[window], 1.0), "{:?}", load.p50_ms);
        assert!(close(load.p99_ms[window], 1.0), "{:?}", load.p99_ms);
        assert!(close(load.settled_p99_ms[window], 1.0));
    }
    // 100 ms of work in each second: a tenth of a worker, exactly.
    let api = &timeline.services["api"];
    assert_eq!(api.handled, vec![100; 10]);
    assert_eq!(api.rejected, vec![0; 10]);
    for busy in &api.busy_workers {
        assert!((busy - 0.1).abs() < 1e-12, "{busy}");
    }
}

#[test]
fn a_slow_spell_shows_in_its_windows_only() {
    let report = paced(Some(Fault::slow("api", 5.0).at(s(3)).lasting(s(2))));
    let load = &report.timeline.workloads["load"];
    let api = &report.timeline.services["api"];
    for window in 0..10 {
        let slowed = window == 3 || window == 4;
        let expected = if slowed { 5.0 } else { 1.0 };
        assert!(
            close(load.p99_ms[window], expected),
            "window {window}: {:?}",
            load.p99_ms
        );
        let busy = if slowed { 0.5 } else { 0.1 };
        assert!(
            (api.busy_workers[window] - busy).abs() < 1e-12,
            "{:?}",
            api.busy_workers
        );
    }
    // The table marks the faulty windows.
    let table = report.to_string();
    let faults = table
        .lines()
        .find(|line| line.trim_start().starts_with("faults"))
        .unwrap_or_else(|| panic!("{table}"));
    // One column per window: the fault covers the fourth and fifth of ten.
    let columns = faults
        .trim_start()
        .strip_prefix("faults        ")
        .unwrap_or_else(|| panic!("{faults:?}"));
    assert_eq!(columns, "   ━━     ", "{table}");
}

/// Two workloads send at the same instants, 100 a second each, into one worker that takes
/// exactly 3 ms: at each instant one request waits 3 ms behind the other. So every window
/// of 1 s holds one waiting request for 100 x 3 ms: a mean queue of 0.3, exactly, and a
/// longest queue of 1.
#[test]
fn queue_depth_per_window_is_exact() {
    let mut sim = Simulation::builder()
        .duration(s(5))
        .timeline_window(s(1))
        .build()
        .unwrap();
    let api = sim
        .add_service(
            "api",
            Script::new().work(Distribution::constant(ms(3))),
            Capacity::workers(1),
        )
        .unwrap();
    for name in ["first", "second"] {
        sim.add_workload(name, &api, Workload::constant_rate(100.0), |_| ())
            .unwrap();
    }
    let report = sim.run().unwrap();
    let api = &report.timeline.services["api"];
    assert_eq!(api.queue_max, vec![1; 5]);
    for mean in &api.queue_mean {
        assert!((mean - 0.3).abs() < 1e-12, "{:?}", api.queue_mean);
    }
    // Little's law over the run: the mean queue is the arrival rate times the mean wait.
    let wait_ms = report.services["api"].queue_wait_ms.mean;
    assert!((200.0 * wait_ms / 1e3 - 0.3).abs() < 1e-3, "{wait_ms}");
    // The CSV carries the same series.
    let csv = report.timeline.to_csv();
    assert!(csv.contains("\n2,3,service,api,queue_mean,0.3"), "{csv}");
    assert!(csv.contains("\n2,3,service,api,queue_max,1\n"), "{csv}");
    // And the table draws it.
    let table = report.to_string();
    assert!(table.contains("api       queue mean"), "{table}");
}

/// The windows of a workload add up to what it sent, completed and failed; a service's to
/// what it handled and rejected (warm-up 0, so the report counts every request too).
#[test]
fn the_windows_add_up_to_the_totals() {
    let mut sim = Simulation::builder()
        .seed(3)
        .duration(s(20))
        .build()
        .unwrap();
    let api = sim
        .add_service(
            "api",
            Script::new()
                .work(Distribution::exponential(ms(1)))
                .fail(0.1, "boom"),
            Capacity::workers(1).with_queue(3),
        )
        .unwrap();
    sim.add_workload("load", &api, Workload::poisson(900.0), |_| ())
        .unwrap();
    let report = sim.run().unwrap();
    assert_eq!(report.timeline.windows, 100);
    let load = &report.timeline.workloads["load"];
    let counts = &report.workloads["load"].counts;
    let sum = |values: &[u64]| values.iter().sum::<u64>();
    assert_eq!(sum(&load.sent), counts.sent);
    assert_eq!(sum(&load.completed), counts.completed);
    assert_eq!(sum(&load.failed), counts.failed);
    let service = &report.timeline.services["api"];
    let api = &report.services["api"];
    assert!(api.counts.rejected > 100, "{:?}", api.counts);
    assert_eq!(sum(&service.rejected), api.counts.rejected);
    assert_eq!(sum(&service.handled), api.counts.handled);
    // Busy time, window by window, adds up to the report's busy workers over the run.
    let busy: f64 = service.busy_workers.iter().sum::<f64>() / 100.0;
    assert!(
        (busy - api.busy_workers).abs() < 1e-3,
        "{busy} vs {}",
        api.busy_workers
    );
}

#[test]
fn the_timeline_is_as_large_for_a_long_run_as_for_a_short_one() {
    let json = |duration: u64| {
        let mut sim = Simulation::builder().duration(s(duration)).build().unwrap();
        let api = sim
            .add_service(
                "api",
                Script::new().work(Distribution::exponential(ms(1))),
                Capacity::workers(2),
            )
            .unwrap();
        sim.add_workload("load", &api, Workload::poisson(500.0), |_| ())
            .unwrap();
        let report = sim.run().unwrap();
        assert_eq!(report.timeline.windows, 100);
        serde_json::to_string(&report.timeline).unwrap()
    };
    let short = json(10);
    let long = json(100);
    // The same series, one value per window: the long run's JSON differs only in digits.
    assert!(
        long.len() < short.len() * 3 / 2,
        "{} vs {}",
        long.len(),
        short.len()
    );
    assert_eq!(json(10), short, "the timeline is deterministic");
}

#[test]
fn a_file_sets_the_window_and_the_engine_checks_it() {
    let file = |window: &str| {
        format!(
            "[simulation]\nduration = \"60s\"\ntimeline_window = \"{window}\"\n\n[services.api]\n\n\
             [workloads.w]\ntarget = \"api\"\nopen = {{ rate = 10.0 }}\n"
        )
    };
    let report = Scenario::parse(&file("5s"), "t.toml")
        .unwrap()
        .to_simulation(None)
        .unwrap()
        .run()
        .unwrap();
    assert_eq!(report.timeline.windows, 12);
    assert_eq!(report.timeline.window_seconds, 5.0);
    let error = Scenario::parse(&file("1ms"), "t.toml")
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("t.toml:3:19: simulation.timeline_window: timeline_window 1ms cuts the duration 60s into 60000 windows"),
        "{error}"
    );
    let csv = report.timeline.to_csv();
    // A header, then per window 8 workload series and 5 service series.
    assert_eq!(csv.lines().count(), 1 + 12 * 8 + 12 * 5);
}
