-- A filtered order list is counted, and its page of ids chosen under any sort, from this index
-- alone: the filtered columns, the sort keys, and the id the SKU, node, search and due filters
-- match on. Never from the order rows, whose documents make every row visited a page read.
CREATE INDEX orders_filters ON orders (status, channel, placed_at, updated_at, external_id, id);

-- Superseded by orders_placed_id and orders_external_id_id (0038), which serve every query
-- these did; one index less to write per order.
DROP INDEX orders_placed;
DROP INDEX orders_external_id;
