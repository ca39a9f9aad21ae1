//! From question to action without an LLM: "quiero probar el Tiguan el sábado en la sede
//! norte" starts the test-drive flow with the model, the branch and the day filled in,
//! while "¿qué necesito para la prueba de manejo?" stays a question for the assistant.
//!
//! Rules over the catalog (model names and their typos), branch names and cities, the
//! service types from settings and the flows' own date parser, in Spanish and English.
//! Values come out exactly as the flow's questions save them (`tiguan`, `norte`,
//! `2026-11-28`). A branch comes only with the model (or service type) it must offer,
//! and a day only with its branch: the runner checks a pre-filled day against that
//! branch's free days, which it could not do without them. The runner still validates
//! every value it is given.
//!
//! - [`text`]: the message's words and clauses, and the small patterns rules use.
//! - [`values`]: model, branch, day, service type, plate and year in a message.
//! - [`cues`]: whether the message asks for something, and for which flow.

mod cues;
mod text;
mod values;

pub(crate) use values::GENERIC_BRANCH_WORDS;

use jiff::Zoned;
use serde_json::{Map, Value as Json};

use self::cues::Goal;
use self::text::Words;
use self::values::{Reading, Vocabulary};
use crate::booking::calendar::Calendar;
use crate::config::{CatalogConfig, Config};
use crate::flows::input::PlateCountry;

/// The shipped flows the rules can start, by id.
pub const TEST_DRIVE_FLOW: &str = "test_drive";
pub const SERVICE_FLOW: &str = "service";
pub const QUOTE_FLOW: &str = "quote";
pub const ADVISOR_FLOW: &str = "advisor";
pub const MY_BOOKINGS_FLOW: &str = "my_bookings";

/// A flow the customer asked for, with what the message already says.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    pub flow: String,
    /// Values for the flow's questions, keyed by what they `save`.
    pub values: Map<String, Json>,
}

/// The rules, built once from settings.
#[derive(Debug, Clone)]
pub struct IntentRules {
    vocabulary: Vocabulary,
}

impl Goal {
    fn flow(self) -> &'static str {
        match self {
            Goal::TestDrive => TEST_DRIVE_FLOW,
            Goal::Service => SERVICE_FLOW,
            Goal::Quote => QUOTE_FLOW,
            Goal::Advisor => ADVISOR_FLOW,
            Goal::MyBookings => MY_BOOKINGS_FLOW,
        }
    }

    /// The values [`IntentRules::detect`] fills for each flow: the shipped flows'
    /// `params` that rules can read from a message.
    fn params(self) -> &'static [&'static str] {
        match self {
            Goal::TestDrive => &["model", "branch", "day"],
            Goal::Service => &["plate", "model", "year", "service_type", "branch", "day"],
            Goal::Quote => &["model"],
            Goal::Advisor | Goal::MyBookings => &[],
        }
    }
}

impl IntentRules {
    /// `calendar` gives branches (names, time zones, demo cars, bays) and service types;
    /// `plate_country` which plates to recognise.
    pub fn new(catalog: &CatalogConfig, calendar: &Calendar, plate_country: PlateCountry) -> Self {
        Self {
            vocabulary: Vocabulary::new(&catalog.models, calendar, plate_country),
        }
    }

    pub fn from_config(config: &Config) -> Self {
        Self::new(
            &config.catalog,
            &config.calendar,
            config.flows.plate_country,
        )
    }

    /// The flow a message asks to start, with what it already says filled in; None for
    /// questions and chit-chat.
    pub fn detect(&self, text: &str, now: &Zoned) -> Option<Intent> {
        let words = Words::new(text);
        let reading = self.vocabulary.read(&words, now);
        let goal = cues::goal(&words, &reading)?;
        Some(Intent {
            flow: goal.flow().to_owned(),
            values: self.values(goal.params(), &reading),
        })
    }

    /// Values for a flow's `params` found in a message (used when a flow trigger phrase
    /// already matched, e.g. "prueba de manejo del tiguan mañana").
    ///
    /// Knows `model`, `branch`, `day`, `service_type`, `plate` and `year`. Among the
    /// params asked for, values follow the booking flows' order: `branch` is filled only
    /// with the `model` (or, when `service_type` is a param, the service type) and only
    /// if it offers it; `day` only with the `branch`. Asked alone, each is read as the
    /// answer to its question ("Sede Norte" → `norte`, "el sábado" → the date).
    pub fn values_for(&self, params: &[String], text: &str, now: &Zoned) -> Map<String, Json> {
        let words = Words::new(text);
        let reading = self.vocabulary.read(&words, now);
        let params: Vec<&str> = params.iter().map(String::as_str).collect();
        self.values(&params, &reading)
    }

