-- Tracking filed complaints and their deadline reminders (storage/cases.py, bot/services/reminders.py).
-- Every moment is UTC ISO-8601 text (storage.db.iso); every day is an ISO date.
-- Note: storage.db splits migrations on semicolons and strips double-dash comments: keep both out of literals.

CREATE TABLE cases (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id                INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    complaint_id           INTEGER,                 -- a saved complaint (0002), if the bot drafted it
    ticket_id              INTEGER,                 -- an operators' ticket, if any
    recipient_kind         TEXT NOT NULL CHECK (recipient_kind IN ('provider', 'quality_authority', 'akim')),
    filed_with             TEXT,                    -- name of the body, as the person typed it
    reg_number             TEXT,                    -- registration number from the talon or portal
    registered_on          TEXT NOT NULL,           -- ISO date of registration
    forwarded_via_provider INTEGER NOT NULL DEFAULT 0,
    extended_by            INTEGER NOT NULL DEFAULT 0 CHECK (extended_by BETWEEN 0 AND 10),
    extended_on            TEXT,                    -- ISO date the review was extended
    extension_told_on      TEXT,                    -- ISO date the person was told of the extension
    learned_on             TEXT,                    -- ISO date the person learned of the decision or action
    status                 TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'answered', 'closed')),
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL
);
CREATE INDEX cases_user ON cases (user_id, status);

CREATE TABLE case_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    kind    TEXT NOT NULL,                          -- 'created', 'extended', 'status', 'reminder_sent', ...
    payload TEXT NOT NULL DEFAULT '{}',             -- JSON
    at      TEXT NOT NULL
);
CREATE INDEX case_events_case ON case_events (case_id, id);

CREATE TABLE reminders (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id    INTEGER REFERENCES cases (id) ON DELETE CASCADE,   -- NULL: a one-off (operator SLA notice)
    chat_id    INTEGER NOT NULL,
    user_id    INTEGER REFERENCES users (id) ON DELETE CASCADE,   -- NULL for the operators' chat
    audience   TEXT NOT NULL CHECK (audience IN ('citizen', 'operators')),
    kind       TEXT NOT NULL,
    due_at     TEXT NOT NULL,                       -- UTC; already moved into the allowed hours
    status     TEXT NOT NULL DEFAULT 'pending'
               CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    attempts   INTEGER NOT NULL DEFAULT 0,          -- claims so far (a crash mid-send counts too)
    claimed_at TEXT,
    sent_at    TEXT,
    last_error TEXT,                                -- error class and Telegram description only, never text
    payload    TEXT NOT NULL DEFAULT '{}',          -- JSON
    dedupe_key TEXT,                                -- one-offs: the same key is never queued twice
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- The due scan (claim_due) walks this index.
CREATE INDEX reminders_due ON reminders (status, due_at);
CREATE INDEX reminders_user ON reminders (user_id, status);
-- A case never has the same reminder twice; cancelled rows do not count, so a re-plan may bring one back.
-- A sent row does count: re-planning never re-sends what already went out.
CREATE UNIQUE INDEX reminders_case_kind_due ON reminders (case_id, kind, due_at)
    WHERE case_id IS NOT NULL AND status <> 'cancelled';
CREATE UNIQUE INDEX reminders_dedupe ON reminders (dedupe_key) WHERE dedupe_key IS NOT NULL;
