//! What one 2.0.1 connection remembers of its EVs for ISO 15118 smart charging (`charging_needs`),
//! held by the connection's context (`registry::ChargerCtx`): kept apart so that the registry does
//! not depend on the adapter's handlers.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use crate::domain::smart_charging::EvNeeds;

/// By the station's transaction id: the EVs' last needs, and the transactions whose schedule was
/// rejected and wait for a new profile.
#[derive(Debug, Default)]
pub struct EvSchedules {
    pub(super) needs: Mutex<HashMap<String, EvNeeds>>,
    pub(super) rejected: Mutex<HashSet<String>>,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
