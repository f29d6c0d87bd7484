-- Calls to payment services, one row per movement of money (an authorisation, a shipment's
-- capture, the release of what is left, a refund) under the idempotency key sent with it. The
-- row is written before the call and keeps the amount, so a process that dies after the service
-- answered and before the answer was recorded sends the same request under the same key again
-- and gets the first answer back: nothing is charged or refunded twice.
CREATE TABLE payment_calls (
    key TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    -- authorize, capture, release, refund
    kind TEXT NOT NULL,
    -- what the call is for: the order, a shipment, a return
    reference TEXT NOT NULL,
    -- decimal, in the order's currency
    amount TEXT NOT NULL,
    -- started (claimed, maybe sent), recorded (the order has it), failed (refused for good)
    status TEXT NOT NULL,
    -- the service's id of what the call made (pi_…, re_…)
    service_id TEXT,
    error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX payment_calls_order ON payment_calls (order_id, kind);
