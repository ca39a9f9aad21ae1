//! `BookingStore` on every backend (a SQLite file, the machine's PostgreSQL): claims make
//! overlapping bookings impossible, cancels and reschedules free and move time atomically,
//! reminders are leased, and of 50 customers racing for the last slot exactly one wins.
//! Each scenario gets a fresh database.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use showroom::booking::{
    Booking, BookingCode, BookingFilter, BookingKind, BookingRequest, BookingStatus,
    ReminderOutcome, ReserveError, ResourceUnit, Slot,
};
use showroom::config::StoreConfig;
use showroom::engine::{ChannelIdentity, ChannelKind, Language};
use showroom::store::{Backend, BookingStore, ConversationStore, Store, StoreError};
use sqlx::Row;

use crate::support::PgDatabase;

/// Generates one `#[tokio::test]` per scenario and backend:
/// `bookings_store::sqlite::<scenario>` and `bookings_store::postgres::<scenario>`.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    super::$scenario(super::TestDb::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    super::$scenario(super::TestDb::postgres().await).await;
                }
            )*
        }
    };
}

on_both_backends!(
    overlapping_reservations_are_taken,
    slots_off_the_grid_are_refused,
    bookings_are_found_by_code,
    cancelling_frees_the_time_and_keeps_the_history,
    rescheduling_onto_a_taken_slot_changes_nothing,
    rescheduling_moves_the_claims_and_replaces_reminders,
    upcoming_and_listing_filters,
    due_reminders_are_leased,
    finished_and_cancelled_reminders_never_come,
    fifty_customers_race_for_the_last_slot,
);

/// A fresh database and a store on it.
struct TestDb {
    store: Store,
    url: String,
    /// Keeps the SQLite folder or the PostgreSQL database alive.
    _guard: Box<dyn std::any::Any + Send + Sync>,
}

fn store_config() -> StoreConfig {
    StoreConfig {
        max_connections: 8,
        acquire_timeout: Duration::from_secs(30),
    }
}

impl TestDb {
    async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("showroom.db").display()
        );
        let store = Store::connect(&url, &store_config())
            .await
            .expect("open SQLite");
        Self {
            store,
            url,
            _guard: Box::new(dir),
        }
    }

    async fn postgres() -> Self {
        let db = PgDatabase::create().await;
        let url = db.url.clone();
        let store = Store::connect(&url, &store_config())
            .await
            .expect("open PostgreSQL");
        Self {
            store,
            url,
            _guard: Box::new(db),
        }
    }

    /// Another store on the same database, as a second `serve` instance would open. On
    /// SQLite one process owns the file, so it is the same store.
    async fn second_instance(&self) -> Store {
        match self.store.backend() {
            Backend::Sqlite => self.store.clone(),
            Backend::Postgres => Store::connect(&self.url, &store_config())
                .await
                .expect("open a second store"),
        }
    }

    /// Runs a query that counts rows, outside the store.
    async fn count(&self, sql: &'static str, bind: &str) -> i64 {
        let pool = sqlx::AnyPool::connect(&self.url).await.expect("raw pool");
        let row = sqlx::query(sql)
            .bind(bind.to_owned())
            .fetch_one(&pool)
            .await
            .expect("count");
        pool.close().await;
        row.try_get(0).expect("a count")
    }

    /// A booking's reminders as `(label, due_at ms, status)`, by due time.
    async fn reminders(&self, booking_id: &str) -> Vec<(String, i64, String)> {
        let pool = sqlx::AnyPool::connect(&self.url).await.expect("raw pool");
        let rows = sqlx::query(
            "SELECT label, due_at, status FROM reminders WHERE booking_id = $1 ORDER BY due_at, id",
        )
        .bind(booking_id.to_owned())
        .fetch_all(&pool)
        .await
        .expect("reminders");
        pool.close().await;
        rows.iter()
            .map(|r| {
                (
                    r.try_get("label").unwrap(),
                    r.try_get("due_at").unwrap(),
                    r.try_get("status").unwrap(),
                )
            })
            .collect()
    }
}

