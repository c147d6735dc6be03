//! Who is calling: the bearer token verified exactly as `/ws` verifies it, then one token taken
//! from the caller's rate-limit bucket.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use governor::Quota;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use std::collections::HashMap;

use pm_auth::{Identity, Verifier};
use pm_core::{TenantId, Timestamp, UserId};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use crate::state::AppState;

/// The authenticated caller of a REST request.
pub(crate) struct Caller(pub Identity);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(pm_auth::bearer_from_header)
            .ok_or(ApiError::Unauthenticated("a bearer token is required"))?;
        let identity = state.api.tokens.verify(&state.verifier, token)?;
        state
            .api
            .limiter
            .try_take(&identity)
            .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
        Ok(Caller(identity))
    }
}

/// Tokens remembered at most; past it the cache is emptied (amortised), which bounds it to about
/// a megabyte whatever the callers send.
const MAX_TOKENS: usize = 8_192;

/// Verified tokens, by their SHA-256 (the token itself is not kept), until they expire: a token
/// is verified once, not on every request. Tokens cannot be revoked before `exp` (nothing but
/// `exp` and `nbf` limits one), so a remembered identity is exactly what verifying again would
/// give until `exp` plus the verifier's leeway, when the cache refuses it like the verifier.
#[derive(Default)]
pub(crate) struct TokenCache {
    map: std::sync::Mutex<HashMap<[u8; 32], Identity>>,
}

impl TokenCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Identity>> {
        // Every critical section is a single map operation.
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn verify(&self, verifier: &Verifier, token: &str) -> Result<Identity, ApiError> {
        self.verify_at(verifier, token, Timestamp::now())
    }

    fn verify_at(
        &self,
        verifier: &Verifier,
        token: &str,
        now: Timestamp,
    ) -> Result<Identity, ApiError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let leeway_ms = i64::try_from(verifier.leeway_secs())
            .unwrap_or(i64::MAX)
            .saturating_mul(1000);
        let cached = self.lock().get(&digest).cloned();
        if let Some(identity) = cached {
            if now.as_millis() < identity.expires_at.as_millis().saturating_add(leeway_ms) {
                return Ok(identity);
            }
            self.lock().remove(&digest);
        }
        let identity = verifier.verify_at(token, now).map_err(|e| {
            // Never log the token; the error's text does not contain it.
            tracing::debug!(error = %e, "refused a token");
            ApiError::Unauthenticated("the token is not valid")
        })?;
        let mut map = self.lock();
        if map.len() >= MAX_TOKENS {
            map.clear();
        }
        map.insert(digest, identity.clone());
        Ok(identity)
    }
}

/// Above this many tracked users, users whose limit has fully recovered are forgotten (amortised:
/// the next sweep waits until the map has doubled again).
const SWEEP_ABOVE: usize = 10_000;

type Key = (TenantId, UserId);

/// One rate limit (governor's GCRA, equivalent to a token bucket of `burst` tokens refilled at
/// `per_second`) per user of a tenant, shared by all of their requests.
pub(crate) struct RateLimiter<C: Clock = DefaultClock> {
    limiter: governor::RateLimiter<Key, DashMapStateStore<Key>, C, NoOpMiddleware<C::Instant>>,
    clock: C,
    sweep_above: AtomicUsize,
}

impl RateLimiter {
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self::with_clock(per_second, burst, DefaultClock::default())
    }
}

impl<C: Clock + Clone> RateLimiter<C> {
    fn with_clock(per_second: u32, burst: u32, clock: C) -> Self {
        let at_least_one = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_second(at_least_one(per_second)).allow_burst(at_least_one(burst));
        Self {
            limiter: governor::RateLimiter::dashmap_with_clock(quota, clock.clone()),
            clock,
            sweep_above: AtomicUsize::new(SWEEP_ABOVE),
        }
    }

    /// Takes one request's worth for `who`, or says how long until one is allowed.
    pub fn try_take(&self, who: &Identity) -> Result<(), Duration> {
        if self.limiter.len() > self.sweep_above.load(Ordering::Relaxed) {
            // A user whose limit has recovered is indistinguishable from a new one.
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
            self.sweep_above
                .store(SWEEP_ABOVE.max(self.limiter.len() * 2), Ordering::Relaxed);
        }
        self.limiter
            .check_key(&(who.tenant.clone(), who.user.clone()))
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;
    use pm_core::{TenantRole, Timestamp};

    fn identity(tenant: &str, user: &str) -> Identity {
        Identity {
            tenant: TenantId::parse(tenant).unwrap(),
            user: UserId::parse(user).unwrap(),
            role: TenantRole::Viewer,
            expires_at: Timestamp::from_millis(i64::MAX),
        }
    }

    #[test]
    fn a_cached_token_is_refused_once_it_expires_and_a_bad_one_is_never_cached() {
        let key = pm_auth::KeyConfig::Hs256 {
            secret: b"a-secret-that-is-long-enough-for-hs256-tokens".to_vec(),
        };
        let verifier = Verifier::new(&key).unwrap().with_leeway(0);
        let signer = pm_auth::Signer::new(&key).unwrap();
        let who = identity("acme", "alice");
        let token = signer
            .issue(&who.tenant, &who.user, who.role, Duration::from_secs(60))
            .unwrap();
        let cache = TokenCache::default();
        let now = Timestamp::now();
        let verified = cache.verify_at(&verifier, &token, now).unwrap();
        assert_eq!(verified.user, who.user);
        assert_eq!(cache.lock().len(), 1);
        // Cached: the same identity while it is valid, refused from `exp` on.
        let expires = verified.expires_at.as_millis();
        assert!(
            cache
                .verify_at(&verifier, &token, Timestamp::from_millis(expires - 1))
                .is_ok()
        );
        assert!(
            cache
                .verify_at(&verifier, &token, Timestamp::from_millis(expires))
                .is_err()
        );
        assert!(cache.lock().is_empty(), "the expired entry is dropped");
        let forged = format!("{token}x");
        assert!(cache.verify_at(&verifier, &forged, now).is_err());
        assert!(cache.lock().is_empty());
    }

    #[test]
    fn each_user_has_their_own_limit() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::with_clock(1, 2, clock.clone());
        let alice = identity("acme", "alice");
        assert!(limiter.try_take(&alice).is_ok());
        assert!(limiter.try_take(&alice).is_ok());
        let wait = limiter.try_take(&alice).unwrap_err();
        assert_eq!(wait, Duration::from_secs(1));
        assert!(limiter.try_take(&identity("acme", "bob")).is_ok());
        assert!(limiter.try_take(&identity("other", "alice")).is_ok());
        clock.advance(Duration::from_secs(1));
        assert!(limiter.try_take(&alice).is_ok());
    }

    #[test]
    fn recovered_users_are_forgotten_once_many_users_are_tracked() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::with_clock(10, 1, clock.clone());
        for n in 0..=SWEEP_ABOVE {
            let _ = limiter.try_take(&identity("acme", &format!("u{n}")));
        }
        clock.advance(Duration::from_secs(1));
        let _ = limiter.try_take(&identity("acme", "late"));
        assert_eq!(limiter.limiter.len(), 1, "only the new user is left");
    }
}
