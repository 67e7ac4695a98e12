//! How a leader's replication stream gathers entries before each
//! AppendEntries: openraft builds a request from whatever the log holds at
//! the moment the network pulls it, and pulls the next one as soon as the
//! follower answered the last. On a busy leader, the client requests that
//! will append next are often already runnable on the same runtime; pulled
//! at once, the request leaves without them and they need a message of
//! their own. [`gather_before_each`] yields to the runtime a few times
//! before each pull, so those requests reach the log first and share the
//! message (and the follower's flush, apply and wake-ups, which cost the
//! same whatever a message carries). A yield puts the task behind the
//! tasks already runnable and costs nothing when there are none, so an
//! idle leader's lone append is not held back by a timer.

use std::pin::Pin;

use futures::{Stream, StreamExt};

/// Yields before each AppendEntries is built. Measured with `gobench` on a
/// 3-node loopback cluster (`docs/performance.md`): 2 already gains most of
/// it, 8 slightly more, 32 and 128 nothing further.
pub(crate) const GATHER_YIELDS: usize = 8;

/// `input`, with `yields` yields to the runtime before each item is
/// pulled from it. Items, and their order, are `input`'s.
pub(crate) fn gather_before_each<S>(
    input: S,
    yields: usize,
) -> Pin<Box<dyn Stream<Item = S::Item> + Send>>
where
    S: Stream + Unpin + Send + 'static,
    S::Item: Send,
{
    Box::pin(futures::stream::unfold(
        input,
        move |mut input| async move {
            for _ in 0..yields {
                tokio::task::yield_now().await;
            }
            input.next().await.map(|item| (item, input))
        },
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use futures::StreamExt;

    use super::*;

    /// The stream reads a counter when it is pulled, as openraft reads the
    /// log when it builds a request.
    fn counter_reads(counter: Arc<AtomicUsize>) -> impl Stream<Item = usize> + Unpin + Send {
        futures::stream::repeat_with(move || counter.load(Ordering::SeqCst))
    }

    /// What the first pull reads when `appends` tasks that each add one
    /// were spawned just before it, with `yields` yields before the pull.
    async fn first_pull_after(appends: usize, yields: usize) -> Option<usize> {
        let counter = Arc::new(AtomicUsize::new(0));
        let mut gathered = gather_before_each(counter_reads(counter.clone()), yields);
        for _ in 0..appends {
            let appended = counter.clone();
            tokio::spawn(async move {
                appended.fetch_add(1, Ordering::SeqCst);
            });
        }
        gathered.next().await
    }

    #[tokio::test(flavor = "current_thread")]
    async fn tasks_already_runnable_run_before_the_pull() {
        assert_eq!(first_pull_after(3, GATHER_YIELDS).await, Some(3));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn without_yields_the_pull_comes_first() {
        assert_eq!(first_pull_after(1, 0).await, Some(0));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn items_and_their_order_are_the_inputs() {
        let input = futures::stream::iter(vec![1, 2, 3]);
        let items: Vec<i32> = gather_before_each(input, GATHER_YIELDS).collect().await;
        assert_eq!(items, vec![1, 2, 3]);
    }
}
