//! The CPU side of a CRM handoff, per `lead.created`: building the body from the stored
//! lead (profile, consent, score, booking, a 40-message transcript, the Spanish summary),
//! serialising it to JSON, and signing it per Standard Webhooks (HMAC-SHA256 of
//! `id.timestamp.body`, base64). The store reads are replaced by an in-memory source, so
//! these figures exclude SQLite; `benches/handoff.rs` measures the whole path.
//!
//! Run: `cargo bench --bench signing`. Results go in docs/BENCHMARKS.md.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

use async_trait::async_trait;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use showroom::booking::{Booking, BookingCode, BookingKind, BookingStatus, ResourceUnit, Slot};
use showroom::crm::payload::{
    AdvisorContact, Directory, Handoff, HandoffSource, LEAD_CREATED, PayloadBuilder, Time,
};
use showroom::crm::signing::{WebhookSecret, new_webhook_id, sign};
use showroom::engine::{Button, ChannelKind, Language};
use showroom::leads::{Band, Interest, PhoneE164, Profile, Reason, Signal, Timeframe};
use showroom::store::{
    ConsentRecord, ConversationSummary, CustomerRecord, Direction, LeadRecord, LeadStatus,
    MessageRecord, OutboxRecord, OutboxStatus, StoreError,
};

/// 2026-11-23T15:00:00Z.
const T0: i64 = 1_795_446_000_000;

/// A test-drive conversation as customers have it: 20 customer messages, 20 bot replies
/// (the bot's with the buttons it offered).
const CONVERSATION: &[(&str, &str, &[&str])] = &[
    (
        "hola",
        "¡Hola! Soy el asistente de Autos del Valle. ¿En qué te ayudo?",
        &[
            "Prueba de manejo",
            "Cita de taller",
            "Cotizar",
            "Hablar con un asesor",
        ],
    ),
    (
        "cuanto consume el tiguan?",
        "El Tiguan 2.0 TSI consume en promedio 11,8 km/l en ciudad y 15,2 km/l en carretera, según la ficha técnica [1].",
        &["Prueba de manejo", "Volver al menú"],
    ),
    (
        "y el tanque de cuanto es",
        "El tanque de combustible del Tiguan es de 58 litros [1].",
        &["Prueba de manejo", "Volver al menú"],
    ),
    (
        "trae techo panoramico?",
        "Sí: la versión Highline trae techo panorámico eléctrico; la Trendline no [1].",
        &["Prueba de manejo", "Volver al menú"],
    ),
    (
        "que garantia tiene",
        "Los Volkswagen nuevos tienen garantía de fábrica de 3 años o 100.000 km, lo que ocurra primero, con los mantenimientos en la red autorizada [2].",
        &["Volver al menú"],
    ),
    (
        "manejan financiacion?",
        "Sí, financiamos hasta el 80 % del valor con bancos aliados, a plazos de 12 a 84 meses. Un asesor te hace la simulación [3].",
        &["Hablar con un asesor", "Volver al menú"],
    ),
    (
        "tengo un mazda 3 2018 para dejar en parte de pago",
        "Recibimos tu carro en parte de pago: lo revisamos en la sede y te damos una oferta el mismo día [4].",
        &["Cotizar", "Volver al menú"],
    ),
    (
        "y cuanto vale la highline",
        "El Tiguan Highline 2026 tiene un precio de lista de $189.990.000, con matrícula aparte [1].",
        &["Cotizar", "Prueba de manejo"],
    ),
    (
        "quiero agendar una prueba de manejo del tiguan el sábado",
        "Perfecto, una prueba de manejo del Tiguan. ¿En qué sede quieres probarlo?",
        &["Sede Norte"],
    ),
    (
        "Sede Norte",
        "¿Qué día te queda bien?",
        &[
            "Hoy",
            "Mañana",
            "mié 25 nov",
            "jue 26 nov",
            "vie 27 nov",
            "sáb 28 nov",
            "lun 30 nov",
        ],
    ),
    (
        "el sábado",
        "¿A qué hora? Estas son las horas libres del sábado 28 de noviembre en Sede Norte.",
        &["08:00", "08:30", "09:00", "10:30", "11:00", "14:00"],
    ),
    (
        "a las 10",
        "A las 10:00 ya está ocupado. Las más cercanas libres son 09:00, 10:30 y 11:00.",
        &["09:00", "10:30", "11:00"],
    ),
    (
        "10:30",
        "Necesitamos tu autorización para tratar tus datos personales (Ley 1581 de 2012) y contactarte sobre esta solicitud. ¿Nos autorizas?",
        &["Sí, autorizo", "No autorizo"],
    ),
    ("Sí, autorizo", "Gracias. ¿Cuál es tu nombre?", &[]),
    ("Juan Pérez", "¿A qué celular te contactamos, Juan?", &[]),
    (
        "300 123 4567",
        "Confirmemos: prueba de manejo del Tiguan en Sede Norte, sábado 28 de noviembre a las 10:30, a nombre de Juan Pérez (+57 300 123 4567). ¿La agendo?",
        &["Sí, agendar", "Cambiar algo"],
    ),
    (
        "Sí, agendar",
        "¡Listo! Tu prueba de manejo quedó agendada. Código PM-7K3QX. Trae tu licencia de conducción vigente. Te recordamos un día antes.",
        &["Agregar al calendario", "Volver al menú"],
    ),
    (
        "que documentos llevo",
        "Para la prueba de manejo trae tu licencia de conducción vigente y tu cédula [5].",
        &["Volver al menú"],
    ),
    (
        "y si llego tarde?",
        "Te esperamos hasta 15 minutos; después la prueba puede pasar a la siguiente hora libre [6].",
        &["Volver al menú"],
    ),
    (
        "gracias!",
        "¡Con gusto, Juan! Nos vemos el sábado en Sede Norte.",
        &["Volver al menú"],
    ),
];

