-- Answers of the assistant carry their sources (JSON list of {title, section, url}) and,
-- when they were streamed to the widget, the id they were streamed under, so a resent
-- answer replaces its streamed preview instead of appearing twice.
ALTER TABLE messages ADD COLUMN citations TEXT;
ALTER TABLE messages ADD COLUMN stream_id TEXT;
