-- When the carrier's tracker reported a shipment delivered, and when it was promised: the KPI
-- of shipments delivered after their promise counts these by the time of delivery. When it
-- reported an exception last: the `shipment_exception` alert fires on those not delivered since.
ALTER TABLE shipment_facts ADD COLUMN promised_at BIGINT;
ALTER TABLE shipment_facts ADD COLUMN delivered_at BIGINT;
ALTER TABLE shipment_facts ADD COLUMN exception_at BIGINT;
CREATE INDEX shipment_facts_delivered ON shipment_facts (delivered_at) WHERE delivered_at IS NOT NULL;
CREATE INDEX shipment_facts_exception ON shipment_facts (exception_at) WHERE exception_at IS NOT NULL;
