//! `BookingStore` on SQL: bookings, the claims that make reservation atomic, their
//! history and their reminders.
//!
//! A booking holds one `booking_claims` row per `CLAIM_GRID` step of its unit's time under
//! the key (branch, resource, unit, moment). Two overlapping bookings of one unit share a
//! step, so the second transaction to write it fails on the key — on SQLite and PostgreSQL
//! alike, whatever the number of instances — and is rolled back as `Taken`. Changes to an
//! existing booking start with an `UPDATE … RETURNING` of its row, which takes the row
//! lock on PostgreSQL, so concurrent cancels and reschedules of one booking queue up.

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::{SignedDuration, Timestamp};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::{Backend, BookingStore, QueryContext, Store, StoreError};
use crate::booking::{
    Booking, BookingCode, BookingEvent, BookingFilter, BookingKind, BookingRequest, BookingStatus,
    CLAIM_GRID, DueReminder, ReminderOutcome, ReserveError, ResourceUnit, Slot,
};
use crate::engine::{ChannelKind, Language};

const BOOKING_COLUMNS: &str = "id, code, kind, status, customer_id, conversation_id, channel, \
     language, branch, resource, unit, start_at, end_at, service_type, model, plate, year, \
     mileage_km, name, phone, ics_token, created_at, updated_at";

/// The longest booking accepted: bounds the claims (and bound parameters) one booking
/// writes, far below both backends' limits.
const MAX_BOOKING: SignedDuration = SignedDuration::from_hours(24 * 7);

/// Fresh codes tried when a generated one is taken (30⁵ codes per kind: a second try is
/// already rare).
const CODE_ATTEMPTS: usize = 10;

/// Bytes of randomness in an `.ics` token (256 bits).
const ICS_TOKEN_BYTES: usize = 32;

/// A request the store refuses before touching the database.
fn invalid(context: &'static str, message: String) -> StoreError {
    StoreError::Invalid(format!("{context}: {message}"))
}

/// True when the database refused a row because of a unique or primary key.
fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// The moments (milliseconds) a slot claims: every `CLAIM_GRID` step of `[start, end)`.
/// Refuses slots off the grid, empty or longer than `MAX_BOOKING`.
fn claim_moments(slot: &Slot) -> Result<Vec<i64>, StoreError> {
    let ctx = "checking a booking's time";
    let grid_ns = CLAIM_GRID.as_nanos();
    if slot.start.as_nanosecond() % grid_ns != 0 || slot.end.as_nanosecond() % grid_ns != 0 {
        return Err(invalid(
            ctx,
            format!(
                "{} – {} is not on the {}-minute reservation grid",
                slot.start,
                slot.end,
                CLAIM_GRID.as_mins()
            ),
        ));
    }
    if slot.end <= slot.start {
        return Err(invalid(
            ctx,
            format!("{} – {} ends before it starts", slot.start, slot.end),
        ));
    }
    if slot.end.duration_since(slot.start) > MAX_BOOKING {
        return Err(invalid(
            ctx,
            format!(
                "{} – {} is longer than {} days",
                slot.start,
                slot.end,
                MAX_BOOKING.as_hours() / 24
            ),
        ));
    }
    let grid_ms = CLAIM_GRID.as_millis() as i64;
    let (start, end) = (slot.start.as_millisecond(), slot.end.as_millisecond());
    Ok(std::iter::successors(Some(start), |at| Some(at + grid_ms))
        .take_while(|at| *at < end)
        .collect())
}

