-- A digest of each processed request (SHA-256 of its encoded command message, without the request
-- id), so that a request id reused for a different request is refused instead of being answered
-- with the first request's reply. Records stored before this column existed have none; they are
-- matched on the command name alone until maintenance purges them.
ALTER TABLE idempotency_keys ADD COLUMN request_digest BLOB;

UPDATE llm_context
SET body = 'The stored reply of every processed mutation, by user and request id, so a retried request returns the original reply instead of writing twice. `request_digest` identifies the request''s content: the same id with different content is refused.',
    refs = 'idempotency_keys idempotency_keys.request_id idempotency_keys.user_id idempotency_keys.request_digest'
WHERE kind = 'schema' AND topic = 'idempotency_keys';
