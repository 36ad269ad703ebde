//! A charging session's state, and its one mapping to and from the database
//! (`charging_sessions.status`, text). Raw SQL that names states (the start's lookup and
//! activation, the meter writer's bulk update) spells the same words: [`SessionStatus::as_str`].
//!
//! `pending` (money held, RemoteStartTransaction sent) → `active` (the charger started) →
//! `stopping` (asked to stop) → `completed` (settled); `failed` from any open state (refunded).

use crate::infra::db::text_enum::text_enum;

text_enum! {
    pub enum SessionStatus {
        Pending = "pending",
        Active = "active",
        Stopping = "stopping",
        Completed = "completed",
        Failed = "failed",
    }
}

impl SessionStatus {
    /// The states of a session that still holds its connector and the customer's money.
    pub const OPEN: [SessionStatus; 3] = [Self::Pending, Self::Active, Self::Stopping];
    /// The states of a session the charger is running (it sent StartTransaction).
    pub const RUNNING: [SessionStatus; 2] = [Self::Active, Self::Stopping];

    /// Whether a stored text names an open state.
    pub fn is_open(text: &str) -> bool {
        Self::of(text).is_some_and(|s| Self::OPEN.contains(&s))
    }

    /// Whether a stored text names a running state (`active` or `stopping`).
    pub fn is_running(text: &str) -> bool {
        Self::of(text).is_some_and(|s| Self::RUNNING.contains(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_and_running_states() {
        crate::infra::db::text_enum::check_words(
            SessionStatus::ALL,
            SessionStatus::as_str,
            SessionStatus::of,
        );
        assert_eq!(SessionStatus::of("Active"), None);
        assert!(SessionStatus::is_open("pending") && !SessionStatus::is_open("completed"));
        assert!(SessionStatus::is_running("stopping") && !SessionStatus::is_running("pending"));
    }
}
