-- Distributed tracing (docs/operations.md#traces): each change event keeps the W3C `traceparent` of the request
-- that wrote it (its trace id is the second field), so the relay's NATS message continues that trace. Random
-- ids only, no personal data; null for events written before this migration or outside a request.
ALTER TABLE outbox_events ADD COLUMN traceparent TEXT;
