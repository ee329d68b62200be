//! The one service type behind every scenario file: it spends its own work, then runs its
//! steps -- calls, work, publishes, parallel branches -- in order. It handles the events of
//! the topics it subscribes to the same way: events, like requests, carry no data.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;

use rand::RngExt;

use crate::distribution::Distribution;
use crate::error::ServiceError;
use crate::runtime::context::Context;
use crate::runtime::handle::ServiceHandle;
use crate::runtime::handle::TopicHandle;
use crate::runtime::service::Service;

/// A service described by a scenario file.
#[derive(Debug)]
pub(crate) struct ScriptedService {
    /// Processing time spent first, if any.
    pub(crate) work: Option<Distribution>,
    /// What to do next, in order.
    pub(crate) steps: Vec<Action>,
}

/// One step, bound to the handles of the services it calls.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// Call a service and wait for its response.
    Call(ServiceHandle<ScriptedService>),
    /// Spend processing time.
    Work(Distribution),
    /// Publish an event and wait for the broker's confirmation; with `keys`, the event's
    /// partition key is drawn uniformly from `0..keys`.
    Publish {
        /// Where to publish.
        topic: TopicHandle<()>,
        /// How many partition keys, if the events are keyed.
        keys: Option<u64>,
    },
    /// Run every branch at once and wait for all of them.
    Parallel(Vec<Action>),
}

type StepFuture<'a> = Pin<Box<dyn Future<Output = Result<(), ServiceError>> + Send + 'a>>;

impl Service for ScriptedService {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, (): ()) -> Result<(), ServiceError> {
        if let Some(work) = &self.work {
            ctx.work(work).await;
        }
        for action in &self.steps {
            // Only parallel steps pay for a boxed future.
            match action {
                Action::Parallel(branches) => run_parallel(branches, ctx).await?,
                other => run_simple(other, ctx).await?,
            }
        }
        Ok(())
    }
}

/// Runs a step other than `parallel` (which it treats as nothing: it needs a boxed future).
async fn run_simple(action: &Action, ctx: &Context<ScriptedService>) -> Result<(), ServiceError> {
    match action {
        Action::Call(service) => ctx.call(service, ()).await?,
        Action::Work(work) => {
            ctx.work(work).await;
        }
        Action::Publish { topic, keys: None } => ctx.publish(topic, ()).await?,
        Action::Publish {
            topic,
            keys: Some(keys),
        } => {
            let key = ctx.with_rng(|rng| rng.random_range(0..*keys));
            ctx.publish_keyed(topic, key, ()).await?;
        }
        Action::Parallel(_) => {}
    }
    Ok(())
}

fn run_action<'a>(action: &'a Action, ctx: &'a Context<ScriptedService>) -> StepFuture<'a> {
    Box::pin(async move {
        match action {
            Action::Parallel(branches) => run_parallel(branches, ctx).await,
            other => run_simple(other, ctx).await,
        }
    })
}

async fn run_parallel(
    branches: &[Action],
    ctx: &Context<ScriptedService>,
) -> Result<(), ServiceError> {
    join_all(
        branches
            .iter()
            .map(|branch| run_action(branch, ctx))
            .collect(),
    )
    .await
}

/// Runs every future to completion, polling the unfinished ones in index order each time
/// (deterministic), and returns the first error to occur (ties go to the lower index), or
/// `Ok` when all succeed.
async fn join_all(futures: Vec<StepFuture<'_>>) -> Result<(), ServiceError> {
    let mut pending: Vec<Option<StepFuture<'_>>> = futures.into_iter().map(Some).collect();
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
    ) -> StepFuture<'static> {
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
