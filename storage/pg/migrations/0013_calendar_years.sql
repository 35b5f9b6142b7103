-- A year's working-day calendar checked by an operator against the published order on transfers and the
-- Kurban Ait date (/calendar verify YEAR <source>): deadlines in that year are no longer provisional and the
-- December reminder to look for the order stops.
CREATE TABLE calendar_years (
    year        integer PRIMARY KEY,
    source      text NOT NULL,                      -- the legal source (order, date)
    verified_by bigint,
    verified_at timestamptz NOT NULL
);
