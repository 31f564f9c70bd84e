//! Jobs run ahead of their consumer on worker threads, handed back in job order through
//! bounded channels, so that what waits in memory is bounded however many jobs there are.
//!
//! Job `k` goes to worker `k % workers`, and each worker has its own channel: the consumer
//! reads job `k` from that worker's channel, so results come back in order without a reorder
//! buffer, and at most `capacity` finished results wait per worker (plus the one each worker is
//! making). Dropping the [`Prefetch`] stops the workers: a worker notices when its next send
//! finds the channel closed or when it checks the stop flag between jobs, and `drop` joins
//! them all, so no thread outlives the consumer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use crate::{NnError, Result};

/// Results of jobs `0..jobs`, computed ahead by worker threads, read in job order.
pub(crate) struct Prefetch<T> {
    receivers: Vec<Receiver<Result<T>>>,
    workers: Vec<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    next: usize,
    jobs: usize,
}

impl<T: Send + 'static> Prefetch<T> {
    /// Starts `workers` threads (at least one, at most one per job) running `job(k)` for every
    /// `k` in `0..jobs`, each keeping at most `capacity` (at least one) results waiting.
    pub(crate) fn start<F>(jobs: usize, workers: usize, capacity: usize, job: F) -> Result<Prefetch<T>>
    where
        F: Fn(usize) -> Result<T> + Send + Sync + 'static,
    {
        let job = Arc::new(job);
        let stop = Arc::new(AtomicBool::new(false));
        let count = workers.clamp(1, jobs.max(1));
        let mut prefetch =
            Prefetch { receivers: Vec::new(), workers: Vec::new(), stop: stop.clone(), next: 0, jobs };
        for worker in 0..count {
            let (sender, receiver) = sync_channel(capacity.max(1));
            let (job, stop) = (job.clone(), stop.clone());
            let handle = std::thread::Builder::new()
                .name(format!("tessera-data-{worker}"))
                .spawn(move || work(worker, count, jobs, &*job, &stop, &sender))
                .map_err(|e| NnError::Data(format!("cannot start a data worker thread: {e}")))?;
            prefetch.receivers.push(receiver);
            prefetch.workers.push(handle);
        }
        Ok(prefetch)
    }
}

/// One worker's loop: its share of the jobs in order, until they are done, a job fails (the
/// error is its last message), the consumer has gone, or `stop` is set.
fn work<T>(
    worker: usize,
    workers: usize,
    jobs: usize,
    job: &(dyn Fn(usize) -> Result<T> + Send + Sync),
    stop: &AtomicBool,
    sender: &SyncSender<Result<T>>,
) {
    for k in (worker..jobs).step_by(workers) {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let result = job(k);
        let failed = result.is_err();
        if sender.send(result).is_err() || failed {
            return;
        }
    }
}

impl<T> Iterator for Prefetch<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        if self.next >= self.jobs {
            return None;
        }
        let k = self.next;
        self.next += 1;
        let receiver = &self.receivers[k % self.receivers.len()];
        Some(receiver.recv().unwrap_or_else(|_| {
            // The worker hung up without sending job k's result or an error: it panicked.
            Err(NnError::Data(format!("the data worker thread making batch {k} stopped unexpectedly")))
        }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.jobs - self.next;
        (left, Some(left))
    }
}

impl<T> Drop for Prefetch<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Closing the channels wakes any worker blocked on a full one.
        self.receivers.clear();
        for worker in self.workers.drain(..) {
            // A worker that panicked has reported it through its closed channel already.
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn results_come_in_job_order_whatever_the_workers() {
        for workers in [1, 3, 8] {
            let results: Vec<usize> =
                Prefetch::start(20, workers, 2, |k| Ok(k * k)).unwrap().collect::<Result<_>>().unwrap();
            assert_eq!(results, (0..20).map(|k| k * k).collect::<Vec<_>>());
        }
    }

    #[test]
    fn workers_stop_when_the_consumer_stops_early() {
        let started = Arc::new(AtomicUsize::new(0));
        let counter = started.clone();
        let mut prefetch = Prefetch::start(10_000, 4, 1, move |k| {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(k)
        })
        .unwrap();
        assert_eq!(prefetch.next().unwrap().unwrap(), 0);
        drop(prefetch);
        // Joined: nothing runs after the drop, and only a bounded number of jobs ran ahead.
        let ran = started.load(Ordering::SeqCst);
        assert!(ran <= 1 + 4 * 3, "{ran} jobs ran for one consumed");
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(started.load(Ordering::SeqCst), ran);
    }

    #[test]
    fn an_error_ends_the_stream_where_it_happened() {
        let mut prefetch =
            Prefetch::start(6, 2, 4, |k| if k == 3 { Err(NnError::Data("bad".into())) } else { Ok(k) })
                .unwrap();
        let got: Vec<_> = prefetch.by_ref().take(3).map(|r| r.unwrap()).collect();
        assert_eq!(got, [0, 1, 2]);
        assert!(prefetch.next().unwrap().is_err());
    }
}
