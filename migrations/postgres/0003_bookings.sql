-- Bookings (test drives, service appointments), their claims on time, history and reminders.
-- A booking holds one booking_claims row per 5-minute step of [start_at, end_at) of its
-- unit; the primary key makes two overlapping bookings of one unit impossible, whatever
-- the number of instances. Times are Unix milliseconds (BIGINT).

CREATE TABLE bookings (
    id              TEXT PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    status          TEXT NOT NULL,
    customer_id     TEXT NOT NULL REFERENCES customers (id),
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    channel         TEXT NOT NULL,
    language        TEXT NOT NULL,
    branch          TEXT NOT NULL,
    resource        TEXT NOT NULL,
    unit            BIGINT NOT NULL,
    start_at        BIGINT NOT NULL,
    end_at          BIGINT NOT NULL,
    service_type    TEXT,
    model           TEXT,
    plate           TEXT,
    year            BIGINT,
    mileage_km      BIGINT,
    name            TEXT NOT NULL,
    phone           TEXT,
    ics_token       TEXT NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    CHECK (end_at > start_at)
);
CREATE INDEX bookings_customer ON bookings (customer_id, start_at);
CREATE INDEX bookings_branch ON bookings (branch, start_at);
CREATE INDEX bookings_status ON bookings (status, start_at);

CREATE TABLE booking_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    booking_id TEXT NOT NULL REFERENCES bookings (id),
    at         BIGINT NOT NULL,
    event      TEXT NOT NULL,
    detail     TEXT NOT NULL
);
CREATE INDEX booking_events_booking ON booking_events (booking_id, id);

CREATE TABLE booking_claims (
    branch     TEXT NOT NULL,
    resource   TEXT NOT NULL,
    unit       BIGINT NOT NULL,
    at_ms      BIGINT NOT NULL,
    booking_id TEXT NOT NULL REFERENCES bookings (id),
    PRIMARY KEY (branch, resource, unit, at_ms)
);
CREATE INDEX booking_claims_booking ON booking_claims (booking_id);

CREATE TABLE reminders (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    booking_id    TEXT NOT NULL REFERENCES bookings (id),
    label         TEXT NOT NULL,
    due_at        BIGINT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'skipped', 'cancelled')),
    claimed_until BIGINT,
    finished_at   BIGINT,
    UNIQUE (booking_id, label, due_at)
);
CREATE INDEX reminders_due ON reminders (due_at) WHERE status = 'pending';
