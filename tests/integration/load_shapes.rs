//! Load that changes: staged open-loop rates (Poisson and paced), replayed arrival times and
//! staged closed-loop users. A service with no work behind links of no latency records the
//! instant each request reaches it, so only the arrivals are measured.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use microsim::scenario::Scenario;
use microsim::{
    Capacity, Context, Distribution, Service, ServiceError, Simulation, Stage, Workload,
};

use crate::support::ms;

/// Answers at once, noting the simulated instant of each request.
#[derive(Clone, Default)]
struct Recorder {
    times: Arc<Mutex<Vec<Duration>>>,
}

impl Service for Recorder {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
        self.times.lock().unwrap().push(ctx.now());
        Ok(())
    }
}

/// Runs `workload` for `duration` with seed `seed` into a recorder; the arrival instants,
/// sorted, and the report's count of requests sent.
fn arrivals(workload: Workload, duration: Duration, seed: u64) -> (Vec<Duration>, u64) {
    let mut sim = Simulation::builder()
        .duration(duration)
        .seed(seed)
        .default_latency(Distribution::ZERO)
        .build()
        .unwrap();
    let recorder = Recorder::default();
    let times = Arc::clone(&recorder.times);
    let api = sim
        .add_service("api", recorder, Capacity::unlimited())
        .unwrap();
    sim.add_workload("w", &api, workload, |_| ()).unwrap();
    let report = sim.run().unwrap();
    let sent = report.workloads["w"].counts.sent;
    let mut times = times.lock().unwrap().clone();
    times.sort();
    (times, sent)
}

/// Seconds to the nearest nanosecond (`Duration::from_secs_f64` would take 0.3 s to
/// 299,999,999 ns).
fn secs(seconds: f64) -> Duration {
    Duration::from_nanos((seconds * 1e9).round() as u64)
}

/// How many of `times` fall in `[from, to)` seconds.
fn within(times: &[Duration], from: f64, to: f64) -> usize {
    times
        .iter()
        .filter(|t| **t >= secs(from) && **t < secs(to))
        .count()
}

#[test]
fn a_poisson_ramp_sends_the_integral_of_its_rate() {
    // 0 -> 1000/s over 10 s (area 5000), then 1000 -> 200/s over 5 s (area 3000).
    let ramp = || {
        Workload::poisson_stages(
            0.0,
            [
                Stage::new(Duration::from_secs(10), 1000.0),
                Stage::new(Duration::from_secs(5), 200.0),
            ],
        )
    };
    // Each window's integral of the rate: [0, 5) is a quarter of the first ramp's area,
    // [5, 10) the other three quarters; the first half of the ramp down is
    // 1000 * 2.5 - 80 * 2.5^2 = 2000, the second 1000.
    let windows = [
        (0.0, 5.0, 1250.0),
        (5.0, 10.0, 3750.0),
        (10.0, 12.5, 2000.0),
        (12.5, 15.0, 1000.0),
    ];
    // The count in a window of a Poisson process is Poisson: its standard deviation is the
    // square root of its mean (89 of 8,000; 35 of 1,250). Measured over 1,000 seeds (0..1000):
    // each window's mean count within 1.5 standard errors of its integral (1251.4, 3752.9,
    // 2000.7, 999.8), its sd that of a Poisson count (35.6, 61.4, 43.9, 32.0 against 35.4,
    // 61.2, 44.7, 31.6), and the most extreme window of all 4,000 at 3.9 sd -- seed 4's
    // first window, one of the five below. Each run's counts are held to 4.5 sd (a count
    // of a correct process passes it but once in 150,000); what would catch a wrong shape is
    // the mean of the five runs, held to 4 of its sd (40): a rate off by 5% moves it 400,
    // and a ramp whose area is taken wrong by a quarter moves the first window 312 of 35.
    let tolerance = |expected: f64| 4.5 * expected.sqrt();
    let mut totals = Vec::new();
    for seed in 0..5 {
        // 16 s: the stages end at 15 s, and nothing is sent after them.
        let (times, sent) = arrivals(ramp(), Duration::from_secs(16), seed);
        assert_eq!(
            sent as usize,
            times.len(),
            "seed {seed}: sent counts every arrival"
        );
        let total = times.len() as f64;
        assert!(
            (total - 8000.0).abs() <= tolerance(8000.0),
            "seed {seed}: {total} requests, expected 8000 +- {:.0}",
            tolerance(8000.0)
        );
        for (from, to, expected) in windows {
            let count = within(&times, from, to) as f64;
            assert!(
                (count - expected).abs() <= tolerance(expected),
                "seed {seed}: {count} requests in [{from}, {to}) s, expected {expected}"
            );
        }
        assert_eq!(
            within(&times, 15.0, 16.0),
            0,
            "seed {seed}: sent past the stages"
        );
        totals.push(total);
    }
    // The mean of five runs: sd sqrt(8000 / 5) = 40.
    let mean = totals.iter().sum::<f64>() / totals.len() as f64;
    assert!((mean - 8000.0).abs() <= 4.0 * 40.0, "mean {mean}");
    // The same seed draws the same arrivals.
    assert_eq!(
        arrivals(ramp(), Duration::from_secs(16), 3),
        arrivals(ramp(), Duration::from_secs(16), 3)
    );
}

