//! Settings, in two stages: `RawSettings` is what serde reads from `showroom.toml` and
//! `SHOWROOM_…` environment variables; `Config` is the validated form the rest of the
//! program uses. Secrets never come from the file, only from the environment
//! (`Secrets::from_env`), so a committed `showroom.toml` can never leak one.

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::booking::calendar::{Calendar, OutreachConfig};
use crate::engine::Language;

/// The settings file used when `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "showroom.toml";

/// A setting that is present but wrong, or a file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read settings: {0}")]
    Load(String),
    #[error("setting `{key}` has the value {value:?}, but {expected}")]
    Invalid {
        key: String,
        value: String,
        expected: String,
    },
    #[error(
        "settings file {0} does not exist; pass an existing file to --config or remove the flag to use the built-in defaults"
    )]
    MissingFile(PathBuf),
}

pub(crate) fn invalid(key: &str, value: impl fmt::Display, expected: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        value: value.to_string(),
        expected: expected.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------
// Stage one: what the file and the environment say.
// ---------------------------------------------------------------------------------------

/// Settings exactly as written by the operator. Unknown keys are rejected so a typo
/// (`idle_timout`) fails loudly instead of being silently ignored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSettings {
    pub listen: String,
    pub public_url: String,
    pub data_dir: PathBuf,
    pub flows_dir: PathBuf,
    pub knowledge_dir: PathBuf,
    pub prompts_dir: PathBuf,
    pub bot: RawBot,
    pub menu: Vec<RawMenuItem>,
    pub web: RawWeb,
    pub http: RawHttp,
    pub log: RawLog,
    pub store: RawStore,
    pub flows: RawFlows,
    pub models: Vec<RawModel>,
    pub branches: Vec<RawBranch>,
    pub booking: RawBooking,
    pub outreach: RawOutreach,
    pub knowledge: crate::knowledge::RawKnowledge,
    pub assistant: crate::assistant::RawAssistant,
    pub leads: crate::leads::settings::RawLeads,
    pub crm: crate::crm::settings::RawCrm,
    pub telegram: crate::channels::telegram::settings::RawTelegram,
    pub viber: crate::channels::viber::settings::RawViber,
}

impl Default for RawSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: String::new(),
            data_dir: "data".into(),
            flows_dir: "flows".into(),
            knowledge_dir: "knowledge".into(),
            prompts_dir: "prompts".into(),
            bot: RawBot::default(),
            menu: default_menu(),
            web: RawWeb::default(),
            http: RawHttp::default(),
            log: RawLog::default(),
            store: RawStore::default(),
            flows: RawFlows::default(),
            models: default_models(),
            branches: default_branches(),
            booking: RawBooking::default(),
            outreach: RawOutreach::default(),
            knowledge: crate::knowledge::RawKnowledge::default(),
            assistant: crate::assistant::RawAssistant::default(),
            leads: crate::leads::settings::RawLeads::default(),
            crm: crate::crm::settings::RawCrm::default(),
            telegram: crate::channels::telegram::settings::RawTelegram::default(),
            viber: crate::channels::viber::settings::RawViber::default(),
        }
    }
}

/// A text in Spanish and English, side by side.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Localized {
    pub es: String,
    pub en: String,
}

