-- The node each line is listed under (the one it is assigned to, or else the last that shipped
-- it), beside the order document, so that orders can be listed by node through an index.
ALTER TABLE order_lines ADD COLUMN node TEXT;
UPDATE order_lines SET node = COALESCE(
    (SELECT l.value ->> 'node'
     FROM orders o, jsonb_array_elements(o.doc::jsonb -> 'lines') l
     WHERE o.id = order_lines.order_id AND (l.value ->> 'line_no')::BIGINT = order_lines.line_no),
    (SELECT s.value ->> 'node'
     FROM orders o,
          jsonb_array_elements(o.doc::jsonb -> 'shipments') WITH ORDINALITY s(value, n),
          jsonb_array_elements(s.value -> 'lines') sl
     WHERE o.id = order_lines.order_id AND (sl.value ->> 'line_no')::BIGINT = order_lines.line_no
     ORDER BY s.n DESC LIMIT 1)
);
CREATE INDEX order_lines_node ON order_lines (node, order_id);
