-- References iom wrote into X12 documents in place of an order's own ids (a depositor order
-- number, an invoice number), per provider instance, so that a reply quoting one (a 945's W0602)
-- finds the order.
CREATE TABLE x12_references (
    provider TEXT NOT NULL,
    reference TEXT NOT NULL,
    order_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (provider, reference)
);
