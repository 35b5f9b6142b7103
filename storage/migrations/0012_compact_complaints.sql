-- A compact complaint row (issue 14, point 6): the document's fields are stored packed (bot.domain.complaint
-- pack_fields: compact JSON without empty keys, deflated: ~0.9 KB for ~2.3 KB of JSON), so a 4 KB page holds
-- three or four complaints instead of one. Only what is queried stays a column; applicant_kind, grounds and
-- recipient_kind repeated the document and nothing read them, updated_at never differed from created_at.
-- complaint_pack() is the SQL function storage.db registers on its connection (pack_fields of a JSON text).
-- Note: storage.db splits migrations on semicolons and strips double-dash comments: keep both out of literals.

CREATE TABLE complaints_new (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    number         TEXT UNIQUE,                       -- SH-YYYY-NNNNNN, from the id and the creation date
    user_id        INTEGER NOT NULL,                  -- Telegram user id (users.id)
    language       TEXT NOT NULL CHECK (language IN ('kk', 'ru')),
    data           BLOB NOT NULL,                     -- Complaint.pack()
    status         TEXT NOT NULL DEFAULT 'created',
    created_at     TEXT NOT NULL                      -- UTC ISO-8601
);
INSERT INTO complaints_new (id, number, user_id, language, data, status, created_at)
    SELECT id, number, user_id, language, complaint_pack(data), status, created_at FROM complaints ORDER BY id;
-- ids are never given twice: the new table's sequence is the old one (erased rows included)
DELETE FROM sqlite_sequence WHERE name = 'complaints_new';
UPDATE sqlite_sequence SET name = 'complaints_new' WHERE name = 'complaints';
DROP TABLE complaints;
ALTER TABLE complaints_new RENAME TO complaints;
CREATE INDEX complaints_user ON complaints (user_id, id);
CREATE INDEX complaints_created ON complaints (created_at);
