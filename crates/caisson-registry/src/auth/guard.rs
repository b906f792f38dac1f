//! What stands between a password guesser and argon2: a small fixed number
//! of concurrent verifications (excess requests are refused without
//! hashing), and per-address / per-user failure throttling with exponential
//! delay. Pure bookkeeping with an injectable clock; the registry wires it
//! into `login`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Limits on password verification and failed logins.
#[derive(Debug, Clone)]
pub struct AuthLimits {
    /// Argon2 verifications running at once (each holds ~19 MiB).
    pub verify_concurrency: usize,
    /// Requests allowed to wait for a verification slot; more are refused.
    pub verify_queue: usize,
    /// How long a request waits for a slot before it is refused.
    pub verify_wait: Duration,
    /// Failures per address or user before delays start.
    pub free_failures: u32,
    /// The first delay; each further failure doubles it.
    pub base_delay: Duration,
    /// Longest delay for an address.
    pub max_address_delay: Duration,
    /// Longest delay for a user name (short: an attacker must not be able
    /// to lock a user out; addresses the user logged in from are exempt).
    pub max_user_delay: Duration,
    /// Failures older than this are forgotten.
    pub failure_window: Duration,
}

impl Default for AuthLimits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        AuthLimits {
            verify_concurrency: cores.clamp(1, 4),
            verify_queue: 32,
            verify_wait: Duration::from_secs(5),
            free_failures: 5,
            base_delay: Duration::from_secs(1),
            max_address_delay: Duration::from_secs(15 * 60),
            max_user_delay: Duration::from_secs(60),
            failure_window: Duration::from_secs(15 * 60),
        }
    }
}

/// Entries each map may hold before old ones are dropped (bounds memory
/// under address-spraying; the maps only ever hold recent failures).
const MAX_ENTRIES: usize = 100_000;
/// How long a successful login exempts its address from the user throttle.
const KNOWN_ADDRESS: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    /// Whether the refusal for the current delay was already reported.
    reported: bool,
}

/// Why a login may not be tried now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Too many recent failures; try again after `retry_after`.
    Throttled {
        retry_after: Duration,
        /// `address` or `user`.
        by: &'static str,
        /// First refusal of this delay (audit it; later ones are not).
        first: bool,
    },
    /// Every verification slot is busy and the queue is full or the wait ran out.
    Busy,
}

/// Verification slots and failure counters.
pub struct LoginGuard {
    limits: AuthLimits,
    slots: tokio::sync::Semaphore,
    waiting: AtomicUsize,
    failures: Mutex<HashMap<String, Failures>>,
    /// (user, address) pairs that logged in successfully, and when.
    known: Mutex<HashMap<(String, String), Instant>>,
}

impl LoginGuard {
    pub fn new(limits: AuthLimits) -> Self {
        LoginGuard {
            slots: tokio::sync::Semaphore::new(limits.verify_concurrency.max(1)),
            waiting: AtomicUsize::new(0),
            failures: Mutex::new(HashMap::new()),
            known: Mutex::new(HashMap::new()),
            limits,
        }
    }

    /// The delay owed after `count` failures, capped at `max`.
    pub fn delay(&self, count: u32, max: Duration) -> Duration {
        let over = count.saturating_sub(self.limits.free_failures);
        if over == 0 {
            return Duration::ZERO;
        }
        let factor = 1u32
            .checked_shl(over.saturating_sub(1).min(30))
            .unwrap_or(u32::MAX);
        self.limits.base_delay.saturating_mul(factor).min(max)
    }

    fn check_key(
        &self,
        map: &mut HashMap<String, Failures>,
        key: &str,
        max: Duration,
        now: Instant,
    ) -> Option<(Duration, bool)> {
        let f = map.get_mut(key)?;
        let since = now.saturating_duration_since(f.last);
        let wait = self.delay(f.count, max);
        if since >= wait {
            return None;
        }
        let first = !f.reported;
        f.reported = true;
        Some((wait.saturating_sub(since), first))
    }