/// A customer with a conversation, as the engine creates them.
struct Customer {
    id: String,
    conversation_id: String,
}

async fn customer(store: &Store, name: &str) -> Customer {
    let handle = store
        .open_conversation(&ChannelIdentity::new(ChannelKind::Telegram, name), 1_000)
        .await
        .expect("open conversation");
    Customer {
        id: handle.customer_id,
        conversation_id: handle.id,
    }
}

/// `2030-03-04T{hh:mm}:00Z`.
fn at(hhmm: &str) -> Timestamp {
    format!("2030-03-04T{hhmm}:00Z").parse().unwrap()
}

fn slot(resource: &str, unit: u32, start: &str, end: &str) -> Slot {
    Slot {
        unit: ResourceUnit {
            branch: "norte".into(),
            resource: resource.into(),
            unit,
        },
        start: at(start),
        end: at(end),
    }
}

fn request(customer: &Customer, kind: BookingKind, slot: Slot) -> BookingRequest {
    let reminders = vec![
        (
            "24h".to_owned(),
            slot.start - SignedDuration::from_hours(24),
        ),
        ("2h".to_owned(), slot.start - SignedDuration::from_hours(2)),
    ];
    BookingRequest {
        kind,
        customer_id: customer.id.clone(),
        conversation_id: customer.conversation_id.clone(),
        channel: ChannelKind::Telegram,
        language: Language::Es,
        slot,
        service_type: (kind == BookingKind::Service).then(|| "oil_change".into()),
        model: Some("kona".into()),
        plate: (kind == BookingKind::Service).then(|| "ABC123".into()),
        year: Some(2021),
        mileage_km: Some(45_000),
        name: "Ana Pérez".into(),
        phone: Some("+573001234567".into()),
        reminders,
    }
}

async fn reserve(store: &Store, customer: &Customer, slot: Slot) -> Result<Booking, ReserveError> {
    store
        .reserve(&request(customer, BookingKind::Service, slot))
        .await
}

fn assert_taken<T: std::fmt::Debug>(result: Result<T, ReserveError>) {
    assert!(
        matches!(result, Err(ReserveError::Taken)),
        "expected Taken, got {result:?}"
    );
}

