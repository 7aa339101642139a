//! A minimal executor for the few rdkafka futures (admin requests) that the
//! blocking helpers wait on. Those futures are completed by rdkafka's own
//! background thread, so parking the calling thread is all that is needed.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on the current thread until it completes or `timeout`
/// passes (`None` then).
pub(crate) fn block_on_timeout<F: Future>(future: F, timeout: Duration) -> Option<F::Output> {
    let deadline = Instant::now() + timeout;
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return Some(out);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        thread::park_timeout(deadline - now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_future_completes_and_pending_one_times_out() {
        assert_eq!(
            block_on_timeout(async { 7 }, Duration::from_secs(1)),
            Some(7)
        );
        let never = std::future::pending::<()>();
        assert_eq!(block_on_timeout(never, Duration::from_millis(50)), None);
    }
}
