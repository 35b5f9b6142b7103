-- A reminder's send, marked per row: sending_at is set (committed) right before its request leaves, and the
-- row turns 'sent' right after the answer. A row whose instance died while claimed but without sending_at
-- never reached Telegram (it goes out once, after the lease); one with sending_at may have (the only window
-- in which a reminder can repeat: Telegram has no idempotency key).
-- desk_cleanup: what an erasure leaves to do in the operators' chat is leased like the desk outbox
-- (claimed_by, claimed_at), so two instances never carry out the same deletion.
-- Note: storage.db splits migrations on semicolons and strips double-dash comments: keep both out of literals.

ALTER TABLE reminders ADD COLUMN sending_at TEXT;

ALTER TABLE desk_cleanup ADD COLUMN claimed_by TEXT;
ALTER TABLE desk_cleanup ADD COLUMN claimed_at TEXT
