-- Labels bought from carriers, one row per purchase. The row is written before the carrier is
-- called and names the carrier's shipment before it is bought, so a process that dies between
-- buying and recording finds the purchase and finishes it rather than buying again.
CREATE TABLE shipping_labels (
    key TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    node TEXT NOT NULL,
    lines TEXT NOT NULL,
    -- started (claimed), created (the carrier's shipment exists), recorded (the order has it)
    status TEXT NOT NULL,
    carrier_shipment_id TEXT,
    shipment_id TEXT,
    tracking_code TEXT,
    label_format TEXT,
    -- base64 of the label file
    label TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX shipping_labels_order ON shipping_labels (order_id, status);
CREATE INDEX shipping_labels_tracking ON shipping_labels (provider, tracking_code);
