-- Several instances on one database (PostgreSQL; the same columns here, so both backends behave alike).
-- A reminder or a desk outbox row being sent is leased: claimed_by names the instance, claimed_at is renewed
-- while it works; a row whose lease ran out (its instance died) is taken again by another, never before.
-- job_runs: a scheduled job (the SLA pass, the draft purge) runs once per period across instances.
-- Note: storage.db splits migrations on semicolons and strips double-dash comments: keep both out of literals.

ALTER TABLE reminders ADD COLUMN claimed_by TEXT;
-- The recovery scan: rows in flight whose lease ran out.
CREATE INDEX reminders_leased ON reminders (claimed_at) WHERE status = 'sending';

ALTER TABLE desk_outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE desk_outbox ADD COLUMN claimed_at TEXT;

CREATE TABLE job_runs (
    job    TEXT PRIMARY KEY,                        -- the scheduler's job id
    holder TEXT NOT NULL,                           -- the instance that ran it last
    ran_at TEXT NOT NULL                            -- UTC; the next run waits for the period from here
);
