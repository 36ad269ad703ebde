-- The start's one-round-trip function exists on PostgreSQL only (see migrations/postgres); nothing to do here.
SELECT 1;