/// A fresh unguessable token for a booking's `.ics` link: 256 random bits, base64url.
fn ics_token() -> String {
    let bytes: [u8; ICS_TOKEN_BYTES] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The current time, truncated to the milliseconds stored.
fn now() -> Timestamp {
    timestamp(super::now_ms()).unwrap_or_else(|_| Timestamp::now())
}

fn timestamp(ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(ms)
        .map_err(|err| StoreError::Corrupt(format!("time {ms} out of range: {err}")))
}

fn millis(duration: SignedDuration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(if duration.is_negative() {
        i64::MIN
    } else {
        i64::MAX
    })
}

fn booking_from_row(row: &AnyRow) -> Result<Booking, StoreError> {
    let ctx = "reading a booking";
    let text = |column: &str| row.try_get::<String, _>(column).context(ctx);
    let corrupt =
        |what: &str, value: &str| StoreError::Corrupt(format!("unknown {what} {value:?}"));
    let code = text("code")?;
    let kind = text("kind")?;
    let status = text("status")?;
    let channel = text("channel")?;
    let language = text("language")?;
    let unit: i64 = row.try_get("unit").context(ctx)?;
    let year: Option<i64> = row.try_get("year").context(ctx)?;
    Ok(Booking {
        id: text("id")?,
        code: BookingCode::parse(&code).ok_or_else(|| corrupt("booking code", &code))?,
        kind: BookingKind::parse(&kind).ok_or_else(|| corrupt("booking kind", &kind))?,
        status: BookingStatus::parse(&status).ok_or_else(|| corrupt("booking status", &status))?,
        customer_id: text("customer_id")?,
        conversation_id: text("conversation_id")?,
        channel: ChannelKind::parse(&channel).ok_or_else(|| corrupt("channel", &channel))?,
        language: Language::parse(&language).ok_or_else(|| corrupt("language", &language))?,
        slot: Slot {
            unit: ResourceUnit {
                branch: text("branch")?,
                resource: text("resource")?,
                unit: u32::try_from(unit)
                    .map_err(|_| StoreError::Corrupt(format!("booking unit {unit}")))?,
            },
            start: timestamp(row.try_get("start_at").context(ctx)?)?,
            end: timestamp(row.try_get("end_at").context(ctx)?)?,
        },
        service_type: row.try_get("service_type").context(ctx)?,
        model: row.try_get("model").context(ctx)?,
        plate: row.try_get("plate").context(ctx)?,
        year: year
            .map(|y| i32::try_from(y).map_err(|_| StoreError::Corrupt(format!("booking year {y}"))))
            .transpose()?,
        mileage_km: row.try_get("mileage_km").context(ctx)?,
        name: text("name")?,
        phone: row.try_get("phone").context(ctx)?,
        ics_token: text("ics_token")?,
        created_at: timestamp(row.try_get("created_at").context(ctx)?)?,
        updated_at: timestamp(row.try_get("updated_at").context(ctx)?)?,
    })
}

/// Claims every grid step of `slot` for the booking; `Taken` when any is held already.
/// The caller must roll back on error (on PostgreSQL the transaction is aborted).
async fn insert_claims(
    conn: &mut AnyConnection,
    booking_id: &str,
    slot: &Slot,
    moments: &[i64],
) -> Result<(), ReserveError> {
    // Ascending moments: concurrent overlapping claims lock rows in the same order.
    let values: Vec<String> = (0..moments.len())
        .map(|i| format!("($1, $2, $3, ${}, $4)", i + 5))
        .collect();
    let sql = format!(
        "INSERT INTO booking_claims (branch, resource, unit, at_ms, booking_id) VALUES {}",
        values.join(", ")
    );
    // Only generated placeholders are spliced in; every value is bound.
    let mut query = sqlx::query(AssertSqlSafe(sql))
        .bind(&slot.unit.branch)
        .bind(&slot.unit.resource)
        .bind(i64::from(slot.unit.unit))
        .bind(booking_id);
    for at in moments {
        query = query.bind(*at);
    }
    match query.execute(&mut *conn).await {
        Ok(_) => Ok(()),
        Err(err) if is_unique_violation(&err) => Err(ReserveError::Taken),
        Err(source) => Err(StoreError::Query {
            context: "claiming a booking's time",
            source,
        }
        .into()),
    }
}

/// Schedules reminders. A reminder cancelled earlier at the same moment (a booking moved
/// away and back) becomes pending again; one already sent or skipped stays as it is.
async fn insert_reminders(
    conn: &mut AnyConnection,
    booking_id: &str,
    reminders: &[(String, Timestamp)],
) -> Result<(), StoreError> {
    for (label, due_at) in reminders {
        sqlx::query(
            "INSERT INTO reminders (booking_id, label, due_at, status) VALUES ($1, $2, $3, 'pending') \
             ON CONFLICT (booking_id, label, due_at) DO UPDATE \
             SET status = 'pending', claimed_until = NULL, finished_at = NULL \
             WHERE reminders.status = 'cancelled'",
        )
        .bind(booking_id)
        .bind(label)
        .bind(due_at.as_millisecond())
        .execute(&mut *conn)
        .await
        .context("scheduling reminders")?;
    }
    Ok(())
}

/// Cancels the booking's reminders not sent yet.
async fn cancel_pending_reminders(
    conn: &mut AnyConnection,
    booking_id: &str,
    at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE reminders SET status = 'cancelled', claimed_until = NULL, finished_at = $1 \
         WHERE booking_id = $2 AND status = 'pending'",
    )
    .bind(at)
    .bind(booking_id)
    .execute(&mut *conn)
    .await
    .context("cancelling reminders")?;
    Ok(())
}

