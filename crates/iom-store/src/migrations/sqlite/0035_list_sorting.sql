-- The web UI's lists page by keyset under each of their sorts: (sort column, id) read from an
-- index, however deep the page. Returns by id, status (returns_status) and order
-- (returns_order), provider messages by id (provider_messages_list and _status), tasks
-- (flow_tasks_page) and SKUs (the balances' primary key) have theirs already.
CREATE INDEX notifications_status_id ON notifications (status, id);
CREATE INDEX returns_updated_id ON returns (updated_at, id);
CREATE INDEX returns_status_updated_id ON returns (status, updated_at, id);