    fn values(&self, params: &[&str], reading: &Reading) -> Map<String, Json> {
        let wants = |name: &str| params.contains(&name);
        let mut values = Map::new();
        let model = reading.model().filter(|_| wants("model"));
        let service_kind = wants("service_type");
        let service = reading.service().filter(|_| service_kind);
        let branch = reading
            .branch()
            .filter(|_| wants("branch"))
            .and_then(|id| self.vocabulary.branch_info.iter().find(|b| b.id == id))
            .filter(|branch| {
                if service_kind {
                    service.is_some_and(|service| branch.services.iter().any(|s| s == service))
                } else if wants("model") {
                    model.is_some_and(|model| branch.models.iter().any(|m| m == model))
                } else {
                    true
                }
            });
        let day = reading
            .day
            .as_ref()
            .filter(|_| wants("day") && (branch.is_some() || !wants("branch")));

        let mut put = |key: &str, value: Json| {
            values.insert(key.to_owned(), value);
        };
        if let Some(model) = model {
            put("model", model.into());
        }
        if let Some(service) = service {
            put("service_type", service.into());
        }
        if let Some(branch) = branch {
            put("branch", branch.id.as_str().into());
        }
        if let Some((day, _)) = day {
            put("day", day.as_str().into());
        }
        if let Some((plate, _)) = reading.plate.as_ref().filter(|_| wants("plate")) {
            put("plate", plate.as_str().into());
        }
        if let Some((year, _)) = reading.year.filter(|_| wants("year")) {
            put("year", year.into());
        }
        values
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules() -> IntentRules {
        let config =
            Config::defaults_with_data_dir(std::env::temp_dir()).expect("defaults are valid");
        IntentRules::from_config(&config)
    }

    /// Monday 23 November 2026, 10:00 in Bogotá.
    fn now() -> Zoned {
        jiff::civil::date(2026, 11, 23)
            .at(10, 0, 0, 0)
            .in_tz("America/Bogota")
            .expect("Bogotá is in the tz database")
    }

    fn detect(text: &str) -> Option<Intent> {
        rules().detect(text, &now())
    }

    fn flow(text: &str) -> Option<String> {
        detect(text).map(|intent| intent.flow)
    }

    fn values(value: Json) -> Map<String, Json> {
        match value {
            Json::Object(map) => map,
            other => panic!("an object is expected, not {other}"),
        }
    }

    #[test]
    fn a_test_drive_with_model_day_and_branch() {
        let intent = detect("quiero probar el Tiguan el sábado en la sede norte").expect("intent");
        assert_eq!(intent.flow, "test_drive");
        assert_eq!(
            intent.values,
            values(json!({"model": "tiguan", "branch": "norte", "day": "2026-11-28"}))
        );
    }

    #[test]
    fn typos_accents_and_capitals_are_tolerated() {
        let intent =
            detect("QUIERO hacer una prueba de manejo de la tigan mañana, en la del norte")
                .expect("intent");
        assert_eq!(intent.flow, "test_drive");
        assert_eq!(
            intent.values,
            values(json!({"model": "tiguan", "branch": "norte", "day": "2026-11-24"}))
        );
        let intent = detect("kiero probar la t cross").expect("intent");
        assert_eq!(intent.values, values(json!({"model": "t_cross"})));
    }

    #[test]
    fn a_polite_question_is_a_request() {
        let intent =
            detect("¿Me puedes agendar una prueba de manejo de la Duster para mañana en Palmira?")
                .expect("intent");
        assert_eq!(intent.flow, "test_drive");
        assert_eq!(
            intent.values,
            values(json!({"model": "duster", "branch": "palmira", "day": "2026-11-24"}))
        );
        assert_eq!(
            flow("¿puedo probar el tiguan?").as_deref(),
            Some("test_drive")
        );
    }

    #[test]
    fn can_i_asks_for_something_only_before_a_verb_of_doing() {
        assert_eq!(flow("puedo llevar a mi esposa a la prueba de manejo"), None);
        assert_eq!(flow("mi hijo puede manejar en la prueba de manejo?"), None);
        assert_eq!(
            flow("puedo agendar una prueba de manejo").as_deref(),
            Some("test_drive")
        );
        assert_eq!(
            flow("¿me puedes reservar una prueba de manejo?").as_deref(),
            Some("test_drive")
        );
    }

    #[test]
    fn english_requests() {
        let intent = detect("I'd like to test drive the CX-30 on Saturday at the north branch")
            .expect("intent");
        assert_eq!(intent.flow, "test_drive");
        assert_eq!(
            intent.values,
            values(json!({"model": "cx_30", "branch": "norte", "day": "2026-11-28"}))
        );
        assert_eq!(
            flow("can I book a test drive?").as_deref(),
            Some("test_drive")
        );
        assert_eq!(
            flow("I want to talk to someone").as_deref(),
            Some("advisor")
        );
        assert_eq!(flow("How much is the Tracker?").as_deref(), Some("quote"));
    }

    #[test]
    fn a_branch_without_that_demo_car_is_left_for_the_flow_to_ask() {
        // Sede Norte has no Duster: the branch question will offer the ones that do.
        let intent = detect("quiero probar la duster el sábado en la sede norte").expect("intent");
        assert_eq!(intent.values, values(json!({"model": "duster"})));
    }

    #[test]
    fn a_day_without_a_branch_is_not_filled() {
        let intent = detect("quiero probar el tiguan el sábado").expect("intent");
        assert_eq!(intent.values, values(json!({"model": "tiguan"})));
    }

    #[test]
    fn service_with_type_branch_and_day() {
        let intent = detect("necesito llevar mi carro a mantenimiento el lunes").expect("intent");
        assert_eq!(intent.flow, "service");
        assert_eq!(
            intent.values,
            values(json!({"service_type": "maintenance"}))
        );
        let intent = detect("necesito llevar mi carro a mantenimiento el lunes en la sede sur")
            .expect("intent");
        assert_eq!(
            intent.values,
            values(json!({"service_type": "maintenance", "branch": "sur", "day": "2026-11-30"}))
        );
    }

    #[test]
    fn service_reads_plate_model_and_year() {
        let intent = detect("mi Duster 2021 placa ABC 123 necesita revisión").expect("intent");
        assert_eq!(intent.flow, "service");
        assert_eq!(
            intent.values,
            values(json!({
                "model": "duster", "year": 2021, "plate": "ABC123", "service_type": "maintenance"
            }))
        );
        let intent = detect("quiero agendar latonería y pintura por un choque").expect("intent");
        assert_eq!(intent.flow, "service");
        assert_eq!(intent.values, values(json!({"service_type": "bodywork"})));
    }

    #[test]
    fn price_questions_and_quote_requests_start_the_quote() {
        for (text, model) in [
            ("cotízame una tiguan", Some("tiguan")),
            ("cuánto cuesta el tcross", Some("t_cross")),
            ("¿Cuánto vale la Corolla Cross?", Some("corolla_cross")),
            ("quiero comprar una duster", Some("duster")),
            ("precios", None),
        ] {
            let intent = detect(text).unwrap_or_else(|| panic!("no intent in {text:?}"));
            assert_eq!(intent.flow, "quote", "{text}");
            assert_eq!(
                intent.values.get("model").and_then(Json::as_str),
                model,
                "{text}"
            );
        }
    }

    #[test]
    fn the_price_of_something_else_is_a_question() {
        for text in [
            "¿cuánto cuesta el mantenimiento de la duster?",
            "¿cuánto cuesta la prueba de manejo?",
            "cuanto vale el soat",
            "how much fuel does the tiguan use?",
            "how much does the tiguan weigh?",
        ] {
            assert_eq!(detect(text), None, "{text}");
        }
    }

    #[test]
    fn advisor_and_bookings() {
        assert_eq!(
            flow("quiero hablar con un asesor").as_deref(),
            Some("advisor")
        );
        assert_eq!(flow("asesor").as_deref(), Some("advisor"));
        assert_eq!(flow("que me llame un vendedor").as_deref(), Some("advisor"));
        assert_eq!(
            flow("quiero cancelar mi cita").as_deref(),
            Some("my_bookings")
        );
        assert_eq!(
            flow("necesito cambiar mi prueba de manejo para el lunes").as_deref(),
            Some("my_bookings")
        );
        assert_eq!(flow("mis citas").as_deref(), Some("my_bookings"));
        let intent = detect("quiero hablar con un asesor").expect("intent");
        assert!(intent.values.is_empty());
    }

    #[test]
    fn questions_are_not_intent() {
        for text in [
            "¿el tiguan tiene 4x4?",
            "el tiguan es bueno?",
            "¿qué necesito para la prueba de manejo?",
            "que necesito para la prueba de manejo",
            "¿cuánto rinde el tiguan en carretera?",
            "¿cuánto dura la prueba de manejo?",
            "¿la prueba de manejo tiene costo?",
            "¿hay asesores los domingos?",
            "¿puedo llevar a mi perro a la prueba de manejo?",
            "¿necesito licencia para la prueba de manejo?",
            "what do I need for the test drive?",
            "do you do test drives on sundays?",
            "¿cómo cancelo mi cita?",
        ] {
            assert_eq!(detect(text), None, "{text}");
        }
    }

    #[test]
    fn asking_for_information_is_not_intent() {
        for text in [
            "quiero saber si la prueba de manejo tiene costo",
            "quisiera información sobre el mantenimiento",
            "I want to know what the test drive includes",
        ] {
            assert_eq!(detect(text), None, "{text}");
        }
    }

    #[test]
    fn refusals_are_not_intent() {
        for text in [
            "no quiero probar nada",
            "no me interesa la prueba de manejo",
            "ya no quiero la cita de taller",
            "I don't want a test drive",
            "no quiero hablar con un asesor",
            "no sé manejar",
        ] {
            assert_eq!(detect(text), None, "{text}");
        }
    }

    #[test]
    fn a_refusal_in_one_clause_does_not_cancel_the_next() {
        let intent = detect("No, quiero probar el tiguan mañana en la sede norte").expect("intent");
        assert_eq!(intent.flow, "test_drive");
        assert_eq!(intent.values.get("day"), Some(&json!("2026-11-24")));
        let intent = detect("¿el tiguan tiene 4x4? quiero probarlo").expect("intent");
        assert_eq!(intent.values, values(json!({"model": "tiguan"})));
    }

    #[test]
    fn chit_chat_is_not_intent() {
        for text in [
            "hola",
            "gracias",
            "ok",
            "el tiguan",
            "buenas tardes",
            "",
            "😀",
            "Tiguan 2025",
        ] {
            assert_eq!(detect(text), None, "{text}");
        }
    }

    #[test]
    fn a_bare_request_needs_nothing_else_in_it() {
        let intent = detect("prueba de manejo del tiguan mañana en la sede norte").expect("intent");
        assert_eq!(intent.flow, "test_drive");
        assert_eq!(intent.values.len(), 3);
        assert_eq!(flow("taller").as_deref(), Some("service"));
        assert_eq!(detect("prueba de manejo requisitos"), None);
        assert_eq!(detect("la prueba de manejo tiene costo"), None);
    }

    #[test]
    fn two_requests_take_the_one_that_comes_first_by_priority() {
        assert_eq!(
            flow("quiero hablar con un asesor para cotizar la tiguan").as_deref(),
            Some("advisor")
        );
        assert_eq!(
            flow("¿cuánto cuesta la tiguan? quiero probarla").as_deref(),
            Some("test_drive")
        );
    }

    #[test]
    fn two_models_or_two_days_are_left_for_the_flow_to_ask() {
        let intent = detect("quiero probar el tiguan o la tcross").expect("intent");
        assert!(intent.values.is_empty());
        let intent = detect("quiero probar el tiguan en la sede norte, no el lunes sino el martes")
            .expect("intent");
        assert_eq!(
            intent.values,
            values(json!({"model": "tiguan", "branch": "norte"}))
        );
    }

    #[test]
    fn the_morning_is_not_tomorrow() {
        let intent = detect("quiero probar el tiguan el viernes en la mañana en la sede norte")
            .expect("intent");
        assert_eq!(intent.values.get("day"), Some(&json!("2026-11-27")));
        let intent =
            detect("quiero probar el tiguan en la mañana en la sede norte").expect("intent");
        assert_eq!(intent.values.get("day"), None);
    }

    #[test]
    fn dates_written_many_ways() {
        let rules = rules();
        let day = |text: &str| {
            rules
                .values_for(
                    &["model".into(), "branch".into(), "day".into()],
                    text,
                    &now(),
                )
                .get("day")
                .and_then(Json::as_str)
                .map(str::to_owned)
        };
        assert_eq!(
            day("tiguan norte el 15 de diciembre").as_deref(),
            Some("2026-12-15")
        );
        assert_eq!(day("tiguan norte 15/12").as_deref(), Some("2026-12-15"));
        assert_eq!(
            day("tiguan norte pasado mañana").as_deref(),
            Some("2026-11-25")
        );
        assert_eq!(
            day("tiguan norte next friday").as_deref(),
            Some("2026-11-27")
        );
        assert_eq!(day("tiguan norte hoy").as_deref(), Some("2026-11-23"));
        assert_eq!(day("tiguan norte en 3 días").as_deref(), Some("2026-11-26"));
        assert_eq!(day("2 tiguan norte"), None);
        assert_eq!(day("tiguan norte ayer"), None);
    }

    #[test]
    fn values_for_fills_only_the_params_asked() {
        let rules = rules();
        let text = "prueba de manejo del tiguan mañana en la sede norte";
        let only_model = rules.values_for(&["model".into()], text, &now());
        assert_eq!(only_model, values(json!({"model": "tiguan"})));
        let none = rules.values_for(&[], text, &now());
        assert!(none.is_empty());
        let quote = rules.values_for(&["model".into()], "cotización de la cx 30", &now());
        assert_eq!(quote, values(json!({"model": "cx_30"})));
    }

    #[test]
    fn one_param_alone_is_read_as_the_answer_to_its_question() {
        // How tool-call arguments from an LLM are read, one by one.
        let rules = rules();
        let one = |param: &str, text: &str| rules.values_for(&[param.into()], text, &now());
        assert_eq!(
            one("branch", "Sede Norte"),
            values(json!({"branch": "norte"}))
        );
        assert_eq!(
            one("day", "el sábado"),
            values(json!({"day": "2026-11-28"}))
        );
        assert_eq!(
            one("model", "Tiguan Allspace"),
            values(json!({"model": "tiguan"}))
        );
        assert_eq!(
            one("service_type", "cambio de aceite"),
            values(json!({"service_type": "maintenance"}))
        );
        assert!(one("branch", "Bogotá").is_empty());
    }

    #[test]
    fn the_day_is_counted_in_the_branch_time_zone() {
        // 23:30 on Monday in Bogotá is already Tuesday in UTC: "mañana" is still Tuesday.
        let late = jiff::civil::date(2026, 11, 23)
            .at(23, 30, 0, 0)
            .in_tz("America/Bogota")
            .expect("tz")
            .with_time_zone(jiff::tz::TimeZone::UTC);
        let intent = rules()
            .detect("quiero probar el tiguan mañana en la sede norte", &late)
            .expect("intent");
        assert_eq!(intent.values.get("day"), Some(&json!("2026-11-24")));
    }

    #[test]
    fn service_branch_must_do_that_service() {
        let rules = rules();
        // Sede Palmira has no bodywork bay: the branch question will offer the others.
        let intent = rules
            .detect("necesito latonería en palmira el lunes", &now())
            .expect("intent");
        assert_eq!(intent.values, values(json!({"service_type": "bodywork"})));
        let intent = rules
            .detect(
                "necesito hacer válida la garantía en la sede norte mañana",
                &now(),
            )
            .expect("intent");
        assert_eq!(intent.flow, "service");
        assert_eq!(
            intent.values,
            values(json!({"service_type": "warranty", "branch": "norte", "day": "2026-11-24"}))
        );
    }

    #[test]
    fn long_or_odd_text_never_panics() {
        let rules = rules();
        let long = "quiero probar el tiguan ".repeat(200);
        assert!(rules.detect(&long, &now()).is_some());
        for text in [
            "¿?",
            "¡¡¡",
            "15/13/2026",
            "el 31 de febrero",
            "\u{0301}",
            "a".repeat(5000).as_str(),
        ] {
            let _ = rules.detect(text, &now());
        }
    }
}
