-- When the authorisation a payment call made lapses (Stripe's `capture_before` of its charge),
-- kept on the call that made it while the order still has goods to ship: a periodic check
-- renews authorisations about to lapse. Cleared once the order no longer needs it.
ALTER TABLE payment_calls ADD COLUMN expires_at BIGINT;
CREATE INDEX payment_calls_expiry ON payment_calls (expires_at) WHERE expires_at IS NOT NULL;
