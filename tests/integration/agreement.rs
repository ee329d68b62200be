//! Both front ends give the same answer: each setting below is given once through the Rust API
//! and once in a scenario file, and both must accept it, or both reject it with the same
//! reason (the text after the location: `service api: ` in Rust, `bad.toml:5:11:
//! services.api.workers: ` in a file), the file pointing at the setting the engine names.
//!
//! The rows cover every range rule and bound of SCENARIOS.md's Errors section, the largest
//! integer TOML can write wherever a count is read, and the two settings on which the front
//! ends once disagreed (a breaker's window of 20 calls with the default
//! minimum; an open-loop rate of 2e9 per second).

use std::time::Duration;

use microsim::policy::{Backoff, CallPolicy, CircuitBreaker, Hedge, RateLimit, Retry, RetryBudget};
use microsim::scenario::{Scenario, ScenarioError};
use microsim::{
    Balancer, BuildError, Capacity, Distribution, Fault, Simulation, SimulationBuilder, Stage,
    Topic, WhenFull, Workload,
};

use crate::support::{Worker, ms};

/// Where a row puts its setting in the file.
#[derive(Clone, Copy)]
enum In {
    Simulation,
    Service,
    Topic,
    /// Replaces the workload's `open = { rate = 10.0 }`.
    Workload,
    /// Whole tables after the workload: `[[links]]`, `[[faults]]`, `[[policies]]`.
    Tables,
}

/// The file: `api` (one worker, calls `db`), `db`, a topic `orders`, a workload `w` to `api`.
fn file(place: In, text: &str) -> String {
    let at = |wanted: In| {
        if std::mem::discriminant(&place) == std::mem::discriminant(&wanted) {
            text
        } else {
            ""
        }
    };
    let workload = match place {
        In::Workload => text,
        _ => "open = { rate = 10.0 }",
    };
    format!(
        "[simulation]\n{}\n\n[services.api]\nsteps = [{{ call = \"db\" }}]\n{}\n\n\
         [services.db]\n\n[topics.orders]\n{}\n\n[workloads.w]\ntarget = \"api\"\n{workload}\n\n{}\n",
        if text.starts_with("duration") {
            text.to_string()
        } else {
            format!("duration = \"10s\"\n{}", at(In::Simulation))
        },
        at(In::Service),
        at(In::Topic),
        at(In::Tables),
    )
}

fn builder() -> SimulationBuilder {
    Simulation::builder().duration(Duration::from_secs(10))
}

fn settings(set: impl FnOnce(SimulationBuilder) -> SimulationBuilder) -> Result<(), BuildError> {
    set(builder()).build().map(|_| ())
}

fn service(capacity: Capacity, replicas: usize, balancer: Balancer) -> Result<(), BuildError> {
    let mut sim = builder().build()?;
    sim.add_replicated_service("api", Worker::constant(ms(1)), capacity, replicas, balancer)
        .map(|_| ())
}

fn workload(workload: Workload) -> Result<(), BuildError> {
    let mut sim = builder().build()?;
    let api = sim.add_service("api", Worker::constant(ms(1)), Capacity::default())?;
    sim.add_workload("w", &api, workload, |_| ())
}

fn topic(topic: Topic) -> Result<(), BuildError> {
    builder()
        .build()?
        .add_topic::<()>("orders", topic)
        .map(|_| ())
}

fn link(latency: Distribution) -> Result<(), BuildError> {
    builder().build()?.add_link("client", "api", latency)
}

fn fault(fault: Fault) -> Result<(), BuildError> {
    builder().build()?.add_fault(fault)
}

fn policy(policy: CallPolicy) -> Result<(), BuildError> {
    builder().build()?.add_policy("client", "api", policy)
}

fn breaker(breaker: CircuitBreaker) -> Result<(), BuildError> {
    policy(CallPolicy::new().circuit_breaker(breaker))
}

fn retry(retry: Retry) -> Result<(), BuildError> {
    policy(CallPolicy::new().retry(retry))
}

/// `open = { replay = "FILE" }` for a file of `times` written once per test run, named by
/// its absolute path (replay files are otherwise read beside the scenario file). Rejected
/// replays are not rows: the file's errors name the line of the file as well.
fn replay_file(times: &str) -> &'static str {
    let path = std::env::temp_dir().join(format!("microsim-agreement-{}.csv", std::process::id()));
    std::fs::write(&path, times).expect("a temporary file");
    let text = format!("open = {{ replay = {:?} }}", path.display().to_string());
    Box::leak(text.into_boxed_str())
}

/// One setting, both ways: the Rust API's result, where the file writes it, what it writes,
/// and the reason both must give (`None`: both accept).
struct Row {
    name: &'static str,
    rust: Result<(), BuildError>,
    place: In,
    toml: &'static str,
    reason: Option<&'static str>,
}

