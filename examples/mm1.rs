//! Example: an M/M/1 queue checked against queueing theory.
//!
//! Shows: a single-worker service with exponential processing time, Poisson arrivals, a
//! warm-up, and the report beside the analytic figures (W = 1/(mu - lambda)).
//!
//! ```text
//! cargo run --release --example mm1
//! ```

use std::time::{Duration, Instant};

use microsim::{Capacity, Context, Distribution, Service, ServiceError, Simulation, Workload};

/// A server whose every request takes an exponentially distributed time.
struct Server {
    work: Distribution,
}

impl Service for Server {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
        ctx.work(&self.work).await;
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (lambda, mu) = (800.0, 1000.0);
    let mut sim = Simulation::builder()
        .seed(1)
        .duration(Duration::from_secs(260))
        .warmup(Duration::from_secs(10))
        .build()?;
    let server = Server {
        work: Distribution::exponential(Duration::from_secs_f64(1.0 / mu)),
    };
    let server = sim.add_service("server", server, Capacity::workers(1))?;
    sim.add_workload("arrivals", &server, Workload::poisson(lambda), |_| ())?;

    let started = Instant::now();
    let report = sim.run()?;
    let wall = started.elapsed();

    println!("{report}\n");
    let latency = &report.workloads["arrivals"].latency_ms;
    let w = 1000.0 / (mu - lambda);
    println!("analytic  mean {w:.3} ms  p99 {:.3} ms", w * 100f64.ln());
    println!(
        "simulated mean {:.3} ms  p99 {:.3} ms",
        latency.mean, latency.p99
    );
    let requests = report.workloads["arrivals"].counts.sent as f64;
    eprintln!(
        "wall time {:.2} s: {:.0} simulated requests per second",
        wall.as_secs_f64(),
        requests / wall.as_secs_f64()
    );
    Ok(())
}
