//! openraft's async runtime for ordo: tokio, except where randomness comes
//! from. openraft draws election timeouts from `thread_rng()`; here that is a
//! per-task RNG derived from a seed when the caller set one with
//! [`with_seed`] (the simulation, so the same seed elects the same way), and
//! the OS's RNG otherwise (production). Spawned tasks inherit a seed derived
//! from their parent's, so the whole task tree of a node is reproducible.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::time::Duration;

use openraft::rt::{AsyncRuntime, Select2, Select3, Select4};
use openraft::OptionalSend;
use openraft_rt_tokio::TokioRuntime;
use rand::rngs::SmallRng;
use rand::SeedableRng;

tokio::task_local! {
    static SEED: Cell<u64>;
}

/// Runs `future` (and every task openraft spawns from it) with randomness
/// derived from `seed`.
pub fn with_seed<F: Future>(seed: u64, future: F) -> impl Future<Output = F::Output> {
    SEED.scope(Cell::new(seed), future)
}

/// SplitMix64: a bijective mixer; distinct `gamma`s give independent streams,
/// so a child's seed never collides with its parent's next draw.
fn splitmix64(seed: u64, gamma: u64) -> u64 {
    let z = seed.wrapping_add(gamma);
    let z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const ADVANCE: u64 = 0x6a09_e667_f3bc_c908;
const CHILD: u64 = 0x9e37_79b9_7f4a_7c15;

/// Takes the current task's seed and advances it; `None` outside a scope.
fn draw_seed() -> Option<u64> {
    SEED.try_with(|cell| {
        let seed = cell.get();
        cell.set(splitmix64(seed, ADVANCE));
        seed
    })
    .ok()
}

#[derive(Debug)]
pub struct OrdoRuntime {
    inner: TokioRuntime,
}

impl AsyncRuntime for OrdoRuntime {
    type JoinError = <TokioRuntime as AsyncRuntime>::JoinError;
    type JoinHandle<T: OptionalSend + 'static> = <TokioRuntime as AsyncRuntime>::JoinHandle<T>;
    type Sleep = <TokioRuntime as AsyncRuntime>::Sleep;
    type Instant = <TokioRuntime as AsyncRuntime>::Instant;
    type TimeoutError = <TokioRuntime as AsyncRuntime>::TimeoutError;
    type Timeout<R, T: Future<Output = R> + OptionalSend> =
        <TokioRuntime as AsyncRuntime>::Timeout<R, T>;
    type ThreadLocalRng = SmallRng;

    fn spawn<T>(future: T) -> Self::JoinHandle<T::Output>
    where
        T: Future + OptionalSend + 'static,
        T::Output: OptionalSend + 'static,
    {
        match draw_seed() {
            Some(seed) => tokio::spawn(SEED.scope(Cell::new(splitmix64(seed, CHILD)), future)),
            None => tokio::spawn(future),
        }
    }

    fn sleep(duration: Duration) -> Self::Sleep {
        TokioRuntime::sleep(duration)
    }

    fn sleep_until(deadline: Self::Instant) -> Self::Sleep {
        TokioRuntime::sleep_until(deadline)
    }

    fn timeout<R, F: Future<Output = R> + OptionalSend>(
        duration: Duration,
        future: F,
    ) -> Self::Timeout<R, F> {
        TokioRuntime::timeout(duration, future)
    }

    fn timeout_at<R, F: Future<Output = R> + OptionalSend>(
        deadline: Self::Instant,
        future: F,
    ) -> Self::Timeout<R, F> {
        TokioRuntime::timeout_at(deadline, future)
    }

    fn select2<A, B>(
        a: A,
        b: B,
    ) -> impl Future<Output = Select2<A::Output, B::Output>> + OptionalSend
    where
        A: Future + OptionalSend,
        B: Future + OptionalSend,
    {
        TokioRuntime::select2(a, b)
    }

    fn select3<A, B, C>(
        a: A,
        b: B,
        c: C,
    ) -> impl Future<Output = Select3<A::Output, B::Output, C::Output>> + OptionalSend
    where
        A: Future + OptionalSend,
        B: Future + OptionalSend,
        C: Future + OptionalSend,
    {
        TokioRuntime::select3(a, b, c)
    }

    fn select4<A, B, C, D>(
        a: A,
        b: B,
        c: C,
        d: D,
    ) -> impl Future<Output = Select4<A::Output, B::Output, C::Output, D::Output>> + OptionalSend
    where
        A: Future + OptionalSend,
        B: Future + OptionalSend,
        C: Future + OptionalSend,
        D: Future + OptionalSend,
    {
        TokioRuntime::select4(a, b, c, d)
    }

    fn is_panic(join_error: &Self::JoinError) -> bool {
        TokioRuntime::is_panic(join_error)
    }

    fn thread_rng() -> Self::ThreadLocalRng {
        match draw_seed() {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::from_rng(&mut rand::rng()),
        }
    }

    type Mpsc = <TokioRuntime as AsyncRuntime>::Mpsc;
    type Watch = <TokioRuntime as AsyncRuntime>::Watch;
    type Oneshot = <TokioRuntime as AsyncRuntime>::Oneshot;
    type Mutex<T: OptionalSend + 'static> = <TokioRuntime as AsyncRuntime>::Mutex<T>;

    fn new(threads: usize) -> Self {
        OrdoRuntime {
            inner: TokioRuntime::new(threads),
        }
    }

    fn block_on<F, T>(&mut self, future: F) -> T
    where
        F: Future<Output = T>,
    {
        self.inner.block_on(future)
    }

    fn spawn_blocking<F, T>(f: F) -> impl Future<Output = Result<T, io::Error>> + Send
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        TokioRuntime::spawn_blocking(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    async fn draws() -> Vec<u64> {
        let mut rng = OrdoRuntime::thread_rng();
        let mut out = vec![rng.random::<u64>()];
        let child = OrdoRuntime::spawn(async { OrdoRuntime::thread_rng().random::<u64>() });
        out.push(child.await.expect("child task"));
        out.push(OrdoRuntime::thread_rng().random::<u64>());
        out
    }

    #[tokio::test]
    async fn the_same_seed_draws_the_same_numbers_in_parent_and_child_tasks() {
        let a = with_seed(42, draws()).await;
        let b = with_seed(42, draws()).await;
        let c = with_seed(43, draws()).await;
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 3);
        assert!(
            a[0] != a[1] && a[1] != a[2],
            "parent and child streams differ"
        );
    }

    #[tokio::test]
    async fn without_a_seed_randomness_comes_from_the_os() {
        assert_ne!(draws().await, draws().await);
    }
}