fn message(id: i64, direction: Direction, text: &str, buttons: &[&str], at: i64) -> MessageRecord {
    MessageRecord {
        id,
        direction,
        kind: "text".into(),
        text: text.into(),
        payload: None,
        buttons: buttons
            .iter()
            .map(|title| Button::new(*title, format!("bench:{title}")))
            .collect(),
        citations: vec![],
        reply_to: None,
        created_at: at,
        processed_at: None,
        delivered_at: None,
    }
}

/// The store, in memory: one customer with one handed-off lead.
struct Lead {
    lead: LeadRecord,
    customer: CustomerRecord,
    consents: Vec<ConsentRecord>,
    conversation: ConversationSummary,
    transcript: Vec<MessageRecord>,
    bookings: Vec<Booking>,
}

#[async_trait]
impl HandoffSource for Lead {
    async fn lead(&self, id: &str) -> Result<Option<LeadRecord>, StoreError> {
        Ok((id == self.lead.id).then(|| self.lead.clone()))
    }
    async fn lead_ids_of(&self, _: &str) -> Result<Vec<String>, StoreError> {
        Ok(vec![self.lead.id.clone()])
    }
    async fn customer_record(&self, id: &str) -> Result<Option<CustomerRecord>, StoreError> {
        Ok((id == self.customer.id).then(|| self.customer.clone()))
    }
    async fn consents(&self, _: &str) -> Result<Vec<ConsentRecord>, StoreError> {
        Ok(self.consents.clone())
    }
    async fn conversations_of(&self, _: &str) -> Result<Vec<ConversationSummary>, StoreError> {
        Ok(vec![self.conversation.clone()])
    }
    async fn transcript(&self, _: &str) -> Result<Vec<MessageRecord>, StoreError> {
        Ok(self.transcript.clone())
    }
    async fn bookings_of(&self, _: &str) -> Result<Vec<Booking>, StoreError> {
        Ok(self.bookings.clone())
    }
}

fn lead() -> Lead {
    let mut transcript = Vec::new();
    for (i, (said, answered, buttons)) in CONVERSATION.iter().enumerate() {
        let at = T0 + i as i64 * 20_000;
        let id = 2 * i as i64;
        transcript.push(message(id + 1, Direction::In, said, &[], at));
        transcript.push(message(id + 2, Direction::Out, answered, buttons, at + 800));
    }
    let reasons = [
        (Signal::BookedTestDrive, 40),
        (Signal::AskedFinancing, 10),
        (Signal::HasTradeIn, 10),
        (Signal::GaveContact, 10),
    ];
    Lead {
        lead: LeadRecord {
            id: "01934567-7c3e-7abc-9def-001122334455".into(),
            customer_id: "01934567-1111-7abc-9def-001122334455".into(),
            status: LeadStatus::HandedOff,
            interest: Interest {
                model: Some("tiguan".into()),
                trim: Some("Highline".into()),
                budget_cop: Some(180_000_000),
                timeframe: Some(Timeframe::Within30Days),
                financing: Some(true),
                trade_in: Some("Mazda 3 2018".into()),
                branch: Some("norte".into()),
            },
            signals: reasons.iter().map(|(signal, _)| *signal).collect(),
            score: 70,
            band: Band::Hot,
            reasons: reasons
                .iter()
                .map(|(signal, points)| Reason {
                    signal: *signal,
                    points: *points,
                    text: signal.describe().into(),
                })
                .collect(),
            branch: Some("norte".into()),
            advisor: Some("ana".into()),
            channel: "web".into(),
            conversation_id: Some("conv-web".into()),
            handed_off_at: Some(T0 + 400_000),
            handoff_reason: Some("booking".into()),
            contact_by: Some(T0 + 4_000_000),
            merged_into: None,
            revision: 1,
            created_at: T0,
            updated_at: T0 + 400_000,
        },
        customer: CustomerRecord {
            id: "01934567-1111-7abc-9def-001122334455".into(),
            profile: Profile {
                name: Some("Juan Pérez".into()),
                phone: Some(PhoneE164::try_from("+573001234567".to_owned()).expect("phone")),
                phone_verified: false,
                city: Some("Cali".into()),
                ..Profile::default()
            },
            language: None,
            opted_out_at: None,
            merged_into: None,
            erased_at: None,
            created_at: T0,
            updated_at: T0,
        },
        consents: vec![ConsentRecord {
            purpose: "contact".into(),
            channel: "web".into(),
            text: "Necesitamos tu autorización para tratar tus datos personales (Ley 1581 de 2012) y contactarte sobre esta solicitud. ¿Nos autorizas?".into(),
            version: Some("2026-11".into()),
            granted_at: T0 + 240_000,
            revoked_at: None,
        }],
        conversation: ConversationSummary {
            id: "conv-web".into(),
            customer_id: "01934567-1111-7abc-9def-001122334455".into(),
            channel: ChannelKind::Web,
            started_at: T0,
            last_activity_at: T0 + 400_000,
            message_count: 40,
        },
        transcript,
        bookings: vec![Booking {
            id: "b1".into(),
            code: BookingCode::parse("PM-7K3QX").expect("code"),
            kind: BookingKind::TestDrive,
            status: BookingStatus::Confirmed,
            customer_id: "01934567-1111-7abc-9def-001122334455".into(),
            conversation_id: "conv-web".into(),
            channel: ChannelKind::Web,
            language: Language::Es,
            slot: Slot {
                unit: ResourceUnit {
                    branch: "norte".into(),
                    resource: "demo-tiguan".into(),
                    unit: 0,
                },
                start: Timestamp::from_millisecond(T0 + 5 * 86_400_000).expect("time"),
                end: Timestamp::from_millisecond(T0 + 5 * 86_400_000 + 3_600_000).expect("time"),
            },
            service_type: None,
            model: Some("tiguan".into()),
            plate: None,
            year: None,
            mileage_km: None,
            name: "Juan Pérez".into(),
            phone: Some("+573001234567".into()),
            ics_token: "ics-token".into(),
            created_at: Timestamp::from_millisecond(T0 + 380_000).expect("time"),
            updated_at: Timestamp::from_millisecond(T0 + 380_000).expect("time"),
        }],
    }
}

