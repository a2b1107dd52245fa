-- The event journal: append-only, one row per event, in commit order.
CREATE TABLE journal (
    seq     BIGSERIAL PRIMARY KEY,
    ts      TIMESTAMPTZ NOT NULL,
    stream  TEXT        NOT NULL,  -- the order id, or 'control' for firm-level events
    kind    TEXT        NOT NULL,
    payload JSONB       NOT NULL
);
CREATE INDEX journal_stream_seq ON journal (stream, seq);
