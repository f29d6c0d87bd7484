-- Daily roll-ups of the fact rows, so that a KPI window reads its whole UTC days from a few
-- hundred rows instead of every order, line and shipment placed or made in it; its partial first
-- and last days still come from the fact rows. `day` is the first microsecond of the UTC day.
-- Each column is the sum of the expression of the same name in `iom_store::insights`
-- (`ORDER_SUMS`, `LINE_SUMS`, `SHIPMENT_SUMS`); the store keeps them by delta in the transaction
-- that writes the fact rows (a row's contribution out before it changes, back in after), so they
-- are exact at every commit. Filled here from the fact rows already stored.

-- The orders placed per day, channel, currency and region.
CREATE TABLE order_facts_daily (
    day BIGINT NOT NULL,
    channel TEXT NOT NULL,
    currency TEXT NOT NULL,
    region TEXT NOT NULL,
    orders BIGINT NOT NULL,
    cancelled_orders BIGINT NOT NULL,
    backordered_orders BIGINT NOT NULL,
    lines BIGINT NOT NULL,
    units BIGINT NOT NULL,
    cancelled_units BIGINT NOT NULL,
    shipped_units BIGINT NOT NULL,
    returned_units BIGINT NOT NULL,
    revenue_micros BIGINT NOT NULL,
    booked_micros BIGINT NOT NULL,
    settled_orders BIGINT NOT NULL,
    settled_units BIGINT NOT NULL,
    settled_shipped_units BIGINT NOT NULL,
    shipped_orders BIGINT NOT NULL,
    on_time_orders BIGINT NOT NULL,
    cycle_micros BIGINT NOT NULL,
    released_orders BIGINT NOT NULL,
    release_micros BIGINT NOT NULL,
    PRIMARY KEY (day, channel, currency, region)
);
INSERT INTO order_facts_daily (day, channel, currency, region, orders, cancelled_orders, backordered_orders, lines, units, cancelled_units, shipped_units, returned_units, revenue_micros, booked_micros, settled_orders, settled_units, settled_shipped_units, shipped_orders, on_time_orders, cycle_micros, released_orders, release_micros)
SELECT placed_at - placed_at % 86400000000, channel, currency, region,
    SUM(1),
    SUM(cancelled),
    SUM(backordered),
    SUM(lines),
    SUM(units),
    SUM(cancelled_units),
    SUM(shipped_units),
    SUM(returned_units),
    SUM(total_micros),
    SUM(booked_micros),
    SUM(CASE WHEN open = 0 THEN 1 ELSE 0 END),
    SUM(CASE WHEN open = 0 THEN units ELSE 0 END),
    SUM(CASE WHEN open = 0 THEN shipped_units ELSE 0 END),
    SUM(CASE WHEN shipped_at IS NOT NULL THEN 1 ELSE 0 END),
    SUM(CASE WHEN shipped_at <= ship_by THEN 1 ELSE 0 END),
    SUM(CASE WHEN shipped_at IS NOT NULL THEN shipped_at - created_at ELSE 0 END),
    SUM(CASE WHEN released_at IS NOT NULL THEN 1 ELSE 0 END),
    SUM(CASE WHEN released_at IS NOT NULL THEN released_at - created_at ELSE 0 END)
FROM order_facts GROUP BY placed_at - placed_at % 86400000000, channel, currency, region;

-- The value of the orders whose last unit shipped, per day of that shipment and currency.
CREATE TABLE order_shipped_daily (
    day BIGINT NOT NULL,
    currency TEXT NOT NULL,
    value_micros BIGINT NOT NULL,
    PRIMARY KEY (day, currency)
);
INSERT INTO order_shipped_daily (day, currency, value_micros)
SELECT shipped_at - shipped_at % 86400000000, currency,
    SUM(total_micros)
FROM order_facts WHERE shipped_at IS NOT NULL GROUP BY shipped_at - shipped_at % 86400000000, currency;

-- The order lines placed per day and SKU.
CREATE TABLE line_facts_daily (
    day BIGINT NOT NULL,
    sku TEXT NOT NULL,
    lines BIGINT NOT NULL,
    units BIGINT NOT NULL,
    shipped_units BIGINT NOT NULL,
    revenue_micros BIGINT NOT NULL,
    PRIMARY KEY (day, sku)
);
INSERT INTO line_facts_daily (day, sku, lines, units, shipped_units, revenue_micros)
SELECT placed_at - placed_at % 86400000000, sku,
    SUM(1),
    SUM(units),
    SUM(shipped_units),
    SUM(revenue_micros)
FROM line_facts GROUP BY placed_at - placed_at % 86400000000, sku;
-- Top products sum a window's days per SKU: read in SKU order from this index alone, the
-- grouping needs neither the table nor a sort (with 5,000 SKUs over 30 days, 3 times faster).
CREATE INDEX line_facts_daily_sku
    ON line_facts_daily (sku, day, lines, units, shipped_units, revenue_micros);

-- The shipments made per day and node.
CREATE TABLE shipment_facts_daily (
    day BIGINT NOT NULL,
    node TEXT NOT NULL,
    shipments BIGINT NOT NULL,
    units BIGINT NOT NULL,
    cost_micros BIGINT NOT NULL,
    on_time_shipments BIGINT NOT NULL,
    cycle_micros BIGINT NOT NULL,
    PRIMARY KEY (day, node)
);
INSERT INTO shipment_facts_daily (day, node, shipments, units, cost_micros, on_time_shipments, cycle_micros)
SELECT at - at % 86400000000, node,
    SUM(1),
    SUM(units),
    SUM(cost_micros),
    SUM(CASE WHEN at <= ship_by THEN 1 ELSE 0 END),
    SUM(at - order_created_at)
FROM shipment_facts GROUP BY at - at % 86400000000, node;
