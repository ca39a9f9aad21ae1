-- What happened to messages a channel sent (Viber's delivered, seen and failed
-- callbacks), one row per callback, for support and delivery statistics.
CREATE TABLE channel_receipts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel       TEXT NOT NULL,
    message_token TEXT NOT NULL,
    user_id       TEXT,
    -- delivered, seen, failed.
    event         TEXT NOT NULL,
    -- Why, for failed.
    description   TEXT,
    at            BIGINT NOT NULL
);
-- A callback Viber sends again is kept once.
CREATE UNIQUE INDEX channel_receipts_once ON channel_receipts (channel, message_token, event);
