//! Bad input gets a clear error saying what and where, before anything runs.

use std::time::Duration;

use microsim::{BuildError, Capacity, Distribution, Simulation, SimulationError, Workload};

use crate::support::{Worker, ms};

fn sim() -> Simulation {
    Simulation::builder()
        .duration(Duration::from_secs(1))
        .build()
        .unwrap()
}

#[test]
fn zero_workers_is_an_error_naming_the_service() {
    let error = sim()
        .add_service("catalog", Worker::constant(ms(1)), Capacity::workers(0))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "service catalog: workers must be at least 1, got 0"
    );
}

#[test]
fn a_link_to_an_unknown_service_is_an_error_with_a_suggestion() {
    let mut sim = sim();
    sim.add_service("payment", Worker::constant(ms(1)), Capacity::default())
        .unwrap();
    sim.add_link("client", "paymnt", Distribution::constant(ms(1)))
        .unwrap();
    let error = sim.run().unwrap_err();
    assert!(matches!(
        error,
        SimulationError::Build(BuildError::UnknownLinkEndpoint { .. })
    ));
    assert_eq!(
        error.to_string(),
        "link client -> paymnt: unknown service \"paymnt\"; did you mean \"payment\"?"
    );
}

#[test]
fn invalid_distributions_are_errors_naming_the_link() {
    let mut sim = sim();
    let error = sim
        .add_link("a", "b", Distribution::uniform(ms(5), ms(1)))
        .unwrap_err();
    let message = error.to_string();
    assert!(message.starts_with("link a -> b: "), "{message}");
    assert!(message.contains("min"), "{message}");
    let error = sim
        .add_link("a", "b", Distribution::pareto(ms(1), f64::NAN))
        .unwrap_err();
    assert!(error.to_string().contains("NaN"), "{error}");
    let error = sim
        .add_link("a", "b", Distribution::pareto(ms(1), -1.0))
        .unwrap_err();
    assert!(error.to_string().contains("-1"), "{error}");
}

#[test]
fn rates_must_be_positive_and_finite() {
    let mut sim = sim();
    let server = sim
        .add_service("server", Worker::constant(ms(1)), Capacity::default())
        .unwrap();
    for rate in [0.0, -5.0, f64::NAN, f64::INFINITY] {
        let error = sim
            .add_workload("load", &server, Workload::poisson(rate), |_| ())
            .unwrap_err();
        assert!(matches!(error, BuildError::InvalidRate { .. }), "{error}");
        assert!(
            error.to_string().starts_with("workload load: rate must be"),
            "{error}"
        );
    }
}

#[test]
fn names_must_be_unique_and_not_reserved() {
    let mut sim = sim();
    sim.add_service("a", Worker::constant(ms(1)), Capacity::default())
        .unwrap();
    let twice = sim
        .add_service("a", Worker::constant(ms(1)), Capacity::default())
        .unwrap_err();
    assert_eq!(
        twice.to_string(),
        "service name \"a\" is used twice (services and topics share one namespace)"
    );
    let reserved = sim
        .add_service("client", Worker::constant(ms(1)), Capacity::default())
        .unwrap_err();
    assert!(reserved.to_string().contains("reserved"), "{reserved}");
    // "a -> b" calling "c" and "a" calling "b -> c" would both be the policy "a -> b -> c".
    let arrow = sim
        .add_service("a -> b", Worker::constant(ms(1)), Capacity::default())
        .unwrap_err();
    assert!(
        arrow
            .to_string()
            .contains("which the report puts between a caller and a callee"),
        "{arrow}"
    );
    sim.add_service("a->b", Worker::constant(ms(1)), Capacity::default())
        .unwrap();
}

#[test]
fn settings_are_checked_by_build() {
    let error = Simulation::builder()
        .duration(Duration::from_secs(1))
        .warmup(Duration::from_secs(2))
        .build()
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("simulation: warmup 2s leaves nothing to measure"),
        "{error}"
    );
    let error = Simulation::builder()
        .duration(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "simulation: duration must be greater than 0s"
    );
}

#[test]
fn closed_workloads_need_users_and_a_valid_think_time() {
    let mut sim = sim();
    let server = sim
        .add_service("server", Worker::constant(ms(1)), Capacity::default())
        .unwrap();
    let error = sim
        .add_workload(
            "users",
            &server,
            Workload::closed(0, Distribution::ZERO),
            |_| (),
        )
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "workload users: users must be at least 1, got 0"
    );
    let error = sim
        .add_workload(
            "users",
            &server,
            Workload::closed(5, Distribution::empirical(Vec::new())),
            |_| (),
        )
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("workload users: closed.think: "),
        "{error}"
    );
}

#[test]
fn a_handle_from_another_simulation_is_refused() {
    let mut first = sim();
    let server = first
        .add_service("server", Worker::constant(ms(1)), Capacity::default())
        .unwrap();
    let mut second = sim();
    let error = second
        .add_workload("load", &server, Workload::poisson(1.0), |_| ())
        .unwrap_err();
    assert!(matches!(error, BuildError::ForeignHandle { .. }));
}
