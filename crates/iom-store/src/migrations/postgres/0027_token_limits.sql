-- An integration token may be limited to channels and providers: JSON arrays of names, NULL when
-- the token is not limited.
ALTER TABLE api_tokens ADD COLUMN channels TEXT;
ALTER TABLE api_tokens ADD COLUMN providers TEXT;
