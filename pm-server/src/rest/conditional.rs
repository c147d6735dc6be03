//! Conditional requests answered from memory: a poller whose `If-None-Match` still names the
//! current representation gets its `304` without a read of SQLite.
//!
//! Each `200` carrying an `ETag` leaves a [`Validator`] here, under the caller (tenant, user and
//! tenant role: everything of the token that decides access) and the resource as the request
//! named it. It was read in one snapshot together with the caller's access, so it stays true
//! while nothing of its project changes: every change of a membership, of the project (key,
//! archival, deletion) or of anything in it is an event of that project, and the tenant's hub
//! records the newest published one ([`pm_ws::Service::unchanged_since`]); a new history epoch
//! (a restore, a database replaced by hand) ends them all. So a removed member's conditional GET
//! misses here and is refused by the database path exactly as before, never answered `304`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use axum::http::{HeaderMap, header};
use axum::response::Response;
use pm_auth::Identity;
use pm_core::{TenantId, TenantRole, UserId};
use pm_ws::query::Validator;

use super::ETag;
use crate::state::AppState;

/// Validators kept at most. Past it the map is emptied (amortised: a poller's next `200` puts
/// its validator back), which bounds the memory to a few MB whatever the callers do.
const MAX_VALIDATORS: usize = 16_384;

/// A resource with an `ETag`, as the request named it (ids and keys are case-insensitive). The
/// project and its context share one: they carry the same tag and the same access rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Resource {
    Project(String),
    WorkItem(String),
}

impl Resource {
    pub fn project(id_or_key: &str) -> Self {
        Self::Project(id_or_key.trim().to_ascii_uppercase())
    }

    pub fn work_item(id_or_key: &str) -> Self {
        Self::WorkItem(id_or_key.trim().to_ascii_uppercase())
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Key {
    tenant: TenantId,
    user: UserId,
    role: TenantRole,
    resource: Resource,
}

impl Key {
    fn new(caller: &Identity, resource: Resource) -> Self {
        Self {
            tenant: caller.tenant.clone(),
            user: caller.user.clone(),
            role: caller.role,
            resource,
        }
    }
}

#[derive(Default)]
pub(crate) struct Validators {
    map: Mutex<HashMap<Key, Validator>>,
}

impl Validators {
    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Validator>> {
        // Every critical section is a single map operation.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A `304` when the request's `If-None-Match` names the tag the caller last got for
    /// `resource` and that representation is still current; `None` sends the request down the
    /// database path, which decides everything afresh.
    pub async fn not_modified(
        &self,
        state: &AppState,
        caller: &Identity,
        resource: &Resource,
        headers: &HeaderMap,
    ) -> Option<Response> {
        if !headers.contains_key(header::IF_NONE_MATCH) {
            return None;
        }
        let key = Key::new(caller, resource.clone());
        let validator = self.lock().get(&key).cloned()?;
        let etag = ETag::new(&validator.epoch, validator.seq);
        // `*` is left to the database path: it must still check that the resource exists.
        if !etag.names(headers) {
            return None;
        }
        match state
            .realtime
            .service
            .unchanged_since(caller, &validator)
            .await
        {
            Ok(true) => Some(etag.not_modified()),
            Ok(false) => {
                self.lock().remove(&key);
                None
            }
            Err(_) => None,
        }
    }

    /// Keeps what a `200` (or a `304` of the database path) was read at.
    pub fn remember(&self, caller: &Identity, resource: Resource, validator: Validator) {
        let mut map = self.lock();
        if map.len() >= MAX_VALIDATORS {
            map.clear();
        }
        map.insert(Key::new(caller, resource), validator);
    }
}
