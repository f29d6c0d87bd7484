-- When the carrier's tracker reported a shipment delivered, and when it was promised: the KPI
-- of shipments delivered after their promise counts these by the time of delivery.
ALTER TABLE shipment_facts ADD COLUMN promised_at BIGINT;
ALTER TABLE shipment_facts ADD COLUMN delivered_at BIGINT;
CREATE INDEX shipment_facts_delivered ON shipment_facts (delivered_at) WHERE delivered_at IS NOT NULL;
