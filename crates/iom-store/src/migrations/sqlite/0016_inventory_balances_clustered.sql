-- Balances kept in their primary key's order (a table without a rowid): a position is found,
-- updated and inserted in one b-tree instead of two, and a SKU's positions at every node sit
-- together, so reading one SKU across many nodes touches few pages.
CREATE TABLE inventory_balances_clustered (
    sku TEXT NOT NULL,
    node TEXT NOT NULL,
    on_hand BIGINT NOT NULL,
    reserved BIGINT NOT NULL,
    -- Ring-fenced for a channel or customer group and not yet consumed.
    allocated BIGINT NOT NULL,
    -- Overrides the node's safety stock for this SKU when set.
    safety_stock BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (sku, node)
) WITHOUT ROWID;
INSERT INTO inventory_balances_clustered
    SELECT sku, node, on_hand, reserved, allocated, safety_stock, updated_at FROM inventory_balances;
DROP TABLE inventory_balances;
ALTER TABLE inventory_balances_clustered RENAME TO inventory_balances;
CREATE INDEX inventory_balances_node ON inventory_balances (node, sku);