async fn insert_event(
    conn: &mut AnyConnection,
    booking_id: &str,
    at: i64,
    event: &str,
    detail: serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO booking_events (booking_id, at, event, detail) VALUES ($1, $2, $3, $4)",
    )
    .bind(booking_id)
    .bind(at)
    .bind(event)
    .bind(detail.to_string())
    .execute(&mut *conn)
    .await
    .context("writing a booking's history")?;
    Ok(())
}

/// A value bound to a dynamically built query.
enum Arg {
    Text(String),
    Int(i64),
}

/// `WHERE` clauses and their values, numbered as they are added.
#[derive(Default)]
struct Conditions {
    clauses: Vec<String>,
    args: Vec<Arg>,
}

impl Conditions {
    /// Adds `column op $n` with `value` bound as `$n`.
    fn add(&mut self, column: &str, op: &str, value: Arg) {
        self.args.push(value);
        self.clauses
            .push(format!("{column} {op} ${}", self.args.len()));
    }

    fn next_placeholder(&self) -> usize {
        self.args.len() + 1
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    fn bind<'q>(
        &'q self,
        mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        for arg in &self.args {
            query = match arg {
                Arg::Text(text) => query.bind(text.as_str()),
                Arg::Int(int) => query.bind(*int),
            };
        }
        query
    }
}

