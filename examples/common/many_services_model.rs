//! The model of `examples/many_services.rs`, shared with `benches/growth.rs`: a gateway in
//! front of `N` backends, each request calling one backend chosen at random, with a configured
//! link and a timeout policy from the gateway to every backend (N links and N policies, linear
//! in N) and the default latency everywhere else. Included by `#[path]`, not an example of its
//! own.

use std::time::{Duration, Instant};

use microsim::{
    CallPolicy, Capacity, Context, Distribution, Report, Service, ServiceError, ServiceHandle,
    Simulation, Workload,
};

/// A backend: one worker, a millisecond of work (at most 1,000 requests a second each).
struct Backend;

impl Service for Backend {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
        ctx.work_for(Duration::from_millis(1)).await;
        Ok(())
    }
}

/// The gateway: calls one backend, chosen uniformly at random.
struct Gateway {
    backends: Vec<ServiceHandle<Backend>>,
    /// How many of the backends it calls: the first `active`.
    active: usize,
}

impl Service for Gateway {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
        let pick = (ctx.random_u64() % self.active as u64) as usize;
        ctx.call(&self.backends[pick], ()).await?;
        Ok(())
    }
}

/// The example's load: requests per second of simulated time, whatever the number of services.
pub const RATE: f64 = 2_000.0;
/// Messages per request: client to gateway, gateway to backend, and both responses.
pub const HOPS_PER_REQUEST: u64 = 4;

/// One configuration of the model.
#[derive(Debug, Clone, Copy)]
pub struct Model {
    /// Backends: services made, each with its link and policy from the gateway.
    pub services: usize,
    /// Backends called: the first `active` (at most `services`); the rest exist, idle.
    pub active: usize,
    /// Requests per second of simulated time (Poisson arrivals).
    pub rate: f64,
}

/// What one run of the model cost.
#[derive(Debug)]
pub struct Run {
    /// Wall time building the simulation (adding services, links, policies), seconds.
    pub build_seconds: f64,
    /// Wall time of `Simulation::run`, seconds.
    pub run_seconds: f64,
    /// Messages that crossed a link: completed requests times [`HOPS_PER_REQUEST`].
    pub hops: u64,
}

impl Model {
    /// The simulation of this configuration, for `duration` of simulated time.
    pub fn simulation(&self, duration: Duration) -> Result<Simulation, Box<dyn std::error::Error>> {
        let mut sim = Simulation::builder()
            .seed(7)
            .duration(duration)
            .default_latency(Distribution::constant(Duration::from_micros(200)))
            .build()?;
        let mut backends = Vec::with_capacity(self.services);
        for index in 0..self.services {
            let name = format!("backend-{index}");
            backends.push(sim.add_service(&name, Backend, Capacity::workers(1))?);
            sim.add_link(
                "gateway",
                &name,
                Distribution::exponential(Duration::from_micros(500)),
            )?;
            sim.add_policy(
                "gateway",
                &name,
                CallPolicy::new().timeout(Duration::from_secs(1)),
            )?;
        }
        let active = self.active.clamp(1, self.services);
        let gateway = sim.add_service(
            "gateway",
            Gateway { backends, active },
            Capacity::workers(64),
        )?;
        sim.add_workload("clients", &gateway, Workload::poisson(self.rate), |_| ())?;
        Ok(sim)
    }

    /// Builds and runs the model for `duration`, timing both, and returns the timings with
    /// the run's report; every request must complete.
    pub fn run(&self, duration: Duration) -> Result<(Run, Report), Box<dyn std::error::Error>> {
        let started = Instant::now();
        let sim = self.simulation(duration)?;
        let built = Instant::now();
        let report = sim.run()?;
        let run_seconds = built.elapsed().as_secs_f64();
        let build_seconds = (built - started).as_secs_f64();
        let counts = &report.workloads["clients"].counts;
        assert_eq!(counts.completed, counts.sent, "every request completes");
        let hops = counts.completed * HOPS_PER_REQUEST;
        let run = Run {
            build_seconds,
            run_seconds,
            hops,
        };
        Ok((run, report))
    }
}
