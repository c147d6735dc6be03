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
//!
//! The same reasoning serves a `200` of a project context from memory: its JSON is kept with the
//! validator it was read at, shared by every caller with the same role in the project, and sent
//! again while both that validator and the caller's own (which proves their access) are current.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use pm_auth::Identity;
use pm_core::{ProjectId, ProjectRole, TenantId, TenantRole, UserId};
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

/// What a caller was last answered for a resource: the validator and their role in its project.
#[derive(Debug, Clone)]
struct Entry {
    validator: Validator,
    role: ProjectRole,
}

/// Bodies kept at most, in bytes of JSON, and the largest body kept: a handful of contexts of
/// big projects, or hundreds of small ones.
const MAX_BODY_BYTES: usize = 32 << 20;
const MAX_BODY: usize = 1 << 20;

/// A rendered project context: the same for every caller with the same role in the project and
/// the same parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct BodyKey {
    pub tenant: TenantId,
    pub project: ProjectId,
    pub role: ProjectRole,
    /// The request's parameters, as the handler names them.
    pub params: (u32, u32, u32),
}

#[derive(Default)]
struct Bodies {
    map: HashMap<BodyKey, (Validator, Bytes)>,
    bytes: usize,
}

#[derive(Default)]
pub(crate) struct Validators {
    map: Mutex<HashMap<Key, Entry>>,
    bodies: Mutex<Bodies>,
}

impl Validators {
    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Entry>> {
        // Every critical section is a single map operation.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn bodies(&self) -> MutexGuard<'_, Bodies> {
        // Every critical section leaves the map and its byte count consistent.
        self.bodies.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The caller's validator of `resource` and their role, if it is still current.
    async fn current(&self, state: &AppState, caller: &Identity, key: &Key) -> Option<Entry> {
        let entry = self.lock().get(key).cloned()?;
        match state
            .realtime
            .service
            .unchanged_since(caller, &entry.validator)
            .await
        {
            Ok(true) => Some(entry),
            Ok(false) => {
                self.lock().remove(key);
                None
            }
            Err(_) => None,
        }
    }

    /// The JSON of a project context kept for the caller's role in the project and `params`,
    /// with its tag, when both it and the caller's access are still current.
    pub async fn context_body(
        &self,
        state: &AppState,
        caller: &Identity,
        resource: &Resource,
        params: (u32, u32, u32),
    ) -> Option<(ETag, Bytes)> {
        let entry = self
            .current(state, caller, &Key::new(caller, resource.clone()))
            .await?;
        let key = BodyKey {
            tenant: caller.tenant.clone(),
            project: entry.validator.project,
            role: entry.role,
            params,
        };
        let (validator, body) = self.bodies().map.get(&key).cloned()?;
        match state
            .realtime
            .service
            .unchanged_since(caller, &validator)
            .await
        {
            Ok(true) => Some((ETag::of(&validator), body)),
            Ok(false) => {
                let mut bodies = self.bodies();
                if let Some((_, gone)) = bodies.map.remove(&key) {
                    bodies.bytes -= gone.len();
                }
                None
            }
            Err(_) => None,
        }
    }

    /// Keeps a rendered context read at `validator`.
    pub fn keep_body(&self, key: BodyKey, validator: Validator, body: Bytes) {
        if body.len() > MAX_BODY {
            return;
        }
        let mut bodies = self.bodies();
        if bodies.bytes + body.len() > MAX_BODY_BYTES {
            bodies.map.clear();
            bodies.bytes = 0;
        }
        bodies.bytes += body.len();
        if let Some((_, replaced)) = bodies.map.insert(key, (validator, body)) {
            bodies.bytes -= replaced.len();
        }
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
        let validator = self.lock().get(&key)?.validator.clone();
        // `*` is left to the database path: it must still check that the resource exists.
        if !ETag::of(&validator).names(headers) {
            return None;
        }
        let entry = self.current(state, caller, &key).await?;
        Some(ETag::of(&entry.validator).not_modified())
    }

    /// Keeps what a `200` (or a `304` of the database path) was read at, and the caller's role
    /// in the project then.
    pub fn remember(
        &self,
        caller: &Identity,
        resource: Resource,
        validator: Validator,
        role: ProjectRole,
    ) {
        let mut map = self.lock();
        if map.len() >= MAX_VALIDATORS {
            map.clear();
        }
        map.insert(Key::new(caller, resource), Entry { validator, role });
    }
}
