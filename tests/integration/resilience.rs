//! Call policies: retries, budgets, circuit breakers, bulkheads, rate limits, hedging.

use std::time::Duration;

use microsim::policy::{
    Backoff, BreakerState, CallPolicy, CircuitBreaker, Hedge, Jitter, RateLimit, Retry, RetryBudget,
};
use microsim::rand::RngExt;
use microsim::{
    BuildError, Capacity, Context, Distribution, Fault, Report, Service, ServiceError, Simulation,
    SimulationError, Workload,
};

use crate::support::{Worker, ms};

fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

/// Runs `load` against one `api` service with `policy` on the client's calls.
fn run(
    api: Worker,
    capacity: Capacity,
    load: Workload,
    duration: Duration,
    policy: CallPolicy,
    faults: &[Fault],
) -> Report {
    let mut sim = Simulation::builder().duration(duration).build().unwrap();
    let handle = sim.add_service("api", api, capacity).unwrap();
    sim.add_workload("load", &handle, load, |_| ()).unwrap();
    sim.add_policy("client", "api", policy).unwrap();
    for fault in faults {
        sim.add_fault(fault.clone()).unwrap();
    }
    sim.run().unwrap()
}

#[test]
fn retries_recover_injected_failures_at_the_expected_rate() {
    // Each attempt fails with p = 0.5: five attempts all fail with p = 1/32.
    let report = run(
        Worker::constant(ms(1)),
        Capacity::workers(4),
        Workload::constant_rate(200.0),
        secs(10),
        CallPolicy::new().retry(Retry::attempts(5).backoff(Backoff::constant(ms(2)))),
        &[Fault::fail("api", 0.5)],
    );
    let load = &report.workloads["load"];
    let policy = &report.policies["client -> api"];
    assert_eq!(load.counts.sent, 2000);
    assert_eq!(policy.counts.calls, 2000);
    assert_eq!(
        policy.counts.attempts,
        policy.counts.calls + policy.counts.retries
    );
    assert_eq!(policy.counts.failed, load.counts.failed);
    assert_eq!(
        report.faults[0].counts.failed_calls,
        policy.counts.attempts - policy.counts.succeeded
    );
    // Expected failures 2000/32 = 62.5, sd 7.8: within 4 sd.
    assert!(
        (31..=94).contains(&load.counts.failed),
        "{} failed",
        load.counts.failed
    );
    // Expected retries per call: 1/2 + 1/4 + 1/8 + 1/16 = 0.9375 (sd of the total ~ 30).
    let expected = 0.9375 * 2000.0;
    assert!(
        (policy.counts.retries as f64 - expected).abs() < 140.0,
        "{} retries, expected {expected}",
        policy.counts.retries
    );
}

/// Fails each call until its `fail_first`-th attempt: attempts are counted in the state.
struct FailsFirst {
    fail_first: u64,
}

impl Service for FailsFirst {
    type Request = ();
    type Response = ();
    type State = u64;

    fn init_state(&self) -> u64 {
        0
    }

    async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
        ctx.work_for(ms(1)).await;
        let attempt = ctx.with_state(|count| {
            *count += 1;
            *count
        });
        if !attempt.is_multiple_of(self.fail_first + 1) {
            return Err(ServiceError::new("not yet"));
        }
        Ok(())
    }
}

fn backoff_latency(fail_first: u64, backoff: Backoff) -> (f64, f64) {
    let mut sim = Simulation::builder().duration(secs(1)).build().unwrap();
    let api = sim
        .add_service("api", FailsFirst { fail_first }, Capacity::workers(1))
        .unwrap();
    sim.add_workload("load", &api, Workload::constant_rate(10.0), |_| ())
        .unwrap();
    sim.add_policy(
        "client",
        "api",
        CallPolicy::new().retry(Retry::attempts(5).backoff(backoff).jitter(Jitter::None)),
    )
    .unwrap();
    let report = sim.run().unwrap();
    let load = &report.workloads["load"];
    assert_eq!((load.counts.sent, load.counts.completed), (10, 10));
    (load.latency_ms.mean, load.latency_ms.max)
}

