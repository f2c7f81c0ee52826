//! A fake auth service on a real socket: serves a JWKS (or hangs on it) and the verify endpoint, answers as told
//! (200, 401, 403, 500, or hangs), can be stopped, and counts its calls. Also mints RS256/ES256 tokens with the fixed
//! test keys under `tests/fixtures/`.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use user_profile_service::auth::jwt::Claims;

pub const JWKS_PATH: &str = "/.well-known/jwks.json";
pub const VERIFY_PATH: &str = "/api/v1/auth/verify";

/// How the verify endpoint answers.
#[derive(Debug, Clone)]
pub enum Verify {
    /// 200 with this body.
    Valid(Value),
    Unauthorized,
    Forbidden,
    ServerError,
    /// Answers only after this long (longer than the client's timeout).
    Hang(Duration),
}

struct Shared {
    jwks: Mutex<Value>,
    /// When set, the JWKS is served only after this long.
    jwks_hang: Mutex<Option<Duration>>,
    verify: Mutex<Verify>,
    jwks_calls: AtomicUsize,
    verify_calls: AtomicUsize,
    last_authorization: Mutex<Option<String>>,
    /// The trace headers of the last call to each path.
    last_trace: Mutex<HashMap<&'static str, TraceHeaders>>,
}

/// The W3C trace context headers of one call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceHeaders {
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
}

impl TraceHeaders {
    fn of(headers: &HeaderMap) -> Self {
        let get = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_string());
        TraceHeaders {
            traceparent: get("traceparent"),
            tracestate: get("tracestate"),
        }
    }
}

pub struct FakeAuth {
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    shared: Arc<Shared>,
    server: Mutex<Option<(oneshot::Sender<()>, JoinHandle<()>)>>,
}

impl FakeAuth {
    /// Starts on an ephemeral port, serving the JWKS of `kids` and answering `Verify::Unauthorized`.
    pub async fn start(kids: &[&str]) -> Self {
        let shared = Arc::new(Shared {
            jwks: Mutex::new(jwks(kids)),
            jwks_hang: Mutex::new(None),
            verify: Mutex::new(Verify::Unauthorized),
            jwks_calls: AtomicUsize::new(0),
            verify_calls: AtomicUsize::new(0),
            last_authorization: Mutex::new(None),
            last_trace: Mutex::default(),
        });
        let app = Router::new()
            .route(JWKS_PATH, get(serve_jwks))
            .route(VERIFY_PATH, get(serve_verify))
            .with_state(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await
                .unwrap();
        });
        FakeAuth {
            url,
            shared,
            server: Mutex::new(Some((stop_tx, handle))),
        }
    }

    pub fn jwks_url(&self) -> String {
        format!("{}{JWKS_PATH}", self.url)
    }

    /// The variables that point the service at this fake (JWKS and remote verification, 300 ms timeout).
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("JWT_JWKS_URL".into(), self.jwks_url()),
            ("AUTH_SERVICE_URL".into(), self.url.clone()),
            ("AUTH_SERVICE_TIMEOUT_MS".into(), "300".into()),
        ]
    }

    /// Serves the JWKS of these fixture keys from now on.
    pub fn publish(&self, kids: &[&str]) {
        *self.shared.jwks.lock().unwrap() = jwks(kids);
    }

    /// Serves the JWKS only after `delay` (longer than the client's timeout), or at once again with `None`.
    pub fn hang_jwks(&self, delay: Option<Duration>) {
        *self.shared.jwks_hang.lock().unwrap() = delay;
    }

    pub fn answer(&self, verify: Verify) {
        *self.shared.verify.lock().unwrap() = verify;
    }

    pub fn jwks_calls(&self) -> usize {
        self.shared.jwks_calls.load(Ordering::SeqCst)
    }

    pub fn verify_calls(&self) -> usize {
        self.shared.verify_calls.load(Ordering::SeqCst)
    }

    /// The `Authorization` header of the last verify call.
    pub fn last_authorization(&self) -> Option<String> {
        self.shared.last_authorization.lock().unwrap().clone()
    }

    /// The trace headers of the last call to `path` (`JWKS_PATH` or `VERIFY_PATH`), if it was called.
    pub fn last_trace(&self, path: &str) -> Option<TraceHeaders> {
        self.shared.last_trace.lock().unwrap().get(path).cloned()
    }

    /// Stops listening and closes open connections: later calls are refused.
    pub async fn stop(&self) {
        let server = self.server.lock().unwrap().take();
        if let Some((stop, handle)) = server {
            let _ = stop.send(());
            let abort = handle.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), handle)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

async fn serve_jwks(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Json<Value> {
    shared.jwks_calls.fetch_add(1, Ordering::SeqCst);
    shared
        .last_trace
        .lock()
        .unwrap()
        .insert(JWKS_PATH, TraceHeaders::of(&headers));
    let hang = *shared.jwks_hang.lock().unwrap();
    if let Some(delay) = hang {
        tokio::time::sleep(delay).await;
    }
    Json(shared.jwks.lock().unwrap().clone())
}

async fn serve_verify(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    shared.verify_calls.fetch_add(1, Ordering::SeqCst);
    shared
        .last_trace
        .lock()
        .unwrap()
        .insert(VERIFY_PATH, TraceHeaders::of(&headers));
    *shared.last_authorization.lock().unwrap() = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_string());
    let verify = shared.verify.lock().unwrap().clone();
    match verify {
        Verify::Valid(body) => Json(body).into_response(),
        Verify::Unauthorized => {
            (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid"}))).into_response()
        }
        Verify::Forbidden => StatusCode::FORBIDDEN.into_response(),
        Verify::ServerError => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Verify::Hang(delay) => {
            tokio::time::sleep(delay).await;
            Json(json!({"user_id": "too-late"})).into_response()
        }
    }
}

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A JWKS document with the public keys of these fixture `kid`s.
pub fn jwks(kids: &[&str]) -> Value {
    let all: Value = serde_json::from_str(&fixture("jwks.json")).unwrap();
    json!({"keys": kids.iter().map(|kid| all[*kid].clone()).collect::<Vec<_>>()})
}

/// The DER body of a PEM file.
fn pem_to_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

/// The fixture private key behind a `kid` (`rsa-1`, `rsa-2`, `ec-1`).
pub fn private_key(kid: &str) -> EncodingKey {
    let der = pem_to_der(&fixture(&format!("{kid}.pem")));
    if kid.starts_with("ec") {
        EncodingKey::from_ec_der(&der)
    } else {
        EncodingKey::from_rsa_der(&der)
    }
}

/// Signs `claims` with the fixture key `key`, putting `alg` and `kid` (if any) in the header.
pub fn sign(alg: Algorithm, key: &str, kid: Option<&str>, claims: &Claims) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &private_key(key)).unwrap()
}

/// The PEM text of a fixture public key, as an attacker would download it.
pub fn public_pem(name: &str) -> String {
    fixture(&format!("{name}.pub.pem"))
}