fn rows() -> Vec<Row> {
    use microsim::LogNormalStat::{Mean, P50, P90, P99, P999, StdDev};
    let s = Duration::from_secs;
    let row = |name, rust, place, toml, reason| Row {
        name,
        rust,
        place,
        toml,
        reason,
    };
    vec![
        // [simulation]
        row(
            "zero duration",
            settings(|b| b.duration(Duration::ZERO)),
            In::Simulation,
            "duration = \"0s\"",
            Some("duration must be greater than 0s"),
        ),
        row(
            "warm-up as long as the run",
            settings(|b| b.warmup(s(10))),
            In::Simulation,
            "warmup = \"10s\"",
            Some("warmup 10s leaves nothing to measure: it must be shorter than the duration 10s"),
        ),
        row(
            "a warm-up shorter than the run",
            settings(|b| b.warmup(s(9))),
            In::Simulation,
            "warmup = \"9s\"",
            None,
        ),
        row(
            "a timeline window of a second",
            settings(|b| b.timeline_window(s(1))),
            In::Simulation,
            "timeline_window = \"1s\"",
            None,
        ),
        row(
            "a zero timeline window",
            settings(|b| b.timeline_window(Duration::ZERO)),
            In::Simulation,
            "timeline_window = \"0s\"",
            Some("timeline_window must be greater than 0s"),
        ),
        row(
            "more timeline windows than a timeline holds",
            settings(|b| b.timeline_window(Duration::from_micros(100))),
            In::Simulation,
            "timeline_window = \"100us\"",
            Some(
                "timeline_window 100us cuts the duration 10s into 100000 windows, more than the \
                 10000 a timeline holds: make it at least 1ms",
            ),
        ),
        row(
            "zero call timeout",
            settings(|b| b.call_timeout(Duration::ZERO)),
            In::Simulation,
            "call_timeout = \"0s\"",
            Some("call_timeout must be greater than 0s"),
        ),
        row(
            "an inverted uniform default latency",
            settings(|b| b.default_latency(Distribution::uniform(ms(5), ms(1)))),
            In::Simulation,
            "default_latency = { uniform = { min = \"5ms\", max = \"1ms\" } }",
            Some("uniform min 5ms is greater than max 1ms"),
        ),
        row(
            "no events allowed at an instant",
            settings(|b| b.max_events_per_instant(0)),
            In::Simulation,
            "max_events_per_instant = 0",
            Some("max_events_per_instant must be at least 1, got 0"),
        ),
        row(
            "a billion events at an instant",
            settings(|b| b.max_events_per_instant(1_000_000_000)),
            In::Simulation,
            "max_events_per_instant = 1000000000",
            None,
        ),
        row(
            "more than a billion events at an instant",
            settings(|b| b.max_events_per_instant(i64::MAX as u64)),
            In::Simulation,
            "max_events_per_instant = 9223372036854775807",
            Some(
                "max_events_per_instant must be at most 1000000000 (a billion waits at one \
                 instant take minutes; a run that needs more is looping), got \
                 9223372036854775807",
            ),
        ),
        // [services.NAME]
        row(
            "zero workers",
            service(Capacity::workers(0), 1, Balancer::RoundRobin),
            In::Service,
            "workers = 0",
            Some("workers must be at least 1, got 0"),
        ),
        row(
            "a million and one workers",
            service(Capacity::workers(1_000_001), 1, Balancer::RoundRobin),
            In::Service,
            "workers = 1000001",
            Some(
                "workers must be at most 1000000 (each busy worker is an actor of about 10 KB; \
                 use \"unlimited\" for a service whose every request starts at once), got 1000001",
            ),
        ),
        row(
            "the largest TOML integer of workers (once a capacity overflow)",
            service(
                Capacity::workers(i64::MAX as usize),
                1,
                Balancer::RoundRobin,
            ),
            In::Service,
            "workers = 9223372036854775807",
            Some(
                "workers must be at most 1000000 (each busy worker is an actor of about 10 KB; \
                 use \"unlimited\" for a service whose every request starts at once), got \
                 9223372036854775807",
            ),
        ),
        row(
            "unlimited workers",
            service(Capacity::unlimited(), 1, Balancer::RoundRobin),
            In::Service,
            "workers = \"unlimited\"",
            None,
        ),
        row(
            "unlimited workers with a queue bound",
            service(Capacity::unlimited().with_queue(5), 1, Balancer::RoundRobin),
            In::Service,
            "workers = \"unlimited\"\nqueue = 5",
            Some(
                "an unlimited service starts every request at once and never queues: remove the \
                 queue bound, or give it a number of workers",
            ),
        ),
        row(
            "the largest queue bound",
            service(
                Capacity::workers(1).with_queue(i64::MAX as usize),
                1,
                Balancer::RoundRobin,
            ),
            In::Service,
            "queue = 9223372036854775807",
            None,
        ),
        row(
            "a queue of zero",
            service(Capacity::workers(2).with_queue(0), 1, Balancer::RoundRobin),
            In::Service,
            "workers = 2\nqueue = 0",
            None,
        ),
        row(
            "zero replicas",
            service(Capacity::default(), 0, Balancer::RoundRobin),
            In::Service,
            "replicas = 0",
            Some("replicas must be at least 1, got 0"),
        ),
        row(
            "ten thousand replicas",
            service(Capacity::default(), 10_000, Balancer::RoundRobin),
            In::Service,
            "replicas = 10000",
            None,
        ),
        row(
            "ten thousand and one replicas",
            service(Capacity::default(), 10_001, Balancer::RoundRobin),
            In::Service,
            "replicas = 10001",
            Some(
                "replicas must be at most 10000 (each replica is started with the run: a \
                 supervisor actor with its own queue, state and statistics; model a larger fleet \
                 as fewer replicas with more workers), got 10001",
            ),
        ),
        row(
            "the largest TOML integer of replicas",
            service(Capacity::default(), i64::MAX as usize, Balancer::RoundRobin),
            In::Service,
            "replicas = 9223372036854775807",
            Some(
                "replicas must be at most 10000 (each replica is started with the run: a \
                 supervisor actor with its own queue, state and statistics; model a larger fleet \
                 as fewer replicas with more workers), got 9223372036854775807",
            ),
        ),
        row(
            "a zero peak-EWMA decay",
            service(
                Capacity::default(),
                2,
                Balancer::PeakEwma {
                    decay: Duration::ZERO,
                },
            ),
            In::Service,
            "replicas = 2\nbalancer = \"peak_ewma\"\nbalancer_decay = \"0s\"",
            Some("balancer_decay must be greater than 0s"),
        ),
        // [[links]]
        row(
            "a Pareto latency with a negative shape",
            link(Distribution::pareto(ms(1), -1.5)),
            In::Tables,
            "[[links]]\nfrom = \"client\"\nto = \"api\"\nlatency = { pareto = { scale = \"1ms\", shape = -1.5 } }",
            Some("pareto shape must be a finite number > 0, got -1.5"),
        ),
        // [workloads.NAME]
        row(
            "a zero rate",
            workload(Workload::poisson(0.0)),
            In::Workload,
            "open = { rate = 0.0 }",
            Some("rate must be a finite number of requests per second > 0, got 0"),
        ),
        row(
            "a NaN rate",
            workload(Workload::constant_rate(f64::NAN)),
            In::Workload,
            "open = { rate = nan, arrivals = \"constant\" }",
            Some("rate must be a finite number of requests per second > 0, got NaN"),
        ),
        row(
            "a rate above one per nanosecond (once accepted by the Rust API only)",
            workload(Workload::poisson(2e9)),
            In::Workload,
            "open = { rate = 2e9 }",
            Some(
                "rate must be at most 1e9 requests per second (one per nanosecond), got 2000000000",
            ),
        ),
        row(
            "a rate of one per nanosecond",
            workload(Workload::poisson(1e9)),
            In::Workload,
            "open = { rate = 1e9 }",
            None,
        ),
        row(
            "no users",
            workload(Workload::closed(0, Distribution::constant(s(1)))),
            In::Workload,
            "closed = { users = 0, think = { constant = \"1s\" } }",
            Some("users must be at least 1, got 0"),
        ),
        row(
            "a million users",
            workload(Workload::closed(1_000_000, Distribution::constant(s(1)))),
            In::Workload,
            "closed = { users = 1000000, think = { constant = \"1s\" } }",
            None,
        ),
        row(
            "a million and one users",
            workload(Workload::closed(1_000_001, Distribution::constant(s(1)))),
            In::Workload,
            "closed = { users = 1000001, think = { constant = \"1s\" } }",
            Some(
                "users must be at most 1000000 (each user is a task of its own; an open workload \
                 sends any rate from one), got 1000001",
            ),
        ),
        row(
            "the largest TOML integer of users",
            workload(Workload::closed(
                i64::MAX as usize,
                Distribution::constant(s(1)),
            )),
            In::Workload,
            "closed = { users = 9223372036854775807, think = { constant = \"1s\" } }",
            Some(
                "users must be at most 1000000 (each user is a task of its own; an open workload \
                 sends any rate from one), got 9223372036854775807",
            ),
        ),
        row(
            "an empty empirical think time",
            workload(Workload::closed(3, Distribution::empirical(Vec::new()))),
            In::Workload,
            "closed = { users = 3, think = { empirical = { samples = [] } } }",
            Some("empirical distribution has no samples; give at least one"),
        ),
        row(
            "a zero workload timeout",
            workload(Workload::poisson(10.0).with_timeout(Duration::ZERO)),
            In::Workload,
            "open = { rate = 10.0 }\ntimeout = \"0s\"",
            Some("timeout must be greater than 0s"),
        ),
        // [topics.NAME]
        row(
            "a zero ack timeout",
            topic(Topic::at_least_once(Duration::ZERO, 5)),
            In::Topic,
            "delivery = \"at_least_once\"\nack_timeout = \"0s\"",
            Some("ack_timeout must be greater than 0s"),
        ),
        row(
            "zero max deliveries",
            topic(Topic::at_least_once(Topic::DEFAULT_ACK_TIMEOUT, 0)),
            In::Topic,
            "delivery = \"at_least_once\"\nmax_deliveries = 0",
            Some("max_deliveries must be at least 1, got 0"),
        ),
        row(
            "a zero capacity",
            topic(Topic::at_most_once().with_capacity(0, WhenFull::Reject)),
            In::Topic,
            "capacity = 0\nwhen_full = \"reject\"",
            Some("capacity must be at least 1, got 0"),
        ),
        row(
            "an inverted uniform broker latency",
            topic(Topic::at_most_once().with_broker_latency(Distribution::uniform(ms(5), ms(1)))),
            In::Topic,
            "broker_latency = { uniform = { min = \"5ms\", max = \"1ms\" } }",
            Some("uniform min 5ms is greater than max 1ms"),
        ),
        // [[faults]]
        row(
            "a zero slowdown factor",
            fault(Fault::slow("api", 0.0)),
            In::Tables,
            "[[faults]]\nslow = \"api\"\nfactor = 0.0",
            Some("factor must be a finite number > 0 (3.0 = three times slower), got 0"),
        ),
        row(
            "a fail probability above 1",
            fault(Fault::fail("api", 1.5)),
            In::Tables,
            "[[faults]]\nfail = \"api\"\nprobability = 1.5",
            Some("probability must be within [0, 1] (0.1 = one in ten), got 1.5"),
        ),
        row(
            "a negative loss probability",
            fault(Fault::loss("client", "api", -0.1)),
            In::Tables,
            "[[faults]]\nloss = [\"client\", \"api\"]\nprobability = -0.1",
            Some("probability must be within [0, 1] (0.1 = one in ten), got -0.1"),
        ),
        row(
            "a loss between a service and itself",
            fault(Fault::loss("api", "api", 0.5)),
            In::Tables,
            "[[faults]]\nloss = [\"api\", \"api\"]\nprobability = 0.5",
            Some("a loss fault needs two different sides, got \"api\" twice"),
        ),
        row(
            "a fault that lasts no time",
            fault(Fault::crash("api").lasting(Duration::ZERO)),
            In::Tables,
            "[[faults]]\ncrash = \"api\"\nlasting = \"0s\"",
            Some("lasting must be greater than 0s"),
        ),
        // [[policies]]
        row(
            "a zero timeout",
            policy(CallPolicy::new().timeout(Duration::ZERO)),
            In::Tables,
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\ntimeout = \"0s\"",
            Some("timeout must be greater than 0s"),
        ),
        row(
            "zero attempts",
            retry(Retry::attempts(0)),
            In::Tables,
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\nretry = { max_attempts = 0 }",
            Some("max_attempts counts the first attempt too, so it must be at least 1, got 0"),
        ),
        row(
            "a zero backoff base",
            retry(Retry::default().backoff(Backoff::exponential_from(Duration::ZERO))),
            In::Tables,
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\nretry = { base = \"0s\" }",
            Some("base must be greater than 0s"),
        ),
        row(
            "a backoff cap below its base",
            retry(Retry::default().backoff(Backoff::exponential(ms(50), ms(10)))),
            In::Tables,
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\nretry = { base = \"50ms\", cap = \"10ms\" }",
            Some("cap 10ms is below base 50ms: the longest wait cannot be shorter than the first"),
        ),
        row(
            "a budget ratio above 1",
            retry(Retry::default().budget(RetryBudget::ratio(1.2))),
            In::Tables,
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\nretry = { budget = { ratio = 1.2 } }",
            Some("ratio must be within [0, 1] (0.2 = retries may add 20% to the calls), got 1.2"),
        ),
        row(
            "a negative budget floor",
            retry(Retry::default().budget(RetryBudget::ratio(0.2).min_per_second(-1.0))),
            In::Tables,
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\nretry = { budget = { ratio = 0.2, min_per_second = -1.0 } }",
            Some("min_per_second must be a finite number >= 0, got -1"),
        ),
        row(
            "a zero budget window",
            retry(Retry::default().budget(RetryBudget::ratio(0.2).window(Duration::ZERO))),
            In::Tables,
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\nretry = { budget = { ratio = 0.2, window = \"0s\" } }",
            Some("window must be greater than 0s"),
        ),
        row(
            "a failure rate of 0",
            breaker(CircuitBreaker::default().failure_rate(0.0)),
            In::Tables,
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\ncircuit_breaker = { failure_rate = 0.0 }",
            Some("failure_rate must be within (0, 1] (a share of calls: 0.5 = half), got 0"),
        ),
        row(
            "a window of zero calls",
            breaker(CircuitBreaker::default().window_calls(0)),
            In::Tables,
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\ncircuit_breaker = { window_calls = 0 }",
            Some("window_calls must be at least 1, got 0"),
        ),
        row(
            "a window of 20 calls and the default minimum (once rejected by the Rust API only)",
            breaker(CircuitBreaker::default().window_calls(20)),
            In::Tables,
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\ncircuit_breaker = { window_calls = 20 }",
            None,
        ),
        row(
            "a zero time window",
            breaker(CircuitBreaker::default().window_time(Duration::ZERO)),
            In::Tables,
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\ncircuit_breaker = { window_time = \"0s\" }",
            Some("window_time must be greater than 0s"),
        ),
        row(
            "a minimum above the window",
            breaker(CircuitBreaker::default().window_calls(10).minimum_calls(20)),
            In::Tables,
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\ncircuit_breaker = { window_calls = 10, minimum_calls = 20 }",
            Some(
                "minimum_calls 20 exceeds its window_calls of 10, so the breaker could never open",
            ),
        ),
        row(
            "a minimum above the default window",
            breaker(CircuitBreaker::default().minimum_calls(200)),
            In::Tables,
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\ncircuit_breaker = { minimum_calls = 200 }",
            Some(
                "minimum_calls 200 exceeds its window_calls of 100, so the breaker could never open",
            ),
        ),
        row(
            "a zero minimum",
            breaker(CircuitBreaker::default().minimum_calls(0)),
            In::Tables,
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\ncircuit_breaker = { minimum_calls = 0 }",
            Some("minimum_calls must be at least 1, got 0"),
        ),
        row(
            "open for no time",
            breaker(CircuitBreaker::default().open_for(Duration::ZERO)),
            In::Tables,
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\ncircuit_breaker = { open_for = \"0s\" }",
            Some("open_for must be greater than 0s"),
        ),
        row(
            "no trial calls",
            breaker(CircuitBreaker::default().trial_calls(0)),
            In::Tables,
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\ncircuit_breaker = { trial_calls = 0 }",
            Some("trial_calls must be at least 1, got 0"),
        ),
        row(
            "a zero slow-call threshold",
            breaker(CircuitBreaker::default().slow_call(Duration::ZERO)),
            In::Tables,
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\ncircuit_breaker = { slow_call = \"0s\" }",
            Some("slow_call must be greater than 0s"),
        ),
        row(
            "a zero bulkhead",
            policy(CallPolicy::new().bulkhead(0)),
            In::Tables,
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\nbulkhead = 0",
            Some("bulkhead must be at least 1, got 0"),
        ),
        row(
            "a zero rate limit",
            policy(CallPolicy::new().rate_limit(RateLimit::per_second(0.0))),
            In::Tables,
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\nrate_limit = { per_second = 0.0 }",
            Some("per_second must be a finite number > 0 and at most 1e9, got 0"),
        ),
        row(
            "a rate limit above one per nanosecond",
            policy(CallPolicy::new().rate_limit(RateLimit::per_second(2e9))),
            In::Tables,
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\nrate_limit = { per_second = 2e9 }",
            Some("per_second must be a finite number > 0 and at most 1e9, got 2000000000"),
        ),
        row(
            "a zero burst",
            policy(CallPolicy::new().rate_limit(RateLimit::per_second(10.0).burst(0))),
            In::Tables,
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\nrate_limit = { per_second = 10.0, burst = 0 }",
            Some("burst must be at least 1, got 0"),
        ),
        row(
            "a hedge at the 100th percentile",
            policy(CallPolicy::new().hedge(Hedge::at_percentile(100.0))),
            In::Tables,
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\nhedge = { percentile = 100.0 }",
            Some("percentile must be within (0, 100), e.g. 95, got 100"),
        ),
        row(
            "a percentile hedge that needs no samples",
            policy(CallPolicy::new().hedge(Hedge::Percentile {
                percentile: 95.0,
                min_samples: 0,
            })),
            In::Tables,
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\nhedge = { percentile = 95.0, min_samples = 0 }",
            Some("min_samples must be at least 1, got 0"),
        ),
        row(
            "a whole valid policy",
            policy(
                CallPolicy::new()
                    .timeout(ms(200))
                    .retry(Retry::attempts(3).budget(RetryBudget::ratio(0.2)))
                    .circuit_breaker(CircuitBreaker::default().window_calls(50).minimum_calls(20))
                    .bulkhead(25)
                    .rate_limit(RateLimit::per_second(100.0))
                    .hedge(Hedge::at_percentile(95.0)),
            ),
            In::Tables,
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\ntimeout = \"200ms\"\n\
             retry = { max_attempts = 3, budget = { ratio = 0.2 } }\n\
             circuit_breaker = { window_calls = 50, minimum_calls = 20 }\nbulkhead = 25\n\
             rate_limit = { per_second = 100.0 }\nhedge = { percentile = 95.0 }",
            None,
        ),
        // Load that changes: stages of rates or users, and replayed times.
        row(
            "a ramp up from nothing and down again",
            workload(Workload::poisson_stages(
                0.0,
                [Stage::new(s(5), 100.0), Stage::new(s(5), 0.0)],
            )),
            In::Workload,
            "open = { start_rate = 0.0, stages = [{ duration = \"5s\", target = 100.0 }, { duration = \"5s\", target = 0.0 }] }",
            None,
        ),
        row(
            "paced stages",
            workload(Workload::constant_stages(10.0, [Stage::new(s(10), 20.0)])),
            In::Workload,
            "open = { start_rate = 10.0, stages = [{ duration = \"10s\", target = 20.0 }], arrivals = \"constant\" }",
            None,
        ),
        row(
            "stages longer than the run",
            workload(Workload::poisson_stages(
                1.0,
                [Stage::new(s(6), 10.0), Stage::new(s(5), 10.0)],
            )),
            In::Workload,
            "open = { start_rate = 1.0, stages = [{ duration = \"6s\", target = 10.0 }, { duration = \"5s\", target = 10.0 }] }",
            Some(
                "the stages last 11s in all, longer than simulation.duration 10s: no request is sent \
                 after the duration, so the last stages would be cut; lengthen the duration or \
                 shorten the stages",
            ),
        ),
        row(
            "no stages",
            workload(Workload::poisson_stages(1.0, [])),
            In::Workload,
            "open = { start_rate = 1.0, stages = [] }",
            Some("stages must hold at least one stage such as { duration = \"1m\", target = 100 }"),
        ),
        row(
            "a stage that lasts no time",
            workload(Workload::poisson_stages(1.0, [Stage::new(s(0), 10.0)])),
            In::Workload,
            "open = { stages = [{ duration = \"0s\", target = 10.0 }] }",
            Some("duration must be greater than 0s"),
        ),
        row(
            "a negative stage target",
            workload(Workload::poisson_stages(
                0.0,
                [Stage::new(s(1), 10.0), Stage::new(s(1), -1.0)],
            )),
            In::Workload,
            "open = { stages = [{ duration = \"1s\", target = 10.0 }, { duration = \"1s\", target = -1.0 }] }",
            Some("target must be a finite number of requests per second >= 0, got -1"),
        ),
        row(
            "a negative start rate",
            workload(Workload::poisson_stages(-1.0, [Stage::new(s(1), 10.0)])),
            In::Workload,
            "open = { start_rate = -1.0, stages = [{ duration = \"1s\", target = 10.0 }] }",
            Some("start_rate must be a finite number of requests per second >= 0, got -1"),
        ),
        row(
            "stages whose rate is zero throughout",
            workload(Workload::poisson_stages(
                0.0,
                [Stage::new(s(1), 0.0), Stage::new(s(1), 0.0)],
            )),
            In::Workload,
            "open = { stages = [{ duration = \"1s\", target = 0.0 }, { duration = \"1s\", target = 0.0 }] }",
            Some(
                "the rate is 0 from start_rate to every stage's target: the workload would send nothing",
            ),
        ),
        row(
            "users in stages",
            workload(Workload::closed_stages(
                0,
                Distribution::constant(ms(100)),
                [Stage::new(s(5), 10), Stage::new(s(5), 0)],
            )),
            In::Workload,
            "closed = { think = { constant = \"100ms\" }, stages = [{ duration = \"5s\", target = 10 }, { duration = \"5s\", target = 0 }] }",
            None,
        ),
        row(
            "users that are zero in every stage",
            workload(Workload::closed_stages(
                0,
                Distribution::constant(ms(100)),
                [Stage::new(s(5), 0)],
            )),
            In::Workload,
            "closed = { start_users = 0, think = { constant = \"100ms\" }, stages = [{ duration = \"5s\", target = 0 }] }",
            Some(
                "the users are 0 from start_users to every stage's target: the workload would send nothing",
            ),
        ),
        row(
            "a stage of a million and one users",
            workload(Workload::closed_stages(
                1,
                Distribution::constant(ms(100)),
                [Stage::new(s(5), 1_000_001)],
            )),
            In::Workload,
            "closed = { start_users = 1, think = { constant = \"100ms\" }, stages = [{ duration = \"5s\", target = 1000001 }] }",
            Some(
                "target must be at most 1000000 (each user is a task of its own; an open workload sends any rate from one), got 1000001",
            ),
        ),
        row(
            "a start of a million and one users",
            workload(Workload::closed_stages(
                1_000_001,
                Distribution::constant(ms(100)),
                [Stage::new(s(5), 1)],
            )),
            In::Workload,
            "closed = { start_users = 1000001, think = { constant = \"100ms\" }, stages = [{ duration = \"5s\", target = 1 }] }",
            Some(
                "start_users must be at most 1000000 (each user is a task of its own; an open workload sends any rate from one), got 1000001",
            ),
        ),
        row(
            "user stages longer than the run",
            workload(Workload::closed_stages(
                1,
                Distribution::constant(ms(100)),
                [Stage::new(s(20), 1)],
            )),
            In::Workload,
            "closed = { start_users = 1, think = { constant = \"100ms\" }, stages = [{ duration = \"20s\", target = 1 }] }",
            Some(
                "the stages last 20s in all, longer than simulation.duration 10s: no request is sent \
                 after the duration, so the last stages would be cut; lengthen the duration or \
                 shorten the stages",
            ),
        ),
        row(
            "replayed times, some past the run",
            workload(Workload::replay([0, 250, 250, 12_000].map(ms))),
            In::Workload,
            replay_file("0\n250ms\n\"250ms\"\n12\n"),
            None,
        ),
        // A lognormal given by two measured statistics.
        row(
            "a lognormal from its p50 and p99",
            link(Distribution::lognormal_fit(P50(ms(20)), P99(ms(80)))),
            In::Tables,
            "[[links]]\nfrom = \"client\"\nto = \"api\"\nlatency = { lognormal = { p50 = \"20ms\", p99 = \"80ms\" } }",
            None,
        ),
        row(
            "a lognormal from its mean and p999",
            link(Distribution::lognormal_fit(Mean(ms(3)), P999(ms(90)))),
            In::Tables,
            "[[links]]\nfrom = \"client\"\nto = \"api\"\nlatency = { lognormal = { mean = \"3ms\", p999 = \"90ms\" } }",
            None,
        ),
        row(
            "a lognormal whose p99 is below its p50",
            link(Distribution::lognormal_fit(P50(ms(20)), P99(ms(10)))),
            In::Tables,
            "[[links]]\nfrom = \"client\"\nto = \"api\"\nlatency = { lognormal = { p50 = \"20ms\", p99 = \"10ms\" } }",
            Some(
                "lognormal p99 (10ms) must be greater than p50 (20ms): a larger percentile cannot be faster",
            ),
        ),
        row(
            "a lognormal whose p999 equals its p90",
            link(Distribution::lognormal_fit(P999(ms(20)), P90(ms(20)))),
            In::Tables,
            "[[links]]\nfrom = \"client\"\nto = \"api\"\nlatency = { lognormal = { p90 = \"20ms\", p999 = \"20ms\" } }",
            Some(
                "lognormal p999 (20ms) must be greater than p90 (20ms): a larger percentile cannot be faster",
            ),
        ),
        row(
            "a lognormal of one statistic",
            link(Distribution::LogNormalFit {
                stats: vec![P50(ms(20))],
            }),
            In::Tables,
            "[[links]]\nfrom = \"client\"\nto = \"api\"\nlatency = { lognormal = { p50 = \"20ms\" } }",
            Some(
                "lognormal takes exactly two of mean, p50, p90, p99 and p999 (or mean and std_dev), got only p50",
            ),
        ),
        row(
            "a lognormal of three statistics",
            link(Distribution::LogNormalFit {
                stats: vec![Mean(ms(30)), P50(ms(20)), P99(ms(80))],
            }),
            In::Tables,
            "[[links]]\nfrom = \"client\"\nto = \"api\"\nlatency = { lognormal = { mean = \"30ms\", p50 = \"20ms\", p99 = \"80ms\" } }",
            Some(
                "lognormal takes exactly two of mean, p50, p90, p99 and p999 (or mean and std_dev), got 3: \
                 mean, p50 and p99",
            ),
        ),
        row(
            "a lognormal with no statistics",
            link(Distribution::LogNormalFit { stats: vec![] }),
            In::Tables,
            "[[links]]\nfrom = \"client\"\nto = \"api\"\nlatency = { lognormal = {} }",
            Some(
                "lognormal takes exactly two of mean, p50, p90, p99 and p999 (or mean and std_dev), got none",
            ),
        ),
        row(
            "a lognormal mean equal to its p50",
            link(Distribution::lognormal_fit(Mean(ms(20)), P50(ms(20)))),
            In::Tables,
            "[[links]]\nfrom = \"client\"\nto = \"api\"\nlatency = { lognormal = { mean = \"20ms\", p50 = \"20ms\" } }",
            Some(
                "lognormal mean (20ms) must be greater than p50 (20ms): a lognormal's mean exceeds its median",
            ),
        ),
        row(
            "a lognormal mean too small for its p99",
            link(Distribution::lognormal_fit(Mean(ms(2)), P99(ms(80)))),
            In::Tables,
            "[[links]]\nfrom = \"client\"\nto = \"api\"\nlatency = { lognormal = { mean = \"2ms\", p99 = \"80ms\" } }",
            Some(
                "lognormal mean (2ms) is too small for p99 (80ms): a lognormal with that p99 has a mean of \
                 at least 5344.562us",
            ),
        ),
        row(
            "a lognormal mean at the least its p99 allows",
            link(Distribution::lognormal_fit(
                Mean(Duration::from_nanos(5_344_562)),
                P99(ms(80)),
            )),
            In::Tables,
            "[[links]]\nfrom = \"client\"\nto = \"api\"\nlatency = { lognormal = { mean = \"5344.562us\", p99 = \"80ms\" } }",
            None,
        ),
        row(
            "a lognormal std_dev with a percentile",
            link(Distribution::lognormal_fit(P90(ms(3)), StdDev(ms(1)))),
            In::Tables,
            "[[links]]\nfrom = \"client\"\nto = \"api\"\nlatency = { lognormal = { std_dev = \"1ms\", p90 = \"3ms\" } }",
            Some(
                "lognormal std_dev goes only with mean, not with p90: give mean and std_dev, or two of mean, \
                 p50, p90, p99 and p999",
            ),
        ),
        row(
            "a lognormal p50 of zero",
            link(Distribution::lognormal_fit(
                P50(Duration::ZERO),
                P99(ms(80)),
            )),
            In::Tables,
            "[[links]]\nfrom = \"client\"\nto = \"api\"\nlatency = { lognormal = { p50 = \"0s\", p99 = \"80ms\" } }",
            Some(
                "lognormal p50 must be greater than 0s, got 0s: a lognormal's values are all above zero",
            ),
        ),
        row(
            "a lognormal p99 past the bound",
            link(Distribution::lognormal_fit(
                P50(ms(1)),
                P99(s(900_000 * 3600)),
            )),
            In::Tables,
            "[[links]]\nfrom = \"client\"\nto = \"api\"\nlatency = { lognormal = { p50 = \"1ms\", p99 = \"900000h\" } }",
            Some(
                "lognormal p99 must be at most 876000h (100 years: the clock counts 584 years, and a run adds \
                 durations together), got 3240000000s",
            ),
        ),
        row(
            "a lognormal mean and std_dev, the other way to write them",
            link(Distribution::lognormal_fit(StdDev(ms(1)), Mean(ms(2)))),
            In::Tables,
            "[[links]]\nfrom = \"client\"\nto = \"api\"\nlatency = { lognormal = { std_dev = \"1ms\", mean = \"2ms\" } }",
            None,
        ),
    ]
}

#[test]
fn the_rust_api_and_scenario_files_accept_and_reject_the_same_settings() {
    let rows = rows();
    assert!(rows.len() >= 45, "{} rows", rows.len());
    let mut disagreements = Vec::new();
    for row in rows {
        let text = file(row.place, row.toml);
        let parsed = Scenario::parse(&text, "bad.toml");
        let rust = row
            .rust
            .as_ref()
            .map_err(|e| (e.reason(), e.field().cloned()));
        let file_result = parsed.as_ref().map(|_| ()).map_err(|e| match e {
            ScenarioError::Invalid { key, message, .. } => (message.clone(), key.clone()),
            other => (other.to_string(), String::new()),
        });
        match (row.reason, &rust, &file_result) {
            (None, Ok(()), Ok(())) => {}
            (Some(reason), Err((rust_reason, field)), Err((file_reason, key)))
                if rust_reason == reason && file_reason == reason =>
            {
                // The file points at the setting the engine names.
                let field = field.as_ref().map(ToString::to_string).unwrap_or_default();
                if !key.ends_with(&field) {
                    disagreements.push(format!(
                        "{}: the file points at {key:?}, the engine names {field:?}",
                        row.name
                    ));
                }
            }
            _ => disagreements.push(format!(
                "{}: expected {:?}\n  Rust API: {rust:?}\n  file:     {file_result:?}\n{text}",
                row.name, row.reason
            )),
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
