-- migrate: foreign_keys=off
-- Personal data rights (docs/privacy.md): export, erasure, retention.
-- Every moment is UTC ISO-8601 text (storage.db.iso).
-- Note: storage.db splits migrations on semicolons and strips double-dash comments: keep both out of literals.
--
-- tickets is rebuilt (SQLite cannot change a column's constraints in place), with foreign keys off so that
-- dropping the old table cascades nothing (storage.db runs a migration marked as above that way and checks
-- the foreign keys before it commits):
-- * user_id may be NULL: a ticket outlives the erasure of its person (the desk's history and statistics keep
--   it, without anything personal), and deleting a user never deletes tickets (ON DELETE SET NULL);
-- * status 'withdrawn': the person withdrew consent while the ticket was open;
-- * erased_at, erased_reason: when and why (withdrawn: /forget; retention: RETENTION_DAYS) its personal
--   content was erased.

CREATE TABLE tickets_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER REFERENCES users (id) ON DELETE SET NULL,
    complaint_id    INTEGER,
    case_id         INTEGER,
    language        TEXT NOT NULL,
    source          TEXT NOT NULL CHECK (source IN ('complaint', 'faq', 'menu')),
    status          TEXT NOT NULL DEFAULT 'new'
                    CHECK (status IN ('new', 'taken', 'registered', 'extended', 'resolved', 'rejected', 'withdrawn')),
    assignee_id     INTEGER,
    chat_id         INTEGER,
    thread_id       INTEGER,
    card_message_id INTEGER,
    relay           INTEGER NOT NULL DEFAULT 1,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    resolved_at     TEXT,
    result          TEXT,
    rating          INTEGER CHECK (rating BETWEEN 1 AND 5),
    disagreed       INTEGER NOT NULL DEFAULT 0,
    erased_at       TEXT,
    erased_reason   TEXT CHECK (erased_reason IN ('withdrawn', 'retention'))
);
INSERT INTO tickets_new (id, user_id, complaint_id, case_id, language, source, status, assignee_id, chat_id,
                         thread_id, card_message_id, relay, created_at, updated_at, resolved_at, result, rating,
                         disagreed)
    SELECT id, user_id, complaint_id, case_id, language, source, status, assignee_id, chat_id, thread_id,
           card_message_id, relay, created_at, updated_at, resolved_at, result, rating, disagreed
    FROM tickets;
DROP TABLE tickets;
ALTER TABLE tickets_new RENAME TO tickets;
CREATE UNIQUE INDEX tickets_one_open ON tickets (user_id) WHERE status NOT IN ('resolved', 'rejected', 'withdrawn');
CREATE INDEX tickets_status ON tickets (status);
CREATE INDEX tickets_thread ON tickets (chat_id, thread_id) WHERE thread_id IS NOT NULL;
-- /mydata and /forget find every ticket of a person; the retention pass walks closed tickets by age.
CREATE INDEX tickets_user ON tickets (user_id);
CREATE INDEX tickets_ended ON tickets (resolved_at) WHERE erased_at IS NULL AND resolved_at IS NOT NULL;

-- The retention pass walks finished cases and complaints by age; an erasure finds a ticket's messages.
CREATE INDEX cases_ended ON cases (updated_at) WHERE status <> 'open';
CREATE INDEX complaints_created ON complaints (created_at);
CREATE INDEX ticket_messages_ticket ON ticket_messages (ticket_id);
-- /mydata and /forget find a person's conversations (a row is inserted once per conversation, so the index
-- costs nothing on the steps themselves, which update the row in place).
CREATE INDEX fsm_user ON fsm (user_id);

-- What an erasure leaves to do in the operators' chat, done after the erasure commits (and after a restart):
-- delete the copies of the person's messages and what the bot posted there for the ticket, and rename the
-- ticket's forum topic (its name carried the person's first name). Telegram ids only, nothing personal.
CREATE TABLE desk_cleanup (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL CHECK (kind IN ('delete', 'rename')),
    chat_id    INTEGER NOT NULL,
    message_id INTEGER,                             -- delete: the message
    thread_id  INTEGER,                             -- rename: the forum topic
    ticket_id  INTEGER,                             -- rename: the topic's new name is the ticket's number
    attempts   INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
)
