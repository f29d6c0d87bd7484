-- Outbound messages wait in the log until they are sent: `next_attempt_at` is when a sender
-- may try next (NULL for messages nobody sends: inbound ones, documents kept for pick-up).
ALTER TABLE provider_messages ADD COLUMN next_attempt_at BIGINT;
CREATE INDEX provider_messages_due ON provider_messages (direction, status, next_attempt_at);

-- The last control number of the X12 interchanges written for each provider instance; taken
-- with an update in the transaction that logs the document, so no number is used twice.
CREATE TABLE x12_control_numbers (
    provider TEXT PRIMARY KEY,
    last BIGINT NOT NULL
);

-- How far the import from a polled source got: its "updated since" checkpoint, moved in the
-- transaction that stores the orders of a page.
CREATE TABLE pull_checkpoints (
    provider TEXT PRIMARY KEY,
    checkpoint TEXT NOT NULL,
    pages BIGINT NOT NULL,
    orders BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
