//! Caps on open connections, in total and per tenant, checked before a WebSocket upgrade.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use pm_core::TenantId;

#[derive(Debug)]
pub struct Admission {
    max_total: usize,
    max_per_tenant: usize,
    open: Mutex<(usize, HashMap<TenantId, usize>)>,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    ServerFull,
    TenantFull,
}

/// An admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct Permit {
    admission: Arc<Admission>,
    tenant: TenantId,
}

impl Admission {
    pub fn new(max_total: usize, max_per_tenant: usize) -> Arc<Self> {
        Arc::new(Self {
            max_total,
            max_per_tenant,
            open: Mutex::new((0, HashMap::new())),
        })
    }

    pub fn try_admit(self: &Arc<Self>, tenant: &TenantId) -> Result<Permit, Refusal> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let (total, per_tenant) = &mut *open;
        if *total >= self.max_total {
            return Err(Refusal::ServerFull);
        }
        let count = per_tenant.entry(tenant.clone()).or_default();
        if *count >= self.max_per_tenant {
            return Err(Refusal::TenantFull);
        }
        *count += 1;
        *total += 1;
        Ok(Permit {
            admission: Arc::clone(self),
            tenant: tenant.clone(),
        })
    }

    /// Connections open now, and how many tenants they belong to.
    pub fn open(&self) -> (usize, usize) {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        (open.0, open.1.len())
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut open = self
            .admission
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (total, per_tenant) = &mut *open;
        *total = total.saturating_sub(1);
        if let Some(count) = per_tenant.get_mut(&self.tenant) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                per_tenant.remove(&self.tenant);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_capped_per_tenant_and_in_total_and_freed_on_drop() {
        let a = Admission::new(3, 2);
        let acme = TenantId::parse("acme").unwrap();
        let other = TenantId::parse("other").unwrap();
        let p1 = a.try_admit(&acme).unwrap();
        let _p2 = a.try_admit(&acme).unwrap();
        assert_eq!(a.try_admit(&acme).unwrap_err(), Refusal::TenantFull);
        let _p3 = a.try_admit(&other).unwrap();
        assert_eq!(a.try_admit(&other).unwrap_err(), Refusal::ServerFull);
        drop(p1);
        let _p4 = a.try_admit(&acme).unwrap();
        assert_eq!(a.open(), (3, 2));
    }
}
