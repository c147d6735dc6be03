//! Who is calling: the bearer token verified exactly as `/ws` verifies it, then one token taken
//! from the caller's rate-limit bucket.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use pm_auth::Identity;
use pm_core::{TenantId, UserId};
use pm_ws::TokenBucket;

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
        let identity = state.verifier.verify(token).map_err(|e| {
            // Never log the token; the error's text does not contain it.
            tracing::debug!(error = %e, "refused a token");
            ApiError::Unauthenticated("the token is not valid")
        })?;
        state
            .api
            .limiter
            .try_take(&identity, Instant::now())
            .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
        Ok(Caller(identity))
    }
}

/// Above this many tracked users, buckets that have refilled are dropped (amortised: the next
/// sweep waits until the map has doubled again).
const SWEEP_ABOVE: usize = 10_000;

/// One token bucket per user of a tenant, shared by all of their requests.
pub(crate) struct RateLimiter {
    per_second: u32,
    burst: u32,
    buckets: Mutex<Buckets>,
}

struct Buckets {
    by_user: HashMap<(TenantId, UserId), (TokenBucket, Instant)>,
    sweep_above: usize,
}

impl RateLimiter {
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self {
            per_second: per_second.max(1),
            burst: burst.max(1),
            buckets: Mutex::new(Buckets {
                by_user: HashMap::new(),
                sweep_above: SWEEP_ABOVE,
            }),
        }
    }

    /// Takes one token for `who`, or says how long until there is one.
    pub fn try_take(&self, who: &Identity, now: Instant) -> Result<(), Duration> {
        // A poisoned lock only means another request panicked mid-update; the buckets stay usable.
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.by_user.len() > buckets.sweep_above {
            // A bucket idle for this long is full again: dropping it changes nothing.
            let refill =
                Duration::from_secs_f64(f64::from(self.burst) / f64::from(self.per_second));
            buckets
                .by_user
                .retain(|_, (_, last)| now.saturating_duration_since(*last) < refill);
            buckets.sweep_above = SWEEP_ABOVE.max(buckets.by_user.len() * 2);
        }
        let (bucket, last) = buckets
            .by_user
            .entry((who.tenant.clone(), who.user.clone()))
            .or_insert_with(|| (TokenBucket::new(self.per_second, self.burst, now), now));
        *last = now;
        bucket.try_take(now)
    }
}

#[cfg(test)]
mod tests {
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
    fn each_user_has_their_own_bucket() {
        let limiter = RateLimiter::new(1, 2);
        let now = Instant::now();
        let alice = identity("acme", "alice");
        assert!(limiter.try_take(&alice, now).is_ok());
        assert!(limiter.try_take(&alice, now).is_ok());
        assert!(limiter.try_take(&alice, now).is_err());
        assert!(limiter.try_take(&identity("acme", "bob"), now).is_ok());
        assert!(limiter.try_take(&identity("other", "alice"), now).is_ok());
        assert!(
            limiter
                .try_take(&alice, now + Duration::from_secs(1))
                .is_ok()
        );
    }

    #[test]
    fn refilled_buckets_are_swept_once_many_users_are_tracked() {
        let limiter = RateLimiter::new(10, 1);
        let t0 = Instant::now();
        for n in 0..=SWEEP_ABOVE {
            let _ = limiter.try_take(&identity("acme", &format!("u{n}")), t0);
        }
        let later = t0 + Duration::from_secs(1);
        let _ = limiter.try_take(&identity("acme", "late"), later);
        let buckets = limiter.buckets.lock().unwrap();
        assert_eq!(buckets.by_user.len(), 1, "only the new bucket is left");
    }
}
