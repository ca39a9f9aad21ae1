//! One simulated customer booking a test drive in the shipped flows, the way the widget
//! does it: press the buttons the bot offers (by their payloads), type what a person
//! types. The script reads each turn's replies, recognises the question the bot asks,
//! and answers it; anything else is reported as an unexpected reply with its text.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

/// A button the bot offered.
#[derive(Debug, Clone)]
pub struct Button {
    pub title: String,
    pub payload: String,
}

/// One message from the bot (a `message` or `message_end` frame, or an HTTP reply).
#[derive(Debug, Clone)]
pub struct Reply {
    pub text: String,
    pub buttons: Vec<Button>,
}

impl Reply {
    /// Reads a message frame; `None` when it lacks the documented fields.
    pub fn from_frame(frame: &Value) -> Option<Self> {
        let text = frame.get("text")?.as_str()?.to_owned();
        let buttons = match frame.get("buttons") {
            None | Some(Value::Null) => Vec::new(),
            Some(list) => list
                .as_array()?
                .iter()
                .map(|b| {
                    Some(Button {
                        title: b.get("title")?.as_str()?.to_owned(),
                        payload: b.get("payload")?.as_str()?.to_owned(),
                    })
                })
                .collect::<Option<Vec<_>>>()?,
        };
        Some(Self { text, buttons })
    }
}

/// What the customer sends: typed text or a pressed button's payload.
#[derive(Debug, Clone)]
pub enum Outgoing {
    Text(String),
    Button(String),
}

/// The questions of the test-drive booking, in the order the bot asks them, as each
/// appears in the bot's Spanish text. Order matters where texts overlap: the consent
/// text mentions "tu celular" too, so it is checked before the phone question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    Greeting,
    Model,
    Branch,
    Day,
    Time,
    Consent,
    Name,
    Phone,
    Confirm,
    Booked,
}

const PROMPTS: [(Prompt, &str); 10] = [
    (Prompt::Booked, "quedó agendada"),
    (Prompt::Confirm, "Confirmemos: prueba de manejo"),
    (Prompt::Consent, "¿Nos autorizas?"),
    (Prompt::Greeting, "¿En qué te puedo ayudar?"),
    (Prompt::Model, "¿Qué modelo quieres manejar?"),
    (Prompt::Branch, "¿En qué sede quieres probar"),
    (Prompt::Day, "¿Qué día te queda bien?"),
    (Prompt::Time, "¿A qué hora?"),
    (Prompt::Name, "¿Cómo te llamas?"),
    (Prompt::Phone, "¿A qué número de celular"),
];

/// What the bot says when the chosen time was taken between offering and booking; it
/// then asks for the day again.
const SLOT_TAKEN: &str = "Alguien acaba de tomar ese horario";

/// What the bot says when a pressed button offers something no longer free (a time
/// another customer booked since it was offered); it then asks the same question again.
const OPTION_GONE: &str = "Esa opción ya no está disponible";

impl Prompt {
    /// The question a reply asks, if it is one the script knows.
    pub fn of(reply: &Reply) -> Option<Self> {
        PROMPTS
            .iter()
            .find(|(_, needle)| reply.text.contains(needle))
            .map(|&(prompt, _)| prompt)
    }

    /// The questions that may follow this one: the next in the flow, and the day again
    /// after a confirmation whose time was taken meanwhile. `consented`: the customer
    /// already authorised and gave their contact in this booking (before a slot retry),
    /// so after the time the bot goes straight to the confirmation.
    fn may_follow(self, consented: bool) -> &'static [Prompt] {
        match self {
            Self::Time if consented => &[Self::Confirm],
            Self::Greeting => &[Self::Model],
            Self::Model => &[Self::Branch],
            Self::Branch => &[Self::Day],
            Self::Day => &[Self::Time],
            Self::Time => &[Self::Consent],
            Self::Consent => &[Self::Name],
            Self::Name => &[Self::Phone],
            Self::Phone => &[Self::Confirm],
            Self::Confirm => &[Self::Booked, Self::Day],
            Self::Booked => &[],
        }
    }
}

/// True when `reply` ends the bot's turn: it asks one of the script's questions (or
/// confirms the booking). Over the WebSocket this is how the last frame of a turn is
/// recognised; the flows ask exactly one question at the end of each turn.
pub fn ends_turn(reply: &Reply) -> bool {
    Prompt::of(reply).is_some()
}

/// Typed model names, as customers write them; every shipped model appears.
const MODELS: [&str; 6] = [
    "tiguan",
    "t-cross",
    "corolla cross",
    "duster",
    "cx-30",
    "tracker",
];

const NAMES: [&str; 8] = [
    "Ana María Gómez",
    "Carlos Pérez",
    "Luisa Fernanda Rojas",
    "Juan David Torres",
    "Valentina Ríos",
    "Andrés Felipe Muñoz",
    "Camila Herrera",
    "Santiago López",
];