#[test]
fn backoff_waits_are_exact_without_jitter() {
    // One failure: 1 ms + 10 ms wait + 1 ms.
    let (mean, max) = backoff_latency(1, Backoff::constant(ms(10)));
    assert!((mean - 12.0).abs() < 1e-9 && max == 12.0, "{mean} {max}");
    // Three failures, exponential from 10 ms capped at 25 ms: 1 + 10 + 1 + 20 + 1 + 25 + 1.
    let (mean, max) = backoff_latency(3, Backoff::exponential(ms(10), ms(25)));
    assert!((mean - 59.0).abs() < 1e-9 && max == 59.0, "{mean} {max}");
}

#[test]
fn a_retry_budget_caps_retries_at_its_ratio() {
    let always_failing = [Fault::fail("api", 1.0)];
    let retry = Retry::attempts(3).backoff(Backoff::constant(ms(1)));
    let unbudgeted = run(
        Worker::constant(ms(1)),
        Capacity::workers(4),
        Workload::constant_rate(100.0),
        secs(30),
        CallPolicy::new().retry(retry.clone()),
        &always_failing,
    );
    let policy = &unbudgeted.policies["client -> api"];
    assert_eq!(
        policy.counts.retries,
        2 * policy.counts.calls,
        "every call retried twice"
    );
    let budgeted = run(
        Worker::constant(ms(1)),
        Capacity::workers(4),
        Workload::constant_rate(100.0),
        secs(30),
        CallPolicy::new().retry(retry.budget(RetryBudget::ratio(0.1))),
        &always_failing,
    );
    let policy = &budgeted.policies["client -> api"];
    // 10% of the calls in any 10 s window: at most 10% overall, and close to it.
    let ratio = policy.counts.retries as f64 / policy.counts.calls as f64;
    assert!((0.095..=0.1).contains(&ratio), "retry ratio {ratio}");
    // A call stops at its first denied retry: every call without both retries was denied once.
    assert!(
        policy.counts.retries_denied <= policy.counts.calls
            && policy.counts.retries_denied >= policy.counts.calls - policy.counts.retries / 2,
        "{policy:?}"
    );
}

#[test]
fn the_breaker_opens_rejects_fast_and_closes_after_successful_trials() {
    // The api fails every call from 2 s to 4 s.
    let breaker = CircuitBreaker::default()
        .window_calls(20)
        .minimum_calls(20)
        .failure_rate(0.5)
        .open_for(ms(500))
        .trial_calls(5);
    let report = run(
        Worker::constant(ms(1)),
        Capacity::workers(4),
        Workload::constant_rate(100.0),
        secs(8),
        CallPolicy::new().circuit_breaker(breaker),
        &[Fault::fail("api", 1.0).at(secs(2)).lasting(secs(2))],
    );
    let policy = &report.policies["client -> api"];
    let transitions = &policy.breaker_transitions;
    use BreakerState::*;
    // Opens once 10 of the last 20 calls failed: the 10th failure, at 2.09 s.
    assert_eq!((transitions[0].from, transitions[0].to), (Closed, Open));
    assert!(
        (transitions[0].at_seconds - 2.09).abs() < 0.002,
        "{transitions:?}"
    );
    // Then open -> half-open -> open ... while the fault lasts, and finally closed.
    for pair in transitions.windows(2) {
        assert_eq!(pair[0].to, pair[1].from, "{transitions:?}");
    }
    let last = transitions.last().unwrap();
    assert_eq!((last.from, last.to), (HalfOpen, Closed));
    assert!(
        last.at_seconds >= 4.0 && last.at_seconds < 4.6,
        "closed at {}",
        last.at_seconds
    );
    // While open, calls are rejected without reaching the api: of the ~200 calls in the
    // fault window only the ones that opened it and the trials failed there.
    let failed_at_api = report.faults[0].counts.failed_calls;
    assert!(policy.counts.breaker_rejected > 150, "{policy:?}");
    assert!(
        failed_at_api < 40,
        "{failed_at_api} calls reached the failing api"
    );
    assert_eq!(
        report.workloads["load"].counts.failed,
        policy.counts.breaker_rejected + failed_at_api
    );
}

