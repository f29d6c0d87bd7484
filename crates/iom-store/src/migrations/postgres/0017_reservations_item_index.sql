-- No query reads reservations by (sku, node): a position's reserved quantity is kept on its
-- balance row. The index cost every reservation a write to a page of its own.
DROP INDEX reservations_item;
