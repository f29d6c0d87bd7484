-- Outbound documents that exist at most once per provider (an order's 855: `855:<order id>`).
-- Claimed with an insert in the transaction that logs the document, before it takes a control
-- number; the primary key answers "was it sent" with one index probe whatever the statistics.
CREATE TABLE outbound_once (
    provider TEXT NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (provider, key)
);
