-- BootNotification policy (issue 10). Keep in step with migrations/sqlite.
-- accepted: BootNotification Accepted; pending: admitted unknown charger awaiting the operator's
-- approval (Pending); rejected: disabled by the operator (Rejected).
ALTER TABLE chargers ADD COLUMN registration TEXT NOT NULL DEFAULT 'accepted'
    CHECK (registration IN ('accepted', 'pending', 'rejected'));
