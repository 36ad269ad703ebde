//! Login throttling, per account and per client address, in memory (one table per process).
//!
//! **Per account** (the email, case-insensitive, separately for customers and operators): after
//! `max_failures` consecutive failed logins the account is locked for `lock`; every further failure
//! after a lock doubles it, up to `lock_max`. A successful login resets the count. Attempts while
//! locked are refused before any password is checked (no bcrypt runs for them) and do not extend the
//! lock. Unknown emails count like known ones, so the answers do not tell which accounts exist.
//!
//! **Per client address** (IPv4, or the IPv6 /64): at most `addr_max_failures` failed logins within a
//! sliding `addr_window`; past that every login from the address is refused until the oldest failure
//! leaves the window. A success does not reset it (one valid account must not buy unlimited guesses at
//! others).
//!
//! Attempts still being checked count as failures until they end, so a burst of simultaneous
//! requests cannot run more password checks than the budget allows.
//!
//! **Registrations per client address** (same address unit): at most `register_addr_max` customer
//! registrations within a sliding `register_addr_window`, whatever their outcome (a new account, or
//! an email already registered: both would otherwise let one address create accounts or probe
//! emails without limit); a registration being processed counts until it ends. Invalid input is
//! refused before it reaches the budget.
//!
//! Memory is bounded: each table holds at most `capacity` entries (keys are SHA-256 digests of the
//! email, so a long email costs no more than a short one). When a table is full, entries with nothing
//! left to remember are dropped first, then the least recently seen unlocked ones.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// An account's consecutive-failure count is forgotten this long after its last failure (once any
/// lock has run out).
const FORGET_ACCOUNT_AFTER: Duration = Duration::from_secs(3600);

/// The limits; [`Default`] gives the documented defaults.
#[derive(Clone, Debug)]
pub struct LoginLimits {
    pub max_failures: u32,
    pub lock: Duration,
    pub lock_max: Duration,
    pub addr_max_failures: u32,
    pub addr_window: Duration,
    pub register_addr_max: u32,
    pub register_addr_window: Duration,
    /// Most entries kept per table (accounts, addresses, registering addresses).
    pub capacity: usize,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            max_failures: 5,
            lock: Duration::from_secs(30),
            lock_max: Duration::from_secs(900),
            addr_max_failures: 20,
            addr_window: Duration::from_secs(600),
            register_addr_max: 10,
            register_addr_window: Duration::from_secs(3600),
            capacity: 50_000,
        }
    }
}

/// Which kind of account a login is for: the same email may be a customer and an operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Realm {
    Customer,
    Operator,
}

/// A login refused without checking the password; try again after `retry_after` (at least 1 s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after: Duration,
}

impl Throttled {
    /// Whole seconds, rounded up, at least 1 (for `Retry-After`).
    pub fn retry_after_secs(&self) -> u64 {
        let d = self.retry_after;
        (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
    }
}

impl From<Throttled> for crate::error::AppError {
    fn from(t: Throttled) -> Self {
        crate::error::AppError::TooManyLoginAttempts {
            retry_after_secs: t.retry_after_secs(),
        }
    }
}

type AccountKey = [u8; 32];

fn account_key(realm: Realm, email: &str) -> AccountKey {
    let mut h = Sha256::new();
    h.update(match realm {
        Realm::Customer => b"customer\0",
        Realm::Operator => b"operator\0",
    });
    h.update(email.trim().to_lowercase().as_bytes());
    h.finalize().into()
}

/// The unit an address budget applies to: an IPv4 address, or the /64 network of an IPv6 address
/// (one host usually holds a whole /64, so per-address limits on IPv6 would be easy to sidestep).
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

#[derive(Debug)]
struct Account {
    /// Consecutive failures.
    failures: u32,
    in_flight: u32,
    locked_until: Option<Instant>,
    last_seen: Instant,
}

impl Account {
    fn new(now: Instant) -> Self {
        Account {
            failures: 0,
            in_flight: 0,
            locked_until: None,
            last_seen: now,
        }
    }

    fn locked_at(&self, now: Instant) -> bool {
        self.locked_until.is_some_and(|t| t > now)
    }

