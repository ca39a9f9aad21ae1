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
    pub async fn start(data_dir: &Path, port: u16) -> Self {
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
