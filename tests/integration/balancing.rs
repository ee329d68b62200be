//! Replicas and load balancers.

use std::time::Duration;

use microsim::{
    Balancer, Capacity, Context, Distribution, Service, ServiceError, Simulation, Workload,
};

use crate::support::{Worker, ms, relative_error};

/// Ten single-worker replicas at 80% load each, behind `balancer`.
fn ten_replicas(balancer: Balancer) -> microsim::Report {
    let mut sim = Simulation::builder()
        .seed(21)
        .duration(Duration::from_secs(65))
        .warmup(Duration::from_secs(5))
        .build()
        .unwrap();
    let api = sim
        .add_replicated_service(
            "api",
            Worker::exponential(ms(1)),
            Capacity::workers(1),
            10,
            balancer,
        )
        .unwrap();
    sim.add_workload("load", &api, Workload::poisson(8000.0), |_| ())
        .unwrap();
    sim.run().unwrap()
}

#[test]
fn power_of_two_choices_beats_random_under_the_same_load() {
    let random = ten_replicas(Balancer::Random);
    let two = ten_replicas(Balancer::PowerOfTwoChoices);
    let least = ten_replicas(Balancer::LeastOutstanding);
    let random_latency = &random.workloads["load"].latency_ms;
    let two_latency = &two.workloads["load"].latency_ms;
    let least_latency = &least.workloads["load"].latency_ms;
    // Random splitting of Poisson traffic: ten independent M/M/1 queues at rho = 0.8, W = 5 ms.
    assert!(
        relative_error(random_latency.mean, 5.0) < 0.05,
        "{random_latency:?}"
    );
    // Two choices keep the queues close together: the mean falls by more than half (the
    // many-server limit is 1.95 ms), and the tail with it.
    assert!(
        two_latency.mean < 0.5 * random_latency.mean,
        "{two_latency:?} vs {random_latency:?}"
    );
    assert!(
        two_latency.p99 < 0.5 * random_latency.p99,
        "{two_latency:?} vs {random_latency:?}"
    );
    // Full information does better still.
    assert!(
        least_latency.mean <= two_latency.mean,
        "{least_latency:?} vs {two_latency:?}"
    );
    // The replicas' queue waits are closer together, too.
    let spread = |report: &microsim::Report| {
        let waits: Vec<f64> = report.services["api"]
            .replicas
            .iter()
            .map(|replica| replica.latency_ms.mean)
            .collect();
        waits.iter().cloned().fold(f64::MIN, f64::max)
            - waits.iter().cloned().fold(f64::MAX, f64::min)
    };
    assert!(
        spread(&two) < spread(&random),
        "{} vs {}",
        spread(&two),
        spread(&random)
    );
    assert_eq!(random.services["api"].replicas.len(), 10);
}

/// Replica 0 takes five times as long as the others.
struct Uneven;

impl Service for Uneven {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
        let mean = if ctx.replica() == 0 { ms(5) } else { ms(1) };
        ctx.work(&Distribution::exponential(mean)).await;
        Ok(())
    }
}

fn uneven(balancer: Balancer) -> microsim::Report {
    let mut sim = Simulation::builder()
        .seed(8)
        .duration(Duration::from_secs(30))
        .build()
        .unwrap();
    let api = sim
        .add_replicated_service("api", Uneven, Capacity::workers(1), 4, balancer)
        .unwrap();
    sim.add_workload("load", &api, Workload::poisson(1500.0), |_| ())
        .unwrap();
    sim.run().unwrap()
}

#[test]
fn peak_ewma_steers_traffic_away_from_a_slow_replica() {
    let round_robin = uneven(Balancer::RoundRobin);
    let ewma = uneven(Balancer::PeakEwma {
        decay: Duration::from_secs(1),
    });
    let share = |report: &microsim::Report| {
        let replicas = &report.services["api"].replicas;
        replicas[0].counts.handled as f64
            / replicas.iter().map(|r| r.counts.handled).sum::<u64>() as f64
    };
    // Round robin gives the slow replica a quarter of the traffic, more than it can take
    // (375/s against 200/s): its queue grows without bound.
    assert!(
        (share(&round_robin) - 0.25).abs() < 0.01,
        "{}",
        share(&round_robin)
    );
    assert!(share(&ewma) < 0.15, "{}", share(&ewma));
    let rr = &round_robin.workloads["load"].latency_ms;
    let pe = &ewma.workloads["load"].latency_ms;
    assert!(pe.p99 < rr.p99 / 10.0, "{pe:?} vs {rr:?}");
}

#[test]
fn replicas_each_have_their_own_state_and_zero_replicas_is_an_error() {
    let mut sim = Simulation::builder()
        .duration(Duration::from_secs(1))
        .build()
        .unwrap();
    let error = sim
        .add_replicated_service("api", Uneven, Capacity::workers(1), 0, Balancer::RoundRobin)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "service api: replicas must be at least 1, got 0"
    );
}
