//! Whether a message asks to start something, and what. Read clause by clause:
//!
//! - a *cue* names what is wanted ("prueba de manejo", "mantenimiento", "asesor",
//!   "cuánto cuesta"); a *request* word says it is wanted ("quiero", "necesito",
//!   "agéndame", "I'd like");
//! - a statement with a cue and a request starts the flow; so does a message made only
//!   of a strong cue and values ("prueba de manejo del Tiguan el sábado");
//! - a question starts a flow only when it is a polite request ("¿me agendas una prueba
//!   de manejo?", "can I book a test drive?"); "¿qué necesito para la prueba de manejo?"
//!   is answered, not booked;
//! - price questions start the quote flow (the assistant never states prices), unless
//!   the price is of something else than a car ("¿cuánto cuesta el mantenimiento?");
//! - "no", "don't"… just before the cue or its request word cancels it.

use std::ops::Range;
use std::sync::LazyLock;

use super::text::{FUZZY_CUE, Pattern, Words, same_word};
use super::values::Reading;

/// What the customer wants to start, in priority order when a message asks for two:
/// changing a booking or asking for a person wins over booking something new.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Goal {
    MyBookings,
    Advisor,
    TestDrive,
    Service,
    Quote,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Force {
    /// Starts its flow with a request word, or alone with values around it.
    Strong,
    /// Needs a request word in the clause ("quiero hacer válida la garantía").
    Weak,
    /// A price question: starts the quote flow even asked as a question, when it is
    /// about a car. `Some(word)`: only if the clause also has a word starting so
    /// ("how much does it cost").
    Price(Option<&'static str>),
}

struct Cue {
    goal: Goal,
    force: Force,
    pattern: Pattern,
}

const BOOKING_VERBS: &str = "cancelar|cancela|cancelo|cancele|cancelen|anular|anula|reagendar|reagenda|reagende|reprogramar|reprograma|reprogramen|cambiar|cambia|cambien|mover|mueve|muevan|modificar|modifica|aplazar|posponer|correr|corran|cancel|reschedule|change|move|postpone";
const BOOKING_NOUNS: &str = "cita|citas|reserva|reservas|agendamiento|booking|bookings|appointment|appointments|reservation|reservations";
const MY: &str = "mi|mis|la|las|el|my|the|our?";

static CUES: LazyLock<Vec<Cue>> = LazyLock::new(|| {
    use Force::{Price, Strong, Weak};
    use Goal::{Advisor, MyBookings, Quote, Service, TestDrive};
    let booking_change = [
        format!("{BOOKING_VERBS} {MY} {BOOKING_NOUNS}"),
        format!("{BOOKING_VERBS} {MY} prueba|pruebas de manejo"),
        format!("{BOOKING_VERBS} {MY} test drive"),
    ];
    let mut cues: Vec<(Goal, Force, String)> = booking_change
        .into_iter()
        .map(|spec| (MyBookings, Strong, spec))
        .collect();
    let fixed: &[(Goal, Force, &str)] = &[
        (MyBookings, Strong, "mis citas|reservas"),
        (MyBookings, Strong, "my bookings|appointments|reservations"),
        (MyBookings, Strong, "reagendar|reprogramar|reschedule"),
        (Advisor, Strong, "asesor*"),
        (Advisor, Strong, "vendedor*"),
        // "agente" exactly: it is one typo away from "agende".
        (Advisor, Strong, "humano|humanos|=agente|=agentes"),
        (
            Advisor,
            Strong,
            "hablar|conversar|comunicarme|comunicar|comunicarse|contactarme con alguien|alguno",
        ),
        (
            Advisor,
            Strong,
            "hablar|conversar|comunicarme|comunicar|comunicarse|contactarme con una? persona|humano",
        ),
        (
            Advisor,
            Strong,
            "que me llame|llamen|contacte|contacten|escriba|escriban",
        ),
        (Advisor, Strong, "llamenme|llameme|llamame|contactenme"),
        (
            Advisor,
            Strong,
            "advisor*|adviser*|salesperson|salesman|saleswoman|representative|agent|human",
        ),
        (
            Advisor,
            Strong,
            "talk|speak|chat to|with someone|somebody|anyone",
        ),
        (
            Advisor,
            Strong,
            "talk|speak|chat to|with a|an? real? person|human",
        ),
        (Advisor, Strong, "call me"),
        (
            TestDrive,
            Strong,
            "prueba|pruebas de|del manejo|conduccion|ruta",
        ),
        (TestDrive, Strong, "test drive|drives|driving"),
        (TestDrive, Strong, "testdrive|testdrives"),
        (
            TestDrive,
            Strong,
            "probar|probarlo|probarla|probarlos|probarlas|pruebo|probemos",
        ),
        (
            TestDrive,
            Strong,
            "manejar|manejarlo|manejarla|conducir|conducirlo|conducirla",
        ),
        (
            TestDrive,
            Strong,
            "drive|try|test the|a|an|your|that|this? @car",
        ),
        (TestDrive, Weak, "prueba|pruebas"),
        (Service, Strong, "mantenimiento|mantenimientos"),
        (Service, Strong, "taller|revision|revisiones"),
        (Service, Strong, "servicio tecnico"),
        (Service, Strong, "cambio de aceite"),
        (Service, Strong, "alineacion|balanceo|sincronizacion"),
        (Service, Strong, "maintenance|workshop"),
        (Service, Strong, "oil change"),
        (Service, Strong, "service appointment"),
        (Service, Weak, "servicio|service"),
        (
            Service,
            Weak,
            "revisar|revisen|revisarlo|chequear|chequeo|reparar|repararlo|arreglar|arreglarlo|repair|fix",
        ),
        (
            Service,
            Weak,
            "llevar|traer|dejar|entrar mi|el|la|mis|my|the? @car",
        ),
        (
            Quote,
            Price(None),
            "precio|precios|valor|costo|costos|price|prices|pricing|quote|quotes|cotiz*|cotic*",
        ),
        (
            Quote,
            Price(None),
            "cuanto|cuantos cuesta|cuestan|vale|valen|sale|salen|cobran|esta|estan",
        ),
        (Quote, Price(None), "how much is|are|for|the"),
        (
            Quote,
            Price(Some("cost")),
            "how much do|does|did|would|will",
        ),
        (
            Quote,
            Weak,
            "comprar|compro|comprarla|comprarlo|adquirir|buy|purchase|financiar|financiarlo|financiarla|financiacion|financiamiento|finance|financing",
        ),
    ];
    cues.extend(
        fixed
            .iter()
            .map(|(goal, force, spec)| (*goal, *force, (*spec).to_owned())),
    );
    cues.into_iter()
        .map(|(goal, force, spec)| Cue {
            goal,
            force,
            pattern: Pattern::new(&spec),
        })
        .collect()
});

/// Words that say something is wanted.
const REQUEST: &[&str] = &[
    "quiero",
    "quiere",
    "quisiera",
    "quisieramos",
    "queria",
    "queriamos",
    "queremos",
    "deseo",
    "desea",
    "deseamos",
    "deseaba",
    "necesito",
    "necesita",
    "necesitamos",
    "necesitaria",
    "gustaria",
    "encantaria",
    "interesa",
    "interesaria",
    "interesado",
    "interesada",
    "busco",
    "buscamos",
    "buscando",
    "voy",
    "vamos",
    // "puedo", "puedes"… are not here: they ask for something only before a verb of
    // doing ("¿me puedes agendar…?"), which `polite_opening` checks.
    "ayudas",
    "ayuda",
    "ayudame",
    "ayudeme",
    "ayudan",
    "ayudarme",
    "agendar",
    "agenda",
    "agendame",
    "agendeme",
    "agenden",
    "agendas",
    "agendo",
    "agendemos",
    "reservar",
    "reserva",
    "reservame",
    "reserveme",
    "reserven",
    "reservas",
    "programar",
    "programame",
    "programeme",
    "programen",
    "separar",
    "separame",
    "separeme",
    "separen",
    "apartar",
    "apartame",
    "sacar",
    "sacame",
    "solicitar",
    "solicito",
    "pedir",
    "pido",
    "hacer",
    "hagamos",
    "dame",
    "deme",
    "denme",
    "regalame",
    "regaleme",
    "regala",
    "regalas",
    "regalan",
    "kiero",
    "qiero",
    "nesecito",
    "nececito",
    "want",
    "wants",
    "wanna",
    "like",
    "love",
    "need",
    "needs",
    "book",
    "schedule",
    "arrange",
    "reserve",
    "set",
    "get",
    "can",
    "could",
    "may",
    "would",
    "will",
    "lets",
    "let",
    "interested",
    "looking",
    "plan",
    "planning",
    "going",
    "gonna",
    "help",
];

/// Words that cancel the request or cue right after them.
const NEGATORS: &[&str] = &[
    "no", "ni", "nunca", "tampoco", "jamas", "dont", "doesnt", "not", "never", "cant", "cannot",
    "wont", "nope",
];

/// Words passed over between a negation or a polite "¿puedo…" and what it applies to.
const LINKS: &[&str] = &[
    "el",
    "la",
    "los",
    "las",
    "lo",
    "le",
    "les",
    "me",
    "te",
    "se",
    "nos",
    "un",
    "una",
    "a",
    "al",
    "de",
    "del",
    "en",
    "para",
    "por",
    "con",
    "mi",
    "mis",
    "tu",
    "su",
    "si",
    "ya",
    "tambien",
    "solo",
    "ir",
    "pasar",
    "venir",
    "i",
    "to",
    "an",
    "the",
    "in",
    "on",
    "for",
    "of",
    "my",
    "you",
    "we",
    "it",
    "us",
    "go",
    "come",
    "also",
    "just",
    "really",
    "realmente",
    "usted",
    "ustedes",
    "yo",
    "favor",
    "porfa",
    "please",
];

/// Words that may stand around a cue in a message that is only a request
/// ("prueba de manejo para el Tiguan, por favor").
const FILLERS: &[&str] = &[
    "el", "la", "los", "las", "lo", "un", "una", "unos", "unas", "de", "del", "al", "a", "en",
    "para", "por", "con", "mi", "mis", "tu", "su", "y", "o", "e", "porfa", "porfavor", "favor",
    "gracias", "hola", "buenas", "buenos", "buen", "dia", "dias", "tardes", "noches", "sede",
    "sucursal", "ahi", "alla", "aca", "aqui", "este", "esta", "ese", "esa", "pues", "bueno", "ok",
    "okay", "listo", "dale", "si", "ya", "me", "the", "an", "of", "for", "to", "at", "on", "in",
    "with", "my", "your", "our", "and", "or", "please", "thanks", "thank", "you", "hi", "hello",
    "hey", "yes", "branch",
];

/// Words for a car, besides model names.
const CAR_WORDS: &[&str] = &[
    "carro",
    "carros",
    "carrito",
    "auto",
    "autos",
    "automovil",
    "vehiculo",
    "vehiculos",
    "camioneta",
    "camionetas",
    "coche",
    "car",
    "cars",
    "suv",
    "truck",
    "vehicle",
];

/// Words that make a statement a request for information ("quiero saber si…").
const INFO: &[&str] = &[
    "saber",
    "sabes",
    "conocer",
    "averiguar",
    "informacion",
    "info",
    "informes",
    "pregunta",
    "preguntar",
    "consulta",
    "consultar",
    "duda",
    "dudas",
    "requisito",
    "requisitos",
    "documentos",
    "papeles",
    "aprender",
    "explicar",
    "explicame",
    "know",
    "wondering",
    "wonder",
    "question",
    "questions",
    "information",
    "requirements",
    "learn",
    "explain",
];

/// What a price can be of, other than a car: those questions are answered, not quoted.
const NOT_A_CAR: &[&str] = &[
    "mantenimiento",
    "revision",
    "seguro",
    "soat",
    "repuesto",
    "repuestos",
    "aceite",
    "prueba",
    "garantia",
    "accesorio",
    "accesorios",
    "llanta",
    "llantas",
    "bateria",
    "servicio",
    "cita",
    "taller",
    "instalacion",
    "envio",
    "matricula",
    "traspaso",
    "pintura",
    "lavado",
    "parqueadero",
    "consumo",
    "rinde",
    "gasolina",
    "combustible",
    "potencia",
    "peso",
    "baul",
    "maletero",
    "espacio",
    "tanque",
    "insurance",
    "maintenance",
    "service",
    "parts",
    "oil",
    "tire",
    "tires",
    "tyres",
    "warranty",
    "test",
    "accessory",
    "accessories",
    "shipping",
    "registration",
    "repair",
    "fuel",
    "gas",
    "space",
    "weight",
    "weigh",
    "power",
    "trunk",
];

/// Question words that make a clause a question even without "?".
const QUESTION_WORDS: &[&str] = &[
    "que", "cual", "cuales", "cuanto", "cuanta", "cuantos", "cuantas", "como", "donde", "adonde",
    "cuando", "quien", "quienes", "porque", "what", "whats", "which", "how", "hows", "where",
    "wheres", "when", "why", "who", "whose", "does", "do", "did", "is", "isnt", "are", "arent",
    "was", "were", "has", "have", "should",
];

/// Polite openings of a request asked as a question ("¿puedo…?", "can I…?").
const MODALS: &[&str] = &[
    "puedo", "podria", "podrias", "puedes", "puede", "pueden", "podrian", "podemos", "seria",
    "sera", "can", "could", "may", "would", "will",
];

/// Greetings and openers skipped when looking at how a clause starts.
const OPENERS: &[&str] = &[
    "hola", "holi", "buenas", "buenos", "buen", "dias", "tardes", "noches", "oye", "oiga",
    "disculpa", "disculpe", "perdon", "hey", "hi", "hello", "y", "e", "pero", "entonces", "bueno",
    "ok", "okay", "so", "and", "but", "well", "please", "porfa", "porfavor", "excuse", "sorry",
    "amigo", "amiga",
];

/// Pronouns skipped before a polite "puedo": "¿me puedes…?", "¿usted me podría…?".
const CLITICS: &[&str] = &[
    "me", "nos", "le", "les", "se", "te", "usted", "ustedes", "tu", "yo",
];

fn is_request(word: &str) -> bool {
    REQUEST.iter().any(|r| same_word(word, r, FUZZY_CUE))
}

fn any_of(list: &[&str], word: &str) -> bool {
    list.contains(&word)
}

/// One cue found in a clause.
#[derive(Debug, Clone, Copy)]
struct Hit {
    goal: Goal,
    force: Force,
    start: usize,
    end: usize,
}

/// The message with what is known of each word, computed once.
struct Message<'a> {
    words: &'a Words,
    reading: &'a Reading,
    /// Per word: a request word ("quiero", typos included).
    request: Vec<bool>,
}

