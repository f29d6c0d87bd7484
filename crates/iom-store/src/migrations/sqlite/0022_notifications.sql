-- Notification templates an operator saved; the defaults live in the code and a row here
-- replaces the default of the same name.
CREATE TABLE notification_templates (
    name TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One row per (business event, template, recipient), written in the transaction that moves the
-- notifications consumer's cursor past the event and before anything is sent: the unique key
-- is what keeps a business event from yielding two messages of one template.
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    event_seq BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    template TEXT NOT NULL,
    channel TEXT NOT NULL,
    recipient TEXT NOT NULL,
    order_id TEXT,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    html TEXT,
    -- pending | sending | sent | failed (to be retried) | dead | opted_out
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    last_error TEXT,
    -- When the sender looks at it next (a claim's expiry while sending); NULL when done.
    next_attempt_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    sent_at BIGINT,
    UNIQUE (event_seq, template, recipient)
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX notifications_order ON notifications (order_id, id);