/// Colombian mobile prefixes that libphonenumber (the `phonenumber` crate) accepts with
/// any seven digits after them; 306–309, for one, are refused.
const MOBILE_PREFIXES: [u64; 20] = [
    300, 301, 302, 303, 304, 305, 310, 311, 312, 313, 314, 315, 316, 317, 318, 319, 320, 321, 322,
    323,
];

/// 200 million numbers; customers count up from a random start so leads of one run never
/// share a phone (and never merge).
const MOBILE_NUMBERS: u64 = MOBILE_PREFIXES.len() as u64 * 10_000_000;

/// Hands out a different valid Colombian mobile number to every customer of the run.
pub struct Phones {
    start: u64,
    next: AtomicU64,
}

impl Phones {
    pub fn new() -> Self {
        Self {
            start: rand::random_range(0..MOBILE_NUMBERS),
            next: AtomicU64::new(0),
        }
    }

    /// `+57 3xx xxx xxxx`, the way a customer types it.
    pub fn take(&self) -> String {
        let n = (self.start + self.next.fetch_add(1, Ordering::Relaxed)) % MOBILE_NUMBERS;
        let prefix = MOBILE_PREFIXES[(n / 10_000_000) as usize];
        let rest = n % 10_000_000;
        format!("+57 {prefix} {:03} {:04}", rest / 10_000, rest % 10_000)
    }
}

/// Why a conversation could not go on.
#[derive(Debug, Clone)]
pub struct Unexpected {
    pub expected: Option<Prompt>,
    pub text: String,
}

/// What to do after a turn.
#[derive(Debug)]
pub enum Next {
    Send(Outgoing),
    /// The booking is confirmed: the conversation is complete.
    Booked,
}

/// One customer's way through a test-drive booking.
pub struct Booking {
    model: &'static str,
    name: &'static str,
    phone: String,
    /// The last question answered; `None` before the greeting.
    answered: Option<Prompt>,
    /// Times the bot said the chosen time was taken (at the confirmation, or when its
    /// button was pressed) and asked again.
    pub slot_retries: u32,
    /// The consent was given in this booking; the flow does not ask it twice.
    consented: bool,
}

impl Booking {
    pub fn new(phones: &Phones) -> Self {
        Self {
            model: MODELS[rand::random_range(0..MODELS.len())],
            name: NAMES[rand::random_range(0..NAMES.len())],
            phone: phones.take(),
            answered: None,
            slot_retries: 0,
            consented: false,
        }
    }

    /// Reads the bot's replies to the last message and decides the next one.
    pub fn next(&mut self, replies: &[Reply]) -> Result<Next, Unexpected> {
        let option_gone = replies.iter().any(|r| r.text.contains(OPTION_GONE));
        let expected: Vec<Prompt> = match self.answered {
            None => vec![Prompt::Greeting],
            // A stale button: the same question comes again with fresh options.
            Some(prompt) if option_gone => vec![prompt],
            Some(prompt) => prompt.may_follow(self.consented).to_vec(),
        };
        // The question is the last reply that asks one.
        let asked = replies
            .iter()
            .rev()
            .find_map(|r| Prompt::of(r).map(|p| (p, r)));
        let Some((prompt, reply)) = asked.filter(|(p, _)| expected.contains(p)) else {
            return Err(Unexpected {
                expected: expected.first().copied(),
                text: texts(replies),
            });
        };
        if option_gone {
            self.slot_retries += 1;
        }
        if self.answered == Some(Prompt::Confirm) && prompt == Prompt::Day {
            if !replies.iter().any(|r| r.text.contains(SLOT_TAKEN)) {
                return Err(Unexpected {
                    expected: Some(Prompt::Booked),
                    text: texts(replies),
                });
            }
            self.slot_retries += 1;
        }
        if prompt == Prompt::Consent {
            self.consented = true;
        }
        self.answered = Some(prompt);
        let unexpected = || Unexpected {
            expected: Some(prompt),
            text: texts(replies),
        };
        let outgoing = match prompt {
            Prompt::Greeting => Outgoing::Button(button_titled(reply, "Prueba de manejo")?),
            Prompt::Model => Outgoing::Text(self.model.to_owned()),
            Prompt::Branch | Prompt::Day | Prompt::Time => {
                Outgoing::Button(random_button(reply).ok_or_else(unexpected)?)
            }
            Prompt::Consent => Outgoing::Button(button_titled(reply, "Sí, autorizo")?),
            Prompt::Name => Outgoing::Text(self.name.to_owned()),
            Prompt::Phone => Outgoing::Text(self.phone.clone()),
            Prompt::Confirm => Outgoing::Text("sí".to_owned()),
            Prompt::Booked => return Ok(Next::Booked),
        };
        Ok(Next::Send(outgoing))
    }
}

/// The payload of the button titled `title`.
fn button_titled(reply: &Reply, title: &str) -> Result<String, Unexpected> {
    reply
        .buttons
        .iter()
        .find(|b| b.title == title)
        .map(|b| b.payload.clone())
        .ok_or_else(|| Unexpected {
            expected: Prompt::of(reply),
            text: format!("no button `{title}` in: {}", reply.text),
        })
}