    /// Nothing left to remember: no check running, no lock, no recent failure.
    fn idle(&self, now: Instant) -> bool {
        self.in_flight == 0
            && !self.locked_at(now)
            && (self.failures == 0 || now.duration_since(self.last_seen) >= FORGET_ACCOUNT_AFTER)
    }
}

#[derive(Debug)]
struct Address {
    /// Times of what the budget counts (failed logins, registrations) within the window, oldest
    /// first (at most the budget).
    failures: VecDeque<Instant>,
    in_flight: u32,
    last_seen: Instant,
}

impl Address {
    fn new(now: Instant) -> Self {
        Address {
            failures: VecDeque::new(),
            in_flight: 0,
            last_seen: now,
        }
    }

    /// Counts a check starting from `ip` in an address table (`window` long), making room first
    /// when the address is new to it.
    fn admit(
        table: &mut HashMap<IpAddr, Address>,
        ip: IpAddr,
        capacity: usize,
        window: Duration,
        now: Instant,
    ) {
        if !table.contains_key(&ip) {
            make_room(
                table,
                capacity,
                |a| a.idle(now, window),
                |a| (!a.failures.is_empty(), a.last_seen),
            );
        }
        let a = table.entry(ip).or_insert_with(|| Address::new(now));
        a.in_flight += 1;
        a.last_seen = now;
    }

    fn expire(&mut self, now: Instant, window: Duration) {
        while self
            .failures
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            self.failures.pop_front();
        }
    }

    fn idle(&mut self, now: Instant, window: Duration) -> bool {
        self.expire(now, window);
        self.in_flight == 0 && self.failures.is_empty()
    }

    /// How long a new attempt must wait with `max` per `window` (`None`: admitted). Attempts in
    /// flight count as used.
    fn refusal(&mut self, now: Instant, max: u32, window: Duration) -> Option<Duration> {
        self.expire(now, window);
        let used = self.failures.len() as u32;
        if used >= max {
            let oldest = self.failures.front().copied().unwrap_or(now);
            Some((oldest + window).saturating_duration_since(now))
        } else if self.in_flight > 0 && used + self.in_flight >= max {
            // The remaining budget is being spent right now; the answer is a moment away.
            Some(Duration::from_secs(1))
        } else {
            None
        }
    }

    fn record(&mut self, now: Instant, max: u32) {
        self.failures.push_back(now);
        self.last_seen = now;
        while self.failures.len() > max as usize {
            self.failures.pop_front();
        }
    }
}

#[derive(Default)]
struct Tables {
    accounts: HashMap<AccountKey, Account>,
    addresses: HashMap<IpAddr, Address>,
    /// Registrations per address (a budget of their own).
    registrations: HashMap<IpAddr, Address>,
}

/// The process's login throttle (see the module documentation).
pub struct LoginLimiter {
    limits: LoginLimits,
    tables: Mutex<Tables>,
}

/// One login being checked. End it with [`Attempt::succeeded`] or [`Attempt::failed`]; dropping it
/// without either (an internal error) releases it without counting anything.
#[must_use]
pub struct Attempt<'a> {
    limiter: &'a LoginLimiter,
    account: AccountKey,
    addr: Option<IpAddr>,
    done: bool,
}

impl LoginLimiter {
    pub fn new(limits: LoginLimits) -> Self {
        LoginLimiter {
            limits,
            tables: Mutex::new(Tables::default()),
        }
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        // The tables stay consistent even if a holder panicked (every update is a few field writes).
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits a login for `email` from `addr` (None: no address budget), or refuses it.
    pub fn begin(
        &self,
        realm: Realm,
        email: &str,
        addr: Option<IpAddr>,
    ) -> Result<Attempt<'_>, Throttled> {
        self.begin_at(realm, email, addr, Instant::now())
    }