impl Message<'_> {
    fn word(&self, i: usize) -> &str {
        self.words.word(i)
    }

    fn is_request(&self, i: usize) -> bool {
        self.request.get(i).copied().unwrap_or(false)
    }

    fn is_car(&self, i: usize) -> bool {
        self.reading.is_model(i) || any_of(CAR_WORDS, self.word(i))
    }
}

/// The flow the message asks to start; None for questions, chit-chat and refusals.
pub(super) fn goal(words: &Words, reading: &Reading) -> Option<Goal> {
    let message = Message {
        words,
        reading,
        request: words.tokens.iter().map(|t| is_request(&t.word)).collect(),
    };
    words
        .clauses()
        .into_iter()
        .filter_map(|clause| clause_goal(&message, clause))
        .min()
}

fn clause_goal(message: &Message<'_>, clause: Range<usize>) -> Option<Goal> {
    let hits = hits(message, clause.clone());
    if hits.is_empty() || reported(message, &hits, clause.clone()) {
        return None;
    }
    let word = |i: usize| message.word(i);
    let words = message.words;
    let asked = words
        .tokens
        .get(clause.start)
        .is_some_and(|t| words.asked.get(t.clause).copied().unwrap_or(false))
        || starts_as_question(words, clause.clone());
    let polite = polite_opening(message, clause.clone());
    let first_info = clause.clone().find(|&i| any_of(INFO, word(i)));
    let off_topic = clause
        .clone()
        .any(|i| any_of(NOT_A_CAR, word(i)) || message.reading.is_service(i));
    let negated = |at: usize| negated(message, clause.start, at);
    let requested = clause.clone().any(|i| message.is_request(i) && !negated(i));
    let covered = |i: usize| hits.iter().any(|h| (h.start..h.end).contains(&i));
    let bare = clause.clone().all(|i| {
        covered(i)
            || message.reading.explains(i)
            || message.is_car(i)
            || any_of(FILLERS, word(i))
            || message.is_request(i)
    });

    hits.iter()
        .filter(|hit| !negated(hit.start))
        .filter(|hit| match hit.force {
            Force::Price(needs) => {
                !off_topic
                    && needs
                        .is_none_or(|prefix| clause.clone().any(|i| word(i).starts_with(prefix)))
            }
            _ if hit.goal == Goal::Quote && off_topic => false,
            _ if asked => polite.is_some_and(|at| {
                at < hit.start
                    && (at + 1..hit.start).all(|i| message.is_request(i) || any_of(LINKS, word(i)))
            }),
            _ if first_info.is_some_and(|info| info < hit.start) => false,
            Force::Strong => requested || bare,
            Force::Weak => requested,
        })
        .map(|hit| hit.goal)
        .min()
}

