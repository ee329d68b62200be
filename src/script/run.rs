//! Running a [`Script`]: its steps in order for each request, the nested ones (parallel,
//! choose, repeat) as boxed futures.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;

use rand::RngExt;

use crate::error::ServiceError;
use crate::runtime::context::Context;
use crate::runtime::service::Service;

use super::{Script, Step};

type StepsFuture<'a> = Pin<Box<dyn Future<Output = Result<(), ServiceError>> + Send + 'a>>;

impl Service for Script {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, (): ()) -> Result<(), ServiceError> {
        run_steps(&self.steps, ctx).await
    }

    fn validate(&self) -> Result<(), crate::error::FieldError> {
        Script::validate(self)
    }
}

/// Runs `steps` in order; only the nested steps pay for a boxed future.
async fn run_steps(steps: &[Step], ctx: &Context<Script>) -> Result<(), ServiceError> {
    for step in steps {
        match step {
            Step::Work(work) => {
                ctx.work(work).await;
            }
            Step::Call(service) => ctx.call(service, ()).await?,
            Step::Send(service) => ctx.send(service, ())?,
            Step::Publish { topic, keys: None } => ctx.publish(topic, ()).await?,
            Step::Publish {
                topic,
                keys: Some(keys),
            } => {
                let key = ctx.with_rng(|rng| rng.random_range(0..*keys));
                ctx.publish_keyed(topic, key, ()).await?;
            }
            Step::Fail {
                probability,
                error,
                permanent,
            } => {
                // Certain outcomes draw nothing.
                let fails = match *probability {
                    p if p <= 0.0 => false,
                    p if p >= 1.0 => true,
                    p => ctx.with_rng(|rng| rng.random::<f64>() < p),
                };
                if fails {
                    return Err(if *permanent {
                        ServiceError::permanent(error.as_ref())
                    } else {
                        ServiceError::new(error.as_ref())
                    });
                }
            }
            Step::Parallel(branches) => {
                join_all(branches.iter().map(|b| boxed(&b.steps, ctx)).collect()).await?;
            }
            Step::Choose(branches) => {
                let draw: f64 = ctx.with_rng(|rng| rng.random());
                let mut below = 0.0;
                for (p, branch) in branches {
                    below += p;
                    if draw < below {
                        boxed(&branch.steps, ctx).await?;
                        break;
                    }
                }
            }
            Step::Repeat(times, steps) => {
                for _ in 0..*times {
                    boxed(&steps.steps, ctx).await?;
                }
            }
        }
    }
    Ok(())
}

fn boxed<'a>(steps: &'a [Step], ctx: &'a Context<Script>) -> StepsFuture<'a> {
    Box::pin(run_steps(steps, ctx))
}

/// Runs every future to completion, polling the unfinished ones in index order each time
/// (deterministic), and returns the first error to occur (ties go to the lower index), or
/// `Ok` when all succeed.
async fn join_all(futures: Vec<StepsFuture<'_>>) -> Result<(), ServiceError> {
    let mut pending: Vec<Option<StepsFuture<'_>>> = futures.into_iter().map(Some).collect();
    let mut first_error = None;
    poll_fn(|cx| {
        let mut unfinished = false;
        for slot in &mut pending {
            if let Some(future) = slot {
                match future.as_mut().poll(cx) {
                    Poll::Ready(result) => {
                        *slot = None;
                        if let Err(error) = result {
                            first_error.get_or_insert(error);
                        }
                    }
                    Poll::Pending => unfinished = true,
                }
            }
        }
        if unfinished {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    first_error.map_or(Ok(()), Err)
}
#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::task::{Context as TaskContext, Waker};

    /// A future that is pending `polls` times, then returns `result`, logging each poll.
    fn counted(
        id: usize,
        polls: usize,
        result: Result<(), ServiceError>,
        log: Arc<Mutex<Vec<usize>>>,
    ) -> StepsFuture<'static> {
        let mut left = polls;
        let mut result = Some(result);
        Box::pin(poll_fn(move |cx| {
            log.lock().unwrap().push(id);
            if left == 0 {
                Poll::Ready(result.take().unwrap())
            } else {
                left -= 1;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }))
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut cx = TaskContext::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
        }
    }

    #[test]
    fn join_all_waits_for_every_branch_and_keeps_the_earliest_error() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let futures = vec![
            counted(0, 2, Err(ServiceError::new("late")), Arc::clone(&log)),
            counted(1, 0, Ok(()), Arc::clone(&log)),
            counted(2, 1, Err(ServiceError::new("early")), Arc::clone(&log)),
        ];
        let result = block_on(join_all(futures));
        assert_eq!(result, Err(ServiceError::new("early")));
        // Index order each round; a finished future is never polled again.
        assert_eq!(*log.lock().unwrap(), vec![0, 1, 2, 0, 2, 0]);
    }

    #[test]
    fn join_all_of_nothing_is_ok() {
        assert_eq!(block_on(join_all(Vec::new())), Ok(()));
    }
}
