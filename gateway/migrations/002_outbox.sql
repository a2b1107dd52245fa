-- The outbox cursor: every report of a journal entry up to handed_seq has been
-- handed to its FIX session. Reports of later entries are sent again at start
-- (PossResend=Y) unless the session's store already holds them.
CREATE TABLE outbox (
    id          INT PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    handed_seq  BIGINT NOT NULL DEFAULT 0
);
INSERT INTO outbox (id, handed_seq) VALUES (1, 0);