/// Every cue in the clause, plus the service types it names (weak service cues).
fn hits(message: &Message<'_>, clause: Range<usize>) -> Vec<Hit> {
    let is_car = |i: usize| message.is_car(i);
    let mut hits = Vec::new();
    for start in clause.clone() {
        for cue in CUES.iter() {
            if let Some(end) = cue
                .pattern
                .match_at(message.words, start, clause.end, &is_car)
                && end > start
            {
                hits.push(Hit {
                    goal: cue.goal,
                    force: cue.force,
                    start,
                    end,
                });
            }
        }
    }
    for mention in &message.reading.services {
        if clause.contains(&mention.range.start) {
            hits.push(Hit {
                goal: Goal::Service,
                force: Force::Weak,
                start: mention.range.start,
                end: mention.range.end,
            });
        }
    }
    hits
}

/// "ya agendé la prueba", "probé el Tiguan": something done, told in the past tense
/// (the first person of -ar verbs ends in "é"), not asked for.
fn reported(message: &Message<'_>, hits: &[Hit], clause: Range<usize>) -> bool {
    clause.into_iter().any(|i| {
        let past = message.words.tokens.get(i).is_some_and(|t| {
            t.raw.chars().count() >= 4
                && t.raw.chars().last().is_some_and(|c| matches!(c, 'é' | 'É'))
        });
        past && (message.is_request(i) || hits.iter().any(|h| h.start == i))
    })
}

