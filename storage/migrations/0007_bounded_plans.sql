-- Every statement that runs per person or per tick is bounded by its own rows (tests/test_query_plans.py, on a
-- populated database). Before this, SQLite walked the index on reminders (status, due_at) by status alone to
-- find ONE case's pending rows: every pending reminder of every person, for one press of "answered".
-- Note: storage.db splits migrations on semicolons and strips double-dash comments: keep both out of literals.

-- The reminder tick's due wave: only pending rows, by due_at (the claim reads this index alone).
DROP INDEX reminders_due;
CREATE INDEX reminders_due ON reminders (due_at) WHERE status = 'pending';
-- Rows a process that died left 'sending' (recovered at start).
CREATE INDEX reminders_sending ON reminders (id) WHERE status = 'sending';
-- One case's reminders, in any state (a status change cancels them; the case's history lists them).
CREATE INDEX reminders_case ON reminders (case_id, status);
-- The open cases a calendar change can move, by the day they were registered (CasesRepo.open_registered).
CREATE INDEX cases_open_registered ON cases (registered_on, id) WHERE status = 'open';
-- (A ticket's message map scanned ticket_messages: migration 0010 adds ticket_messages_ticket.)
