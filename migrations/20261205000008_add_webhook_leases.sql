-- Which instance is delivering to an endpoint, until when: one worker per endpoint at a time (so its deliveries
-- go out in order), any number of endpoints in parallel across instances. A lease whose instance is gone, or
-- whose time is up, is free.
ALTER TABLE webhook_endpoints ADD COLUMN lease_owner TEXT;
ALTER TABLE webhook_endpoints ADD COLUMN lease_until BIGINT;
-- Which instance made an attempt (for the operator: where to look when one instance cannot reach a receiver).
ALTER TABLE webhook_attempts ADD COLUMN instance TEXT;
