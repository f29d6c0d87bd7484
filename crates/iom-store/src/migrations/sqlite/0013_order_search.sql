-- Free-text order search (`q`): each thing a user may type is one index look-up, so a search
-- costs the same with 100 orders or 10 million. Names and e-mail addresses match by prefix,
-- whatever their case.
CREATE INDEX orders_external_id ON orders (external_id);
CREATE INDEX orders_customer_id ON orders (customer_id);
CREATE INDEX orders_email_folded ON orders (lower(customer_email));
CREATE INDEX orders_name_folded ON orders (lower(customer_name));
