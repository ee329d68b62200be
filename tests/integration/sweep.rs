//! Sweeps: each point's means within their confidence intervals of queueing theory, intervals
//! that cover it at about the stated rate, the same bytes whatever the number of jobs, and
//! shards run as separate processes that merge into the one-process sweep's bytes.

use microsim::sweep::{Axis, Sweep, SweepReport};

/// M/M/1: one worker, exponential work of mean 1 ms (mu = 1000/s), Poisson arrivals.
const MM1: &str = r#"
[simulation]
seed = 5
duration = "10s"
warmup = "1s"

[services.server]
workers = 1
work = { exponential = { mean = "1ms" } }

[workloads.arrivals]
target = "server"
open = { rate = 500.0 }
"#;

/// The M/M/1 mean response time 1 / (mu - lambda), ms.
fn mm1_mean_ms(lambda: f64) -> f64 {
    1000.0 / (1000.0 - lambda)
}

#[test]
fn each_points_mean_is_within_its_interval_of_theory() {
    let report = Sweep::new(MM1, "mm1.toml")
        .axis(Axis::parse("workloads.arrivals.open.rate=300,500,700").unwrap())
        .seeds(8)
        .run()
        .unwrap();
    assert_eq!(report.points.len(), 3);
    for (point, lambda) in report.points.iter().zip([300.0, 500.0, 700.0]) {
        let mean = &point.workloads["arrivals"].mean_ms;
        assert_eq!(mean.n, 8);
        // Two half widths: a 95% interval misses theory one time in twenty, and three points
        // would then fail one run in seven; at two half widths it is about one in 10,000.
        let theory = mm1_mean_ms(lambda);
        assert!(
            (mean.mean - theory).abs() <= 2.0 * mean.half_width,
            "rate {lambda}: {mean:?} vs {theory}"
        );
        assert_eq!(point.replications.len(), 8);
        assert_eq!(point.reports.len(), 8, "the Rust API keeps the reports");
    }
    // Common random numbers: every point ran the same seeds, the first the file's.
    assert_eq!(report.seeds[0], 5);
    for point in &report.points {
        let seeds: Vec<u64> = point.replications.iter().map(|r| r.seed).collect();
        assert_eq!(seeds, report.seeds);
    }
    let table = report.to_string();
    assert!(table.contains("workloads.arrivals.open.rate"), "{table}");
    assert!(table.contains(" ± "), "{table}");
}

/// 40 points -- the file's seed swept, so each point's replications are independent of the
/// others' -- of 5 replications each: their 95% intervals cover the exact mean at about 95%.
/// Binomial spread over 40 intervals: sd 3.4%; the bound 85% is 3 sd below.
#[test]
fn intervals_cover_theory_at_about_the_stated_rate() {
    let seeds: Vec<String> = (1..=40).map(|s| (s * 1000).to_string()).collect();
    let report = Sweep::new(MM1, "mm1.toml")
        .axis(Axis::parse(&format!("simulation.seed={}", seeds.join(","))).unwrap())
        .seeds(5)
        .keep_reports(false)
        .run()
        .unwrap();
    let theory = mm1_mean_ms(500.0);
    let covered = report
        .points
        .iter()
        .filter(|point| point.workloads["arrivals"].mean_ms.covers(theory))
        .count();
    assert!(
        (34..=40).contains(&covered),
        "{covered} of 40 cover {theory}"
    );
}

#[test]
fn any_number_of_jobs_gives_the_same_bytes() {
    let sweep = Sweep::new(MM1, "mm1.toml")
        .axis(Axis::parse("workloads.arrivals.open.rate=400,800").unwrap())
        .axis(Axis::parse("services.server.workers=1,2").unwrap())
        .seeds(3)
        .keep_reports(false);
    let one = sweep.clone().jobs(1).run().unwrap().to_json();
    let two = sweep.jobs(2).run().unwrap().to_json();
    assert_eq!(one, two);
    // The last axis changes fastest.
    let report = SweepReport::from_json(&one).unwrap();
    let settings: Vec<Vec<String>> = report.points.iter().map(|p| p.settings.clone()).collect();
    assert_eq!(
        settings,
        [["400", "1"], ["400", "2"], ["800", "1"], ["800", "2"]]
    );
}