#[test]
fn a_bulkhead_caps_calls_in_flight() {
    // 10 ms of work, one worker, a call every 4 ms: without a cap the queue grows without end.
    let report = run(
        Worker::constant(ms(10)),
        Capacity::workers(1),
        Workload::constant_rate(250.0),
        secs(2),
        CallPolicy::new().bulkhead(2),
        &[],
    );
    let policy = &report.policies["client -> api"];
    let api = &report.services["api"];
    // At most 2 in the api at once: nobody waits more than one service time.
    assert!(api.queue_wait_ms.max <= 10.0, "{:?}", api.queue_wait_ms);
    assert_eq!(
        policy.counts.bulkhead_rejected,
        report.workloads["load"].counts.rejected
    );
    assert!(policy.counts.bulkhead_rejected > 250, "{policy:?}");
    assert_eq!(api.counts.handled + policy.counts.bulkhead_rejected, 500);
}

#[test]
fn a_rate_limit_passes_its_rate() {
    let report = run(
        Worker::constant(ms(1)),
        Capacity::workers(1),
        Workload::constant_rate(200.0),
        secs(5),
        CallPolicy::new().rate_limit(RateLimit::per_second(100.0).burst(1)),
        &[],
    );
    let policy = &report.policies["client -> api"];
    // Every other call finds a token.
    assert_eq!(policy.counts.rate_limited, 500);
    assert_eq!(report.services["api"].counts.handled, 500);
}

/// 2% of requests hit a 50 ms hiccup (a GC pause, a cold cache); the rest take ~1 ms.
struct Hiccups;

impl Service for Hiccups {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
        if ctx.with_rng(|rng| rng.random_bool(0.02)) {
            ctx.work_for(ms(50)).await;
        } else {
            ctx.work(&Distribution::exponential(ms(1))).await;
        }
        Ok(())
    }
}

fn hiccups(policy: CallPolicy) -> Report {
    let mut sim = Simulation::builder()
        .duration(secs(60))
        .warmup(secs(5))
        .build()
        .unwrap();
    let api = sim
        .add_service("api", Hiccups, Capacity::workers(64))
        .unwrap();
    sim.add_workload("load", &api, Workload::poisson(500.0), |_| ())
        .unwrap();
    sim.add_policy("client", "api", policy).unwrap();
    sim.run().unwrap()
}

#[test]
fn hedging_after_the_p95_cuts_the_p99_for_a_few_percent_more_load() {
    let plain = hiccups(CallPolicy::new());
    let hedged = hiccups(CallPolicy::new().hedge(Hedge::at_percentile(95.0)));
    let (before, after) = (
        plain.workloads["load"].latency_ms.p99,
        hedged.workloads["load"].latency_ms.p99,
    );
    assert!(before > 49.0, "the hiccups set the p99: {before} ms");
    assert!(
        after * 5.0 < before,
        "hedging cuts p99 from {before} ms to {after} ms"
    );
    let policy = &hedged.policies["client -> api"];
    let extra = policy.counts.hedges_sent as f64 / policy.counts.calls as f64;
    assert!(
        (0.03..=0.08).contains(&extra),
        "{extra} extra copies per call"
    );
    assert!(policy.counts.hedges_won > 0 && policy.counts.hedges_won <= policy.counts.hedges_sent);
    // The api's extra work is at most the copies sent (some are cancelled in the queue).
    let handled = |report: &Report| report.services["api"].counts.handled as f64;
    let more = handled(&hedged) / handled(&plain) - 1.0;
    assert!(more <= extra + 0.005, "{more} more handled, {extra} copies");
}

/// The api at 90% load, slowed down three times for 2 s; what the client's retries make of
/// it, measured in the 30 s after the system had time to recover.
fn storm(policy: CallPolicy) -> Report {
    let mut sim = Simulation::builder()
        .seed(7)
        .duration(secs(80))
        .warmup(secs(50))
        .build()
        .unwrap();
    let api = sim
        .add_service("api", Worker::exponential(ms(1)), Capacity::workers(1))
        .unwrap();
    sim.add_workload("load", &api, Workload::poisson(900.0), |_| ())
        .unwrap();
    sim.add_policy("client", "api", policy).unwrap();
    sim.add_fault(Fault::slow("api", 3.0).at(secs(10)).lasting(secs(2)))
        .unwrap();
    sim.run().unwrap()
}

