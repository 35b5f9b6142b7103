-- Every statement that runs per person or per tick is bounded by its own rows (the twin of
-- storage/migrations/0007_bounded_plans.sql).
-- The reminder tick's due wave: only pending rows, by due_at.
DROP INDEX reminders_due;
CREATE INDEX reminders_due ON reminders (due_at) WHERE status = 'pending';
-- Rows in flight.
CREATE INDEX reminders_sending ON reminders (id) WHERE status = 'sending';
-- One case's reminders, in any state.
CREATE INDEX reminders_case ON reminders (case_id, status);
-- The open cases a calendar change can move, by the day they were registered (CasesRepo.open_registered).
CREATE INDEX cases_open_registered ON cases (registered_on, id) WHERE status = 'open';
-- (A ticket's message map: migration 0010 adds ticket_messages_ticket.)
