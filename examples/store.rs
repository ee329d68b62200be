//! Example: an online store's checkout, on virtual time.
//!
//! Shows:
//! - five services as actors with their own capacity (workers, bounded queues),
//! - request/response calls from a handler, one after another as Online Boutique's
//!   `PlaceOrder` makes them, and a payment that sometimes declines,
//! - link latencies from sub-millisecond (inside the cluster) to milliseconds (the
//!   internet edge, an external payment provider),
//! - an open-loop checkout workload beside a closed-loop population of browsing users,
//! - the report: end-to-end latency per workload, queue wait, processing and utilisation per
//!   service.
//!
//! ```text
//!                       ┌──▶ catalog    (per item)
//! client ──edge──▶ frontend ──▶ inventory
//!                       ├──▶ payment    (external provider)
//!                       └──▶ shipping
//! ```
//!
//! Run it with `cargo run --release --example store`. Its standard output is the same on every
//! run; the wall-clock time goes to standard error.

use std::time::{Duration, Instant};

use microsim::rand::RngExt;
use microsim::{
    Capacity, Context, Distribution, Service, ServiceError, ServiceHandle, Simulation, Workload,
};

fn us(micros: u64) -> Duration {
    Duration::from_micros(micros)
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// A backend that spends a drawn time per request and answers `()`: catalog, inventory and
/// shipping differ only in their numbers.
struct Backend {
    work: Distribution,
}

impl Service for Backend {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
        ctx.work(&self.work).await;
        Ok(())
    }
}

/// Charges a card through an external provider; declines a small share of cards.
struct Payment {
    work: Distribution,
    decline_rate: f64,
}

impl Service for Payment {
    /// The amount in cents.
    type Request = u64;
    type Response = ();
    /// Total charged so far, in cents.
    type State = u64;

    fn init_state(&self) -> u64 {
        0
    }

    async fn handle(&self, ctx: &Context<Self>, cents: u64) -> Result<(), ServiceError> {
        ctx.work(&self.work).await;
        if ctx.with_rng(|rng| rng.random_bool(self.decline_rate)) {
            return Err(ServiceError::new("card declined"));
        }
        ctx.with_state(|total| *total += cents);
        Ok(())
    }
}

/// What shoppers ask the frontend for.
#[derive(Clone, Copy)]
enum StoreRequest {
    /// Look at one product page.
    Browse,
    /// Buy `items` products.
    Checkout { items: u32 },
}

/// Renders pages and orchestrates the checkout.
struct Frontend {
    render: Distribution,
    catalog: ServiceHandle<Backend>,
    inventory: ServiceHandle<Backend>,
    payment: ServiceHandle<Payment>,
    shipping: ServiceHandle<Backend>,
}

impl Service for Frontend {
    type Request = StoreRequest;
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, request: StoreRequest) -> Result<(), ServiceError> {
        ctx.work(&self.render).await;
        match request {
            StoreRequest::Browse => ctx.call(&self.catalog, ()).await?,
            StoreRequest::Checkout { items } => {
                for _ in 0..items {
                    ctx.call(&self.catalog, ()).await?;
                }
                ctx.call(&self.inventory, ()).await?;
                let cents = u64::from(items) * 2_500;
                ctx.call(&self.payment, cents).await?;
                ctx.call(&self.shipping, ()).await?;
            }
        }
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut sim = Simulation::builder()
        .seed(7)
        .duration(Duration::from_secs(60))
        .warmup(Duration::from_secs(5))
        // Inside the cluster: 100-300 us per hop.
        .default_latency(Distribution::uniform(us(100), us(300)))
        .call_timeout(Duration::from_secs(2))
        .build()?;

    let catalog = sim.add_service(
        "catalog",
        Backend {
            work: Distribution::lognormal(us(300), us(150)),
        },
        Capacity::workers(8).with_queue(200),
    )?;
    let inventory = sim.add_service(
        "inventory",
        Backend {
            work: Distribution::exponential(ms(3)),
        },
        // A small database connection pool: the store's bottleneck.
        Capacity::workers(2).with_queue(100),
    )?;
    let payment = sim.add_service(
        "payment",
        Payment {
            work: Distribution::lognormal(ms(3), ms(2)),
            decline_rate: 0.02,
        },
        Capacity::workers(4).with_queue(100),
    )?;
    let shipping = sim.add_service(
        "shipping",
        Backend {
            work: Distribution::uniform(us(500), us(1500)),
        },
        Capacity::workers(2).with_queue(100),
    )?;
    let frontend = sim.add_service(
        "frontend",
        Frontend {
            render: Distribution::normal(us(200), us(50)),
            catalog,
            inventory,
            payment,
            shipping,
        },
        Capacity::workers(32).with_queue(500),
    )?;

    // The internet edge, and an external payment provider.
    sim.add_link("client", "frontend", Distribution::lognormal(ms(20), ms(8)))?;
    sim.add_link("frontend", "payment", Distribution::lognormal(ms(2), ms(1)))?;

    sim.add_workload("checkout", &frontend, Workload::poisson(400.0), |rng| {
        StoreRequest::Checkout {
            items: rng.random_range(1..=5),
        }
    })?;
    sim.add_workload(
        "browse",
        &frontend,
        Workload::closed(
            500,
            Distribution::uniform(Duration::from_secs(1), Duration::from_secs(10)),
        ),
        |_| StoreRequest::Browse,
    )?;

    let started = Instant::now();
    let report = sim.run()?;
    let wall = started.elapsed();

    println!("{report}");
    eprintln!(
        "simulated {:.0} s in {:.2} s of wall time",
        report.drained_seconds,
        wall.as_secs_f64()
    );
    Ok(())
}