#[test]
fn constant_stages_send_request_k_where_the_rate_integral_reaches_k() {
    // Lambda(t), the integral of the rate:
    //   [0, 2)  0 -> 1000/s:  250 t^2, 1000 at 2 s
    //   [2, 3)  1000/s:       1000 + 1000 (t - 2), 2000 at 3 s
    //   [3, 4)  1000 -> 0/s:  2500 - 500 (4 - t)^2, 2500 at 4 s
    //   [4, 5)  0/s:          2500: nothing is sent
    //   [5, 6)  0 -> 20/s:    2500 + 10 (t - 5)^2, 2510 at 6 s
    let paced = Workload::constant_stages(
        0.0,
        [
            Stage::new(Duration::from_secs(2), 1000.0),
            Stage::new(Duration::from_secs(1), 1000.0),
            Stage::new(Duration::from_secs(1), 0.0),
            Stage::new(Duration::from_secs(1), 0.0),
            Stage::new(Duration::from_secs(1), 20.0),
        ],
    );
    let (times, sent) = arrivals(paced, Duration::from_secs(6), 1);
    // Request k (from 0) at the first instant Lambda passes k: k = 0 .. 2509.
    assert_eq!(sent, 2510);
    assert_eq!(times.len(), 2510);
    let nanos = |seconds: f64| Duration::from_nanos((seconds * 1e9).round() as u64);
    // Every instant, within a nanosecond of the real inverse of Lambda.
    for (k, time) in times.iter().enumerate() {
        let k = k as f64;
        let exact = if k < 1000.0 {
            (k / 250.0).sqrt()
        } else if k < 2000.0 {
            2.0 + (k - 1000.0) / 1000.0
        } else if k < 2500.0 {
            4.0 - ((2500.0 - k) / 500.0).sqrt()
        } else {
            5.0 + ((k - 2500.0) / 10.0).sqrt()
        };
        let gap = time.abs_diff(nanos(exact));
        assert!(
            gap <= Duration::from_nanos(1),
            "request {k} at {time:?}, exactly {exact} s"
        );
    }
    // Where the inverse is a round number, the exact nanosecond: request 10 m^2 at m / 5 s,
    // request 1000 + j at 2 s + j ms, request 2500 - 5 m^2 at 4 s - m / 10 s.
    for m in 0..10u64 {
        assert_eq!(times[(10 * m * m) as usize], Duration::from_millis(200 * m));
    }
    for j in 0..1000u64 {
        assert_eq!(times[(1000 + j) as usize], Duration::from_millis(2000 + j));
    }
    for m in 1..=10u64 {
        assert_eq!(
            times[(2500 - 5 * m * m) as usize],
            Duration::from_millis(4000 - 100 * m)
        );
    }
    // The stage at 0/s sends nothing; the next starts at its first instant.
    assert_eq!(within(&times, 4.0, 5.0), 0);
    assert_eq!(times[2500], Duration::from_secs(5));
    assert_eq!(
        [(0.0, 2.0), (2.0, 3.0), (3.0, 4.0), (5.0, 6.0)].map(|(a, b)| within(&times, a, b)),
        [1000, 1000, 500, 10]
    );
}

