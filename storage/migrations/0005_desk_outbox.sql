-- What citizens send to the operators' desk waits here, not in the citizen's update: ticket cards, notes,
-- relayed messages and card refreshes are queued in the database (the card in the same transaction as its
-- ticket) and posted by one pump through the Sender at the group's pace (bot/services/desk_outbox.py).
-- Every moment is UTC ISO-8601 text (storage.db.iso).
-- Note: storage.db splits migrations on semicolons and strips double-dash comments: keep both out of literals.

CREATE TABLE desk_outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id  INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('card', 'file', 'note', 'relay', 'refresh')),
    payload    TEXT NOT NULL DEFAULT '{}',          -- JSON; emptied once posted
    status     TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,                                -- error class and Telegram description only, never text
    created_at TEXT NOT NULL,
    done_at    TEXT
);
-- The pump walks pending rows in order.
CREATE INDEX desk_outbox_pending ON desk_outbox (id) WHERE status = 'pending';
CREATE INDEX desk_outbox_ticket ON desk_outbox (ticket_id);