impl Localized {
    pub fn new(es: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            es: es.into(),
            en: en.into(),
        }
    }

    pub fn get(&self, language: Language) -> &str {
        match language {
            Language::Es => &self.es,
            Language::En => &self.en,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawBot {
    pub name: String,
    pub default_language: String,
    pub idle_timeout: String,
    pub greeting: Localized,
    pub fallback: Localized,
    pub resume_prompt: Localized,
}

impl Default for RawBot {
    fn default() -> Self {
        Self {
            name: "Autos del Valle".into(),
            default_language: "es".into(),
            idle_timeout: "30m".into(),
            greeting: Localized::new(
                "¡Hola! Soy el asistente virtual de {bot}. ¿En qué te puedo ayudar?",
                "Hi! I'm the virtual assistant of {bot}. How can I help you?",
            ),
            fallback: Localized::new(
                "No te entendí bien. Elige una opción del menú:",
                "Sorry, I didn't get that. Please pick an option from the menu:",
            ),
            resume_prompt: Localized::new(
                "¡Hola de nuevo! ¿Continuamos donde quedamos?",
                "Welcome back! Shall we continue where we left off?",
            ),
        }
    }
}

/// One entry of the main menu (used until flow files take over the menu).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMenuItem {
    pub id: String,
    pub title: Localized,
    pub reply: Localized,
}

fn default_menu() -> Vec<RawMenuItem> {
    let item = |id: &str, title: Localized, reply: Localized| RawMenuItem {
        id: id.into(),
        title,
        reply,
    };
    vec![
        item(
            "test_drive",
            Localized::new("Prueba de manejo", "Test drive"),
            Localized::new(
                "¡Genial! Un asesor te contactará para agendar tu prueba de manejo.",
                "Great! An advisor will contact you to book your test drive.",
            ),
        ),
        item(
            "service",
            Localized::new("Cita de taller", "Service appointment"),
            Localized::new(
                "Con gusto. Un asesor de taller te contactará para agendar tu cita; ten a mano la placa de tu vehículo.",
                "Happy to help. A service advisor will contact you to book your appointment; have your license plate at hand.",
            ),
        ),
        item(
            "advisor",
            Localized::new("Hablar con un asesor", "Talk to an advisor"),
            Localized::new(
                "Un asesor te contactará muy pronto. Nuestro horario es de lunes a sábado, 8:00 a 18:00.",
                "An advisor will contact you shortly. We are open Monday to Saturday, 8:00 to 18:00.",
            ),
        ),
    ]
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawWeb {
    pub max_message_chars: usize,
    pub max_frame_bytes: usize,
    pub messages_per_minute_per_session: u32,
    pub messages_per_minute_per_ip: u32,
    pub trust_forwarded_for: bool,
}

impl Default for RawWeb {
    fn default() -> Self {
        Self {
            max_message_chars: 2000,
            max_frame_bytes: 64 * 1024,
            messages_per_minute_per_session: 30,
            messages_per_minute_per_ip: 300,
            trust_forwarded_for: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawHttp {
    pub request_timeout: String,
    pub max_concurrent_requests: usize,
    pub shutdown_grace: String,
}

impl Default for RawHttp {
    fn default() -> Self {
        Self {
            request_timeout: "30s".into(),
            max_concurrent_requests: 4096,
            shutdown_grace: "10s".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLog {
    pub format: String,
    pub level: String,
}

impl Default for RawLog {
    fn default() -> Self {
        Self {
            format: "human".into(),
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawStore {
    pub max_connections: u32,
    pub acquire_timeout: String,
}

impl Default for RawStore {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: "5s".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawFlows {
    pub max_attempts: u32,
    pub advisor_flow: String,
    pub time_zone: String,
    pub phone_region: String,
    pub plate_country: String,
}

impl Default for RawFlows {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            advisor_flow: "advisor".into(),
            time_zone: "America/Bogota".into(),
            phone_region: "CO".into(),
            plate_country: "CO".into(),
        }
    }
}

/// A vehicle model the dealer sells (the `models` option list of flows).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    pub id: String,
    pub name: String,
    pub brand: String,
    #[serde(default)]
    pub synonyms: Vec<String>,
}

/// A branch (sede) of the dealer: the `branches` option list of flows, and its bookings
/// calendar (validated into `booking::calendar::Branch`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RawBranch {
    pub id: String,
    pub name: String,
    pub city: String,
    #[serde(default)]
    pub address: String,
    /// IANA time zone of the branch's opening hours.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    #[serde(default)]
    pub hours: RawHours,
    /// Closed days, `YYYY-MM-DD`.
    #[serde(default = "default_holidays")]
    pub holidays: Vec<String>,
    #[serde(default)]
    pub bays: Vec<RawBay>,
    #[serde(default)]
    pub demo_vehicles: Vec<RawDemoVehicle>,
}

/// Opening hours per weekday: `"08:00-18:00"`, `"08:00-12:00, 14:00-18:00"` or
/// `"closed"`. A day left out keeps its default.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RawHours {
    pub mon: String,
    pub tue: String,
    pub wed: String,
    pub thu: String,
    pub fri: String,
    pub sat: String,
    pub sun: String,
}

impl Default for RawHours {
    fn default() -> Self {
        let weekday = || String::from("08:00-18:00");
        Self {
            mon: weekday(),
            tue: weekday(),
            wed: weekday(),
            thu: weekday(),
            fri: weekday(),
            sat: "08:00-13:00".into(),
            sun: "closed".into(),
        }
    }
}

impl RawHours {
    /// `(key, value)` per day, Monday first.
    pub fn days(&self) -> [(&'static str, &str); 7] {
        [
            ("mon", &self.mon),
            ("tue", &self.tue),
            ("wed", &self.wed),
            ("thu", &self.thu),
            ("fri", &self.fri),
            ("sat", &self.sat),
            ("sun", &self.sun),
        ]
    }
}

/// A service bay (puesto de taller): `capacity` cars at once, for the listed services.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RawBay {
    pub id: String,
    pub name: String,
    pub capacity: u32,
    /// `[[booking.service_types]]` ids.
    pub services: Vec<String>,
}

/// A car customers can test-drive at a branch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RawDemoVehicle {
    pub id: String,
    /// A `[[models]]` id.
    pub model: String,
    pub plate: String,
}

/// How appointments are offered (`[booking]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RawBooking {
    pub slot_minutes: u32,
    pub min_lead: String,
    pub horizon_days: u32,
    pub test_drive_duration: String,
    /// How long before the start each reminder goes out.
    pub reminders: Vec<String>,
    pub reminder_grace: String,
    pub service_types: Vec<RawServiceType>,
}

impl Default for RawBooking {
    fn default() -> Self {
        Self {
            slot_minutes: 30,
            min_lead: "2h".into(),
            horizon_days: 14,
            test_drive_duration: "45m".into(),
            reminders: vec!["24h".into(), "2h".into()],
            reminder_grace: "30m".into(),
            service_types: default_service_types(),
        }
    }
}

/// A kind of workshop appointment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RawServiceType {
    pub id: String,
    pub title: Localized,
    pub duration: String,
    #[serde(default)]
    pub synonyms: Vec<String>,
}

/// Limits on messages the CRM/ERP asks us to send (`[outreach]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RawOutreach {
    pub max_per_customer: u32,
    pub window: String,
}

impl Default for RawOutreach {
    fn default() -> Self {
        Self {
            max_per_customer: 2,
            window: "30d".into(),
        }
    }
}

/// The display name of a model id from settings; the id itself when unknown.
pub fn model_name<'a>(models: &'a [RawModel], id: &'a str) -> &'a str {
    models
        .iter()
        .find(|m| m.id == id)
        .map_or(id, |m| m.name.as_str())
}

fn default_models() -> Vec<RawModel> {
    let model = |id: &str, name: &str, brand: &str, synonyms: &[&str]| RawModel {
        id: id.into(),
        name: name.into(),
        brand: brand.into(),
        synonyms: synonyms.iter().map(|s| s.to_string()).collect(),
    };
    vec![
        model("tiguan", "Tiguan", "Volkswagen", &["tiguan allspace"]),
        model("t_cross", "T-Cross", "Volkswagen", &["tcross", "t cross"]),
        model("corolla_cross", "Corolla Cross", "Toyota", &["corolla"]),
        model("duster", "Duster", "Renault", &[]),
        model("cx_30", "CX-30", "Mazda", &["cx30", "cx 30"]),
        model("tracker", "Tracker", "Chevrolet", &[]),
    ]
}

fn default_branches() -> Vec<RawBranch> {
    let branch = |id: &str, name: &str, city: &str, address: &str| RawBranch {
        id: id.into(),
        name: name.into(),
        city: city.into(),
        address: address.into(),
        time_zone: default_time_zone(),
        hours: RawHours::default(),
        holidays: default_holidays(),
        bays: Vec::new(),
        demo_vehicles: Vec::new(),
    };
    let bay = |id: &str, name: &str, capacity: u32, services: &[&str]| RawBay {
        id: id.into(),
        name: name.into(),
        capacity,
        services: services.iter().map(|s| s.to_string()).collect(),
    };
    let demo = |id: &str, model: &str, plate: &str| RawDemoVehicle {
        id: id.into(),
        model: model.into(),
        plate: plate.into(),
    };
    vec![
        RawBranch {
            bays: vec![
                bay(
                    "norte_mecanica",
                    "Mecánica",
                    3,
                    &["maintenance", "diagnosis"],
                ),
                bay(
                    "norte_garantias",
                    "Garantías",
                    1,
                    &["warranty", "diagnosis"],
                ),
                bay("norte_latoneria", "Latonería y pintura", 2, &["bodywork"]),
            ],
            demo_vehicles: vec![
                demo("norte_tiguan", "tiguan", "KGV-482"),
                demo("norte_t_cross", "t_cross", "JTN-215"),
                demo("norte_cx_30", "cx_30", "LMR-937"),
                demo("norte_corolla_cross", "corolla_cross", "HZP-604"),
            ],
            ..branch("norte", "Sede Norte", "Cali", "Av. 6N # 28N-10, Cali")
        },
        RawBranch {
            bays: vec![
                bay(
                    "sur_mecanica",
                    "Mecánica",
                    2,
                    &["maintenance", "diagnosis", "warranty"],
                ),
                bay("sur_latoneria", "Latonería y pintura", 1, &["bodywork"]),
            ],
            demo_vehicles: vec![
                demo("sur_duster", "duster", "KDS-318"),
                demo("sur_tracker", "tracker", "JWX-756"),
                demo("sur_t_cross", "t_cross", "LPB-129"),
            ],
            ..branch("sur", "Sede Sur", "Cali", "Cra. 100 # 16-20, Cali")
        },
        RawBranch {
            bays: vec![
                bay(
                    "palmira_mecanica",
                    "Mecánica",
                    2,
                    &["maintenance", "diagnosis", "warranty"],
                ),
                bay(
                    "palmira_express",
                    "Mantenimiento express",
                    1,
                    &["maintenance"],
                ),
            ],
            demo_vehicles: vec![
                demo("palmira_corolla_cross", "corolla_cross", "MNC-540"),
                demo("palmira_duster", "duster", "KRT-863"),
                demo("palmira_tracker", "tracker", "JFL-271"),
            ],
            ..branch(
                "palmira",
                "Sede Palmira",
                "Palmira",
                "Calle 42 # 30-15, Palmira",
            )
        },
    ]
}

fn default_time_zone() -> String {
    "America/Bogota".into()
}

/// Colombian public holidays (festivos) of 2026 and 2027, with the Ley Emiliani moves
/// to Monday applied.
fn default_holidays() -> Vec<String> {
    [
        // 2026
        "2026-01-01",
        "2026-01-12",
        "2026-03-23",
        "2026-04-02",
        "2026-04-03",
        "2026-05-01",
        "2026-05-18",
        "2026-06-08",
        "2026-06-15",
        "2026-06-29",
        "2026-07-20",
        "2026-08-07",
        "2026-08-17",
        "2026-10-12",
        "2026-11-02",
        "2026-11-16",
        "2026-12-08",
        "2026-12-25",
        // 2027
        "2027-01-01",
        "2027-01-11",
        "2027-03-22",
        "2027-03-25",
        "2027-03-26",
        "2027-05-01",
        "2027-05-10",
        "2027-05-31",
        "2027-06-07",
        "2027-07-05",
        "2027-07-20",
        "2027-08-07",
        "2027-08-16",
        "2027-10-18",
        "2027-11-01",
        "2027-11-15",
        "2027-12-08",
        "2027-12-25",
    ]
    .map(String::from)
    .to_vec()
}

fn default_service_types() -> Vec<RawServiceType> {
    let service = |id: &str, title: Localized, duration: &str, synonyms: &[&str]| RawServiceType {
        id: id.into(),
        title,
        duration: duration.into(),
        synonyms: synonyms.iter().map(|s| s.to_string()).collect(),
    };
    vec![
        service(
            "maintenance",
            Localized::new("Mantenimiento por kilometraje", "Scheduled maintenance"),
            "90m",
            &["mantenimiento", "revisión", "cambio de aceite"],
        ),
        service(
            "diagnosis",
            Localized::new("Diagnóstico", "Diagnosis"),
            "60m",
            &["ruido", "falla", "testigo encendido"],
        ),
        service(
            "warranty",
            Localized::new("Garantía", "Warranty"),
            "60m",
            &["reclamo de garantía"],
        ),
        service(
            "bodywork",
            Localized::new("Latonería y pintura", "Bodywork and paint"),
            "120m",
            &["latonería", "pintura", "choque", "golpe"],
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// Stage two: validated settings.
// ---------------------------------------------------------------------------------------

/// Validated settings. Holding a `Config` means every value was checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Where customers reach this server (links in messages, like `.ics` files),
    /// without a trailing slash.
    pub public_url: String,
    pub data_dir: PathBuf,
    pub flows_dir: PathBuf,
    pub knowledge_dir: PathBuf,
    pub prompts_dir: PathBuf,
    pub database_url: String,
    pub bot: BotConfig,
    pub menu: Vec<MenuItem>,
    pub web: WebConfig,
    pub http: HttpConfig,
    pub log: LogConfig,
    pub store: StoreConfig,
    pub flows: FlowsConfig,
    pub catalog: CatalogConfig,
    /// Branches' hours, holidays and resources, and how appointments are offered.
    pub calendar: Calendar,
    pub outreach: OutreachConfig,
    pub knowledge: crate::knowledge::KnowledgeConfig,
    pub assistant: crate::assistant::AssistantConfig,
    /// Scoring, routing and consent settings of leads.
    pub leads: crate::leads::settings::LeadsConfig,
    /// The CRM handoff: endpoint and delivery.
    pub crm: crate::crm::settings::CrmConfig,
    /// Telegram, when `TELEGRAM_BOT_TOKEN` is set.
    pub telegram: Option<crate::channels::telegram::settings::TelegramConfig>,
    /// Viber, when `VIBER_AUTH_TOKEN` is set.
    pub viber: Option<crate::channels::viber::settings::ViberConfig>,
    pub secrets: Secrets,
}

#[derive(Debug, Clone)]
pub struct FlowsConfig {
    /// Wrong answers in a row before the bot offers an advisor instead of asking again.
    pub max_attempts: u32,
    /// The flow escape words such as "asesor" start; empty = none.
    pub advisor_flow: Option<String>,
    pub time_zone: jiff::tz::TimeZone,
    pub phone_region: phonenumber::country::Id,
    pub plate_country: crate::flows::input::PlateCountry,
}

#[derive(Debug, Clone, Default)]
pub struct CatalogConfig {
    pub models: Vec<RawModel>,
    pub branches: Vec<RawBranch>,
}

#[derive(Debug, Clone)]
pub struct BotConfig {
    pub name: String,
    pub default_language: Language,
    pub idle_timeout: Duration,
    pub greeting: Localized,
    pub fallback: Localized,
    pub resume_prompt: Localized,
}

#[derive(Debug, Clone)]
pub struct MenuItem {
    pub id: String,
    pub title: Localized,
    pub reply: Localized,
}

#[derive(Debug, Clone)]
pub struct WebConfig {
    pub max_message_chars: usize,
    pub max_frame_bytes: usize,
    pub messages_per_minute_per_session: std::num::NonZeroU32,
    pub messages_per_minute_per_ip: std::num::NonZeroU32,
    pub trust_forwarded_for: bool,
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub request_timeout: Duration,
    pub max_concurrent_requests: usize,
    pub shutdown_grace: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

/// Secrets and connection strings: environment only.
#[derive(Clone, Default)]
pub struct Secrets {
    pub admin_token: Option<String>,
    pub api_token: Option<String>,
    /// Qdrant server and embeddings server, when set.
    pub knowledge: crate::knowledge::KnowledgeEnv,
    /// The chat LLM's server, key and model, when set.
    pub llm: crate::assistant::LlmEnv,
    /// `CRM_WEBHOOK_URL` and `CRM_WEBHOOK_SECRET`, when set.
    pub crm: crate::crm::settings::CrmEnv,
    pub telegram: crate::channels::telegram::settings::TelegramEnv,
    pub viber: crate::channels::viber::settings::ViberEnv,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print secret values, only whether they are set.
        f.debug_struct("Secrets")
            .field("admin_token", &self.admin_token.as_ref().map(|_| "<set>"))
            .field("api_token", &self.api_token.as_ref().map(|_| "<set>"))
            .field("knowledge", &self.knowledge)
            .field("llm", &self.llm)
            .field("crm", &self.crm)
            .field("telegram", &self.telegram)
            .field("viber", &self.viber)
            .finish()
    }
}

impl Secrets {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            admin_token: token_from_env("ADMIN_TOKEN")?,
            api_token: token_from_env("SHOWROOM_API_TOKEN")?,
            knowledge: crate::knowledge::KnowledgeEnv::from_env(),
            llm: crate::assistant::LlmEnv::from_env(),
            crm: crate::crm::settings::CrmEnv::from_env()?,
            telegram: crate::channels::telegram::settings::TelegramEnv::from_env(),
            viber: crate::channels::viber::settings::ViberEnv::from_env(),
        })
    }
}

/// An environment variable's value, trimmed; `None` when unset or blank.
pub(crate) fn env_value(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn token_from_env(name: &str) -> Result<Option<String>, ConfigError> {
    match std::env::var(name) {
        Ok(value) if value.is_empty() => Ok(None),
        Ok(value) if value.chars().count() < 16 => Err(invalid(
            name,
            "<hidden>",
            "a token of at least 16 characters is expected (generate one with `openssl rand -hex 32`)",
        )),
        Ok(value) => Ok(Some(value)),
        Err(_) => Ok(None),
    }
}

/// Environment variables with the `SHOWROOM_` prefix that are not settings paths:
/// they are secrets or fixed names handled elsewhere.
const NOT_SETTINGS: &[&str] = &[
    "API_TOKEN",
    "LLM_MODEL",
    "EMBEDDINGS_URL",
    "EMBEDDINGS_MODEL",
    "EMBEDDINGS_API_KEY",
];

impl Config {
    /// Loads `path` (or the default file when it exists), applies environment overrides
    /// and validates the result.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(RawSettings::default()));
        match path {
            Some(path) if !path.exists() => return Err(ConfigError::MissingFile(path.into())),
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
                figment = figment.merge(Toml::file_exact(DEFAULT_CONFIG_FILE))
            }
            None => {}
        }
        figment = figment.merge(
            Env::prefixed("SHOWROOM_")
                .ignore(NOT_SETTINGS)
                // `SHOWROOM_WEB__MAX_MESSAGE_CHARS` → `web.max_message_chars`.
                .split("__"),
        );
        let raw: RawSettings = figment.extract().map_err(|err| {
            // Figment names the key and the source; keep every error, not just the first.
            let lines: Vec<String> = err.into_iter().map(describe_figment_error).collect();
            ConfigError::Load(lines.join("; "))
        })?;
        let database_url = std::env::var("DATABASE_URL").ok().filter(|v| !v.is_empty());
        Self::validate(raw, database_url, Secrets::from_env()?)
    }

    /// Turns raw settings into a `Config`, naming the key of the first bad value.
    pub fn validate(
        raw: RawSettings,
        database_url: Option<String>,
        secrets: Secrets,
    ) -> Result<Self, ConfigError> {
        let listen: SocketAddr = raw.listen.parse().map_err(|_| {
            invalid(
                "listen",
                &raw.listen,
                "an address with a port is expected, like 127.0.0.1:8080 or 0.0.0.0:8080",
            )
        })?;
        let public_url = match raw.public_url.trim() {
            "" => format!("http://{listen}"),
            url if url.starts_with("https://") || url.starts_with("http://") => {
                url.trim_end_matches('/').to_owned()
            }
            url => {
                return Err(invalid(
                    "public_url",
                    url,
                    "the address customers use to reach the bot, starting with https://, like https://bot.autosdelvalle.co",
                ));
            }
        };
        let database_url = match database_url {
            Some(url)
                if url.starts_with("sqlite:")
                    || url.starts_with("postgres://")
                    || url.starts_with("postgresql://") =>
            {
                url
            }
            Some(url) => {
                return Err(invalid(
                    "DATABASE_URL",
                    redact_url(&url),
                    "a URL starting with sqlite:// or postgres:// is expected",
                ));
            }
            None => format!(
                "sqlite://{}?mode=rwc",
                raw.data_dir.join("showroom.db").display()
            ),
        };
        let default_language = Language::parse(&raw.bot.default_language).ok_or_else(|| {
            invalid(
                "bot.default_language",
                &raw.bot.default_language,
                "one of \"es\" or \"en\" is expected",
            )
        })?;
        let idle_timeout = parse_duration("bot.idle_timeout", &raw.bot.idle_timeout)?;
        if idle_timeout < Duration::from_secs(60) {
            return Err(invalid(
                "bot.idle_timeout",
                &raw.bot.idle_timeout,
                "at least one minute is expected (for example \"30m\")",
            ));
        }

        if raw.menu.is_empty() {
            return Err(invalid(
                "menu",
                "[]",
                "at least one [[menu]] entry is expected",
            ));
        }
        let mut seen = HashSet::new();
        let mut menu = Vec::with_capacity(raw.menu.len());
        for (index, item) in raw.menu.into_iter().enumerate() {
            let key = format!("menu[{index}].id");
            let valid_id = !item.id.is_empty()
                && item
                    .id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !valid_id {
                return Err(invalid(
                    &key,
                    &item.id,
                    "lowercase letters, digits and _ are expected (like \"test_drive\")",
                ));
            }
            if !seen.insert(item.id.clone()) {
                return Err(invalid(&key, &item.id, "each menu id must be unique"));
            }
            for (lang, text) in [("es", &item.title.es), ("en", &item.title.en)] {
                if text.trim().is_empty() {
                    return Err(invalid(
                        &format!("menu[{index}].title.{lang}"),
                        text,
                        "a button title is expected",
                    ));
                }
            }
            menu.push(MenuItem {
                id: item.id,
                title: item.title,
                reply: item.reply,
            });
        }

        let web = &raw.web;
        if !(1..=20_000).contains(&web.max_message_chars) {
            return Err(invalid(
                "web.max_message_chars",
                web.max_message_chars,
                "a number between 1 and 20000 is expected",
            ));
        }
        if web.max_frame_bytes < web.max_message_chars * 4 + 256 {
            return Err(invalid(
                "web.max_frame_bytes",
                web.max_frame_bytes,
                "at least 4 bytes per allowed character plus 256 is expected, so a long but valid message always fits",
            ));
        }
        let per_minute = |key: &str, value: u32| {
            std::num::NonZeroU32::new(value)
                .ok_or_else(|| invalid(key, value, "a number of messages above 0 is expected"))
        };
        let web = WebConfig {
            max_message_chars: web.max_message_chars,
            max_frame_bytes: web.max_frame_bytes,
            messages_per_minute_per_session: per_minute(
                "web.messages_per_minute_per_session",
                web.messages_per_minute_per_session,
            )?,
            messages_per_minute_per_ip: per_minute(
                "web.messages_per_minute_per_ip",
                web.messages_per_minute_per_ip,
            )?,
            trust_forwarded_for: web.trust_forwarded_for,
        };

        let http = HttpConfig {
            request_timeout: parse_duration("http.request_timeout", &raw.http.request_timeout)?,
            max_concurrent_requests: match raw.http.max_concurrent_requests {
                0 => {
                    return Err(invalid(
                        "http.max_concurrent_requests",
                        0,
                        "a number above 0 is expected",
                    ));
                }
                n => n,
            },
            shutdown_grace: parse_duration("http.shutdown_grace", &raw.http.shutdown_grace)?,
        };

        let log = LogConfig {
            format: match raw.log.format.as_str() {
                "human" => LogFormat::Human,
                "json" => LogFormat::Json,
                other => {
                    return Err(invalid(
                        "log.format",
                        other,
                        "one of \"human\" or \"json\" is expected",
                    ));
                }
            },
            level: {
                tracing_subscriber::EnvFilter::try_new(&raw.log.level).map_err(|_| {
                    invalid(
                        "log.level",
                        &raw.log.level,
                        "a level such as \"info\", \"debug\" or \"showroom=debug,info\" is expected",
                    )
                })?;
                raw.log.level
            },
        };

        if raw.store.max_connections == 0 {
            return Err(invalid(
                "store.max_connections",
                0,
                "a number above 0 is expected",
            ));
        }
        let store = StoreConfig {
            max_connections: raw.store.max_connections,
            acquire_timeout: parse_duration("store.acquire_timeout", &raw.store.acquire_timeout)?,
        };

        let flows = validate_flows(&raw.flows)?;
        let catalog = validate_catalog(raw.models, raw.branches)?;
        let calendar = Calendar::from_settings(&raw.booking, &catalog.branches, &catalog.models)?;
        let outreach = OutreachConfig::from_settings(&raw.outreach)?;
        let knowledge = crate::knowledge::KnowledgeConfig::from_settings(
            &raw.knowledge,
            &raw.data_dir,
            &secrets.knowledge,
        )?;
        let assistant =
            crate::assistant::AssistantConfig::from_settings(&raw.assistant, &secrets.llm)?;
        let leads = crate::leads::settings::LeadsConfig::from_settings(&raw.leads, &catalog)?;
        let crm = crate::crm::settings::CrmConfig::from_settings(&raw.crm, &secrets.crm)?;
        let telegram = crate::channels::telegram::settings::TelegramConfig::from_settings(
            &raw.telegram,
            &secrets.telegram,
        )?;
        let viber = crate::channels::viber::settings::ViberConfig::from_settings(
            &raw.viber,
            &secrets.viber,
            &raw.bot.name,
        )?;

        Ok(Self {
            listen,
            public_url,
            data_dir: raw.data_dir,
            flows_dir: raw.flows_dir,
            knowledge_dir: raw.knowledge_dir,
            prompts_dir: raw.prompts_dir,
            database_url,
            bot: BotConfig {
                default_language,
                idle_timeout,
                greeting: with_bot_name(raw.bot.greeting, &raw.bot.name),
                fallback: with_bot_name(raw.bot.fallback, &raw.bot.name),
                resume_prompt: with_bot_name(raw.bot.resume_prompt, &raw.bot.name),
                name: raw.bot.name,
            },
            menu,
            web,
            http,
            log,
            store,
            flows,
            catalog,
            calendar,
            outreach,
            knowledge,
            assistant,
            leads,
            crm,
            telegram,
            viber,
            secrets,
        })
    }

    /// Built-in defaults with a given data folder; used by tests and `chat` demos.
    pub fn defaults_with_data_dir(data_dir: impl Into<PathBuf>) -> Result<Self, ConfigError> {
        let raw = RawSettings {
            data_dir: data_dir.into(),
            ..RawSettings::default()
        };
        Self::validate(raw, None, Secrets::default())
    }
}

fn validate_flows(raw: &RawFlows) -> Result<FlowsConfig, ConfigError> {
    if !(1..=10).contains(&raw.max_attempts) {
        return Err(invalid(
            "flows.max_attempts",
            raw.max_attempts,
            "a number from 1 to 10 is expected",
        ));
    }
    let time_zone = jiff::tz::TimeZone::get(&raw.time_zone).map_err(|_| {
        invalid(
            "flows.time_zone",
            &raw.time_zone,
            "an IANA time zone such as \"America/Bogota\" or \"America/Mexico_City\" is expected",
        )
    })?;
    let phone_region: phonenumber::country::Id =
        raw.phone_region.to_ascii_uppercase().parse().map_err(|_| {
            invalid(
                "flows.phone_region",
                &raw.phone_region,
                "a two-letter country code such as \"CO\" or \"MX\" is expected",
            )
        })?;
    let plate_country = serde_json::from_value(serde_json::Value::String(
        raw.plate_country.to_ascii_uppercase(),
    ))
    .map_err(|_| {
        invalid(
            "flows.plate_country",
            &raw.plate_country,
            "one of \"CO\", \"MX\", \"PE\", \"CL\" or \"EC\" is expected",
        )
    })?;
    Ok(FlowsConfig {
        max_attempts: raw.max_attempts,
        advisor_flow: Some(raw.advisor_flow.trim().to_owned()).filter(|f| !f.is_empty()),
        time_zone,
        phone_region,
        plate_country,
    })
}

fn validate_catalog(
    models: Vec<RawModel>,
    branches: Vec<RawBranch>,
) -> Result<CatalogConfig, ConfigError> {
    let valid_id = |id: &str| {
        !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    let mut seen = HashSet::new();
    for (index, model) in models.iter().enumerate() {
        if !valid_id(&model.id) || !seen.insert(model.id.clone()) {
            return Err(invalid(
                &format!("models[{index}].id"),
                &model.id,
                "a unique id of lowercase letters, digits and _ is expected (like \"t_cross\")",
            ));
        }
        if model.name.trim().is_empty() {
            return Err(invalid(
                &format!("models[{index}].name"),
                &model.name,
                "the name customers know the model by is expected",
            ));
        }
    }
    let mut seen = HashSet::new();
    for (index, branch) in branches.iter().enumerate() {
        if !valid_id(&branch.id) || !seen.insert(branch.id.clone()) {
            return Err(invalid(
                &format!("branches[{index}].id"),
                &branch.id,
                "a unique id of lowercase letters, digits and _ is expected (like \"norte\")",
            ));
        }
        if branch.name.trim().is_empty() {
            return Err(invalid(
                &format!("branches[{index}].name"),
                &branch.name,
                "the branch name customers see is expected",
            ));
        }
    }
    Ok(CatalogConfig { models, branches })
}

/// Fills in `{bot}` once, so every text that shows it is complete.
fn with_bot_name(text: Localized, name: &str) -> Localized {
    Localized {
        es: text.es.replace("{bot}", name),
        en: text.en.replace("{bot}", name),
    }
}

/// Parses durations written the way people write them: "30s", "10m", "2h", "1h 30m".
pub(crate) fn parse_duration(key: &str, value: &str) -> Result<Duration, ConfigError> {
    let expected = "a duration like \"30s\", \"10m\" or \"2h\" is expected";
    let parsed: jiff::SignedDuration = value.parse().map_err(|_| invalid(key, value, expected))?;
    Duration::try_from(parsed).map_err(|_| invalid(key, value, expected))
}

/// Turns one figment error into "key: problem (source)".
fn describe_figment_error(err: figment::Error) -> String {
    // `menu.0.title` → `menu[0].title`, the way the other messages name keys.
    let key = err.path.iter().fold(String::new(), |mut key, part| {
        if part.chars().all(|c| c.is_ascii_digit()) {
            key.push_str(&format!("[{part}]"));
        } else {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(part);
        }
        key
    });
    let key = if key.is_empty() {
        String::from("(top level)")
    } else {
        key
    };
    let source = err
        .metadata
        .as_ref()
        .map(|meta| match &meta.source {
            Some(source) => format!(" (from {source})"),
            None => format!(" (from {})", meta.name),
        })
        .unwrap_or_default();
    format!("setting `{key}`: {}{source}", err.kind)
}

/// Hides the password in a connection URL before it is printed.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let config = Config::defaults_with_data_dir("data").expect("defaults validate");
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.bot.idle_timeout, Duration::from_secs(30 * 60));
        assert!(config.database_url.starts_with("sqlite://data/showroom.db"));
        assert_eq!(config.menu.len(), 3);
    }

    #[test]
    fn bad_listen_names_key_value_and_expectation() {
        let raw = RawSettings {
            listen: "localhost".into(),
            ..RawSettings::default()
        };
        let err = Config::validate(raw, None, Secrets::default()).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("`listen`"), "{message}");
        assert!(message.contains("\"localhost\""), "{message}");
        assert!(message.contains("127.0.0.1:8080"), "{message}");
    }

    #[test]
    fn durations_accept_friendly_units() {
        assert_eq!(parse_duration("k", "90s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_duration("k", "2h").unwrap(),
            Duration::from_secs(7200)
        );
        assert_eq!(
            parse_duration("k", "1h 30m").unwrap(),
            Duration::from_secs(5400)
        );
        let err = parse_duration("bot.idle_timeout", "soon").unwrap_err();
        assert!(err.to_string().contains("bot.idle_timeout"));
    }

    #[test]
    fn database_url_must_be_sqlite_or_postgres() {
        let err = Config::validate(
            RawSettings::default(),
            Some("mysql://root:hunter2@db/x".into()),
            Secrets::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("DATABASE_URL"), "{err}");
        assert!(!err.contains("hunter2"), "password leaked: {err}");
    }

    #[test]
    fn duplicate_menu_ids_are_rejected() {
        let mut raw = RawSettings::default();
        raw.menu[1].id = raw.menu[0].id.clone();
        let err = Config::validate(raw, None, Secrets::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("menu[1].id"), "{err}");
    }

    #[test]
    fn unknown_keys_in_the_file_are_reported_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("showroom.toml");
        std::fs::write(&path, "[bot]\nidle_timout = \"5m\"\n").unwrap();
        let err = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("idle_timout"), "{err}");
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let err = Config::load(Some(Path::new("/nonexistent/showroom.toml")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
    }
}