impl Store {
    /// Takes a confirmed booking's row for a change (the row lock on PostgreSQL) and
    /// returns it; `None` when there is no such confirmed booking for that customer.
    async fn lock_confirmed(
        conn: &mut AnyConnection,
        code: &BookingCode,
        customer_id: Option<&str>,
        now: i64,
    ) -> Result<Option<Booking>, StoreError> {
        let customer_clause = if customer_id.is_some() {
            " AND customer_id = $3"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE bookings SET updated_at = $1 \
             WHERE code = $2 AND status = 'confirmed'{customer_clause} RETURNING {BOOKING_COLUMNS}"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(now)
            .bind(code.as_str());
        if let Some(customer_id) = customer_id {
            query = query.bind(customer_id);
        }
        query
            .fetch_optional(&mut *conn)
            .await
            .context("taking a booking for a change")?
            .as_ref()
            .map(booking_from_row)
            .transpose()
    }

    async fn bookings_where(
        &self,
        conditions: &Conditions,
        tail: &str,
        context: &'static str,
    ) -> Result<Vec<Booking>, StoreError> {
        let sql = format!(
            "SELECT {BOOKING_COLUMNS} FROM bookings{}{tail}",
            conditions.sql()
        );
        conditions
            .bind(sqlx::query(AssertSqlSafe(sql)))
            .fetch_all(&self.pool)
            .await
            .context(context)?
            .iter()
            .map(booking_from_row)
            .collect()
    }
}

#[async_trait]
impl BookingStore for Store {
    async fn occupied(
        &self,
        branch: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Slot>, StoreError> {
        let ctx = "reading occupied slots";
        sqlx::query(
            "SELECT branch, resource, unit, start_at, end_at FROM bookings \
             WHERE branch = $1 AND status = 'confirmed' AND start_at < $3 AND end_at > $2 \
             ORDER BY start_at, resource, unit",
        )
        .bind(branch)
        .bind(from.as_millisecond())
        .bind(to.as_millisecond())
        .fetch_all(&self.pool)
        .await
        .context(ctx)?
        .iter()
        .map(|row| {
            let unit: i64 = row.try_get("unit").context(ctx)?;
            Ok(Slot {
                unit: ResourceUnit {
                    branch: row.try_get("branch").context(ctx)?,
                    resource: row.try_get("resource").context(ctx)?,
                    unit: u32::try_from(unit)
                        .map_err(|_| StoreError::Corrupt(format!("booking unit {unit}")))?,
                },
                start: timestamp(row.try_get("start_at").context(ctx)?)?,
                end: timestamp(row.try_get("end_at").context(ctx)?)?,
            })
        })
        .collect()
    }

    async fn reserve(&self, request: &BookingRequest) -> Result<Booking, ReserveError> {
        let ctx = "reserving a booking";
        let moments = claim_moments(&request.slot)?;
        let now = now();
        let mut booking = Booking {
            id: uuid::Uuid::now_v7().to_string(),
            code: BookingCode::generate(request.kind),
            kind: request.kind,
            status: BookingStatus::Confirmed,
            customer_id: request.customer_id.clone(),
            conversation_id: request.conversation_id.clone(),
            channel: request.channel,
            language: request.language,
            slot: request.slot.clone(),
            service_type: request.service_type.clone(),
            model: request.model.clone(),
            plate: request.plate.clone(),
            year: request.year,
            mileage_km: request.mileage_km,
            name: request.name.clone(),
            phone: request.phone.clone(),
            ics_token: ics_token(),
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.writer.begin().await.context(ctx)?;
        let mut inserted = false;
        for _ in 0..CODE_ATTEMPTS {
            let row = sqlx::query(
                "INSERT INTO bookings (id, code, kind, status, customer_id, conversation_id, channel, \
                 language, branch, resource, unit, start_at, end_at, service_type, model, plate, year, \
                 mileage_km, name, phone, ics_token, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
                 $18, $19, $20, $21, $22, $22) \
                 ON CONFLICT (code) DO NOTHING RETURNING id",
            )
            .bind(&booking.id)
            .bind(booking.code.as_str())
            .bind(booking.kind.as_str())
            .bind(booking.status.as_str())
            .bind(&booking.customer_id)
            .bind(&booking.conversation_id)
            .bind(booking.channel.as_str())
            .bind(booking.language.as_str())
            .bind(&booking.slot.unit.branch)
            .bind(&booking.slot.unit.resource)
            .bind(i64::from(booking.slot.unit.unit))
            .bind(booking.slot.start.as_millisecond())
            .bind(booking.slot.end.as_millisecond())
            .bind(booking.service_type.as_deref())
            .bind(booking.model.as_deref())
            .bind(booking.plate.as_deref())
            .bind(booking.year.map(i64::from))
            .bind(booking.mileage_km)
            .bind(&booking.name)
            .bind(booking.phone.as_deref())
            .bind(&booking.ics_token)
            .bind(now.as_millisecond())
            .fetch_optional(&mut *tx)
            .await
            .context(ctx)?;
            if row.is_some() {
                inserted = true;
                break;
            }
            // Another booking has this code: draw again.
            booking.code = BookingCode::generate(request.kind);
        }
        if !inserted {
            tx.rollback().await.context(ctx)?;
            return Err(invalid(
                ctx,
                format!("no free booking code after {CODE_ATTEMPTS} attempts"),
            )
            .into());
        }
        if let Err(err) = insert_claims(&mut tx, &booking.id, &booking.slot, &moments).await {
            tx.rollback().await.context(ctx)?;
            return Err(err);
        }
        insert_event(
            &mut tx,
            &booking.id,
            now.as_millisecond(),
            "booked",
            serde_json::json!({ "slot": booking.slot, "channel": booking.channel.as_str() }),
        )
        .await?;
        insert_reminders(&mut tx, &booking.id, &request.reminders).await?;
        tx.commit().await.context(ctx)?;
        Ok(booking)
    }

    async fn reschedule(
        &self,
        code: &BookingCode,
        customer_id: Option<&str>,
        slot: &Slot,
        reminders: &[(String, Timestamp)],
    ) -> Result<Booking, ReserveError> {
        let ctx = "rescheduling a booking";
        let moments = claim_moments(slot)?;
        let now = now().as_millisecond();
        let mut tx = self.writer.begin().await.context(ctx)?;
        let Some(old) = Self::lock_confirmed(&mut tx, code, customer_id, now).await? else {
            tx.rollback().await.context(ctx)?;
            return Err(ReserveError::NotFound(code.to_string()));
        };
        sqlx::query("DELETE FROM booking_claims WHERE booking_id = $1")
            .bind(&old.id)
            .execute(&mut *tx)
            .await
            .context(ctx)?;
        if let Err(err) = insert_claims(&mut tx, &old.id, slot, &moments).await {
            tx.rollback().await.context(ctx)?;
            return Err(err);
        }
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE bookings SET branch = $1, resource = $2, unit = $3, start_at = $4, end_at = $5, \
             updated_at = $6 WHERE id = $7 RETURNING {BOOKING_COLUMNS}"
        )))
        .bind(&slot.unit.branch)
        .bind(&slot.unit.resource)
        .bind(i64::from(slot.unit.unit))
        .bind(slot.start.as_millisecond())
        .bind(slot.end.as_millisecond())
        .bind(now)
        .bind(&old.id)
        .fetch_one(&mut *tx)
        .await
        .context(ctx)?;
        let moved = booking_from_row(&row)?;
        cancel_pending_reminders(&mut tx, &old.id, now).await?;
        insert_reminders(&mut tx, &old.id, reminders).await?;
        insert_event(
            &mut tx,
            &old.id,
            now,
            "rescheduled",
            serde_json::json!({ "from": old.slot, "to": moved.slot }),
        )
        .await?;
        tx.commit().await.context(ctx)?;
        Ok(moved)
    }

    async fn cancel(
        &self,
        code: &BookingCode,
        customer_id: Option<&str>,
        reason: &str,
    ) -> Result<Option<Booking>, StoreError> {
        let ctx = "cancelling a booking";
        let now = now().as_millisecond();
        let mut tx = self.writer.begin().await.context(ctx)?;
        let Some(booking) = Self::lock_confirmed(&mut tx, code, customer_id, now).await? else {
            tx.rollback().await.context(ctx)?;
            return Ok(None);
        };
        sqlx::query("UPDATE bookings SET status = 'cancelled' WHERE id = $1")
            .bind(&booking.id)
            .execute(&mut *tx)
            .await
            .context(ctx)?;
        sqlx::query("DELETE FROM booking_claims WHERE booking_id = $1")
            .bind(&booking.id)
            .execute(&mut *tx)
            .await
            .context(ctx)?;
        cancel_pending_reminders(&mut tx, &booking.id, now).await?;
        insert_event(
            &mut tx,
            &booking.id,
            now,
            "cancelled",
            serde_json::json!({ "reason": reason }),
        )
        .await?;
        tx.commit().await.context(ctx)?;
        Ok(Some(Booking {
            status: BookingStatus::Cancelled,
            ..booking
        }))
    }

    async fn booking(&self, code: &BookingCode) -> Result<Option<Booking>, StoreError> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {BOOKING_COLUMNS} FROM bookings WHERE code = $1"
        )))
        .bind(code.as_str())
        .fetch_optional(&self.pool)
        .await
        .context("reading a booking")?
        .as_ref()
        .map(booking_from_row)
        .transpose()
    }

    async fn history(&self, booking_id: &str) -> Result<Vec<BookingEvent>, StoreError> {
        let ctx = "reading a booking's history";
        sqlx::query(
            "SELECT at, event, detail FROM booking_events WHERE booking_id = $1 ORDER BY id",
        )
        .bind(booking_id)
        .fetch_all(&self.pool)
        .await
        .context(ctx)?
        .iter()
        .map(|row| {
            let detail: String = row.try_get("detail").context(ctx)?;
            Ok(BookingEvent {
                at: timestamp(row.try_get("at").context(ctx)?)?,
                event: row.try_get("event").context(ctx)?,
                detail: serde_json::from_str(&detail)
                    .map_err(|err| StoreError::Corrupt(format!("booking event detail: {err}")))?,
            })
        })
        .collect()
    }

    async fn upcoming_for_customer(
        &self,
        customer_id: &str,
        now: Timestamp,
    ) -> Result<Vec<Booking>, StoreError> {
        let mut conditions = Conditions::default();
        conditions.add("customer_id", "=", Arg::Text(customer_id.to_owned()));
        conditions.add(
            "status",
            "=",
            Arg::Text(BookingStatus::Confirmed.as_str().into()),
        );
        conditions.add("start_at", ">", Arg::Int(now.as_millisecond()));
        self.bookings_where(
            &conditions,
            " ORDER BY start_at, id",
            "reading a customer's bookings",
        )
        .await
    }

    /// `limit == 0` means no limit.
    async fn list_bookings(&self, filter: &BookingFilter) -> Result<Vec<Booking>, StoreError> {
        let mut conditions = Conditions::default();
        if let Some(branch) = &filter.branch {
            conditions.add("branch", "=", Arg::Text(branch.clone()));
        }
        if let Some(status) = filter.status {
            conditions.add("status", "=", Arg::Text(status.as_str().into()));
        }
        if let Some(kind) = filter.kind {
            conditions.add("kind", "=", Arg::Text(kind.as_str().into()));
        }
        if let Some(from) = filter.from {
            conditions.add("start_at", ">=", Arg::Int(from.as_millisecond()));
        }
        if let Some(to) = filter.to {
            conditions.add("start_at", "<", Arg::Int(to.as_millisecond()));
        }
        if let Some(customer_id) = &filter.customer_id {
            conditions.add("customer_id", "=", Arg::Text(customer_id.clone()));
        }
        let limit = if filter.limit == 0 {
            i64::MAX
        } else {
            i64::from(filter.limit)
        };
        let n = conditions.next_placeholder();
        conditions.args.push(Arg::Int(limit));
        conditions.args.push(Arg::Int(i64::from(filter.offset)));
        self.bookings_where(
            &conditions,
            &format!(" ORDER BY start_at, id LIMIT ${n} OFFSET ${}", n + 1),
            "listing bookings",
        )
        .await
    }

    async fn claim_due_reminders(
        &self,
        now: Timestamp,
        lease: SignedDuration,
        limit: u32,
    ) -> Result<Vec<DueReminder>, StoreError> {
        let ctx = "claiming due reminders";
        let now_ms = now.as_millisecond();
        // PostgreSQL: rows another instance is claiming right now are skipped, not waited
        // for, and a row claimed and committed meanwhile fails the re-checked condition.
        // SQLite: the single writer runs one claim at a time.
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE OF r SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let rows = sqlx::query(AssertSqlSafe(format!(
            "UPDATE reminders SET claimed_until = $1 WHERE id IN ( \
                 SELECT r.id FROM reminders r JOIN bookings b ON b.id = r.booking_id \
                 WHERE r.status = 'pending' AND r.due_at <= $2 \
                 AND (r.claimed_until IS NULL OR r.claimed_until <= $2) \
                 AND b.status = 'confirmed' \
                 ORDER BY r.due_at, r.id LIMIT $3{lock}) \
             RETURNING id, booking_id, label, due_at"
        )))
        .bind(now_ms.saturating_add(millis(lease)))
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.writer)
        .await
        .context(ctx)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get("id").context(ctx)?;
            let booking_id: String = row.try_get("booking_id").context(ctx)?;
            let label: String = row.try_get("label").context(ctx)?;
            let due_at = timestamp(row.try_get("due_at").context(ctx)?)?;
            claimed.push((id, booking_id, label, due_at));
        }
        let mut conditions = Conditions::default();
        let mut ids: Vec<&str> = claimed.iter().map(|c| c.1.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        conditions
            .clauses
            .push(format!("id IN ({})", placeholders.join(", ")));
        conditions
            .args
            .extend(ids.iter().map(|id| Arg::Text((*id).to_owned())));
        let bookings = self.bookings_where(&conditions, "", ctx).await?;
        let mut due = claimed
            .into_iter()
            .map(|(id, booking_id, label, due_at)| {
                let booking = bookings
                    .iter()
                    .find(|b| b.id == booking_id)
                    .cloned()
                    .ok_or_else(|| StoreError::Corrupt(format!("reminder {id} has no booking")))?;
                Ok(DueReminder {
                    id,
                    label,
                    due_at,
                    booking,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        due.sort_by_key(|r| (r.due_at, r.id));
        Ok(due)
    }

    /// Only a pending reminder changes; finishing one again, or one cancelled with its
    /// booking meanwhile, changes nothing.
    async fn finish_reminder(
        &self,
        id: i64,
        outcome: ReminderOutcome,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let ctx = "finishing a reminder";
        let (status, event) = match outcome {
            ReminderOutcome::Sent => ("sent", "reminder_sent"),
            ReminderOutcome::Skipped => ("skipped", "reminder_skipped"),
        };
        let at_ms = at.as_millisecond();
        let mut tx = self.writer.begin().await.context(ctx)?;
        let row = sqlx::query(
            "UPDATE reminders SET status = $1, finished_at = $2, claimed_until = NULL \
             WHERE id = $3 AND status = 'pending' RETURNING booking_id, label, due_at",
        )
        .bind(status)
        .bind(at_ms)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .context(ctx)?;
        let Some(row) = row else {
            tx.rollback().await.context(ctx)?;
            return Ok(());
        };
        let booking_id: String = row.try_get("booking_id").context(ctx)?;
        let label: String = row.try_get("label").context(ctx)?;
        let due_at = timestamp(row.try_get("due_at").context(ctx)?)?;
        insert_event(
            &mut tx,
            &booking_id,
            at_ms,
            event,
            serde_json::json!({ "reminder": id, "label": label, "due_at": due_at }),
        )
        .await?;
        tx.commit().await.context(ctx)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(start: &str, end: &str) -> Slot {
        Slot {
            unit: ResourceUnit {
                branch: "norte".into(),
                resource: "bay-1".into(),
                unit: 0,
            },
            start: start.parse().unwrap(),
            end: end.parse().unwrap(),
        }
    }

    #[test]
    fn a_slot_claims_every_grid_step() {
        let moments = claim_moments(&slot("2030-03-04T10:00:00Z", "2030-03-04T10:30:00Z")).unwrap();
        assert_eq!(moments.len(), 6);
        assert_eq!(moments[1] - moments[0], 5 * 60 * 1000);
        assert_eq!(
            moments[0],
            "2030-03-04T10:00:00Z"
                .parse::<Timestamp>()
                .unwrap()
                .as_millisecond()
        );
    }

    #[test]
    fn slots_off_the_grid_empty_or_huge_are_refused() {
        for (start, end) in [
            ("2030-03-04T10:03:00Z", "2030-03-04T10:30:00Z"),
            ("2030-03-04T10:00:00Z", "2030-03-04T10:30:00.5Z"),
            ("2030-03-04T10:00:00Z", "2030-03-04T10:00:00Z"),
            ("2030-03-04T10:30:00Z", "2030-03-04T10:00:00Z"),
            ("2030-03-04T10:00:00Z", "2030-03-14T10:00:00Z"),
        ] {
            let err = claim_moments(&slot(start, end)).unwrap_err();
            assert!(
                matches!(&err, StoreError::Invalid(_)),
                "{start} – {end}: {err}"
            );
        }
    }

    #[test]
    fn ics_tokens_carry_256_bits() {
        let (a, b) = (ics_token(), ics_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }
}
