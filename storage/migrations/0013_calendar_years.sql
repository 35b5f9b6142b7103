-- A year's working-day calendar checked by an operator against the published order on transfers and the
-- Kurban Ait date (/calendar verify YEAR <source>): deadlines in that year are no longer provisional and the
-- December reminder to look for the order stops.
CREATE TABLE calendar_years (
    year        INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,                      -- the legal source (order, date)
    verified_by INTEGER,
    verified_at TEXT NOT NULL                       -- UTC ISO-8601
);
