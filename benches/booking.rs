//! Availability search, in-process: how long the bot takes to compute the free days and
//! times it offers, against a busy calendar. The store's reads are measured with the
//! engine; this is the calendar arithmetic on top.
//!
//! Run: `cargo bench --bench booking`. Results go in docs/BENCHMARKS.md.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::{SignedDuration, Timestamp};
use showroom::booking::availability::{Availability, Need};
use showroom::booking::{ResourceUnit, Slot};
use showroom::config::Config;

/// Every bay place of Sede Norte's mechanics bay busy every other hour for two weeks:
/// a dealer's busy season.
fn busy(now: Timestamp, bays: &[(String, u32)]) -> Vec<Slot> {
    let mut occupied = Vec::new();
    for (bay, capacity) in bays {
        for unit in 0..*capacity {
            for hour in (0..14 * 24).step_by(2) {
                let start = now + SignedDuration::from_hours(hour);
                occupied.push(Slot {
                    unit: ResourceUnit {
                        branch: "norte".into(),
                        resource: bay.clone(),
                        unit,
                    },
                    start,
                    end: start + SignedDuration::from_mins(90),
                });
            }
        }
    }
    occupied
}

fn availability(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::defaults_with_data_dir(dir.path()).expect("defaults");
    let calendar = &config.calendar;
    let norte = calendar
        .branch("norte")
        .expect("the default calendar has Sede Norte");
    let bays: Vec<(String, u32)> = norte
        .bays
        .iter()
        .map(|b| (b.id.clone(), b.capacity))
        .collect();
    // Monday 2026-11-23 07:00 in Bogotá.
    let now: Timestamp = "2026-11-23T12:00:00Z".parse().expect("time");
    let occupied = busy(now.round(jiff::Unit::Hour).expect("round"), &bays);
    let need = Need::Service {
        branch: "norte".into(),
        service_type: "maintenance".into(),
    };
    let availability = Availability::new(calendar, now, &occupied);
    let tomorrow = "2026-11-24".parse().expect("date");

    let mut group = c.benchmark_group("availability");
    group.bench_function(
        format!("free days for a service, {} busy slots", occupied.len()),
        |b| b.iter(|| black_box(availability.free_days(black_box(&need), 7).expect("days"))),
    );
    group.bench_function("free times on one day", |b| {
        b.iter(|| {
            black_box(
                availability
                    .free_slots_on(black_box(&need), tomorrow)
                    .expect("times"),
            )
        })
    });
    let typed = "2026-11-24T10:00".parse().expect("datetime");
    group.bench_function("typed time checked, with alternatives", |b| {
        b.iter(|| black_box(availability.check(black_box(&need), typed).is_ok()))
    });
    group.finish();
}

criterion_group!(benches, availability);
criterion_main!(benches);