    pub(crate) fn begin_at(
        &self,
        realm: Realm,
        email: &str,
        addr: Option<IpAddr>,
        now: Instant,
    ) -> Result<Attempt<'_>, Throttled> {
        let account = account_key(realm, email);
        let addr = addr.map(address_key);
        let limits = &self.limits;
        let mut t = self.tables();
        // Refusals: the longest wait wins.
        let mut wait: Option<Duration> = None;
        let mut refuse = |d: Duration| wait = Some(wait.map_or(d, |w| w.max(d)));
        if let Some(a) = t.accounts.get_mut(&account) {
            if a.idle(now) {
                // Failures long ago (and no lock left) are forgotten.
                a.failures = 0;
                a.locked_until = None;
            }
            if let Some(until) = a.locked_until.filter(|u| *u > now) {
                refuse(until - now);
            } else if a.in_flight > 0
                && a.failures.saturating_add(a.in_flight) >= limits.max_failures
            {
                // The remaining budget is being spent right now; the answer is a moment away.
                refuse(Duration::from_secs(1));
            }
        }
        if let Some(ip) = addr
            && let Some(a) = t.addresses.get_mut(&ip)
            && let Some(d) = a.refusal(now, limits.addr_max_failures, limits.addr_window)
        {
            refuse(d);
        }
        if let Some(retry_after) = wait {
            return Err(Throttled {
                retry_after: retry_after.max(Duration::from_secs(1)),
            });
        }
        let capacity = limits.capacity;
        let window = limits.addr_window;
        if !t.accounts.contains_key(&account) {
            make_room(
                &mut t.accounts,
                capacity,
                |a| a.idle(now),
                |a| (a.locked_at(now), a.last_seen),
            );
        }
        let a = t
            .accounts
            .entry(account)
            .or_insert_with(|| Account::new(now));
        a.in_flight += 1;
        a.last_seen = now;
        if let Some(ip) = addr {
            Address::admit(&mut t.addresses, ip, capacity, window, now);
        }
        Ok(Attempt {
            limiter: self,
            account,
            addr,
            done: false,
        })
    }

    /// Admits a customer registration from `addr` (None: no address budget), or refuses it.
    pub fn begin_registration(&self, addr: Option<IpAddr>) -> Result<Registering<'_>, Throttled> {
        self.begin_registration_at(addr, Instant::now())
    }

    pub(crate) fn begin_registration_at(
        &self,
        addr: Option<IpAddr>,
        now: Instant,
    ) -> Result<Registering<'_>, Throttled> {
        let addr = addr.map(address_key);
        if let Some(ip) = addr {
            let (max, window) = (
                self.limits.register_addr_max,
                self.limits.register_addr_window,
            );
            let mut t = self.tables();
            if let Some(a) = t.registrations.get_mut(&ip)
                && let Some(d) = a.refusal(now, max, window)
            {
                return Err(Throttled {
                    retry_after: d.max(Duration::from_secs(1)),
                });
            }
            Address::admit(&mut t.registrations, ip, self.limits.capacity, window, now);
        }
        Ok(Registering {
            limiter: self,
            addr,
            done: false,
        })
    }

    fn finish_registration(&self, ip: IpAddr, counted: bool, now: Instant) {
        let (max, window) = (
            self.limits.register_addr_max,
            self.limits.register_addr_window,
        );
        let mut t = self.tables();
        if let Some(a) = t.registrations.get_mut(&ip) {
            a.in_flight = a.in_flight.saturating_sub(1);
            if counted {
                a.record(now, max);
            }
            if a.idle(now, window) {
                t.registrations.remove(&ip);
            }
        }
    }

    /// Entries held (accounts, addresses); for tests and diagnostics.
    pub fn len(&self) -> (usize, usize) {
        let t = self.tables();
        (t.accounts.len(), t.addresses.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }

    fn finish(&self, account: &AccountKey, addr: Option<IpAddr>, outcome: Outcome, now: Instant) {
        let limits = &self.limits;
        let mut t = self.tables();
        if let Some(a) = t.accounts.get_mut(account) {
            a.in_flight = a.in_flight.saturating_sub(1);
            match outcome {
                Outcome::Failed => {
                    a.failures = a.failures.saturating_add(1);
                    a.last_seen = now;
                    if a.failures >= limits.max_failures {
                        let doublings = (a.failures - limits.max_failures).min(30);
                        let lock = limits
                            .lock
                            .checked_mul(1 << doublings)
                            .unwrap_or(limits.lock_max)
                            .min(limits.lock_max);
                        a.locked_until = Some(now + lock);
                    }
                }
                Outcome::Succeeded => {
                    a.failures = 0;
                    a.locked_until = None;
                }
                Outcome::Abandoned => {}
            }
            if a.idle(now) {
                t.accounts.remove(account);
            }
        }
        if let Some(ip) = addr
            && let Some(a) = t.addresses.get_mut(&ip)
        {
            a.in_flight = a.in_flight.saturating_sub(1);
            if outcome == Outcome::Failed {
                a.record(now, limits.addr_max_failures);
            }
            if a.idle(now, limits.addr_window) {
                t.addresses.remove(&ip);
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Succeeded,
    Failed,
    Abandoned,
}

/// Before inserting a new key into a full table: drop idle entries, then (if still full) the oldest
/// eighth by `order` (false before true, then oldest first) among entries with no check running.
fn make_room<K: Copy + Eq + Hash, V>(
    map: &mut HashMap<K, V>,
    capacity: usize,
    mut idle: impl FnMut(&mut V) -> bool,
    order: impl Fn(&V) -> (bool, Instant),
) where
    V: InFlight,
{
    if map.len() < capacity {
        return;
    }
    map.retain(|_, v| !idle(v));
    if map.len() < capacity {
        return;
    }
    let mut candidates: Vec<((bool, Instant), K)> = map
        .iter()
        .filter(|(_, v)| v.in_flight() == 0)
        .map(|(k, v)| (order(v), *k))
        .collect();
    let evict = (capacity / 8)
        .max(map.len() + 1 - capacity)
        .min(candidates.len());
    if evict == 0 {
        return;
    }
    if evict < candidates.len() {
        candidates.select_nth_unstable_by_key(evict - 1, |(o, _)| *o);
    }
    for (_, k) in candidates.into_iter().take(evict) {
        map.remove(&k);
    }
}

trait InFlight {
    fn in_flight(&self) -> u32;
}

impl InFlight for Account {
    fn in_flight(&self) -> u32 {
        self.in_flight
    }
}

impl InFlight for Address {
    fn in_flight(&self) -> u32 {
        self.in_flight
    }
}

impl Attempt<'_> {
    /// The password was right: the account's count starts over.
    pub fn succeeded(self) {
        self.end(Outcome::Succeeded, Instant::now());
    }

    /// The password was wrong (or the account does not exist).
    pub fn failed(self) {
        self.end(Outcome::Failed, Instant::now());
    }

    #[cfg(test)]
    fn succeeded_at(self, now: Instant) {
        self.end(Outcome::Succeeded, now);
    }

    #[cfg(test)]
    fn failed_at(self, now: Instant) {
        self.end(Outcome::Failed, now);
    }

    fn end(mut self, outcome: Outcome, now: Instant) {
        self.done = true;
        self.limiter.finish(&self.account, self.addr, outcome, now);
    }
}

/// One registration being processed. [`Registering::counted`] spends a slot of the address's
/// budget; dropping it without (invalid input found late, an internal error) releases it.
#[must_use]
pub struct Registering<'a> {
    limiter: &'a LoginLimiter,
    addr: Option<IpAddr>,
    done: bool,
}

impl Registering<'_> {
    /// The registration ended (an account was created, or its email was already registered).
    pub fn counted(self) {
        self.end(true, Instant::now());
    }

    fn end(mut self, counted: bool, now: Instant) {
        self.done = true;
        if let Some(ip) = self.addr {
            self.limiter.finish_registration(ip, counted, now);
        }
    }
}