/// A "no" within two words before `at` (not counting request words and small words):
/// "no quiero probar nada", "I don't want a test drive".
fn negated(message: &Message<'_>, clause_start: usize, at: usize) -> bool {
    let mut counted = 0;
    for i in (clause_start..at).rev() {
        let word = message.word(i);
        if any_of(NEGATORS, word) {
            return true;
        }
        if message.is_request(i) || any_of(LINKS, word) {
            continue;
        }
        counted += 1;
        if counted >= 2 {
            return false;
        }
    }
    false
}

/// Where the clause really starts: after greetings and "por favor".
fn opening(words: &Words, clause: Range<usize>) -> usize {
    let mut i = clause.start;
    while i < clause.end {
        let word = words.word(i);
        if word == "por" && words.word(i + 1) == "favor" {
            i += 2;
        } else if any_of(OPENERS, word) {
            i += 1;
        } else {
            break;
        }
    }
    i
}

/// "qué necesito…", "en qué sede…", "por qué…", "does it…": a question without "?".
/// "que me llame un asesor" is a wish, not a question.
fn starts_as_question(words: &Words, clause: Range<usize>) -> bool {
    let mut i = opening(words, clause.clone());
    if i >= clause.end {
        return false;
    }
    if matches!(
        words.word(i),
        "en" | "a" | "de" | "para" | "con" | "por" | "in" | "at" | "for" | "by"
    ) && i + 1 < clause.end
    {
        i += 1;
    }
    let word = words.word(i);
    if word == "que" && any_of(CLITICS, words.word(i + 1)) {
        return false;
    }
    any_of(QUESTION_WORDS, word)
}

