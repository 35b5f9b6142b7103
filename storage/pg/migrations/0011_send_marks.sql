-- A reminder's send marked per row (sending_at, right before its request), and the erasure clean-up leased
-- like the desk outbox (the twin of storage/migrations/0011_send_marks.sql).
ALTER TABLE reminders ADD COLUMN sending_at timestamptz;

ALTER TABLE desk_cleanup ADD COLUMN claimed_by text;
ALTER TABLE desk_cleanup ADD COLUMN claimed_at timestamptz;