impl Drop for Registering<'_> {
    fn drop(&mut self) {
        if !self.done
            && let Some(ip) = self.addr
        {
            self.limiter.finish_registration(ip, false, Instant::now());
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.limiter
                .finish(&self.account, self.addr, Outcome::Abandoned, Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMAIL: &str = "a@example.com";

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().expect("ip"))
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn fail(l: &LoginLimiter, email: &str, addr: Option<IpAddr>, now: Instant) {
        l.begin_at(Realm::Customer, email, addr, now)
            .expect("admitted")
            .failed_at(now);
    }

    /// `n` failed logins to [`EMAIL`], from no address.
    fn fail_times(l: &LoginLimiter, n: u32, now: Instant) {
        for _ in 0..n {
            fail(l, EMAIL, None, now);
        }
    }

    /// A limiter with the default limits but for what `tune` changes, and the instant its test
    /// starts at.
    fn start(tune: impl FnOnce(&mut LoginLimits)) -> (LoginLimiter, Instant) {
        let mut limits = LoginLimits::default();
        tune(&mut limits);
        (LoginLimiter::new(limits), Instant::now())
    }

    fn refused(l: &LoginLimiter, email: &str, addr: Option<IpAddr>, now: Instant) -> u64 {
        match l.begin_at(Realm::Customer, email, addr, now) {
            Ok(_) => panic!("{email} from {addr:?} was admitted"),
            Err(t) => t.retry_after_secs(),
        }
    }

    #[test]
    fn account_locks_after_max_failures_and_doubles_up_to_the_cap() {
        let (l, t0) = start(|_| ());
        fail_times(&l, 5, t0);
        assert_eq!(refused(&l, EMAIL, None, t0), 30);
        // case and surrounding spaces do not make another account
        assert_eq!(refused(&l, " A@Example.COM ", None, t0 + secs(10)), 20);
        // attempts while locked do not extend the lock
        let t1 = t0 + secs(30);
        fail(&l, EMAIL, None, t1);
        assert_eq!(refused(&l, EMAIL, None, t1), 60);
        let mut now = t1;
        let mut expected = 60;
        for _ in 0..10 {
            now += secs(expected);
            fail(&l, EMAIL, None, now);
            expected = (expected * 2).min(900);
            assert_eq!(refused(&l, EMAIL, None, now), expected);
        }
        assert_eq!(expected, 900, "capped at 15 minutes");
    }

    #[test]
    fn success_resets_the_account() {
        let (l, t0) = start(|_| ());
        fail_times(&l, 4, t0);
        l.begin_at(Realm::Customer, EMAIL, None, t0)
            .expect("admitted")
            .succeeded_at(t0);
        assert!(l.is_empty(), "a reset account is forgotten");
        fail_times(&l, 4, t0);
        assert!(l.begin_at(Realm::Customer, EMAIL, None, t0).is_ok());
    }

    #[test]
    fn realms_and_accounts_are_separate() {
        let (l, t0) = start(|_| ());
        fail_times(&l, 5, t0);
        assert!(l.begin_at(Realm::Operator, EMAIL, None, t0).is_ok());
        assert!(
            l.begin_at(Realm::Customer, "b@example.com", None, t0)
                .is_ok()
        );
    }

    #[test]
    fn failures_are_forgotten_after_an_hour() {
        let (l, t0) = start(|_| ());
        fail_times(&l, 4, t0);
        let later = t0 + FORGET_ACCOUNT_AFTER;
        fail_times(&l, 4, later);
        assert!(l.begin_at(Realm::Customer, EMAIL, None, later).is_ok());
    }

    #[test]
    fn address_budget_is_a_sliding_window_across_accounts() {
        let (l, t0) = start(|_| ());
        let addr = ip("203.0.113.7");
        // 20 failures spread over 20 accounts (none of them locks) within 10 minutes
        for i in 0..20u64 {
            fail(&l, &format!("u{i}@example.com"), addr, t0 + secs(i * 10));
        }
        let t1 = t0 + secs(200);
        // any account, even a fresh one, is now refused from this address until the first failure
        // (at t0) leaves the 600 s window
        assert_eq!(refused(&l, "fresh@example.com", addr, t1), 400);
        // other addresses are not affected
        assert!(
            l.begin_at(Realm::Customer, "fresh@example.com", ip("203.0.113.8"), t1)
                .is_ok()
        );
        // one slot frees at t0 + 600 s; the next failure closes it again until t0 + 10 s + 600 s
        let t2 = t0 + secs(600);
        fail(&l, "fresh@example.com", addr, t2);
        assert_eq!(refused(&l, "fresh@example.com", addr, t2), 10);
    }

    #[test]
    fn success_does_not_reset_the_address_budget() {
        let (l, t0) = start(|l| l.addr_max_failures = 3);
        let addr = ip("198.51.100.1");
        for i in 0..2 {
            fail(&l, &format!("victim{i}@example.com"), addr, t0);
        }
        l.begin_at(Realm::Customer, "mine@example.com", addr, t0)
            .expect("admitted")
            .succeeded_at(t0);
        fail(&l, "victim2@example.com", addr, t0);
        assert_eq!(refused(&l, "mine@example.com", addr, t0), 600);
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let (l, t0) = start(|l| l.addr_max_failures = 2);
        fail(&l, "x@example.com", ip("2001:db8:1:2::1"), t0);
        fail(&l, "y@example.com", ip("2001:db8:1:2:ffff::9"), t0);
        refused(&l, "z@example.com", ip("2001:db8:1:2::77"), t0);
        assert!(
            l.begin_at(Realm::Customer, "z@example.com", ip("2001:db8:1:3::1"), t0)
                .is_ok()
        );
        fail(&l, "x@example.com", ip("192.0.2.1"), t0);
        fail(&l, "y@example.com", ip("::ffff:192.0.2.1"), t0);
        refused(&l, "z@example.com", ip("192.0.2.1"), t0);
    }

    #[test]
    fn checks_in_flight_count_against_the_budget() {
        let (l, t0) = start(|_| ());
        let addr = ip("192.0.2.50");
        let running: Vec<_> = (0..5)
            .map(|_| {
                l.begin_at(Realm::Customer, EMAIL, addr, t0)
                    .expect("admitted")
            })
            .collect();
        // a sixth simultaneous attempt would exceed the budget before any of the five ends
        assert_eq!(refused(&l, EMAIL, addr, t0), 1);
        for a in running {
            a.failed_at(t0);
        }
        assert_eq!(refused(&l, EMAIL, addr, t0), 30);
        // abandoned attempts (internal errors) release their slot without counting
        let l = LoginLimiter::new(LoginLimits::default());
        for _ in 0..10 {
            drop(
                l.begin_at(Realm::Customer, EMAIL, addr, t0)
                    .expect("admitted"),
            );
        }
        assert!(l.is_empty());
    }

    #[test]
    fn tables_stay_within_capacity() {
        let (l, t0) = start(|l| {
            l.capacity = 64;
            l.max_failures = 1;
            l.addr_max_failures = 1_000;
        });
        fail(&l, "locked@example.com", ip("10.0.0.1"), t0);
        for i in 0..10_000u32 {
            let now = t0 + Duration::from_millis(u64::from(i));
            let addr = IpAddr::from([10, 1, (i >> 8) as u8, i as u8]);
            // max_failures = 1: every one of these accounts is locked for 30 s after one failure
            fail(&l, &format!("u{i}@example.com"), Some(addr), now);
            let (accounts, addresses) = l.len();
            assert!(accounts <= 64 && addresses <= 64, "{accounts} {addresses}");
        }
        // every entry is locked here, so the least recently seen go first: the newest is still held
        let now = t0 + secs(10);
        assert!(
            l.begin_at(Realm::Customer, "u9999@example.com", None, now)
                .is_err()
        );
    }

    #[test]
    fn locked_accounts_are_evicted_last() {
        let (l, t0) = start(|l| l.capacity = 8);
        fail_times(&l, 5, t0);
        // 7 accounts with one failure each fill the table; then newcomers keep arriving
        for i in 0..7 {
            fail(&l, &format!("old{i}@example.com"), None, t0);
        }
        let later = t0 + secs(20);
        for i in 0..40 {
            fail(&l, &format!("new{i}@example.com"), None, later);
        }
        // the locked account was never the eviction choice while unlocked entries existed
        assert!(l.begin_at(Realm::Customer, EMAIL, None, later).is_err());
        assert!(l.len().0 <= 8);
    }

    #[test]
    fn registrations_have_their_own_budget_per_address() {
        let (l, t0) = start(|l| {
            l.register_addr_max = 3;
            l.register_addr_window = secs(3600);
        });
        let addr = ip("203.0.113.9");
        for i in 0..3u64 {
            l.begin_registration_at(addr, t0 + secs(i * 60))
                .expect("admitted")
                .end(true, t0 + secs(i * 60));
        }
        // the fourth waits until the first leaves the window
        let t1 = t0 + secs(600);
        match l.begin_registration_at(addr, t1) {
            Ok(_) => panic!("a fourth registration was admitted"),
            Err(t) => assert_eq!(t.retry_after_secs(), 3000),
        }
        // logins and other addresses are not affected; no address, no budget
        assert!(l.begin_at(Realm::Customer, EMAIL, addr, t1).is_ok());
        assert!(l.begin_registration_at(ip("203.0.113.10"), t1).is_ok());
        assert!(l.begin_registration_at(None, t1).is_ok());
        assert!(l.begin_registration_at(addr, t0 + secs(3600)).is_ok());
    }

    #[test]
    fn registrations_in_flight_count_and_abandoned_ones_are_released() {
        let (l, t0) = start(|l| l.register_addr_max = 2);
        let addr = ip("2001:db8::1");
        let a = l.begin_registration_at(addr, t0).expect("admitted");
        let b = l
            .begin_registration_at(ip("2001:db8::2"), t0)
            .expect("same /64");
        assert!(l.begin_registration_at(addr, t0).is_err(), "two in flight");
        drop(a);
        drop(b);
        assert!(l.tables().registrations.is_empty(), "released, not counted");
        l.begin_registration_at(addr, t0)
            .expect("admitted")
            .end(true, t0);
        assert!(l.begin_registration_at(addr, t0).is_ok());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let t = Throttled {
            retry_after: Duration::from_millis(1_200),
        };
        assert_eq!(t.retry_after_secs(), 2);
        let t = Throttled {
            retry_after: Duration::ZERO,
        };
        assert_eq!(t.retry_after_secs(), 1);
    }
}
