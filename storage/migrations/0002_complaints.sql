-- Saved complaints (storage/complaints.py): the finished draft of the wizard, as Complaint.to_dict() JSON.
-- Note: storage.db splits migrations on semicolons and strips double-dash comments: keep both out of literals.

CREATE TABLE complaints (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    number         TEXT UNIQUE,                       -- SH-YYYY-NNNNNN, from the id and the creation date
    user_id        INTEGER NOT NULL,                  -- Telegram user id (users.id)
    language       TEXT NOT NULL CHECK (language IN ('kk', 'ru')),
    applicant_kind TEXT,                              -- individual or legal_entity
    grounds        TEXT,                              -- an id of bot.complaint.GROUNDS
    recipient_kind TEXT,                              -- provider, quality_authority or akim
    data           TEXT NOT NULL,                     -- JSON: Complaint.to_dict()
    status         TEXT NOT NULL DEFAULT 'created',
    created_at     TEXT NOT NULL,                     -- UTC ISO-8601
    updated_at     TEXT NOT NULL
);
CREATE INDEX complaints_user ON complaints (user_id, id);
