-- The node each line is listed under (the one it is assigned to, or else the last that shipped
-- it), beside the order document, so that orders can be listed by node through an index.
ALTER TABLE order_lines ADD COLUMN node TEXT;
UPDATE order_lines SET node = COALESCE(
    (SELECT json_extract(l.value, '$.node')
     FROM orders o, json_each(o.doc, '$.lines') l
     WHERE o.id = order_lines.order_id AND json_extract(l.value, '$.line_no') = order_lines.line_no),
    (SELECT json_extract(s.value, '$.node')
     FROM orders o, json_each(o.doc, '$.shipments') s, json_each(s.value, '$.lines') sl
     WHERE o.id = order_lines.order_id AND json_extract(sl.value, '$.line_no') = order_lines.line_no
     ORDER BY s.key DESC LIMIT 1)
);
CREATE INDEX order_lines_node ON order_lines (node, order_id);