#[test]
fn replay_sends_at_exactly_the_given_times() {
    let given = [0, 250, 250, 900, 1500, 1999, 2000, 5000].map(Duration::from_millis);
    let (times, sent) = arrivals(Workload::replay(given), Duration::from_secs(2), 0);
    // Times at or past the 2 s duration are not sent.
    assert_eq!(times, given[..6]);
    assert_eq!(sent, 6);
}

/// A fresh directory for this test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("microsim-load-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A scenario whose workload `w` replays `replay` into a service without work.
fn replay_scenario(replay: &str) -> String {
    format!(
        "[simulation]\nduration = \"3s\"\ndefault_latency = {{ constant = \"0s\" }}\n\n\
         [services.api]\n\n[workloads.w]\ntarget = \"api\"\nopen = {{ replay = \"{replay}\" }}\n"
    )
}

#[test]
fn a_replay_file_is_read_beside_its_scenario_with_units_and_comments() {
    let dir = scratch("replay");
    std::fs::write(
        dir.join("times.csv"),
        "# seconds from the start\n0.25\n\n\"500ms\"\n750ms   # a comment after a time\n\
         1.5 s\r\n1.5\n2.000000001\n3\n10\n",
    )
    .unwrap();
    let path = dir.join("trace.toml");
    std::fs::write(&path, replay_scenario("times.csv")).unwrap();
    let scenario = Scenario::load(&path).unwrap();
    let report = scenario.to_simulation(None).unwrap().run().unwrap();
    let w = &report.workloads["w"];
    // 0.25, 0.5, 0.75, 1.5, 1.5 and 2.000000001 s; 3 s and 10 s are at or past the duration.
    assert_eq!(w.counts.sent, 6);
    assert_eq!(w.counts.completed, 6);
    // No work, no latency: the last request ends the run at its own instant.
    assert_eq!(report.drained_seconds, 2.000000001);
    // The same times through the Rust API: the same instants.
    let (times, _) = arrivals(
        Workload::replay(
            [250, 500, 750, 1500, 1500]
                .map(Duration::from_millis)
                .into_iter()
                .chain([Duration::from_nanos(2_000_000_001), Duration::from_secs(3)]),
        ),
        Duration::from_secs(3),
        0,
    );
    assert_eq!(times.last(), Some(&Duration::from_nanos(2_000_000_001)));
    assert_eq!(times.len(), 6);

    // Parsed from text, a relative path is relative to the current directory; an absolute
    // one is itself.
    let absolute = dir.join("times.csv");
    let text = replay_scenario(&absolute.display().to_string());
    assert!(Scenario::parse(&text, "text.toml").is_ok());
    let relative = Scenario::parse(&replay_scenario("times.csv"), "text.toml").unwrap_err();
    assert!(
        relative
            .to_string()
            .starts_with("text.toml:9:19: workloads.w.open.replay: cannot read times.csv: "),
        "{relative}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_replay_line_is_located_in_both_files() {
    let dir = scratch("replay-errors");
    let cases = [
        (
            "0.5\n# fine so far\nsoon\n",
            "trace.toml:9:19: workloads.w.open.replay: times.csv:3: duration \"soon\" does not \
             start with a finite decimal number such as 250 or 1.5; a time is seconds (0.25) or a \
             duration with a unit (250ms)",
        ),
        (
            "1\n2s\n\n1500ms\n",
            "trace.toml:9:19: workloads.w.open.replay: times.csv:4: replayed times must not \
             decrease: 1.5s comes after 2s",
        ),
        (
            "0.1\n-0.2\n",
            "trace.toml:9:19: workloads.w.open.replay: times.csv:2: duration \"-0.2\" is \
             negative; durations must be zero or more; a time is seconds (0.25) or a duration \
             with a unit (250ms)",
        ),
        (
            "1\n2 fortnights\n",
            "trace.toml:9:19: workloads.w.open.replay: times.csv:2: duration \"2 fortnights\" \
             has unknown unit \"fortnights\"; use one of ns, us, ms, s, m, h; a time is seconds \
             (0.25) or a duration with a unit (250ms)",
        ),
        (
            "1\n876001h\n",
            "trace.toml:9:19: workloads.w.open.replay: times.csv:2: a replayed time must be at \
             most 876000h (100 years: the clock counts 584 years, and a run adds durations \
             together), got 3153603600s",
        ),
        (
            "# only a comment\n\n",
            "trace.toml:9:19: workloads.w.open.replay: times.csv: replay holds no times: the \
             workload would send nothing",
        ),
    ];
    let path = dir.join("trace.toml");
    std::fs::write(&path, replay_scenario("times.csv")).unwrap();
    for (csv, expected) in cases {
        std::fs::write(dir.join("times.csv"), csv).unwrap();
        let error = Scenario::load(&path).unwrap_err().to_string();
        assert_eq!(error, expected, "{csv:?}");
    }
    // The engine's own rule, through the Rust API, names the time by its index.
    let mut sim = Simulation::builder().build().unwrap();
    let api = sim
        .add_service("api", Recorder::default(), Capacity::unlimited())
        .unwrap();
    let error = sim
        .add_workload(
            "w",
            &api,
            Workload::replay([ms(1000), ms(2000), ms(1500)]),
            |_| (),
        )
        .unwrap_err();
    assert_eq!(error.field().unwrap().to_string(), "open.replay[2]");
    assert_eq!(
        error.reason(),
        "replayed times must not decrease: 1.5s comes after 2s"
    );
    std::fs::remove_file(dir.join("times.csv")).unwrap();
    let missing = Scenario::load(&path).unwrap_err().to_string();
    // Named as written, then where it was looked for: beside the scenario file.
    assert!(
        missing.starts_with("trace.toml:9:19: workloads.w.open.replay: cannot read times.csv: ")
            && missing.ends_with(&format!("(looked for {})", dir.join("times.csv").display())),
        "{missing}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn closed_stages_keep_the_staged_number_of_users_active() {
    // Users think 100 ms, and their requests take no time: each active user sends ten a
    // second. 0 -> 10 users over 2 s, 10 for 5 s, 10 -> 30 over 2 s, 30 for 5 s, 30 -> 0 in
    // 1 s.
    let think = Distribution::constant(ms(100));
    let staged = Workload::closed_stages(
        0,
        think,
        [
            Stage::new(Duration::from_secs(2), 10),
            Stage::new(Duration::from_secs(5), 10),
            Stage::new(Duration::from_secs(2), 30),
            Stage::new(Duration::from_secs(5), 30),
            Stage::new(Duration::from_secs(1), 0),
        ],
    );
    let (times, sent) = arrivals(staged, Duration::from_secs(16), 0);
    assert_eq!(sent as usize, times.len());
    // User i is active once round(5 t) > i, from t = (i + 0.5) / 5 s, and sends after one
    // think: the first request at 0.2 s.
    assert_eq!(times[0], ms(200));
    // On the way up each user i < 9 sends at (i + 0.5) / 5 + 0.1 k s for k >= 1 before 2 s:
    // 18 - 2 i requests (user 9 starts at 1.9 s and sends first at 2 s).
    let ramp_up: usize = (0..9).map(|i| 18 - 2 * i).sum();
    assert_eq!(within(&times, 0.0, 2.0), ramp_up);
    // Each plateau: every user sends once per 100 ms, so a 5 s window holds 50 each,
    // exactly (the users' instants fall on a 50 ms grid, none on the window's edges twice).
    assert_eq!(within(&times, 2.0, 7.0), 10 * 50);
    assert_eq!(within(&times, 9.0, 14.0), 30 * 50);
    // Each 100 ms of a plateau: one request per user.
    for tenth in 20..70 {
        let from = f64::from(tenth) / 10.0;
        assert_eq!(within(&times, from, from + 0.1), 10, "at {from} s");
    }
    // On the way down, user i stays while round(30 - 30 x) > i, x seconds after 14 s: while
    // 60 x <= 59 - 2 i. Users 0..10 send on the 100 ms grid from 14 s, users 10..30 (who
    // started at 7 s + (2 i - 19) * 50 ms) 50 ms off it; each sends at every instant of its
    // grid before it stops, and never again (the number only falls).
    let ramp_down: usize = (0..30u64)
        .map(|i| {
            let phase = if i < 10 { 0 } else { 50_000_000 };
            (0..10u64)
                .map(|k| phase + k * 100_000_000)
                .filter(|x| x * 60 <= (59 - 2 * i) * 1_000_000_000)
                .count()
        })
        .sum();
    assert_eq!(within(&times, 14.0, 15.0), ramp_down);
    // No user sends after the last stage.
    assert_eq!(within(&times, 15.0, 16.0), 0);
}

#[test]
fn files_and_the_rust_api_send_the_same_staged_load() {
    let file = "[simulation]\nduration = \"4s\"\nseed = 11\ndefault_latency = { constant = \"0s\" }\n\n\
                [services.api]\n\n\
                [workloads.w]\ntarget = \"api\"\n\
                open = { start_rate = 50.0, stages = [{ duration = \"2s\", target = 400.0 }, \
                { duration = \"1s\", target = 0.0 }] }\n\n\
                [workloads.paced]\ntarget = \"api\"\n\
                open = { start_rate = 50.0, arrivals = \"constant\", stages = [{ duration = \"2s\", target = 400.0 }] }\n\n\
                [workloads.users]\ntarget = \"api\"\n\
                closed = { think = { constant = \"50ms\" }, start_users = 2, stages = [{ duration = \"3s\", target = 7 }] }\n";
    let report = Scenario::parse(file, "staged.toml")
        .unwrap()
        .to_simulation(None)
        .unwrap()
        .run()
        .unwrap();
    let mut sim = Simulation::builder()
        .duration(Duration::from_secs(4))
        .seed(11)
        .default_latency(Distribution::ZERO)
        .build()
        .unwrap();
    let api = sim
        .add_service("api", Recorder::default(), Capacity::unlimited())
        .unwrap();
    let stages = [
        Stage::new(Duration::from_secs(2), 400.0),
        Stage::new(Duration::from_secs(1), 0.0),
    ];
    sim.add_workload("w", &api, Workload::poisson_stages(50.0, stages), |_| ())
        .unwrap();
    let paced = Workload::constant_stages(50.0, [Stage::new(Duration::from_secs(2), 400.0)]);
    sim.add_workload("paced", &api, paced, |_| ()).unwrap();
    let users = Workload::closed_stages(
        2,
        Distribution::constant(ms(50)),
        [Stage::new(Duration::from_secs(3), 7)],
    );
    sim.add_workload("users", &api, users, |_| ()).unwrap();
    let rust = sim.run().unwrap();
    // Paced: the integral of the rate, 50 * 2 + 350 = 450 requests exactly.
    assert_eq!(report.workloads["paced"].counts.sent, 450);
    for name in ["w", "paced", "users"] {
        assert_eq!(
            report.workloads[name].counts, rust.workloads[name].counts,
            "workload {name}"
        );
    }
    assert!(report.workloads["w"].counts.sent > 0);
}
