//! The thread budget: the machine's cores shared out among the trainers that are training, so
//! two runs side by side each work on their own share instead of fighting over every core.
//!
//! Each trainer thread runs its steps inside its own rayon pool (our kernels, candle's rayon
//! ops and gemm all run on the pool they are called from). The pool's size is the run's share:
//! all the cores for the only active run, half each for two (at least one thread each), and it
//! changes live when a run pauses, finishes or starts again.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Shares out `total` threads among the runs that are active now.
#[derive(Clone, Debug)]
pub struct ThreadBudget {
    inner: Arc<Mutex<Shares>>,
}

#[derive(Debug)]
struct Shares {
    total: usize,
    next_id: u64,
    /// Registered runs, in registration order, and whether each is training now.
    active: BTreeMap<u64, bool>,
}

/// One run's place in a [`ThreadBudget`]; leaving the budget when dropped.
#[derive(Debug)]
pub struct Seat {
    budget: ThreadBudget,
    id: u64,
}

impl ThreadBudget {
    /// A budget of `total` threads (at least 1).
    pub fn new(total: usize) -> Self {
        ThreadBudget {
            inner: Arc::new(Mutex::new(Shares {
                total: total.max(1),
                next_id: 0,
                active: BTreeMap::new(),
            })),
        }
    }

    /// A budget of every core this process may use.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        ThreadBudget::new(cores)
    }

    pub fn total(&self) -> usize {
        self.lock().total
    }

    /// A seat for a new run (idle until it says it is active).
    pub fn seat(&self) -> Seat {
        let mut shares = self.lock();
        let id = shares.next_id;
        shares.next_id += 1;
        shares.active.insert(id, false);
        Seat {
            budget: self.clone(),
            id,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shares> {
        // The state is a few numbers that are always consistent: a panic elsewhere while
        // holding the lock cannot leave it half-updated.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Shares {
    /// Threads for run `id`: the total split evenly among the active runs (the first ones get
    /// the remainder), at least 1; an idle run is counted as if it were the only one to join.
    fn share(&self, id: u64) -> usize {
        let active: Vec<u64> = self
            .active
            .iter()
            .filter(|&(&run, &on)| on || run == id)
            .map(|(&run, _)| run)
            .collect();
        let n = active.len().max(1);
        let position = active.iter().position(|&run| run == id).unwrap_or(0);
        let base = self.total / n;
        let extra = usize::from(position < self.total % n);
        (base + extra).max(1)
    }
}

impl Seat {
    /// Say whether this run is training now (a paused or finished run gives its share back).
    pub fn set_active(&self, active: bool) {
        self.budget.lock().active.insert(self.id, active);
    }

    /// The number of threads this run should use now.
    pub fn threads(&self) -> usize {
        self.budget.lock().share(self.id)
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.budget.lock().active.remove(&self.id);
    }
}

/// A rayon pool sized to a seat's share, rebuilt only when the share changes.
pub struct SizedPool {
    pool: Option<rayon::ThreadPool>,
    threads: usize,
    name: String,
}

impl SizedPool {
    /// `name` prefixes the pool's thread names (e.g. `trainer-A` → `trainer-A-pool-0`).
    pub fn new(name: &str) -> Self {
        SizedPool {
            pool: None,
            threads: 0,
            name: name.to_string(),
        }
    }

    /// Run `work` on a pool of `threads` threads (made or remade as needed). If no pool can be
    /// made (the system refuses threads), the work runs on the calling thread.
    pub fn install<R: Send>(&mut self, threads: usize, work: impl FnOnce() -> R + Send) -> R {
        if self.pool.is_none() || self.threads != threads {
            let name = self.name.clone();
            self.pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(move |i| format!("{name}-pool-{i}"))
                .build()
                .ok();
            self.threads = threads;
        }
        match &self.pool {
            Some(pool) => pool.install(work),
            None => work(),
        }
    }

    /// Threads of the current pool (0 before the first `install`).
    pub fn threads(&self) -> usize {
        self.threads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_active_run_gets_every_core_and_two_share_them() {
        let budget = ThreadBudget::new(8);
        let a = budget.seat();
        let b = budget.seat();
        a.set_active(true);
        assert_eq!(
            (a.threads(), b.threads()),
            (8, 4),
            "b would get half if it joined"
        );
        b.set_active(true);
        assert_eq!((a.threads(), b.threads()), (4, 4));
        b.set_active(false);
        assert_eq!(a.threads(), 8, "a paused run gives its share back at once");
        drop(b);
        assert_eq!(a.threads(), 8);
    }

    #[test]
    fn odd_totals_give_the_remainder_to_the_first_run_and_never_zero() {
        let budget = ThreadBudget::new(3);
        let (a, b) = (budget.seat(), budget.seat());
        a.set_active(true);
        b.set_active(true);
        assert_eq!((a.threads(), b.threads()), (2, 1));
        let one = ThreadBudget::new(1);
        let (c, d, e) = (one.seat(), one.seat(), one.seat());
        for s in [&c, &d, &e] {
            s.set_active(true);
        }
        assert_eq!([c.threads(), d.threads(), e.threads()], [1, 1, 1]);
        assert_eq!(ThreadBudget::new(0).total(), 1);
    }

    #[test]
    fn a_two_core_machine_gives_each_of_two_runs_one_thread() {
        let budget = ThreadBudget::new(2);
        let (a, b) = (budget.seat(), budget.seat());
        a.set_active(true);
        assert_eq!(a.threads(), 2);
        b.set_active(true);
        assert_eq!((a.threads(), b.threads()), (1, 1));
        a.set_active(false);
        assert_eq!(b.threads(), 2);
    }

    #[test]
    fn the_pool_has_the_share_and_follows_it() {
        let mut pool = SizedPool::new("test");
        assert_eq!(pool.install(3, rayon::current_num_threads), 3);
        assert_eq!(pool.install(1, rayon::current_num_threads), 1);
        assert_eq!(pool.threads(), 1);
        let name = pool.install(1, || std::thread::current().name().map(String::from));
        assert_eq!(name.as_deref(), Some("test-pool-0"));
    }
}