async fn overlapping_reservations_are_taken(db: TestDb) {
    let store = &db.store;
    let ana = customer(store, "ana").await;
    let first = reserve(store, &ana, slot("bay-1", 0, "10:00", "10:30"))
        .await
        .expect("a free slot");
    assert_eq!(first.status, BookingStatus::Confirmed);
    assert!(first.code.as_str().starts_with("TL-"));
    // Overlapping on the same unit, inside it, around it: taken.
    assert_taken(reserve(store, &ana, slot("bay-1", 0, "10:15", "10:45")).await);
    assert_taken(reserve(store, &ana, slot("bay-1", 0, "10:10", "10:15")).await);
    assert_taken(reserve(store, &ana, slot("bay-1", 0, "09:00", "12:00")).await);
    // Same time on another unit of the bay, or another resource: free.
    reserve(store, &ana, slot("bay-1", 1, "10:00", "10:30"))
        .await
        .expect("another unit");
    reserve(store, &ana, slot("bay-2", 0, "10:00", "10:30"))
        .await
        .expect("another bay");
    // Adjacent on both sides (end == start): free.
    reserve(store, &ana, slot("bay-1", 0, "10:30", "11:00"))
        .await
        .expect("right after");
    reserve(store, &ana, slot("bay-1", 0, "09:30", "10:00"))
        .await
        .expect("right before");
    // A failed attempt leaves nothing behind.
    assert_eq!(
        db.count("SELECT COUNT(*) FROM bookings WHERE branch = $1", "norte")
            .await,
        5
    );

    let occupied = store
        .occupied("norte", at("09:00"), at("10:45"))
        .await
        .unwrap();
    assert_eq!(occupied.len(), 5, "{occupied:?}");
    assert_eq!(occupied[0], slot("bay-1", 0, "09:30", "10:00"));
    assert!(occupied.contains(&first.slot));
    // The window is half-open on both sides.
    let edge = store
        .occupied("norte", at("10:30"), at("10:31"))
        .await
        .unwrap();
    assert_eq!(edge, vec![slot("bay-1", 0, "10:30", "11:00")]);
    assert!(
        store
            .occupied("sur", at("00:00"), at("23:55"))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn slots_off_the_grid_are_refused(db: TestDb) {
    let store = &db.store;
    let ana = customer(store, "ana").await;
    for bad in [
        slot("bay-1", 0, "10:03", "10:30"),
        slot("bay-1", 0, "10:30", "10:00"),
        slot("bay-1", 0, "10:00", "10:00"),
    ] {
        let result = reserve(store, &ana, bad.clone()).await;
        assert!(
            matches!(&result, Err(ReserveError::Store(StoreError::Invalid(_)))),
            "{bad:?}: {result:?}"
        );
    }
    let booking = reserve(store, &ana, slot("bay-1", 0, "10:00", "10:30"))
        .await
        .unwrap();
    let moved = store
        .reschedule(
            &booking.code,
            None,
            &slot("bay-1", 0, "11:01", "11:30"),
            &[],
        )
        .await;
    assert!(matches!(moved, Err(ReserveError::Store(_))), "{moved:?}");
    assert_eq!(store.booking(&booking.code).await.unwrap(), Some(booking));
}

async fn bookings_are_found_by_code(db: TestDb) {
    let store = &db.store;
    let ana = customer(store, "ana").await;
    let booked = store
        .reserve(&request(
            &ana,
            BookingKind::TestDrive,
            slot("demo-kona", 0, "15:00", "15:45"),
        ))
        .await
        .unwrap();
    assert!(booked.code.as_str().starts_with("PM-"));
    assert_eq!(booked.ics_token.len(), 43);
    let found = store.booking(&booked.code).await.unwrap().unwrap();
    assert_eq!(found, booked, "every field round-trips");
    // What a person types finds it too.
    let typed = BookingCode::parse(&booked.code.as_str().to_lowercase().replace('-', " ")).unwrap();
    assert_eq!(store.booking(&typed).await.unwrap(), Some(booked.clone()));
    let other = loop {
        let code = BookingCode::generate(BookingKind::TestDrive);
        if code != booked.code {
            break code;
        }
    };
    assert_eq!(store.booking(&other).await.unwrap(), None);

    let history = store.history(&booked.id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].event, "booked");
    assert_eq!(history[0].at, booked.created_at);
    assert_eq!(db.reminders(&booked.id).await.len(), 2);
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM booking_claims WHERE booking_id = $1",
            &booked.id
        )
        .await,
        9,
        "45 minutes are nine 5-minute claims"
    );
}

