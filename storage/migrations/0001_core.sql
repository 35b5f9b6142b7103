-- Core: people, conversation state, calendar overrides.
CREATE TABLE users (
    id                INTEGER PRIMARY KEY,          -- Telegram user id
    language          TEXT CHECK (language IN ('kk', 'ru')),
    language_source   TEXT,                         -- 'choice' (explicit) or 'telegram' (language_code)
    first_name        TEXT,
    reminders_enabled INTEGER NOT NULL DEFAULT 1,
    unreachable_at    TEXT,                         -- UTC; set when the user blocked the bot
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);

-- aiogram FSM storage (storage/fsm.py): state and data of each conversation.
CREATE TABLE fsm (
    key        TEXT PRIMARY KEY,
    user_id    INTEGER,
    state      TEXT,
    data       TEXT NOT NULL DEFAULT '{}',
    updated_at TEXT NOT NULL
);
CREATE INDEX fsm_updated ON fsm (updated_at);

-- Working-day facts added at run time (an operator records a new transfer or a Kurban Ait date).
CREATE TABLE calendar_overrides (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    day      TEXT NOT NULL,                         -- ISO date
    kind     TEXT NOT NULL,
    working  INTEGER NOT NULL,                      -- 1: a working day, 0: a day off
    source   TEXT NOT NULL,                         -- the legal source (order, date)
    added_by INTEGER,
    added_at TEXT NOT NULL,
    UNIQUE (day, kind)
);