    /// Whether `user` may try a password from `address` now.
    pub fn admit(&self, user: &str, address: &str, now: Instant) -> Result<(), Refusal> {
        let known = self.is_known(user, address, now);
        let Ok(mut map) = self.failures.lock() else {
            return Ok(());
        };
        let addr_key = format!("addr:{address}");
        if let Some((retry_after, first)) =
            self.check_key(&mut map, &addr_key, self.limits.max_address_delay, now)
        {
            return Err(Refusal::Throttled {
                retry_after,
                by: "address",
                first,
            });
        }
        if !known {
            let user_key = format!("user:{user}");
            if let Some((retry_after, first)) =
                self.check_key(&mut map, &user_key, self.limits.max_user_delay, now)
            {
                return Err(Refusal::Throttled {
                    retry_after,
                    by: "user",
                    first,
                });
            }
        }
        Ok(())
    }

    fn is_known(&self, user: &str, address: &str, now: Instant) -> bool {
        self.known
            .lock()
            .ok()
            .and_then(|m| m.get(&(user.to_string(), address.to_string())).copied())
            .is_some_and(|t| now.saturating_duration_since(t) < KNOWN_ADDRESS)
    }

    /// Records a wrong password (or unknown user) from `address`; returns
    /// the failure counts (address, user) after it.
    pub fn failed(&self, user: &str, address: &str, now: Instant) -> (u32, u32) {
        let Ok(mut map) = self.failures.lock() else {
            return (0, 0);
        };
        if map.len() >= MAX_ENTRIES {
            let window = self.limits.failure_window;
            map.retain(|_, f| now.saturating_duration_since(f.last) < window);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        let mut bump = |key: String| {
            let window = self.limits.failure_window;
            let f = map.entry(key).or_insert(Failures {
                count: 0,
                last: now,
                reported: false,
            });
            if now.saturating_duration_since(f.last) >= window {
                f.count = 0;
            }
            f.count = f.count.saturating_add(1);
            f.last = now;
            f.reported = false;
            f.count
        };
        let a = bump(format!("addr:{address}"));
        let u = bump(format!("user:{user}"));
        (a, u)
    }

    /// Records a successful login: clears the address's and user's failures
    /// and remembers the address as one the user logs in from.
    pub fn succeeded(&self, user: &str, address: &str, now: Instant) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&format!("addr:{address}"));
            map.remove(&format!("user:{user}"));
        }
        if let Ok(mut known) = self.known.lock() {
            if known.len() >= MAX_ENTRIES {
                known.retain(|_, t| now.saturating_duration_since(*t) < KNOWN_ADDRESS);
                if known.len() >= MAX_ENTRIES {
                    known.clear();
                }
            }
            known.insert((user.to_string(), address.to_string()), now);
        }
    }

    /// Runs `verify` on a blocking thread once a verification slot is free.
    /// At most `verify_queue` callers wait, each at most `verify_wait`;
    /// the others are refused at once, without hashing.
    pub async fn verify<F>(&self, verify: F) -> Result<bool, Refusal>
    where
        F: FnOnce() -> bool + Send + 'static,
    {
        let permit = match self.slots.try_acquire() {
            Ok(p) => p,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.limits.verify_queue {
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    return Err(Refusal::Busy);
                }
                let got = tokio::time::timeout(self.limits.verify_wait, self.slots.acquire()).await;
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                match got {
                    Ok(Ok(p)) => p,
                    _ => return Err(Refusal::Busy),
                }
            }
        };
        let ok = tokio::task::spawn_blocking(verify).await.unwrap_or(false);
        drop(permit);
        Ok(ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> LoginGuard {
        LoginGuard::new(AuthLimits {
            free_failures: 3,
            base_delay: Duration::from_secs(2),
            max_user_delay: Duration::from_secs(10),
            max_address_delay: Duration::from_secs(100),
            ..AuthLimits::default()
        })
    }

    #[test]
    fn delays_double_after_the_free_failures_and_are_capped() {
        let g = guard();
        let max = Duration::from_secs(100);
        let d: Vec<u64> = (0..10).map(|n| g.delay(n, max).as_secs()).collect();
        assert_eq!(d, vec![0, 0, 0, 0, 2, 4, 8, 16, 32, 64]);
        assert_eq!(g.delay(40, max), max);
        assert_eq!(g.delay(u32::MAX, max), max);
    }

    #[test]
    fn an_address_is_throttled_then_released() {
        let g = guard();
        let t0 = Instant::now();
        for _ in 0..4 {
            assert!(g.admit("admin", "10.0.0.1", t0).is_ok());
            g.failed("admin", "10.0.0.1", t0);
        }
        match g.admit("admin", "10.0.0.1", t0) {
            Err(Refusal::Throttled {
                retry_after,
                by,
                first,
            }) => {
                assert_eq!(retry_after, Duration::from_secs(2));
                assert_eq!(by, "address");
                assert!(first);
            }
            other => panic!("expected throttling, got {other:?}"),
        }
        // Only the first refusal of a delay is reported.
        assert!(matches!(
            g.admit("admin", "10.0.0.1", t0),
            Err(Refusal::Throttled { first: false, .. })
        ));
        assert!(g
            .admit("admin", "10.0.0.1", t0 + Duration::from_secs(2))
            .is_ok());
    }

    #[test]
    fn the_user_throttle_spares_addresses_the_user_logged_in_from() {
        let g = guard();
        let t0 = Instant::now();
        g.succeeded("alice", "10.0.0.9", t0);
        // An attacker spraying from many addresses hits the user throttle…
        for i in 0..6 {
            g.failed("alice", &format!("192.0.2.{i}"), t0);
        }
        assert!(matches!(
            g.admit("alice", "192.0.2.200", t0),
            Err(Refusal::Throttled { by: "user", .. })
        ));
        // …but not alice at her usual address, and never for long.
        assert!(g.admit("alice", "10.0.0.9", t0).is_ok());
        assert!(g
            .admit("alice", "192.0.2.200", t0 + Duration::from_secs(10))
            .is_ok());
    }

    #[test]
    fn success_clears_failures_and_old_failures_expire() {
        let g = guard();
        let t0 = Instant::now();
        for _ in 0..5 {
            g.failed("bob", "10.0.0.2", t0);
        }
        g.succeeded("bob", "10.0.0.2", t0);
        assert!(g.admit("bob", "10.0.0.2", t0).is_ok());
        for _ in 0..5 {
            g.failed("carol", "10.0.0.3", t0);
        }
        let later = t0 + Duration::from_secs(16 * 60);
        assert_eq!(g.failed("carol", "10.0.0.3", later), (1, 1));
    }

    #[tokio::test]
    async fn verification_slots_refuse_the_excess_without_running_it() {
        let g = std::sync::Arc::new(LoginGuard::new(AuthLimits {
            verify_concurrency: 1,
            verify_queue: 1,
            verify_wait: Duration::from_secs(5),
            ..AuthLimits::default()
        }));
        let ran = std::sync::Arc::new(AtomicUsize::new(0));
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let holder = {
            let (g, ran) = (g.clone(), ran.clone());
            tokio::spawn(async move {
                g.verify(move || {
                    ran.fetch_add(1, Ordering::SeqCst);
                    let _ = release_rx.recv();
                    true
                })
                .await
            })
        };
        while ran.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let waiter = {
            let (g, ran) = (g.clone(), ran.clone());
            tokio::spawn(async move {
                g.verify(move || {
                    ran.fetch_add(1, Ordering::SeqCst);
                    false
                })
                .await
            })
        };
        while g.waiting.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        // Slot busy and queue full: refused without running.
        let r = g
            .verify({
                let ran = ran.clone();
                move || {
                    ran.fetch_add(1, Ordering::SeqCst);
                    true
                }
            })
            .await;
        assert_eq!(r, Err(Refusal::Busy));
        release_tx.send(()).expect("release");
        assert_eq!(holder.await.expect("join"), Ok(true));
        assert_eq!(waiter.await.expect("join"), Ok(false));
        assert_eq!(ran.load(Ordering::SeqCst), 2);
    }
}