async fn cancelling_frees_the_time_and_keeps_the_history(db: TestDb) {
    let store = &db.store;
    let ana = customer(store, "ana").await;
    let ben = customer(store, "ben").await;
    let booking = reserve(store, &ana, slot("bay-1", 0, "10:00", "11:00"))
        .await
        .unwrap();
    // Someone else's booking, or no booking: nothing happens.
    assert_eq!(
        store
            .cancel(&booking.code, Some(&ben.id), "not mine")
            .await
            .unwrap(),
        None
    );
    assert_taken(reserve(store, &ben, slot("bay-1", 0, "10:30", "11:00")).await);

    let cancelled = store
        .cancel(&booking.code, Some(&ana.id), "cambio de planes")
        .await
        .unwrap()
        .expect("the customer's own booking");
    assert_eq!(cancelled.status, BookingStatus::Cancelled);
    assert_eq!(cancelled.slot, booking.slot);
    // Cancelling again finds no confirmed booking.
    assert_eq!(
        store.cancel(&booking.code, None, "again").await.unwrap(),
        None
    );
    // The time is free for someone else.
    assert!(
        store
            .occupied("norte", at("00:00"), at("23:55"))
            .await
            .unwrap()
            .is_empty()
    );
    let ben_booking = reserve(store, &ben, slot("bay-1", 0, "10:30", "11:00"))
        .await
        .expect("freed time");
    // The cancelled booking is kept, with its history.
    let kept = store.booking(&booking.code).await.unwrap().unwrap();
    assert_eq!(kept.status, BookingStatus::Cancelled);
    assert_eq!(kept.slot, booking.slot);
    let history = store.history(&booking.id).await.unwrap();
    let events: Vec<&str> = history.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(events, ["booked", "cancelled"]);
    assert_eq!(history[1].detail["reason"], "cambio de planes");
    assert!(
        db.reminders(&booking.id)
            .await
            .iter()
            .all(|(_, _, status)| status == "cancelled")
    );
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM booking_claims WHERE booking_id = $1",
            &booking.id
        )
        .await,
        0
    );
    // A cancelled booking cannot be moved.
    assert!(matches!(
        store
            .reschedule(
                &booking.code,
                None,
                &slot("bay-1", 0, "12:00", "13:00"),
                &[]
            )
            .await,
        Err(ReserveError::NotFound(_))
    ));
    assert_eq!(
        store
            .booking(&ben_booking.code)
            .await
            .unwrap()
            .unwrap()
            .status,
        BookingStatus::Confirmed
    );
}

async fn rescheduling_onto_a_taken_slot_changes_nothing(db: TestDb) {
    let store = &db.store;
    let ana = customer(store, "ana").await;
    let ben = customer(store, "ben").await;
    let mine = reserve(store, &ana, slot("bay-1", 0, "10:00", "10:30"))
        .await
        .unwrap();
    reserve(store, &ben, slot("bay-1", 0, "11:00", "11:30"))
        .await
        .unwrap();
    let reminders_before = db.reminders(&mine.id).await;
    let new_reminders = [(
        "24h".to_owned(),
        at("11:15") - SignedDuration::from_hours(24),
    )];

    assert_taken(
        store
            .reschedule(
                &mine.code,
                Some(&ana.id),
                &slot("bay-1", 0, "11:15", "11:45"),
                &new_reminders,
            )
            .await,
    );
    assert_eq!(store.booking(&mine.code).await.unwrap(), Some(mine.clone()));
    assert_eq!(store.history(&mine.id).await.unwrap().len(), 1);
    assert_eq!(db.reminders(&mine.id).await, reminders_before);
    // Its old time is still held.
    assert_taken(reserve(store, &ben, slot("bay-1", 0, "10:00", "10:05")).await);
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM booking_claims WHERE booking_id = $1",
            &mine.id
        )
        .await,
        6
    );
    // Another customer cannot move it.
    assert!(matches!(
        store
            .reschedule(
                &mine.code,
                Some(&ben.id),
                &slot("bay-1", 0, "13:00", "13:30"),
                &[]
            )
            .await,
        Err(ReserveError::NotFound(_))
    ));
    assert_eq!(store.booking(&mine.code).await.unwrap(), Some(mine));
}