#[test]
fn a_bad_value_is_an_error_naming_the_point_before_anything_runs() {
    let error = Sweep::new(MM1, "mm1.toml")
        .axis(Axis::parse("services.server.workers=2,0").unwrap())
        .run()
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("point 2 (services.server.workers=0): ") && error.contains("workers"),
        "{error}"
    );
    let error = Sweep::new(MM1, "mm1.toml")
        .axis(Axis::parse("services.server.workers=1,2").unwrap())
        .axis(Axis::parse("services.server.workers=3").unwrap())
        .run()
        .unwrap_err()
        .to_string();
    assert!(error.contains("swept twice"), "{error}");
    let error = Sweep::new(MM1, "mm1.toml").seeds(0).run().unwrap_err();
    assert!(error.to_string().contains("--seeds"), "{error}");
}

#[test]
fn merging_shards_in_process_checks_they_are_of_one_sweep() {
    let sweep = Sweep::new(MM1, "mm1.toml")
        .axis(Axis::parse("workloads.arrivals.open.rate=200,400,600").unwrap())
        .seeds(2)
        .keep_reports(false);
    let whole = sweep.clone().run().unwrap();
    let shard = |i| {
        sweep
            .clone()
            .shard(microsim::sweep::Shard { index: i, count: 2 })
            .run()
            .unwrap()
    };
    let (first, second) = (shard(1), shard(2));
    assert_eq!(first.points.len(), 2);
    assert_eq!(second.points.len(), 1);
    let merged = SweepReport::merge(vec![second.clone(), first.clone()]).unwrap();
    assert_eq!(merged.to_json(), whole.to_json());
    let missing = SweepReport::merge(vec![first.clone()]).unwrap_err();
    assert!(missing.contains("points 2 of 3"), "{missing}");
    let twice = SweepReport::merge(vec![first.clone(), first]).unwrap_err();
    assert!(twice.contains("in two of the reports"), "{twice}");
}