/// Any offered button: customers spread over branches, days and times.
fn random_button(reply: &Reply) -> Option<String> {
    if reply.buttons.is_empty() {
        return None;
    }
    let pick = rand::random_range(0..reply.buttons.len());
    Some(reply.buttons[pick].payload.clone())
}

/// The replies' texts on one line, for error reports.
pub fn texts(replies: &[Reply]) -> String {
    if replies.is_empty() {
        return "(no reply)".to_owned();
    }
    replies
        .iter()
        .map(|r| r.text.replace('\n', " "))
        .collect::<Vec<_>>()
        .join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phone_handed_out_is_a_valid_colombian_mobile() {
        for prefix in MOBILE_PREFIXES {
            for rest in ["0000000", "5555555", "9999999"] {
                let typed = format!("+57 {prefix} {} {}", &rest[..3], &rest[3..]);
                let digits: String = typed
                    .chars()
                    .filter(|c| *c == '+' || c.is_ascii_digit())
                    .collect();
                let number = phonenumber::parse(None, &digits).unwrap();
                assert!(phonenumber::is_valid(&number), "{typed}");
            }
        }
        let phones = Phones::new();
        let first = phones.take();
        assert_ne!(first, phones.take(), "each customer gets another number");
    }

    #[test]
    fn the_script_books_through_the_shipped_questions() {
        let reply = |text: &str, buttons: &[(&str, &str)]| Reply {
            text: text.to_owned(),
            buttons: buttons
                .iter()
                .map(|(title, payload)| Button {
                    title: (*title).to_owned(),
                    payload: (*payload).to_owned(),
                })
                .collect(),
        };
        let phones = Phones::new();
        let mut booking = Booking::new(&phones);
        let greeting = reply(
            "¡Hola! ¿En qué te puedo ayudar?",
            &[("Prueba de manejo", "flow:test_drive")],
        );
        assert!(
            matches!(booking.next(&[greeting]), Ok(Next::Send(Outgoing::Button(p))) if p == "flow:test_drive")
        );
        let model = reply("¡Genial! ¿Qué modelo quieres manejar?", &[]);
        assert!(matches!(
            booking.next(&[model]),
            Ok(Next::Send(Outgoing::Text(_)))
        ));
        // Out of order: the day question cannot follow the model question.
        let day = reply("¿Qué día te queda bien?", &[("Hoy", "answer:2026-12-02")]);
        assert!(booking.next(std::slice::from_ref(&day)).is_err());
    }

    #[test]
    fn taken_times_are_retried_and_a_given_consent_is_not_expected_twice() {
        let ask = |text: &str| Reply {
            text: text.to_owned(),
            buttons: vec![Button {
                title: "Sí, autorizo".to_owned(),
                payload: "answer:x".to_owned(),
            }],
        };
        let sends = |booking: &mut Booking, replies: &[Reply]| {
            matches!(booking.next(replies), Ok(Next::Send(_)))
        };
        let mut booking = Booking::new(&Phones::new());
        for text in [
            "¿En qué te puedo ayudar?",
            "¿Qué modelo quieres manejar?",
            "¿En qué sede quieres probar el Duster?",
            "¿Qué día te queda bien?",
            "¿A qué hora? Estos son los horarios libres",
        ] {
            let reply = Reply {
                text: text.to_owned(),
                buttons: vec![Button {
                    title: "Prueba de manejo".to_owned(),
                    payload: "p".to_owned(),
                }],
            };
            assert!(sends(&mut booking, &[reply]), "{text}");
        }
        // The pressed time was booked by someone else meanwhile: asked again.
        let stale = [
            ask("Esa opción ya no está disponible."),
            ask("¿A qué hora? Estos son los horarios libres"),
        ];
        assert!(sends(&mut booking, &stale));
        assert_eq!(booking.slot_retries, 1);
        for text in [
            "¿Nos autorizas?",
            "¿Cómo te llamas?",
            "¿A qué número de celular te llamamos?",
            "Confirmemos: prueba de manejo del Duster",
        ] {
            assert!(sends(&mut booking, &[ask(text)]), "{text}");
        }
        // Taken at the confirmation: the day again, then straight to the confirmation.
        let taken = [
            ask("¡Uy! Alguien acaba de tomar ese horario. Elige otro, por favor."),
            ask("¿Qué día te queda bien?"),
        ];
        assert!(sends(&mut booking, &taken));
        assert!(sends(&mut booking, &[ask("¿A qué hora?")]));
        assert!(sends(
            &mut booking,
            &[ask("Confirmemos: prueba de manejo del Duster")]
        ));
        assert!(matches!(
            booking.next(&[ask("Tu prueba de manejo quedó agendada")]),
            Ok(Next::Booked)
        ));
        assert_eq!(booking.slot_retries, 2);
    }
}