/// The position of a polite opening ("¿me puedes…", "¿podría…", "can I…",
/// "¿me agendas…"), if the clause has one.
fn polite_opening(message: &Message<'_>, clause: Range<usize>) -> Option<usize> {
    let mut i = opening(message.words, clause.clone());
    while i < clause.end && any_of(CLITICS, message.word(i)) {
        i += 1;
    }
    if i >= clause.end {
        return None;
    }
    if any_of(MODALS, message.word(i)) {
        // "¿puedo agendar…?" asks for something; "¿puedo llevar a mi esposa a la
        // prueba?" asks about it. The verb after the modal tells them apart.
        let mut next = i + 1;
        while next < clause.end
            && (any_of(CLITICS, message.word(next))
                || any_of(&["i", "we", "you", "u"], message.word(next)))
        {
            next += 1;
        }
        let verb = message.word(next);
        return (any_of(POLITE_ACTIONS, verb) || message.is_request(next)).then_some(i);
    }
    message.is_request(i).then_some(i)
}

/// Verbs after "¿puedo / me puedes / can I…" that ask the bot to do something.
const POLITE_ACTIONS: &[&str] = &[
    "agendar",
    "agendarme",
    "agendame",
    "reservar",
    "reservarme",
    "separar",
    "separarme",
    "apartar",
    "apartarme",
    "programar",
    "programarme",
    "sacar",
    "pedir",
    "solicitar",
    "hacer",
    "tomar",
    "probar",
    "manejar",
    "cotizar",
    "cotizarme",
    "dar",
    "darme",
    "ayudar",
    "ayudarme",
    "hablar",
    "comunicar",
    "comunicarme",
    "contactar",
    "contactarme",
    "llamar",
    "llamarme",
    "cancelar",
    "reprogramar",
    "cambiar",
    "mover",
    "ver",
    "book",
    "schedule",
    "reserve",
    "take",
    "get",
    "have",
    "do",
    "drive",
    "test",
    "talk",
    "speak",
    "cancel",
    "reschedule",
    "see",
    "quote",
];