fn directory() -> Directory {
    Directory {
        models: HashMap::from([("tiguan".into(), ("Tiguan".into(), "Volkswagen".into()))]),
        branches: HashMap::from([("norte".into(), "Sede Norte".into())]),
        advisors: HashMap::from([(
            "ana".into(),
            AdvisorContact {
                name: "Ana Gómez".into(),
                email: Some("ana.gomez@autosdelvalle.example".into()),
                phone: Some("+573109876543".into()),
            },
        )]),
        service_types: HashMap::new(),
        time_zone: TimeZone::get("America/Bogota").expect("tz"),
    }
}

fn handoff(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let lead = lead();
    let messages = lead.transcript.len();
    let lead_id = lead.lead.id.clone();
    let builder = PayloadBuilder::new(Arc::new(lead), directory(), 500);
    let outbox = OutboxRecord {
        id: 1,
        webhook_id: new_webhook_id(),
        event: LEAD_CREATED.into(),
        lead_id: Some(lead_id.clone()),
        customer_id: None,
        body: None,
        status: OutboxStatus::Pending,
        attempts: 0,
        next_attempt_at: T0,
        last_status: None,
        last_error: None,
        created_at: T0 + 400_000,
        delivered_at: None,
    };
    let body = runtime.block_on(builder.body(&outbox)).expect("body");
    let data = runtime
        .block_on(builder.lead_data(&lead_id, Timestamp::from_millisecond(T0).expect("time")))
        .expect("lead data");
    let event = Handoff::LeadCreated {
        timestamp: Time::from_millis(T0 + 400_000),
        data: Box::new(data),
    };
    let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
    println!(
        "lead.created body: {} bytes, {messages} transcript messages",
        body.len()
    );

    let mut group = c.benchmark_group("handoff");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("sign a lead.created body (Standard Webhooks)", |b| {
        b.iter(|| {
            black_box(sign(
                &secret,
                black_box(&outbox.webhook_id),
                1_795_446_400,
                black_box(body.as_bytes()),
            ))
        })
    });
    group.bench_function("serialise a lead.created to JSON", |b| {
        b.iter(|| black_box(serde_json::to_string(black_box(&event)).expect("json")))
    });
    // Building reads a lead, not bytes: count bodies.
    group.throughput(Throughput::Elements(1));
    group.bench_function(
        "build + serialise a lead.created (in-memory store, 40 messages)",
        |b| {
            b.to_async(&runtime)
                .iter(|| async { black_box(builder.body(&outbox).await.expect("body")) })
        },
    );
    group.bench_function("build + serialise + sign a lead.created", |b| {
        b.to_async(&runtime).iter(|| async {
            let body = builder.body(&outbox).await.expect("body");
            black_box(sign(
                &secret,
                &outbox.webhook_id,
                1_795_446_400,
                body.as_bytes(),
            ))
        })
    });
    group.finish();
}

criterion_group!(benches, handoff);
criterion_main!(benches);