#[cfg(feature = "cli")]
#[test]
fn shards_run_as_processes_merge_into_the_one_process_sweeps_bytes() {
    let dir = std::env::temp_dir().join(format!("microsim-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("mm1.toml");
    std::fs::write(&file, MM1).unwrap();
    let sweep = |extra: &[&str], json: &std::path::Path| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_microsim"))
            .arg("sweep")
            .arg(&file)
            .args([
                "--set",
                "workloads.arrivals.open.rate=300,600,900",
                "--set",
                "services.server.workers=1,2",
                "--seeds",
                "3",
                "--quiet",
                "--json",
            ])
            .arg(json)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let whole = dir.join("whole.json");
    let table = sweep(&["--jobs", "2"], &whole);
    assert!(
        table.starts_with("sweep of mm1.toml: 6 points x 3 seeds"),
        "{table}"
    );
    let shards: Vec<std::path::PathBuf> = (1..=3)
        .map(|i| {
            let path = dir.join(format!("shard-{i}.json"));
            let shard = format!("{i}/3");
            sweep(&["--jobs", "1", "--shard", &shard], &path);
            path
        })
        .collect();
    // A Kubernetes Indexed Job's pod 1 is the second shard.
    let auto = dir.join("auto.json");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_microsim"))
        .arg("sweep")
        .arg(&file)
        .args([
            "--set",
            "workloads.arrivals.open.rate=300,600,900",
            "--set",
            "services.server.workers=1,2",
            "--seeds",
            "3",
            "--quiet",
            "--shard",
            "auto/3",
            "--json",
        ])
        .arg(&auto)
        .env("JOB_COMPLETION_INDEX", "1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&auto).unwrap(),
        std::fs::read_to_string(&shards[1]).unwrap()
    );
    let merged = dir.join("merged.json");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_microsim"))
        .arg("merge")
        .args([&shards[2], &shards[0], &shards[1]])
        .arg("--json")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        std::fs::read(&merged).unwrap(),
        std::fs::read(&whole).unwrap(),
        "the merged shards are the one-process sweep, byte for byte"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `run --seeds N` is a sweep of one point; `diff` of two of them flags a change far beyond
/// the noise (one worker against two at 90% load: a mean of 10 ms against about 1.2 ms) and
/// of two single runs flags nothing.
#[cfg(feature = "cli")]
#[test]
fn replicated_runs_and_their_diff() {
    let dir = std::env::temp_dir().join(format!("microsim-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("mm1.toml");
    std::fs::write(&file, MM1).unwrap();
    let run = |args: &[&str], json: &std::path::Path| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_microsim"))
            .arg("run")
            .arg(&file)
            .args(["--quiet", "--set", "workloads.arrivals.open.rate=900"])
            .args(args)
            .arg("--json")
            .arg(json)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let (one, two) = (dir.join("one.json"), dir.join("two.json"));
    run(&["--seeds", "4"], &one);
    run(
        &["--seeds", "4", "--set", "services.server.workers=2"],
        &two,
    );
    let report = SweepReport::from_json(&std::fs::read_to_string(&one).unwrap()).unwrap();
    assert_eq!(
        (report.points.len(), report.points[0].replications.len()),
        (1, 4)
    );
    let diff = |a: &std::path::Path, b: &std::path::Path| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_microsim"))
            .arg("diff")
            .args([a, b])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let table = diff(&one, &two);
    let mean = table
        .lines()
        .find(|line| line.contains("mean_ms"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(mean.ends_with('*'), "{table}");
    assert!(table.contains("exceeds the noise"), "{table}");
    // Single runs: no flag.
    let (a, b) = (dir.join("a.json"), dir.join("b.json"));
    run(&[], &a);
    run(&["--set", "services.server.workers=2"], &b);
    let table = diff(&a, &b);
    assert!(
        table.contains("single runs") && !table.contains(" *"),
        "{table}"
    );
    // Mixed kinds are refused.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_microsim"))
        .arg("diff")
        .args([&a, &one])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Capacity at an SLO: with the M/M/1's mean response at most 3 ms, theory allows
/// lambda <= 1000 - 1000/3 = 666.7/s, so of 300, 400, ..., 800 the highest load that holds is
/// 600 (2.5 ms) and 700 (3.33 ms) does not. Over six base seeds, the interval's top at 600
/// was at most 2.64 ms and the mean at 700 at least 3.24 ms, both far from the bound.
#[test]
fn the_capacity_at_an_slo_is_the_highest_load_whose_interval_holds() {
    let file = format!(
        "{MM1}\n[[thresholds]]\nmetric = \"workloads.arrivals.latency_ms.mean\"\nmax = 3.0\n"
    );
    let report = Sweep::new(&file, "mm1.toml")
        .axis(Axis::parse("workloads.arrivals.open.rate=300,400,500,600,700,800").unwrap())
        .seeds(8)
        .keep_reports(false)
        .run()
        .unwrap();
    let holds: Vec<bool> = report
        .points
        .iter()
        .map(|point| point.thresholds[0].holds)
        .collect();
    assert_eq!(holds, [true, true, true, true, false, false]);
    for point in &report.points {
        let threshold = &point.thresholds[0];
        assert_eq!(threshold.value.n, 8);
        assert_eq!(
            threshold.value, point.workloads["arrivals"].mean_ms,
            "the same figure"
        );
    }
    let capacity = &report.capacity["arrivals"];
    assert_eq!(capacity.within_thresholds.as_deref(), Some("600"));
    let table = report.to_string();
    assert!(
        table.contains("every threshold holds with confidence up to 600"),
        "{table}"
    );
}

/// Stopping a sweep keeps the points whose every replication finished and leaves out the
/// capacity; a stopped sweep's report cannot be merged as a shard.
#[test]
fn an_interrupted_sweep_keeps_its_finished_points() {
    let sweep = Sweep::new(MM1, "mm1.toml")
        .axis(Axis::parse("workloads.arrivals.open.rate=300,500,700").unwrap())
        .seeds(2)
        .jobs(1);
    let interrupt = sweep.interrupt_handle();
    // Stop as the second run ends: the first point is whole, the rest never run.
    let report = sweep
        .run_with_progress(&|done, _| {
            if done == 2 {
                interrupt.interrupt();
            }
        })
        .unwrap();
    assert!(report.interrupted);
    assert_eq!(report.points.len(), 1);
    assert_eq!(report.points[0].settings, ["300"]);
    assert_eq!(report.points[0].replications.len(), 2);
    assert!(report.capacity.is_empty() && !report.is_whole());
    let table = report.to_string();
    assert!(
        table.contains("INTERRUPTED: 1 of the 3 points finished"),
        "{table}"
    );
    let error = SweepReport::merge(vec![report]).unwrap_err();
    assert!(error.contains("was interrupted"), "{error}");
}
