//! Test helpers: a real server on a free port, a throwaway PostgreSQL database, and a
//! running `showroom` process for crash tests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use showroom::config::{Config, RawSettings, Secrets};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// A `showroom` server running inside the test process.
pub struct TestServer {
    pub addr: SocketAddr,
    /// Holds a temporary data folder until the server is dropped (none when the test
    /// owns the folder).
    _dir: Option<TempDir>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn ws_url(&self, query: &str) -> String {
        format!("ws://{}/api/v1/chat/ws{query}", self.addr)
    }

    /// Stops the server the way SIGTERM does and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task panicked")
                .expect("server failed");
        }
    }
}

/// Starts a server on `127.0.0.1:0` with embedded defaults in a temporary data folder,
/// after `tweak` adjusts the settings.
pub async fn start_server(tweak: impl FnOnce(&mut RawSettings)) -> TestServer {
    start_server_with_database(None, tweak).await
}

pub async fn start_server_with_database(
    database_url: Option<String>,
    tweak: impl FnOnce(&mut RawSettings),
) -> TestServer {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = spawn_server(&dir.path().join("data"), database_url, None, tweak).await;
    server._dir = Some(dir);
    server
}

/// Starts a server on `127.0.0.1:0` keeping its data in `data_dir`, which the caller
/// owns (to restart a server on the same database, or open it from the test).
pub async fn spawn_server(
    data_dir: &Path,
    database_url: Option<String>,
    api_token: Option<&str>,
    tweak: impl FnOnce(&mut RawSettings),
) -> TestServer {
    let mut raw = RawSettings {
        data_dir: data_dir.to_owned(),
        // No flow files unless a test asks for them: the settings menu answers.
        flows_dir: data_dir.join("no-flows"),
        // Nor knowledge: indexing it is what the knowledge tests do.
        knowledge_dir: data_dir.join("no-knowledge"),
        listen: "127.0.0.1:0".into(),
        ..RawSettings::default()
    };
    tweak(&mut raw);
    let secrets = Secrets {
        admin_token: Some(ADMIN_TOKEN.into()),
        api_token: api_token.map(str::to_owned),
        ..Secrets::default()
    };
    let config = Config::validate(raw, database_url, secrets).expect("valid test settings");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(showroom::server::run(config, listener, async move {
        let _ = stopped.await;
    }));
    TestServer {
        addr,
        _dir: None,
        stop: Some(stop),
        task: Some(task),
    }
}

/// A database created for one test on the machine's PostgreSQL and dropped afterwards.
pub struct PgDatabase {
    pub url: String,
    name: String,
}

pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

impl PgDatabase {
    pub async fn create() -> Self {
        use sqlx::Connection;
        let name = format!("showroom_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(PG_ADMIN_URL).await.unwrap_or_else(|err| {
            panic!("PostgreSQL must answer at 127.0.0.1:5432 (user postgres, trust auth); scripts/test installs and starts it: {err}")
        });
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create test database");
        admin.close().await.ok();
        Self {
            url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
            name,
        }
    }
}

