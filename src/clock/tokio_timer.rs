//! Telling tokio's timer apart from other panics in a handler.
//!
//! The virtual clock's runtime has no tokio timer driver (see [`runtime`](super::runtime)), so
//! making a tokio timer in it -- `tokio::time::sleep`, `sleep_until`, `timeout`, `interval` --
//! panics at once. ractor catches the panic and hands its message to the worker's supervisor,
//! which asks [`is_tokio_timer_panic`] whether the model waited on the wrong clock or simply
//! panicked.
//!
//! The real clock's runtime has tokio's timers (its own waits use them), so there a tokio timer
//! works, on wall time -- which is the real clock's time too. It waits tokio's rounded-up
//! millisecond, and slowdown faults do not stretch it as they do `Context::work_for`; and the
//! same model fails on the virtual clock. Nothing catches it there: tokio offers no hook that
//! would tell a handler's timer from the clock's own.

/// The part of tokio's panic message, when a timer is made on a runtime without a timer
/// driver, that names the cause. tokio 1.x says: "A Tokio 1.x context was found, but timers
/// are disabled. Call `enable_time` on the runtime builder to enable timers." A unit test
/// below makes a real tokio timer, so a tokio release that words it otherwise fails it.
const TIMERS_DISABLED: &str = "timers are disabled";

/// Whether `panic`, a handler's panic message as ractor reports it, is tokio's refusal to make
/// a timer on a runtime without one.
pub(crate) fn is_tokio_timer_panic(panic: &str) -> bool {
    panic.contains(TIMERS_DISABLED)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// The message of the panic that running `f` on the virtual clock's runtime raises.
    fn panic_message(f: fn()) -> String {
        let (runtime, _clock) = super::super::tests::virtual_runtime();
        let run = std::panic::AssertUnwindSafe(|| runtime.block_on(async { f() }));
        let payload = std::panic::catch_unwind(run).expect_err("it panics");
        match payload.downcast::<String>() {
            Ok(message) => *message,
            Err(payload) => payload
                .downcast::<&str>()
                .map(|message| message.to_string())
                .expect("a panic with a message"),
        }
    }

    #[test]
    fn tokios_timers_on_the_virtual_clocks_runtime_are_recognised() {
        let made: [fn(); 3] = [
            || drop(tokio::time::sleep(Duration::from_millis(1))),
            || drop(tokio::time::timeout(Duration::from_millis(1), async {})),
            || drop(tokio::time::interval(Duration::from_millis(1))),
        ];
        for make in made {
            let message = panic_message(make);
            assert!(is_tokio_timer_panic(&message), "{message}");
        }
    }

    #[test]
    fn other_panics_are_not() {
        assert!(!is_tokio_timer_panic("index out of bounds"));
        assert!(!is_tokio_timer_panic(
            "A Tokio 1.x context was found, but IO is disabled."
        ));
    }
}
