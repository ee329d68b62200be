//! Compile-time checks that public types can cross threads: build a simulation on one thread,
//! run it on another, send the report back.

use microsim::{
    BuildError, CallError, Capacity, Distribution, Progress, Report, ServiceError, ServiceHandle,
    Simulation, SimulationError, Workload,
};

use crate::support::Worker;

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>() {}

#[test]
fn public_types_are_send_and_sync() {
    send_sync::<Report>();
    send_sync::<ServiceHandle<Worker>>();
    send_sync::<Distribution>();
    send_sync::<Capacity>();
    send_sync::<Workload>();
    send_sync::<Progress>();
    send_sync::<BuildError>();
    send_sync::<CallError>();
    send_sync::<ServiceError>();
    send_sync::<SimulationError>();
    send::<Simulation>();
}

#[test]
fn a_simulation_runs_on_another_thread() {
    let mut sim = Simulation::builder()
        .duration(std::time::Duration::from_secs(1))
        .build()
        .unwrap();
    let server = sim
        .add_service(
            "server",
            Worker::constant(crate::support::ms(1)),
            Capacity::default(),
        )
        .unwrap();
    sim.add_workload("load", &server, Workload::constant_rate(10.0), |_| ())
        .unwrap();
    let report = std::thread::spawn(move || sim.run())
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(report.workloads["load"].counts.completed, 10);
}
