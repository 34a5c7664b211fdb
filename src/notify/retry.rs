//! What happens after an attempt, decided in one place: a typed
//! [`Decision`] from the attempt's result, and the backoff before the next
//! one as a separate iterator of delays (exponential, full jitter).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::Duration;

/// The first retry waits up to this long...
pub const BASE: Duration = Duration::from_secs(5);
/// ...each later one up to twice as long, but never more than this.
pub const CAP: Duration = Duration::from_secs(600);

/// What one attempt at a receiver gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// An HTTP answer with this status.
    Http(u16),
    /// A hook that ended with this exit code.
    Exit(i32),
    /// No answer: a connection error, a timeout, a hook killed by a signal
    /// or one that could not be started.
    Failed,
}

/// What to do with a notification after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The receiver has it.
    Delivered,
    /// It may succeed later: try again after a backoff.
    Retry,
    /// It will never succeed (the receiver refuses it): stop trying.
    DeadLetter,
}

/// The one function that judges a response. HTTP: 2xx delivered; 408, 429
/// and 5xx retried (the receiver is busy or broken for now); any other
/// status refused for good. A hook: exit 0 delivered, anything else
/// retried (a script cannot say "never"). No answer: retried.
pub fn decide(response: &Response) -> Decision {
    match *response {
        Response::Http(200..=299) => Decision::Delivered,
        Response::Http(408 | 429 | 500..=599) => Decision::Retry,
        Response::Http(_) => Decision::DeadLetter,
        Response::Exit(0) => Decision::Delivered,
        Response::Exit(_) | Response::Failed => Decision::Retry,
    }
}

/// The delays before retries 1, 2, 3…: retry n waits a uniformly random
/// time in `[0, min(CAP, BASE · 2^(n-1))]` ("full jitter"), so receivers
/// that failed together are not all retried at the same instant.
pub struct Backoff {
    retry: u32,
    random: RandomState,
}

impl Backoff {
    /// The delays from retry `first` on (1 for the first retry).
    pub fn from_retry(first: u32) -> Backoff {
        Backoff { retry: first.max(1), random: RandomState::new() }
    }

    /// The upper bound of retry `n`'s delay.
    pub fn ceiling(n: u32) -> Duration {
        let doublings = n.saturating_sub(1).min(20);
        BASE.saturating_mul(1 << doublings).min(CAP)
    }
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let ceiling = Backoff::ceiling(self.retry);
        // std's randomly keyed hasher is the randomness: no crate for one
        // number per attempt.
        let random = self.random.hash_one(self.retry);
        self.retry = self.retry.saturating_add(1);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Some(Duration::from_millis(random % (millis + 1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_judged_as_the_spec_says() {
        assert_eq!(decide(&Response::Http(200)), Decision::Delivered);
        assert_eq!(decide(&Response::Http(204)), Decision::Delivered);
        for status in [408, 429, 500, 502, 503, 599] {
            assert_eq!(decide(&Response::Http(status)), Decision::Retry, "{status}");
        }
        for status in [301, 400, 401, 404, 410, 422] {
            assert_eq!(decide(&Response::Http(status)), Decision::DeadLetter, "{status}");
        }
        assert_eq!(decide(&Response::Exit(0)), Decision::Delivered);
        assert_eq!(decide(&Response::Exit(1)), Decision::Retry);
        assert_eq!(decide(&Response::Failed), Decision::Retry);
    }

    #[test]
    fn ceilings_double_from_the_base_up_to_the_cap() {
        assert_eq!(Backoff::ceiling(1), Duration::from_secs(5));
        assert_eq!(Backoff::ceiling(2), Duration::from_secs(10));
        assert_eq!(Backoff::ceiling(4), Duration::from_secs(40));
        assert_eq!(Backoff::ceiling(8), Duration::from_secs(600));
        assert_eq!(Backoff::ceiling(u32::MAX), CAP);
    }

    #[test]
    fn delays_stay_within_their_ceiling_and_spread() {
        let delays: Vec<Duration> = Backoff::from_retry(1).take(12).collect();
        for (n, delay) in delays.iter().enumerate() {
            assert!(*delay <= Backoff::ceiling(n as u32 + 1), "retry {}: {delay:?}", n + 1);
        }
        let late: Vec<Duration> = (0..20).filter_map(|_| Backoff::from_retry(9).next()).collect();
        assert!(late.iter().any(|d| *d != late[0]), "full jitter spreads the delays: {late:?}");
    }
}