#[test]
fn a_retry_storm_outlives_the_slowdown_unless_a_budget_caps_it() {
    let retry = Retry::attempts(3).backoff(Backoff::exponential(ms(10), ms(100)));
    let timeout = ms(100);
    let unbudgeted = storm(CallPolicy::new().timeout(timeout).retry(retry.clone()));
    // At 90% load a budget must keep load * (1 + ratio) below capacity: ratio < 11%.
    let budgeted = storm(
        CallPolicy::new()
            .timeout(timeout)
            .retry(retry.budget(RetryBudget::ratio(0.05).min_per_second(1.0))),
    );
    let measured = 30.0;
    let offered =
        |report: &Report| report.policies["client -> api"].counts.attempts as f64 / measured;
    let load = |report: &Report| report.workloads["load"].clone();
    // Without a budget, 38 s after the slowdown ended, the api still gets far more attempts
    // than requests, most calls fail and the ones that complete are slow.
    let storm = load(&unbudgeted);
    assert!(
        offered(&unbudgeted) > 2000.0,
        "{} attempts/s",
        offered(&unbudgeted)
    );
    assert!(storm.counts.failed * 2 > storm.counts.sent, "{storm:?}");
    assert!(report_utilization(&unbudgeted) > 0.99);
    // With the budget the system is back to normal: no failures, the M/M/1 p99 (46 ms).
    let calm = load(&budgeted);
    assert!(
        offered(&budgeted) < 920.0,
        "{} attempts/s",
        offered(&budgeted)
    );
    assert_eq!(calm.counts.failed, 0, "{calm:?}");
    assert!(calm.latency_ms.p99 < 60.0, "{:?}", calm.latency_ms);
    // Over all requests, failed ones included, the storm's p99 is at least a timeout (100 ms,
    // more than twice the calm p99); here every request failed.
    assert!(storm.counts.failed * 100 > storm.counts.sent);
    assert!(calm.latency_ms.p99 * 2.0 < timeout.as_secs_f64() * 1000.0);
}

fn report_utilization(report: &Report) -> f64 {
    report.services["api"]
        .utilization
        .expect("a fixed number of workers")
}

#[test]
fn bad_policies_are_located_errors() {
    let mut sim = Simulation::builder().build().unwrap();
    sim.add_service("api", Worker::constant(ms(1)), Capacity::workers(1))
        .unwrap();
    fn message(sim: &mut Simulation, policy: CallPolicy) -> String {
        sim.add_policy("client", "api", policy)
            .unwrap_err()
            .to_string()
    }
    assert_eq!(
        message(&mut sim, CallPolicy::new().retry(Retry::attempts(0))),
        "policy client -> api: max_attempts counts the first attempt too, so it must be at least 1, got 0"
    );
    assert!(
        message(
            &mut sim,
            CallPolicy::new().retry(Retry::attempts(3).budget(RetryBudget::ratio(1.2)))
        )
        .contains("ratio must be within [0, 1] (0.2 = retries may add 20% to the calls), got 1.2")
    );
    assert!(message(&mut sim, CallPolicy::new().bulkhead(0)).contains("bulkhead"));
    assert!(
        message(&mut sim, CallPolicy::new().hedge(Hedge::at_percentile(0.0)))
            .contains("percentile must be within (0, 100)")
    );
    sim.add_policy("client", "api", CallPolicy::new()).unwrap();
    assert!(message(&mut sim, CallPolicy::new()).contains("already has a policy"));
    sim.add_policy("client", "apj", CallPolicy::new()).unwrap();
    let error = sim.run().unwrap_err();
    assert!(
        matches!(
            &error,
            SimulationError::Build(BuildError::InvalidPolicy { to, .. }) if to == "apj"
        ),
        "{error}"
    );
    assert!(
        error.to_string().contains("did you mean \"api\""),
        "{error}"
    );
}