async fn rescheduling_moves_the_claims_and_replaces_reminders(db: TestDb) {
    let store = &db.store;
    let ana = customer(store, "ana").await;
    let ben = customer(store, "ben").await;
    let booking = reserve(store, &ana, slot("bay-1", 0, "10:00", "10:30"))
        .await
        .unwrap();

    // Onto time overlapping its own: its own claims do not stand in the way.
    let reminders = [
        (
            "24h".to_owned(),
            at("10:15") - SignedDuration::from_hours(24),
        ),
        ("2h".to_owned(), at("10:15") - SignedDuration::from_hours(2)),
    ];
    let moved = store
        .reschedule(
            &booking.code,
            Some(&ana.id),
            &slot("bay-1", 0, "10:15", "10:45"),
            &reminders,
        )
        .await
        .expect("overlapping its own time");
    assert_eq!(moved.id, booking.id);
    assert_eq!(moved.code, booking.code);
    assert_eq!(moved.slot, slot("bay-1", 0, "10:15", "10:45"));
    assert_eq!(moved.status, BookingStatus::Confirmed);
    assert_eq!(
        store.booking(&booking.code).await.unwrap(),
        Some(moved.clone())
    );
    reserve(store, &ben, slot("bay-1", 0, "10:00", "10:15"))
        .await
        .expect("the old time is free");
    assert_taken(reserve(store, &ben, slot("bay-1", 0, "10:40", "10:45")).await);

    let rows = db.reminders(&booking.id).await;
    let pending: Vec<_> = rows.iter().filter(|r| r.2 == "pending").collect();
    let cancelled: Vec<_> = rows.iter().filter(|r| r.2 == "cancelled").collect();
    assert_eq!(pending.len(), 2);
    assert_eq!(cancelled.len(), 2);
    assert!(pending.iter().all(|r| {
        reminders
            .iter()
            .any(|(l, t)| *l == r.0 && t.as_millisecond() == r.1)
    }));

    // To another unit and back to the first time: the cancelled reminders come back.
    let back = [(
        "24h".to_owned(),
        at("10:00") - SignedDuration::from_hours(24),
    )];
    let moved = store
        .reschedule(
            &booking.code,
            None,
            &slot("bay-1", 1, "10:00", "10:30"),
            &back,
        )
        .await
        .expect("another unit");
    assert_eq!(moved.slot.unit.unit, 1);
    reserve(store, &ben, slot("bay-1", 0, "10:15", "10:45"))
        .await
        .expect("the previous time is free");
    let rows = db.reminders(&booking.id).await;
    assert_eq!(
        rows.iter().filter(|r| r.2 == "pending").collect::<Vec<_>>(),
        vec![&(
            "24h".to_owned(),
            back[0].1.as_millisecond(),
            "pending".to_owned()
        )]
    );

    let history = store.history(&booking.id).await.unwrap();
    let events: Vec<&str> = history.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(events, ["booked", "rescheduled", "rescheduled"]);
    let from: Slot = serde_json::from_value(history[1].detail["from"].clone()).unwrap();
    let to: Slot = serde_json::from_value(history[1].detail["to"].clone()).unwrap();
    assert_eq!(from, slot("bay-1", 0, "10:00", "10:30"));
    assert_eq!(to, slot("bay-1", 0, "10:15", "10:45"));
}