impl PgDatabase {
    /// Refuses (`false`) or allows new connections to the database, and with `false`
    /// also ends the open ones: the server sees its database go away.
    pub async fn set_reachable(&self, reachable: bool) {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(PG_ADMIN_URL)
            .await
            .expect("the admin database answers");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS {reachable}",
            self.name
        )))
        .execute(&mut admin)
        .await
        .expect("change whether the database takes connections");
        if !reachable {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
                self.name
            )))
            .execute(&mut admin)
            .await
            .expect("end the database's connections");
        }
        admin.close().await.ok();
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Drop runs outside async; psql ships with the server.
        let _ = Command::new("psql")
            .args([
                PG_ADMIN_URL,
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A free loopback port (bound and released; good enough for a test).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A `showroom serve` child process.
pub struct ServeProcess {
    pub child: Child,
    pub base: String,
}

impl ServeProcess {
    /// `GET` an admin API path with the admin token; panics unless it answers 2xx.
    pub async fn admin_get(&self, path: &str) -> serde_json::Value {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    pub async fn start(data_dir: &Path, port: u16) -> Self {
        Self::start_with_env(data_dir, port, &[]).await
    }

    /// Like [`ServeProcess::start`], with more environment variables (set after the
    /// defaults, so `DATABASE_URL` here wins over the default SQLite).
    pub async fn start_with_env(data_dir: &Path, port: u16, env: &[(String, String)]) -> Self {
        let log = std::fs::File::create(data_dir.with_extension(format!("{port}.log")))
            .expect("log file");
        // Owned by `Self` at once, so `Drop` reaps the process even if readiness fails.
        let process = Self {
            child: Command::new(env!("CARGO_BIN_EXE_showroom"))
                .arg("serve")
                .current_dir(data_dir.parent().expect("parent"))
                .env("SHOWROOM_LISTEN", format!("127.0.0.1:{port}"))
                .env("SHOWROOM_DATA_DIR", data_dir)
                .env("ADMIN_TOKEN", ADMIN_TOKEN)
                .env_remove("DATABASE_URL")
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start showroom serve"),
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if let Ok(response) = client.get(format!("{}/readyz", process.base)).send().await
                && response.status().is_success()
            {
                return process;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("showroom serve did not become ready on port {port}");
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill_hard(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where tests save artifacts such as screenshots.
pub fn artifacts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

/// The widget's WebSocket, as a test client.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next frame other than `typing`, within 10 s.
pub async fn next_frame(socket: &mut Socket) -> serde_json::Value {
    use futures_util::StreamExt as _;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a frame within 10 s")
            .expect("socket open")
            .expect("valid frame");
        if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
            let frame: serde_json::Value = serde_json::from_str(&text).expect("JSON frame");
            if frame["type"] != "typing" {
                return frame;
            }
        }
    }
}

pub async fn send(socket: &mut Socket, frame: serde_json::Value) {
    use futures_util::SinkExt as _;
    socket
        .send(tokio_tungstenite::tungstenite::Message::Text(
            frame.to_string().into(),
        ))
        .await
        .expect("send");
}

/// Polls `probe` every 100 ms for up to 30 s.
pub async fn wait_for<T, F, Fut>(probe: F) -> Option<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..300 {
        if let Some(value) = probe().await {
            return Some(value);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// The admin API's knowledge status (`{"status": {...}}`), once `ready` accepts it
/// (within 30 s).
pub async fn knowledge_status(
    server: &TestServer,
    ready: impl Fn(&serde_json::Value) -> bool,
) -> Option<serde_json::Value> {
    let client = reqwest::Client::new();
    wait_for(|| async {
        let status: serde_json::Value = client
            .get(server.url("/admin/api/knowledge"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        ready(&status["status"]).then_some(status)
    })
    .await
}

// ---------------------------------------------------------------------------------------
// CRM handoffs: a test CRM, a deployment folder with its settings, the CLI, web chats.
// ---------------------------------------------------------------------------------------

/// The flow files that ship with showroom.
pub const SHIPPED_FLOWS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/flows");

/// The `whsec_…` secret shared with the test CRM (the Standard Webhooks example).
pub const CRM_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// `tests/crm/receiver.py` as a child process: a CRM that checks every signature with
/// the reference `standardwebhooks` library and every body against
/// `docs/handoff.schema.json`. Killed on drop.
pub struct CrmReceiver {
    child: Child,
    base: String,
    client: reqwest::Client,
}

/// One POST the test CRM received, as `GET /received` lists it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Received {
    pub webhook_id: Option<String>,
    /// The reference library accepted the signature.
    pub verified: bool,
    /// What the receiver answered.
    pub status: u16,
    pub schema_errors: Vec<String>,
    pub body: serde_json::Value,
    /// SHA-256 of the exact body bytes.
    pub body_sha256: String,
    /// Seconds since the Unix epoch, when the attempt was recorded.
    pub at: f64,
}

impl Received {
    /// The event type (`lead.created`, …).
    pub fn event(&self) -> &str {
        self.body["type"].as_str().unwrap_or_default()
    }

    pub fn lead_id(&self) -> &str {
        self.body["data"]["lead_id"].as_str().unwrap_or_default()
    }

    /// Panics unless the reference library verified it and the schema accepts it.
    pub fn assert_valid(&self) {
        assert!(
            self.verified,
            "the reference standardwebhooks library rejected the signature: {self:?}"
        );
        assert!(
            self.schema_errors.is_empty(),
            "the body does not follow docs/handoff.schema.json: {:?}\n{}",
            self.schema_errors,
            self.body
        );
    }
}

impl CrmReceiver {
    /// Starts the receiver on a free loopback port, answering 200.
    pub fn start() -> Self {
        use std::io::BufRead as _;
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let schema = root.join("docs").join("handoff.schema.json");
        assert!(
            schema.is_file(),
            "{} is missing: the test CRM validates every body against it; generate it with `UPDATE_SCHEMA=1 cargo test --lib crm::payload`",
            schema.display()
        );
        let mut child = Command::new("python3")
            .arg(root.join("tests").join("crm").join("receiver.py"))
            .args(["--secret", CRM_SECRET, "--schema"])
            .arg(&schema)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs tests/crm/receiver.py (scripts/test installs python3, standardwebhooks and jsonschema)");
        let stdout = child.stdout.take().expect("receiver stdout");
        let mut line = String::new();
        let read = std::io::BufReader::new(stdout).read_line(&mut line);
        let port = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|p| p.parse::<u16>().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the test CRM did not start (first line {line:?}, {read:?}); it needs `pip install standardwebhooks==1.1.0 jsonschema` (scripts/test does it)"
            );
        };
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        }
    }

    /// Where showroom posts handoffs.
    pub fn hooks_url(&self) -> String {
        format!("{}/hooks", self.base)
    }

    /// `CRM_WEBHOOK_URL` and `CRM_WEBHOOK_SECRET` pointing at this receiver.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("CRM_WEBHOOK_URL".into(), self.hooks_url()),
            ("CRM_WEBHOOK_SECRET".into(), CRM_SECRET.into()),
        ]
    }

    /// Every attempt so far, oldest first.
    pub async fn received(&self) -> Vec<Received> {
        self.client
            .get(format!("{}/received", self.base))
            .send()
            .await
            .expect("the test CRM answers")
            .json()
            .await
            .expect("the test CRM's list")
    }

    /// How to answer the next attempts: `{"status": 503, "retry_after": 1, "delay": 0.3}`.
    pub async fn set_mode(&self, mode: serde_json::Value) {
        let response = self
            .client
            .post(format!("{}/mode", self.base))
            .json(&mode)
            .send()
            .await
            .expect("the test CRM answers");
        assert!(response.status().is_success(), "{}", response.status());
    }

    /// The attempts so far, once `ready` accepts them (within 30 s); `None` on time out.
    pub async fn wait_until(&self, ready: impl Fn(&[Received]) -> bool) -> Option<Vec<Received>> {
        wait_for(|| async {
            let received = self.received().await;
            ready(&received).then_some(received)
        })
        .await
    }
}

impl Drop for CrmReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A folder laid out like a dealer's install: `showroom.toml` (the shipped flows plus
/// the test's settings) beside the data folders of one or more `serve` processes, and
/// the environment they and the CLI share.
pub struct Deployment {
    dir: TempDir,
    env: Vec<(String, String)>,
}

impl Deployment {
    /// `settings` is appended to `showroom.toml` (TOML tables such as `[crm]`).
    pub fn new(settings: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let toml = format!("flows_dir = {SHIPPED_FLOWS:?}\n\n{settings}\n");
        std::fs::write(dir.path().join("showroom.toml"), toml).expect("write showroom.toml");
        Self {
            dir,
            // Empty means unset: no CRM unless the test adds one.
            env: vec![
                ("CRM_WEBHOOK_URL".into(), String::new()),
                ("CRM_WEBHOOK_SECRET".into(), String::new()),
            ],
        }
    }

    /// Sets an environment variable for every `serve` and CLI run.
    pub fn with_env(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        for (name, value) in vars {
            self.env.retain(|(n, _)| *n != name);
            self.env.push((name, value));
        }
        self
    }

    /// The data folder named `name` (created).
    pub fn data_dir(&self, name: &str) -> PathBuf {
        let dir = self.dir.path().join(name);
        std::fs::create_dir_all(&dir).expect("data dir");
        dir
    }

    /// `showroom serve` on a free port with the data folder `data`.
    pub async fn serve(&self) -> ServeProcess {
        self.serve_in("data", free_port()).await
    }

    pub async fn serve_in(&self, data: &str, port: u16) -> ServeProcess {
        ServeProcess::start_with_env(&self.data_dir(data), port, &self.env).await
    }

    /// A `showroom` command on the data folder `data`, with the same settings.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_showroom"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("SHOWROOM_DATA_DIR", self.data_dir("data"))
            .env_remove("DATABASE_URL")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        command
    }

    /// Runs a `showroom` command; panics unless it succeeds. Returns its standard output.
    pub fn cli(&self, args: &[&str]) -> String {
        let output = self.command(args).output().expect("run showroom");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "`showroom {}` failed ({}):\nstdout: {stdout}\nstderr: {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    /// Runs a `showroom` command that prints JSON.
    pub fn cli_json(&self, args: &[&str]) -> serde_json::Value {
        let stdout = self.cli(args);
        serde_json::from_str(&stdout).unwrap_or_else(|err| {
            panic!(
                "`showroom {}` printed no JSON ({err}): {stdout}",
                args.join(" ")
            )
        })
    }
}

/// A customer on the web chat over plain HTTP (what the widget speaks).
pub struct WebChat {
    client: reqwest::Client,
    url: String,
    pub session: Option<String>,
    /// The bot's replies to the last message.
    pub last: Vec<serde_json::Value>,
}

impl WebChat {
    /// Opens a conversation on the server at `base` (`http://127.0.0.1:PORT`): the
    /// greeting is in `last`.
    pub async fn open(base: &str) -> Self {
        let mut chat = Self {
            client: reqwest::Client::new(),
            url: format!("{base}/api/v1/chat/messages"),
            session: None,
            last: Vec::new(),
        };
        chat.send(serde_json::json!({})).await;
        assert!(chat.session.is_some(), "no session in {:?}", chat.last);
        chat
    }

    async fn send(&mut self, mut body: serde_json::Value) -> String {
        if let Some(session) = &self.session {
            body["session"] = serde_json::json!(session);
        }
        let response = self
            .client
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .expect("chat API answers");
        let status = response.status();
        let response: serde_json::Value = response.json().await.expect("chat API JSON");
        assert!(status.is_success(), "{status}: {response}");
        self.session = response["session"].as_str().map(str::to_owned);
        self.last = response["replies"].as_array().cloned().unwrap_or_default();
        self.texts()
    }

    /// Writes `text`; returns the replies' texts, one per line.
    pub async fn say(&mut self, text: &str) -> String {
        self.send(serde_json::json!({ "text": text })).await
    }

    /// Presses the button titled `title` among the last replies.
    pub async fn press(&mut self, title: &str) -> String {
        let payload = self
            .last
            .iter()
            .rev()
            .find_map(|reply| {
                reply["buttons"].as_array()?.iter().find_map(|button| {
                    (button["title"] == title).then(|| button["payload"].clone())
                })
            })
            .unwrap_or_else(|| panic!("no button `{title}` in {:?}", self.last));
        self.send(serde_json::json!({ "button": payload })).await
    }

    /// The last replies' texts, one per line.
    pub fn texts(&self) -> String {
        self.last
            .iter()
            .filter_map(|reply| reply["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Asks for an advisor and goes through consent, name, phone and reason: the
    /// quickest hand-off. Returns the bot's last answer.
    pub async fn ask_for_an_advisor(&mut self, name: &str, phone: &str) -> String {
        let consent = self.say("asesor").await;
        assert!(consent.contains("¿Nos autorizas?"), "{consent}");
        let asked = self.press("Sí, autorizo").await;
        assert!(asked.contains("¿Cómo te llamas?"), "{asked}");
        let asked = self.say(name).await;
        assert!(asked.contains("celular"), "{asked}");
        let asked = self.say(phone).await;
        assert!(asked.contains("¿En qué te podemos ayudar?"), "{asked}");
        let done = self.press("Comprar un carro").await;
        assert!(
            done.contains("Ya le pasé tu solicitud a un asesor"),
            "{done}"
        );
        done
    }
}
