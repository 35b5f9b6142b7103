-- Several instances on one database: leases on rows in flight, and scheduled jobs run once per period
-- (the twin of storage/migrations/0009_leases.sql; storage/pg/cases.py, storage/pg/outbox.py, storage/pg/runs.py).
ALTER TABLE reminders ADD COLUMN claimed_by text;
-- The recovery scan: rows in flight whose lease ran out.
CREATE INDEX reminders_leased ON reminders (claimed_at) WHERE status = 'sending';

ALTER TABLE desk_outbox ADD COLUMN claimed_by text;
ALTER TABLE desk_outbox ADD COLUMN claimed_at timestamptz;

CREATE TABLE job_runs (
    job    text PRIMARY KEY,                        -- the scheduler's job id
    holder text NOT NULL,                           -- the instance that ran it last
    ran_at timestamptz NOT NULL                     -- the next run waits for the period from here
);