async fn upcoming_and_listing_filters(db: TestDb) {
    let store = &db.store;
    let ana = customer(store, "ana").await;
    let ben = customer(store, "ben").await;
    let later = reserve(store, &ana, slot("bay-1", 0, "16:00", "16:30"))
        .await
        .unwrap();
    let past = reserve(store, &ana, slot("bay-1", 0, "08:00", "08:30"))
        .await
        .unwrap();
    let sooner = store
        .reserve(&request(
            &ana,
            BookingKind::TestDrive,
            slot("demo-kona", 0, "12:00", "12:45"),
        ))
        .await
        .unwrap();
    let dropped = reserve(store, &ana, slot("bay-2", 0, "13:00", "13:30"))
        .await
        .unwrap();
    store.cancel(&dropped.code, None, "test").await.unwrap();
    let bens = reserve(store, &ben, slot("bay-2", 0, "14:00", "14:30"))
        .await
        .unwrap();
    let mut elsewhere = request(
        &ben,
        BookingKind::Service,
        slot("bay-1", 0, "09:00", "09:30"),
    );
    elsewhere.slot.unit.branch = "sur".into();
    let sur = store.reserve(&elsewhere).await.unwrap();

    let codes = |bookings: Vec<Booking>| -> Vec<BookingCode> {
        bookings.into_iter().map(|b| b.code).collect()
    };
    assert_eq!(
        codes(
            store
                .upcoming_for_customer(&ana.id, at("10:00"))
                .await
                .unwrap()
        ),
        [sooner.code.clone(), later.code.clone()],
        "confirmed, future, soonest first"
    );
    assert_eq!(
        codes(
            store
                .upcoming_for_customer(&ana.id, at("12:00"))
                .await
                .unwrap()
        ),
        vec![later.code.clone()],
        "strictly after now"
    );
    assert!(
        store
            .upcoming_for_customer(&ben.id, at("15:00"))
            .await
            .unwrap()
            .is_empty()
    );

    let list =
        |filter: BookingFilter| async move { codes(store.list_bookings(&filter).await.unwrap()) };
    assert_eq!(
        list(BookingFilter::default()).await,
        [
            past.code.clone(),
            sur.code.clone(),
            sooner.code.clone(),
            dropped.code.clone(),
            bens.code.clone(),
            later.code.clone()
        ],
        "everything by start time"
    );
    assert_eq!(
        list(BookingFilter {
            branch: Some("norte".into()),
            status: Some(BookingStatus::Confirmed),
            ..BookingFilter::default()
        })
        .await,
        [
            past.code.clone(),
            sooner.code.clone(),
            bens.code.clone(),
            later.code.clone()
        ]
    );
    assert_eq!(
        list(BookingFilter {
            status: Some(BookingStatus::Cancelled),
            ..BookingFilter::default()
        })
        .await,
        vec![dropped.code.clone()]
    );
    assert_eq!(
        list(BookingFilter {
            kind: Some(BookingKind::TestDrive),
            ..BookingFilter::default()
        })
        .await,
        vec![sooner.code.clone()]
    );
    assert_eq!(
        list(BookingFilter {
            from: Some(at("12:00")),
            to: Some(at("14:00")),
            ..BookingFilter::default()
        })
        .await,
        [sooner.code.clone(), dropped.code.clone()],
        "from inclusive, to exclusive"
    );
    assert_eq!(
        list(BookingFilter {
            customer_id: Some(ben.id.clone()),
            ..BookingFilter::default()
        })
        .await,
        [sur.code.clone(), bens.code.clone()]
    );
    assert_eq!(
        list(BookingFilter {
            branch: Some("norte".into()),
            limit: 2,
            offset: 1,
            ..BookingFilter::default()
        })
        .await,
        [sooner.code.clone(), dropped.code.clone()],
        "a page"
    );
    assert!(
        list(BookingFilter {
            branch: Some("nowhere".into()),
            ..BookingFilter::default()
        })
        .await
        .is_empty()
    );
}

async fn due_reminders_are_leased(db: TestDb) {
    let store = &db.store;
    let other_instance = db.second_instance().await;
    let ana = customer(store, "ana").await;
    let booking = reserve(store, &ana, slot("bay-1", 0, "10:00", "10:30"))
        .await
        .unwrap();
    let day_before = at("10:00") - SignedDuration::from_hours(24);
    let lease = SignedDuration::from_secs(60);

    assert!(
        store
            .claim_due_reminders(day_before - SignedDuration::from_secs(1), lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "not due yet"
    );
    let due = store
        .claim_due_reminders(day_before, lease, 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].label, "24h");
    assert_eq!(due[0].due_at, day_before);
    assert_eq!(due[0].booking, booking);
    // While leased, nobody gets it, not even another instance.
    let during = day_before + SignedDuration::from_secs(59);
    assert!(
        other_instance
            .claim_due_reminders(during, lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .claim_due_reminders(during, lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The lease ended (the claimer died): claimed again.
    let after = day_before + SignedDuration::from_secs(61);
    let again = other_instance
        .claim_due_reminders(after, lease, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, due[0].id);

    // Both reminders due: the limit caps a batch, earliest first.
    let both_due = at("10:00") - SignedDuration::from_hours(2);
    let first = store
        .claim_due_reminders(both_due + SignedDuration::from_hours(1), lease, 1)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].label, "24h");
    let second = store
        .claim_due_reminders(both_due + SignedDuration::from_hours(1), lease, 1)
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].label, "2h");
}

