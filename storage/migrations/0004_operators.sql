-- The operators' desk (storage/tickets.py, handlers/operators/): tickets, the citizen <-> group message map
-- used by the relay and by edits, and the audit log of every operator action.
-- Every moment is UTC ISO-8601 text (storage.db.iso).
-- Note: storage.db splits migrations on semicolons and strips double-dash comments: keep both out of literals.

CREATE TABLE tickets (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    complaint_id    INTEGER,                        -- a saved complaint (0002), if escalated from the wizard
    case_id         INTEGER,                        -- the tracked case (0003) once an operator registered it
    language        TEXT NOT NULL,                  -- the citizen's language when the ticket was opened
    source          TEXT NOT NULL CHECK (source IN ('complaint', 'faq', 'menu')),
    status          TEXT NOT NULL DEFAULT 'new'
                    CHECK (status IN ('new', 'taken', 'registered', 'extended', 'resolved', 'rejected')),
    assignee_id     INTEGER,                        -- Telegram id of the operator who took it
    chat_id         INTEGER,                        -- the operators' chat it lives in
    thread_id       INTEGER,                        -- its forum topic, when the chat is a forum
    card_message_id INTEGER,                        -- the card with the action buttons
    relay           INTEGER NOT NULL DEFAULT 1,     -- 1 while the citizen's messages go to the desk
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    resolved_at     TEXT,                           -- when it was resolved or rejected
    result          TEXT,                           -- the result (or the reason of a rejection)
    rating          INTEGER CHECK (rating BETWEEN 1 AND 5),
    disagreed       INTEGER NOT NULL DEFAULT 0
);
-- One open ticket per citizen at a time.
CREATE UNIQUE INDEX tickets_one_open ON tickets (user_id) WHERE status NOT IN ('resolved', 'rejected');
CREATE INDEX tickets_status ON tickets (status);
CREATE INDEX tickets_thread ON tickets (chat_id, thread_id) WHERE thread_id IS NOT NULL;

CREATE TABLE ticket_messages (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id          INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    direction          TEXT NOT NULL CHECK (direction IN ('in', 'out', 'card', 'note')),
    citizen_chat_id    INTEGER NOT NULL,
    citizen_message_id INTEGER,                     -- in: the citizen's original; out: the copy they got
    group_chat_id      INTEGER NOT NULL,
    group_message_id   INTEGER,                     -- in: the copy in the group; out: the operator's original
    at                 TEXT NOT NULL
);
CREATE INDEX ticket_messages_group ON ticket_messages (group_chat_id, group_message_id);
CREATE INDEX ticket_messages_citizen ON ticket_messages (citizen_chat_id, citizen_message_id);

CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER REFERENCES tickets (id) ON DELETE CASCADE,   -- NULL: a desk-wide action (calendar)
    actor_id  INTEGER,                              -- Telegram id of the operator (or the citizen)
    action    TEXT NOT NULL,
    detail    TEXT NOT NULL DEFAULT '{}',           -- JSON
    at        TEXT NOT NULL
);
CREATE INDEX audit_log_ticket ON audit_log (ticket_id, id);
