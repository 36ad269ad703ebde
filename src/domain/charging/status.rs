//! A charging session's state, and its one mapping to and from the database
//! (`charging_sessions.status`, text). Raw SQL that names states (the start's lookup and
//! activation, the meter writer's bulk update) spells the same words: [`SessionStatus::as_str`].
//!
//! `pending` (money held, RemoteStartTransaction sent) → `active` (the charger started) →
//! `stopping` (asked to stop) → `completed` (settled); `failed` from any open state (refunded).

use diesel::backend::Backend;
use diesel::serialize::{Output, ToSql};
use diesel::sql_types::Text;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, diesel::AsExpression)]
#[diesel(sql_type = Text)]
pub enum SessionStatus {
    Pending,
    Active,
    Stopping,
    Completed,
    Failed,
}

impl SessionStatus {
    /// The states of a session that still holds its connector and the customer's money.
    pub const OPEN: [SessionStatus; 3] = [Self::Pending, Self::Active, Self::Stopping];
    /// The states of a session the charger is running (it sent StartTransaction).
    pub const RUNNING: [SessionStatus; 2] = [Self::Active, Self::Stopping];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Stopping => "stopping",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    /// The state a stored text names (`None`: not a session state).
    pub fn of(text: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Active,
            Self::Stopping,
            Self::Completed,
            Self::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Whether a stored text names an open state.
    pub fn is_open(text: &str) -> bool {
        Self::of(text).is_some_and(|s| Self::OPEN.contains(&s))
    }

    /// Whether a stored text names a running state (`active` or `stopping`).
    pub fn is_running(text: &str) -> bool {
        Self::of(text).is_some_and(|s| Self::RUNNING.contains(&s))
    }
}

impl std::fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored status compared with a state: `session.status == SessionStatus::Active`.
impl PartialEq<SessionStatus> for String {
    fn eq(&self, other: &SessionStatus) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<SessionStatus> for &str {
    fn eq(&self, other: &SessionStatus) -> bool {
        *self == other.as_str()
    }
}

impl<DB: Backend> ToSql<Text, DB> for SessionStatus
where
    str: ToSql<Text, DB>,
{
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> diesel::serialize::Result {
        self.as_str().to_sql(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_from_its_text() {
        for s in [
            SessionStatus::Pending,
            SessionStatus::Active,
            SessionStatus::Stopping,
            SessionStatus::Completed,
            SessionStatus::Failed,
        ] {
            assert_eq!(SessionStatus::of(s.as_str()), Some(s));
        }
        assert_eq!(SessionStatus::of("Active"), None);
        assert!(SessionStatus::is_open("pending") && !SessionStatus::is_open("completed"));
        assert!(SessionStatus::is_running("stopping") && !SessionStatus::is_running("pending"));
    }
}