async fn finished_and_cancelled_reminders_never_come(db: TestDb) {
    let store = &db.store;
    let ana = customer(store, "ana").await;
    let kept = reserve(store, &ana, slot("bay-1", 0, "10:00", "10:30"))
        .await
        .unwrap();
    let dropped = reserve(store, &ana, slot("bay-1", 1, "10:00", "10:30"))
        .await
        .unwrap();
    let lease = SignedDuration::from_secs(60);
    let day_before = at("10:00") - SignedDuration::from_hours(24);
    let due = store
        .claim_due_reminders(day_before, lease, 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 2);
    let kept_reminder = due.iter().find(|r| r.booking.id == kept.id).unwrap();

    // One is sent; the other's booking is cancelled while it is leased.
    store
        .finish_reminder(kept_reminder.id, ReminderOutcome::Sent, day_before)
        .await
        .unwrap();
    store.cancel(&dropped.code, None, "test").await.unwrap();
    // Finishing again changes nothing.
    store
        .finish_reminder(kept_reminder.id, ReminderOutcome::Skipped, day_before)
        .await
        .unwrap();

    // Long after every lease and due time: only the kept booking's 2h reminder.
    let much_later = at("23:00");
    let due = store
        .claim_due_reminders(much_later, lease, 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(due[0].booking.id, kept.id);
    assert_eq!(due[0].label, "2h");
    store
        .finish_reminder(due[0].id, ReminderOutcome::Skipped, much_later)
        .await
        .unwrap();
    assert!(
        store
            .claim_due_reminders(much_later + SignedDuration::from_hours(1), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let history = store.history(&kept.id).await.unwrap();
    let events: Vec<&str> = history.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(events, ["booked", "reminder_sent", "reminder_skipped"]);
    assert_eq!(history[1].detail["label"], "24h");
    assert_eq!(history[1].at, day_before);
    let rows = db.reminders(&kept.id).await;
    assert_eq!(
        rows.iter().map(|r| r.2.as_str()).collect::<Vec<_>>(),
        ["sent", "skipped"]
    );
    assert!(
        db.reminders(&dropped.id)
            .await
            .iter()
            .all(|r| r.2 == "cancelled")
    );
}

/// THE race: 50 customers ask for the same last free slot at the same moment, through two
/// instances on PostgreSQL. Exactly one gets it; the database holds one booking and its
/// claims, nothing of the 49 others.
async fn fifty_customers_race_for_the_last_slot(db: TestDb) {
    const RACERS: usize = 50;
    let stores = [db.store.clone(), db.second_instance().await];
    let mut customers = Vec::new();
    for i in 0..RACERS {
        customers.push(customer(&db.store, &format!("racer-{i}")).await);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for (i, customer) in customers.into_iter().enumerate() {
        let store = stores[i % 2].clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let request = request(
                &customer,
                BookingKind::Service,
                slot("bay-1", 0, "10:00", "11:00"),
            );
            barrier.wait().await;
            store.reserve(&request).await
        }));
    }
    let mut won = Vec::new();
    let mut taken = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(booking) => won.push(booking),
            Err(ReserveError::Taken) => taken += 1,
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one winner");
    assert_eq!(taken, RACERS - 1);
    let winner = &won[0];
    assert_eq!(
        db.count("SELECT COUNT(*) FROM bookings WHERE branch = $1", "norte")
            .await,
        1
    );
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM booking_claims WHERE booking_id = $1",
            &winner.id
        )
        .await,
        12
    );
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM booking_claims WHERE branch = $1",
            "norte"
        )
        .await,
        12
    );
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM reminders WHERE booking_id IN (SELECT id FROM bookings WHERE branch = $1)",
            "norte"
        )
        .await,
        2
    );
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM booking_events WHERE event = $1",
            "booked"
        )
        .await,
        1
    );
    assert_eq!(
        store_occupied(&db.store).await,
        vec![slot("bay-1", 0, "10:00", "11:00")]
    );
    for store in stores {
        store.close().await;
    }
}

async fn store_occupied(store: &Store) -> Vec<Slot> {
    store
        .occupied("norte", at("00:00"), at("23:55"))
        .await
        .unwrap()
}
