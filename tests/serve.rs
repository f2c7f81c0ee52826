//! The real binary on a real socket: graceful shutdown on SIGTERM, the request time limit as seen by a client,
//! the connection deadlines and cap, the JSON log lines on stdout, and the traces it exports. Runs on SQLite,
//! or on a fresh PostgreSQL schema when `TEST_DATABASE_URL` is set.

use std::{
    io::{BufRead, BufReader, ErrorKind, Read, Write},
    net::{Shutdown, TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    sync::mpsc::{Receiver, RecvTimeoutError, channel},
    time::{Duration, Instant},
};

use serde_json::Value;
use user_profile_service::{
    auth::jwt::{Claims, mint_hs256},
    clock::unix_now,
};

#[path = "serve/operations.rs"]
mod operations;

const SECRET: &str = "serve-test-secret-0123456789abcdef0123";

/// A running `user-profile-service serve`, killed on drop if the test did not stop it.
struct Server {
    child: Child,
    port: u16,
    stdout: Receiver<String>,
    database_url: String,
    /// Every stdout line read so far.
    seen: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts the binary and waits until it is ready for traffic.
    fn start(vars: &[(&str, &str)]) -> Server {
        Self::launch(vars, "/health/ready")
    }

    /// Starts the binary and waits (bounded) until `probe` answers 200.
    #[allow(
        clippy::disallowed_methods,
        reason = "the suite's own TEST_DATABASE_URL, not a service setting"
    )]
    fn launch(vars: &[(&str, &str)], probe: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let database_url = match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(url) => postgres_schema_url(&url),
            None => format!("sqlite:{}?mode=rwc", dir.path().join("serve.db").display()),
        };
        let mut command = Command::new(env!("CARGO_BIN_EXE_user-profile-service"));
        command
            .arg("serve")
            // Only what is set here: no `.env`, no variables of the developer's shell.
            .env_clear()
            .current_dir(dir.path())
            .envs([
                ("APP_ENV", "development"),
                ("HOST", "127.0.0.1"),
                ("PORT", &port.to_string()),
                ("DATA_DIR", &dir.path().display().to_string()),
                ("DATABASE_URL", &database_url),
                ("JWT_SECRET", SECRET),
                ("LOG_FORMAT", "json"),
                ("RUST_LOG", "info"),
            ])
            .envs(vars.iter().copied())
            // Under `.ci/coverage`, the binary's own lines count too.
            .envs(std::env::var_os("LLVM_PROFILE_FILE").map(|v| ("LLVM_PROFILE_FILE", v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().expect("the binary starts");
        let (tx, stdout) = channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            port,
            stdout,
            database_url,
            seen: Vec::new(),
            _dir: dir,
        };
        server.wait_until_ok(probe);
        server
    }

    /// Polls `GET {probe}` until it answers 200 (bounded).
    fn wait_until_ok(&mut self, probe: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the server exited during start-up: {status}");
            }
            if let Ok(response) = self.try_get(probe) {
                if response.starts_with("HTTP/1.1 200") {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{probe} did not answer 200 in 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn connect(&self) -> std::io::Result<TcpStream> {
        let stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        Ok(stream)
    }

    fn try_get(&self, path: &str) -> std::io::Result<String> {
        let mut stream = self.connect()?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        Ok(response)
    }

    /// Waits (bounded) for a JSON log line that satisfies `wanted`, and returns it.
    fn wait_for_log(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        if let Some(line) = self.seen.iter().filter_map(|l| json(l)).find(|l| wanted(l)) {
            return line;
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if let Some(value) = json(&line).filter(|v| wanted(v)) {
                        return value;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!("no log line {what} in 20 s"),
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("stdout closed before a log line {what}")
                }
            }
        }
    }

    fn send_signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (bounded) for the process to exit and returns its status.
    fn wait_for_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "still running after {limit:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything the process wrote to stdout (after it exited, or so far).
    fn all_output(&mut self) -> String {
        while let Ok(line) = self.stdout.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn json(line: &str) -> Option<Value> {
    serde_json::from_str(line).ok()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A URL whose connections use a new, empty schema of their own.
fn postgres_schema_url(url: &str) -> String {
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut admin)
            .await
            .unwrap();
    });
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}

fn token(sub: &str) -> String {
    let claims = Claims {
        sub: sub.into(),
        exp: unix_now() + 600,
        nbf: None,
        iat: Some(unix_now()),
        roles: vec!["user".into()],
        scope: None,
        iss: None,
        aud: None,
        // A fresh login, as the `token` command mints: some tests change the email with it.
        auth_time: Some(unix_now()),
    };
    mint_hs256(SECRET, &claims).unwrap()
}

/// Reads until the end of one response head (`\r\n\r\n`); returns the head.
fn read_head(stream: &mut TcpStream) -> String {
    try_read_head(stream).expect("a whole head arrives")
}

/// Reads until the end of one head (`\r\n\r\n`); `None` when the connection ends first.
fn try_read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    String::from_utf8(head).ok()
}

/// Splits a complete HTTP/1.1 response into its status, head and body, checking the body is whole.
fn parse_response(raw: &[u8]) -> (u16, String, Vec<u8>) {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let body = raw[split + 4..].to_vec();
    let status = head[9..12].parse().unwrap();
    let length: usize = header(&head, "content-length")
        .expect("content-length")
        .parse()
        .unwrap();
    assert_eq!(body.len(), length, "the body arrived whole");
    (status, head, body)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_refuses_new_connections_and_exits_0() {
    let mut server = Server::start(&[]);
    let serving = server.wait_for_log("about serving", |l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("serving"))
    });
    #[allow(
        clippy::disallowed_methods,
        reason = "the suite's own TEST_DATABASE_URL, not a service setting"
    )]
    let backend = if std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(serving["database"], backend);
    let token = token("shutdown-u1");
    let body = br#"{"email": "shutdown.canary@example.com", "display_name": "Shutdown"}"#;
    let (first, rest) = body.split_at(body.len() / 2);
    let mut stream = server.connect().unwrap();
    write!(
        stream,
        "PUT /api/v1/profiles/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    )
    .unwrap();
    // `100 Continue` comes when the handler starts reading the body: the request is in flight.
    let interim = read_head(&mut stream);
    assert!(interim.starts_with("HTTP/1.1 100"), "{interim}");
    stream.write_all(first).unwrap();

    server.send_signal("-TERM");
    server.wait_for_log("about the shutdown signal", |l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("shutdown signal received"))
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.connect().is_ok() {
        assert!(
            Instant::now() < deadline,
            "new connections are still accepted 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    stream.write_all(rest).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let _ = stream.shutdown(Shutdown::Both);

    let (status, head, body) = parse_response(&raw);
    assert_eq!(status, 201, "{head}");
    let profile: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(profile["user_id"], "shutdown-u1");
    assert_eq!(profile["email"], "shutdown.canary@example.com");
    let exit = server.wait_for_exit(Duration::from_secs(30));
    assert!(exit.success(), "exit status {exit}");

    let request_id = header(&head, "x-request-id").unwrap().to_string();
    let line = server.wait_for_log("for the PUT", |l| {
        l["message"] == "request answered" && l["span"]["request_id"] == request_id.as_str()
    });
    assert_eq!(line["status"], 201);
    assert_eq!(line["span"]["method"], "PUT");
    assert_eq!(line["span"]["route"], "/api/v1/profiles/me");
    assert_eq!(line["span"]["user_id"], "shutdown-u1");
    assert!(line["latency_ms"].is_number());
    server.wait_for_log("saying it stopped", |l| l["message"] == "stopped");
    let output = server.all_output();
    assert!(!output.contains("shutdown.canary"), "{output}");
    assert!(!output.contains(&token), "{output}");
    assert!(!output.contains(SECRET), "{output}");
}

#[test]
fn sigint_stops_an_idle_server_with_status_0() {
    let mut server = Server::start(&[]);

    server.send_signal("-INT");

    let exit = server.wait_for_exit(Duration::from_secs(30));
    assert!(exit.success(), "exit status {exit}");
    server.wait_for_log("saying it stopped", |l| l["message"] == "stopped");
}

#[test]
fn pretty_logs_written_to_a_pipe_carry_no_colour_codes() {
    let mut server = Server::start(&[("LOG_FORMAT", "pretty")]);
    server.try_get("/health").unwrap();

    server.send_signal("-INT");
    let exit = server.wait_for_exit(Duration::from_secs(30));

    assert!(exit.success(), "exit status {exit}");
    let output = server.all_output();
    assert!(output.contains("stopped"), "{output}");
    assert!(!output.contains('\u{1b}'), "{output:?}");
}

#[test]
fn a_client_whose_request_outlives_the_time_limit_receives_a_503_problem() {
    let server = Server::start(&[("REQUEST_TIMEOUT_SECONDS", "1")]);
    let token = token("timeout-u1");
    let mut stream = server.connect().unwrap();

    // Half a body, then silence: the handler waits for the rest until the limit cuts it off.
    write!(
        stream,
        "PUT /api/v1/profiles/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"email\": \"slow@example.com\","
    )
    .unwrap();
    let head = read_head(&mut stream);

    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    assert_eq!(
        header(&head, "content-type"),
        Some("application/problem+json")
    );
    assert_eq!(header(&head, "retry-after"), Some("1"));
    let length: usize = header(&head, "content-length").unwrap().parse().unwrap();
    let mut body = vec![0; length];
    stream.read_exact(&mut body).unwrap();
    let problem: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["code"], "request_timeout");
    assert_eq!(
        problem["request_id"],
        header(&head, "x-request-id").unwrap()
    );
}

/// Sends `GET path` on a kept-alive connection and reads its whole answer; returns the head.
fn get_kept_alive(stream: &mut TcpStream, path: &str) -> String {
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let head = read_head(stream);
    let length: usize = header(&head, "content-length").unwrap().parse().unwrap();
    let mut body = vec![0; length];
    stream.read_exact(&mut body).unwrap();
    head
}

/// True when the server has closed `stream` (end of file or reset); false when it is open and silent for
/// `wait`. Panics if the server sends anything.
fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(0) => true,
        Ok(n) => panic!(
            "the server answered: {}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
        Err(e) if e.kind() == ErrorKind::ConnectionReset => true,
        Err(e) => panic!("unexpected read error: {e}"),
    }
}

#[test]
fn a_client_that_sends_its_headers_slowly_is_cut_off_after_the_header_read_timeout() {
    let server = Server::start(&[
        ("HTTP_HEADER_READ_TIMEOUT_SECONDS", "1"),
        ("HTTP_IDLE_TIMEOUT_SECONDS", "60"),
    ]);
    let mut stream = server.connect().unwrap();
    write!(stream, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n").unwrap();

    // One header line every 100 ms, never the blank line that ends them; bounded at 20 s.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut lines = 0;
    loop {
        assert!(
            Instant::now() < deadline,
            "still open after {lines} header lines"
        );
        if write!(stream, "X-Slow-{lines}: 1\r\n").is_err()
            || closed_within(&mut stream, Duration::from_millis(100))
        {
            break;
        }
        lines += 1;
    }
}

#[test]
fn a_kept_alive_connection_may_idle_past_the_header_read_timeout_until_the_idle_timeout() {
    let server = Server::start(&[
        ("HTTP_HEADER_READ_TIMEOUT_SECONDS", "1"),
        ("HTTP_IDLE_TIMEOUT_SECONDS", "5"),
    ]);
    let mut stream = server.connect().unwrap();
    let first = get_kept_alive(&mut stream, "/health");

    // Idle for twice the header read timeout, well within the idle timeout.
    std::thread::sleep(Duration::from_secs(2));
    let second = get_kept_alive(&mut stream, "/health");

    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");
    assert!(
        closed_within(&mut stream, Duration::from_secs(20)),
        "the idle connection is closed after the idle timeout"
    );
}

#[test]
fn beyond_the_connection_cap_a_new_connection_waits_until_one_closes() {
    let mut server = Server::start(&[("HTTP_MAX_CONNECTIONS", "1")]);
    let mut holder = server.connect().unwrap();
    let held = get_kept_alive(&mut holder, "/health");
    assert!(held.starts_with("HTTP/1.1 200"), "{held}");

    let mut waiting = server.connect().expect("the listen queue takes it");
    write!(
        waiting,
        "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    server.wait_for_log("about the connection limit", |l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("connection limit reached"))
    });
    assert!(
        !closed_within(&mut waiting, Duration::from_millis(500)),
        "not served while the only slot is taken"
    );

    drop(holder);
    waiting
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut response = String::new();
    waiting.read_to_string(&mut response).unwrap();

    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

/// One `PUT /api/v1/profiles/me` on a fresh connection: the status, or `None` when the server did not answer.
fn put_profile(port: u16, token: &str, display_name: &str) -> Option<u16> {
    let body =
        format!(r#"{{"email":"{display_name}@example.com","display_name":"{display_name}"}}"#);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "PUT /api/v1/profiles/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let head = String::from_utf8_lossy(&raw);
    head.get(9..12)?.parse().ok()
}

#[test]
#[allow(
    clippy::disallowed_methods,
    reason = "the suite's own TEST_DATABASE_URL, not a service setting"
)]
fn a_server_killed_with_sigkill_under_concurrent_writes_keeps_every_acknowledged_write() {
    use std::sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    };
    // Both runs share one database and data directory.
    let dir = tempfile::tempdir().unwrap();
    let database_url = match std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(url) => postgres_schema_url(&url),
        None => format!("sqlite:{}?mode=rwc", dir.path().join("crash.db").display()),
    };
    let data_dir = dir.path().display().to_string();
    let vars = [
        ("DATABASE_URL", database_url.as_str()),
        ("DATA_DIR", data_dir.as_str()),
    ];
    let mut server = Server::start(&vars);
    let port = server.port;

    // Eight writers, one user each, each counting up; `acked[w]` is the last number the server answered 2xx to.
    let writers = 8;
    let acked: Arc<Vec<AtomicU64>> = Arc::new((0..writers).map(|_| AtomicU64::new(0)).collect());
    let total = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..writers)
        .map(|w| {
            let (acked, total, stop) = (acked.clone(), total.clone(), stop.clone());
            std::thread::spawn(move || {
                let token = token(&format!("crash-{w}"));
                for n in 1.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    match put_profile(port, &token, &format!("w{w}n{n}")) {
                        Some(200 | 201) => {
                            acked[w].store(n, Ordering::SeqCst);
                            total.fetch_add(1, Ordering::SeqCst);
                        }
                        Some(status) => panic!("writer {w}: status {status}"),
                        None => break,
                    }
                }
            })
        })
        .collect();

    // Kill mid-load, once every writer has been acknowledged a few times.
    let deadline = Instant::now() + Duration::from_secs(60);
    while total.load(Ordering::SeqCst) < 400 || acked.iter().any(|a| a.load(Ordering::SeqCst) < 10)
    {
        assert!(Instant::now() < deadline, "the writers made no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    stop.store(true, Ordering::SeqCst);
    for thread in threads {
        thread.join().unwrap();
    }

    // The restarted server holds, for every user, the last acknowledged write or one after it (in flight at
    // the kill), never an older one.
    let server = Server::start(&vars);
    for (w, acked) in acked.iter().enumerate() {
        let acked = acked.load(Ordering::SeqCst);
        let mut stream = server.connect().unwrap();
        write!(
            stream,
            "GET /api/v1/profiles/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
             Connection: close\r\n\r\n",
            token(&format!("crash-{w}"))
        )
        .unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let (status, _, body) = parse_response(&raw);
        assert_eq!(status, 200, "writer {w}");
        let profile: Value = serde_json::from_slice(&body).unwrap();
        let stored: u64 = profile["display_name"].as_str().unwrap()[format!("w{w}n").len()..]
            .parse()
            .unwrap();
        assert!(
            stored == acked || stored == acked + 1,
            "writer {w}: acknowledged {acked}, stored {stored}"
        );
    }
}

/// Sends one request on a connection of its own and returns it, without waiting for the answer.
fn send_put_profile(server: &Server, token: &str, body: &str) -> TcpStream {
    let mut stream = server.connect().unwrap();
    write!(
        stream,
        "PUT /api/v1/profiles/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    stream
}

#[test]
fn sigterm_with_a_write_stuck_on_a_row_lock_exits_0_within_the_shutdown_timeout() {
    #[allow(
        clippy::disallowed_methods,
        reason = "the suite's own TEST_DATABASE_URL, not a service setting"
    )]
    if !std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
        eprintln!(
            "skipped: needs TEST_DATABASE_URL (a row lock held by another PostgreSQL session)"
        );
        return;
    }
    let mut server = Server::start(&[
        ("SHUTDOWN_TIMEOUT_SECONDS", "2"),
        ("REQUEST_TIMEOUT_SECONDS", "120"),
    ]);
    let token = token("stuck-u1");
    let mut created = send_put_profile(
        &server,
        &token,
        r#"{"email": "stuck@example.com", "display_name": "Before"}"#,
    );
    let mut raw = Vec::new();
    created.read_to_end(&mut raw).unwrap();
    assert_eq!(parse_response(&raw).0, 201);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut lock = runtime.block_on(async {
        use sqlx::Connection;
        let mut lock = sqlx::PgConnection::connect(&server.database_url)
            .await
            .unwrap();
        sqlx::query("BEGIN").execute(&mut lock).await.unwrap();
        sqlx::query("SELECT 1 FROM profiles WHERE user_id = 'stuck-u1' FOR UPDATE")
            .execute(&mut lock)
            .await
            .unwrap();
        lock
    });
    let mut stuck = send_put_profile(
        &server,
        &token,
        r#"{"email": "stuck@example.com", "display_name": "After"}"#,
    );
    runtime.block_on(wait_for_a_lock_wait(&mut lock));

    let signalled = Instant::now();
    server.send_signal("-TERM");
    let exit = server.wait_for_exit(Duration::from_secs(4));
    let took = signalled.elapsed();

    assert!(exit.success(), "exit status {exit}");
    assert!(
        took < Duration::from_millis(3500),
        "exited {took:?} after SIGTERM"
    );
    server.wait_for_log("about abandoned connections", |l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.contains("were abandoned"))
    });
    let mut answer = Vec::new();
    let _ = stuck.read_to_end(&mut answer);
    assert!(
        !answer.starts_with(b"HTTP/1.1 2"),
        "the stuck write was acknowledged"
    );
    let display_name: String = runtime.block_on(async {
        sqlx::query("ROLLBACK").execute(&mut lock).await.unwrap();
        sqlx::query_scalar("SELECT display_name FROM profiles WHERE user_id = 'stuck-u1'")
            .fetch_one(&mut lock)
            .await
            .unwrap()
    });
    assert_eq!(display_name, "Before");
}

/// Polls (bounded) until a session of this database waits for a lock: the service's write is then stuck.
async fn wait_for_a_lock_wait(conn: &mut sqlx::PgConnection) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the write did not reach the lock in 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The throwaway cluster of `.ci/pg-throwaway` (port 5435), stopped and started by the fault tests: one test
/// at a time holds it, and it is started again on drop, however the test ends.
struct ThrowawayCluster(
    #[allow(dead_code, reason = "held for its Drop")] std::sync::MutexGuard<'static, ()>,
);

impl ThrowawayCluster {
    const URL: &str = "postgres://postgres@127.0.0.1:5435/test";

    /// Waits for the other fault tests to finish with the cluster, then starts it.
    fn take() -> ThrowawayCluster {
        static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let guard = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Self::run("start");
        ThrowawayCluster(guard)
    }

    fn run(action: &str) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/pg-throwaway");
        let status = Command::new(script).arg(action).status().unwrap();
        assert!(status.success(), ".ci/pg-throwaway {action}: {status}");
    }
}

impl Drop for ThrowawayCluster {
    fn drop(&mut self) {
        Self::run("start");
    }
}

/// One request on a connection of its own: its status, head and how long the answer took.
fn timed_request(
    server: &Server,
    method: &str,
    token: &str,
    body: &str,
) -> (u16, String, Duration) {
    let started = Instant::now();
    let (status, head, _) = send(server, method, token, &[], body);
    (status, head, started.elapsed())
}

/// One request to `/api/v1/profiles/me` with more `headers`, on a connection of its own: status, head, body.
fn send(
    server: &Server,
    method: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, Vec<u8>) {
    let mut stream = server.connect().unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        stream,
        "{method} /api/v1/profiles/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         {extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    parse_response(&raw)
}

#[test]
fn a_database_outage_is_answered_503_at_once_and_writes_resume_when_it_is_back() {
    #[allow(
        clippy::disallowed_methods,
        reason = "the suite's own gate, not a service setting"
    )]
    if std::env::var("TEST_PG_FAULTS").as_deref() != Ok("1") {
        eprintln!(
            "skipped: set TEST_PG_FAULTS=1 with `.ci/pg-throwaway start` (PostgreSQL on 5435) to run it"
        );
        return;
    }
    let cluster = ThrowawayCluster::take();
    let url = postgres_schema_url(ThrowawayCluster::URL);
    let mut server = Server::start(&[("DATABASE_URL", &url)]);
    let token = token("outage-u1");
    let write =
        |name: &str| format!(r#"{{"email": "outage@example.com", "display_name": "{name}"}}"#);
    assert_eq!(
        timed_request(&server, "PUT", &token, &write("Before")).0,
        201
    );

    ThrowawayCluster::run("stop");
    let down = Instant::now();
    // The first requests may still wait for the pool; once the probe has seen the outage, none does.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, _, took) = timed_request(&server, "GET", &token, "");
        if status == 503 && took < Duration::from_secs(1) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no fast 503 within 15 s of the outage"
        );
    }
    let detected = down.elapsed();
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let (status, head, took) = timed_request(&server, "PUT", &token, &write("During"));
        assert_eq!(status, 503, "{head}");
        assert_eq!(header(&head, "retry-after"), Some("1"), "{head}");
        slowest = slowest.max(took);
    }
    let ready = server.try_get("/health/ready").unwrap();
    let alive = server.try_get("/health").unwrap();

    assert!(slowest < Duration::from_secs(1), "a 503 took {slowest:?}");
    assert!(ready.starts_with("HTTP/1.1 503"), "{ready}");
    assert!(alive.starts_with("HTTP/1.1 200"), "{alive}");

    ThrowawayCluster::run("start");
    let back = Instant::now();
    let deadline = back + Duration::from_secs(30);
    while timed_request(&server, "PUT", &token, &write("After")).0 != 200 {
        assert!(
            Instant::now() < deadline,
            "writes did not resume within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let recovered = back.elapsed();
    eprintln!(
        "outage: fast 503s {detected:?} after the stop, slowest of 20 {slowest:?}; writes resumed {recovered:?} after the start"
    );
    assert!(
        server
            .try_get("/health/ready")
            .unwrap()
            .starts_with("HTTP/1.1 200")
    );
    server.send_signal("-TERM");
    assert!(server.wait_for_exit(Duration::from_secs(30)).success());
    drop(cluster);
}

#[test]
fn a_server_started_while_the_database_is_down_serves_once_it_comes_up() {
    #[allow(
        clippy::disallowed_methods,
        reason = "the suite's own gate, not a service setting"
    )]
    if std::env::var("TEST_PG_FAULTS").as_deref() != Ok("1") {
        eprintln!(
            "skipped: set TEST_PG_FAULTS=1 with `.ci/pg-throwaway start` (PostgreSQL on 5435) to run it"
        );
        return;
    }
    let cluster = ThrowawayCluster::take();
    let url = postgres_schema_url(ThrowawayCluster::URL);
    ThrowawayCluster::run("stop");

    let server = Server::launch(&[("DATABASE_URL", &url)], "/health");
    let token = token("late-u1");
    let (status, head, took) = timed_request(&server, "GET", &token, "");
    let ready = server.try_get("/health/ready").unwrap();

    assert_eq!(status, 503, "{head}");
    assert!(took < Duration::from_secs(1), "the 503 took {took:?}");
    assert!(ready.starts_with("HTTP/1.1 503"), "{ready}");

    ThrowawayCluster::run("start");
    let back = Instant::now();
    let body = r#"{"email": "late@example.com", "display_name": "Late"}"#;
    let deadline = back + Duration::from_secs(30);
    while timed_request(&server, "PUT", &token, body).0 != 201 {
        assert!(
            Instant::now() < deadline,
            "no write within 30 s of the database starting"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "start-up while down: first write {:?} after the database started",
        back.elapsed()
    );
    assert!(
        server
            .try_get("/health/ready")
            .unwrap()
            .starts_with("HTTP/1.1 200")
    );
    drop(cluster);
}

/// The NATS server of the relay tests, or `None` (with a note) when `TEST_NATS_URL` is not set.
#[allow(
    clippy::disallowed_methods,
    reason = "the suite's own TEST_NATS_URL, not a service setting"
)]
fn nats_url() -> Option<String> {
    let url = std::env::var("TEST_NATS_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!("note: TEST_NATS_URL is not set; the relay crash test is skipped");
    }
    url
}

/// Messages in `stream` (0 while it does not exist yet).
async fn stream_messages(js: &async_nats::jetstream::Context, stream: &str) -> u64 {
    match js.get_stream(stream).await {
        Ok(mut stream) => stream.info().await.map_or(0, |i| i.state.messages),
        Err(_) => 0,
    }
}

/// How far the relay had marked the feed as published, read from the database.
async fn published_through(database_url: &str) -> u64 {
    const SQL: &str = "SELECT position FROM outbox_cursors WHERE name = 'published'";
    let position: i64 = if database_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(database_url).await.unwrap();
        sqlx::query_scalar(SQL).fetch_one(&pool).await.unwrap()
    } else {
        let pool = sqlx::PgPool::connect(database_url).await.unwrap();
        sqlx::query_scalar(SQL).fetch_one(&pool).await.unwrap()
    };
    u64::try_from(position).unwrap()
}

/// The `outbox_publish_total{outcome="duplicate"}` a server reports.
fn duplicates_reported(server: &Server) -> u64 {
    let metrics = server.try_get("/metrics").unwrap();
    metrics
        .lines()
        .find(|l| l.starts_with("outbox_publish_total{outcome=\"duplicate\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
#[allow(
    clippy::disallowed_methods,
    reason = "the suite's own TEST_DATABASE_URL, not a service setting"
)]
fn a_relay_killed_between_publishing_and_marking_delivers_no_duplicate() {
    let Some(nats) = nats_url() else { return };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let js = runtime
        .block_on(async {
            async_nats::connect(&nats)
                .await
                .map(async_nats::jetstream::new)
        })
        .expect("NATS answers at TEST_NATS_URL");
    let dir = tempfile::tempdir().unwrap();
    let database_url = match std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(url) => postgres_schema_url(&url),
        None => format!("sqlite:{}?mode=rwc", dir.path().join("relay.db").display()),
    };
    let stream = format!("T_{}", uuid::Uuid::new_v4().simple());
    let data_dir = dir.path().display().to_string();
    let common = [
        ("DATABASE_URL", database_url.as_str()),
        ("DATA_DIR", data_dir.as_str()),
        ("NATS_STREAM", stream.as_str()),
        ("NATS_SUBJECT_PREFIX", "crash_test"),
    ];

    // A backlog of 2,000 events, written while NATS cannot be reached.
    let writing = Server::start(&[&common[..], &[("NATS_URL", "nats://127.0.0.1:1")]].concat());
    let port = writing.port;
    let threads: Vec<_> = (0..4)
        .map(|w| {
            std::thread::spawn(move || {
                let token = token(&format!("relay-{w}"));
                for n in 0..500 {
                    assert_eq!(
                        put_profile(port, &token, &format!("r{w}n{n}")),
                        Some(if n == 0 { 201 } else { 200 })
                    );
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    drop(writing);

    // The relay starts publishing the backlog and is killed as soon as the stream holds any of it: in the
    // middle of a batch, published but not yet marked.
    let vars = [&common[..], &[("NATS_URL", nats.as_str())]].concat();
    let mut relaying = Server::start(&vars);
    let deadline = Instant::now() + Duration::from_secs(30);
    while runtime.block_on(stream_messages(&js, &stream)) == 0 {
        assert!(Instant::now() < deadline, "nothing was published in 30 s");
        std::thread::sleep(Duration::from_millis(2));
    }
    relaying.child.kill().unwrap();
    relaying.child.wait().unwrap();
    let published_at_kill = runtime.block_on(stream_messages(&js, &stream));
    let marked_at_kill = runtime.block_on(published_through(&database_url));

    let finishing = Server::start(&vars);
    let deadline = Instant::now() + Duration::from_secs(60);
    while runtime.block_on(stream_messages(&js, &stream)) < 2000 {
        assert!(
            Instant::now() < deadline,
            "the backlog was not delivered in 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));

    // Every event once in the stream, and the restarted relay did publish again what the killed one had not
    // marked (the server dropped those by `Nats-Msg-Id`).
    let in_stream = runtime.block_on(stream_messages(&js, &stream));
    assert_eq!(in_stream, 2000, "each event exactly once");
    let ids: std::collections::BTreeSet<String> = runtime.block_on(async {
        let stream = js.get_stream(&stream).await.unwrap();
        let mut ids = std::collections::BTreeSet::new();
        for seq in 1..=in_stream {
            let message = stream.get_raw_message(seq).await.unwrap();
            let event: Value = serde_json::from_slice(&message.payload).unwrap();
            ids.insert(event["id"].as_str().unwrap().to_string());
        }
        ids
    });
    assert_eq!(ids.len(), 2000, "no event twice");
    assert!(
        published_at_kill < 2000,
        "the kill came after the whole backlog"
    );
    // What was published but not marked at the kill was published again, and dropped by the server.
    let unmarked = published_at_kill - marked_at_kill;
    assert!(
        duplicates_reported(&finishing) >= unmarked,
        "{unmarked} events were published but not marked at the kill"
    );
    eprintln!("relay crash: {published_at_kill} published, {marked_at_kill} marked at the kill");
    let _ = runtime.block_on(js.delete_stream(&stream));
}

// ---------------------------------------------------------------------------------------------------------
// Traces exported over OTLP/HTTP (docs/operations.md#traces), received by a collector of the test's own
// ---------------------------------------------------------------------------------------------------------

#[path = "api/support/mod.rs"]
#[allow(unused_imports)]
mod support;

mod traces {
    use std::{
        collections::BTreeMap,
        sync::{Arc, Mutex},
    };

    use jsonwebtoken::Algorithm;
    use opentelemetry_proto::tonic::{
        collector::trace::v1::ExportTraceServiceRequest,
        common::v1::{AnyValue, KeyValue, any_value::Value as Any},
    };
    use prost::Message;
    use serde_json::json;

    use super::{
        support::fake_auth::{FakeAuth, VERIFY_PATH, Verify, sign},
        *,
    };

    /// The caller's span, as a front end would send it, and the same trace unsampled.
    const CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const UNSAMPLED: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
    const SPAN_KIND_SERVER: i32 = 2;

    /// One span as the collector received it; ids in hex, attribute values as text.
    #[derive(Debug, Clone)]
    struct Exported {
        trace_id: String,
        span_id: String,
        parent_span_id: String,
        name: String,
        kind: i32,
        attributes: BTreeMap<String, String>,
        resource: BTreeMap<String, String>,
    }

    /// An OTLP/HTTP collector on an ephemeral port: decodes each export (protobuf) and keeps its spans, and
    /// notes any request that is not a valid export.
    struct Collector {
        endpoint: String,
        spans: Arc<Mutex<Vec<Exported>>>,
        problems: Arc<Mutex<Vec<String>>>,
    }

    impl Collector {
        fn start() -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let endpoint = format!("http://{}", listener.local_addr().unwrap());
            let (spans, problems) = (Arc::default(), Arc::default());
            let kept = (Arc::clone(&spans), Arc::clone(&problems));
            std::thread::spawn(move || {
                for stream in listener.incoming().map_while(Result::ok) {
                    let (spans, problems) = (Arc::clone(&kept.0), Arc::clone(&kept.1));
                    std::thread::spawn(move || receive(stream, &spans, &problems));
                }
            });
            Collector {
                endpoint,
                spans,
                problems,
            }
        }

        fn spans(&self) -> Vec<Exported> {
            let problems = self.problems.lock().unwrap();
            assert!(problems.is_empty(), "{problems:?}");
            self.spans.lock().unwrap().clone()
        }
    }

    /// Answers the export requests of one connection, until the exporter closes it.
    fn receive(mut stream: TcpStream, spans: &Mutex<Vec<Exported>>, problems: &Mutex<Vec<String>>) {
        while let Some(head) = try_read_head(&mut stream) {
            let length = header(&head, "content-length").and_then(|l| l.parse().ok());
            let mut body = vec![0; length.unwrap_or(0)];
            if stream.read_exact(&mut body).is_err() {
                return;
            }
            let decoded = ExportTraceServiceRequest::decode(body.as_slice());
            match decoded {
                Ok(request)
                    if head.starts_with("POST /v1/traces HTTP/1.1")
                        && header(&head, "content-type") == Some("application/x-protobuf") =>
                {
                    spans.lock().unwrap().extend(flatten(request));
                }
                _ => problems.lock().unwrap().push(head),
            }
            let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
            if stream.write_all(answer.as_bytes()).is_err() {
                return;
            }
        }
    }

    fn flatten(request: ExportTraceServiceRequest) -> Vec<Exported> {
        let mut out = Vec::new();
        for resource_spans in request.resource_spans {
            let resource = texts(
                resource_spans
                    .resource
                    .map(|r| r.attributes)
                    .unwrap_or_default(),
            );
            for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                out.push(Exported {
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    name: span.name,
                    kind: span.kind,
                    attributes: texts(span.attributes),
                    resource: resource.clone(),
                });
            }
        }
        out
    }

    fn texts(attributes: Vec<KeyValue>) -> BTreeMap<String, String> {
        let text = |value: Option<AnyValue>| match value.and_then(|v| v.value) {
            Some(Any::StringValue(s)) => s,
            Some(Any::IntValue(i)) => i.to_string(),
            Some(Any::BoolValue(b)) => b.to_string(),
            Some(Any::DoubleValue(d)) => d.to_string(),
            other => format!("{other:?}"),
        };
        attributes
            .into_iter()
            .map(|kv| (kv.key, text(kv.value)))
            .collect()
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[track_caller]
    fn named<'s>(spans: &'s [Exported], name: &str) -> &'s Exported {
        spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no span {name} in {spans:#?}"))
    }

    fn remote_only_token(sub: &str) -> String {
        let claims = Claims {
            sub: sub.into(),
            exp: unix_now() + 600,
            nbf: None,
            iat: Some(unix_now()),
            roles: vec!["user".into()],
            scope: None,
            iss: None,
            aud: None,
            auth_time: Some(unix_now()),
        };
        // RS384: no local key serves it, so the auth service is asked.
        sign(Algorithm::RS384, "rsa-1", None, &claims)
    }

    #[test]
    fn an_exported_request_is_the_child_of_the_callers_span_with_its_auth_call_and_transaction() {
        let collector = Collector::start();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let fake = runtime.block_on(FakeAuth::start(&[]));
        fake.answer(Verify::Valid(
            json!({"user_id": "otel-user", "roles": ["user"]}),
        ));
        let mut server = Server::start(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint.as_str()),
            ("OTEL_SERVICE_NAME", "profiles-under-test"),
            ("AUTH_SERVICE_URL", fake.url.as_str()),
        ]);
        let token = remote_only_token("otel-user");
        let body = r#"{"email":"otel.canary@example.com","display_name":"Zebulon Quixote","first_name":"Zebulon","last_name":"Quixote"}"#;

        let (status, head, _) = send(&server, "PUT", &token, &[("traceparent", CALLER)], body);
        let (unsampled, _, _) = send(&server, "GET", &token, &[("traceparent", UNSAMPLED)], "");
        server.send_signal("-TERM");
        assert!(server.wait_for_exit(Duration::from_secs(20)).success());

        assert_eq!((status, unsampled), (201, 200));
        let spans = collector.spans();
        let request = named(&spans, "PUT /api/v1/profiles/me");
        assert_eq!(request.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(
            request.parent_span_id, "00f067aa0ba902b7",
            "the caller's span is the parent"
        );
        assert_eq!(request.kind, SPAN_KIND_SERVER);
        assert_eq!(request.attributes["http.route"], "/api/v1/profiles/me");
        assert_eq!(request.attributes["http.response.status_code"], "201");
        assert_eq!(
            request.attributes["request_id"],
            header(&head, "x-request-id").unwrap()
        );
        assert_eq!(request.resource["service.name"], "profiles-under-test");
        // Only what operators need: no source locations, threads or log targets.
        for noise in ["code.file.path", "thread.id", "target"] {
            assert!(!request.attributes.contains_key(noise), "{request:?}");
        }
        for child in ["auth verify", "db.transaction"] {
            let child = named(&spans, child);
            assert_eq!(child.trace_id, request.trace_id, "{child:?}");
            assert_eq!(child.parent_span_id, request.span_id, "{child:?}");
        }
        // The auth service was told which span called it.
        let auth = named(&spans, "auth verify");
        let sent = fake.last_trace(VERIFY_PATH).unwrap().traceparent.unwrap();
        assert_eq!(sent, format!("00-{}-{}-01", auth.trace_id, auth.span_id));
        // The caller chose not to record its trace: nothing of it is exported.
        assert!(
            !spans
                .iter()
                .any(|s| s.trace_id == "0af7651916cd43dd8448eb211c80319c")
        );
        // No attribute holds the token, the email, a name or the user id.
        for span in &spans {
            for value in span.attributes.values().chain(span.resource.values()) {
                for secret in [
                    token.as_str(),
                    "otel.canary",
                    "example.com",
                    "Zebulon",
                    "Quixote",
                    "otel-user",
                ] {
                    assert!(
                        !value.contains(secret),
                        "{} holds {secret}: {value}",
                        span.name
                    );
                }
            }
        }
        // The request's log line names the same trace and span: a log line leads to its trace.
        let line = server.wait_for_log("about the PUT", |l| {
            l["message"] == "request answered" && l["span"]["method"] == "PUT"
        });
        assert_eq!(line["span"]["trace_id"], request.trace_id.as_str());
        assert_eq!(line["span"]["span_id"], request.span_id.as_str());
    }

    #[test]
    fn a_published_event_is_exported_as_a_child_of_its_request_and_its_message_names_that_span() {
        let Some(nats) = nats_url() else { return };
        let collector = Collector::start();
        let stream = format!("T_{}", uuid::Uuid::new_v4().simple());
        let mut server = Server::start(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint.as_str()),
            ("NATS_URL", nats.as_str()),
            ("NATS_STREAM", stream.as_str()),
            ("NATS_SUBJECT_PREFIX", "otel_test"),
        ]);
        let body = r#"{"email":"otel.relay@example.com","display_name":"Relayed"}"#;

        let (status, _, _) = send(
            &server,
            "PUT",
            &token("otel-relay"),
            &[("traceparent", CALLER)],
            body,
        );
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let header = runtime.block_on(async {
            let js = async_nats::jetstream::new(async_nats::connect(&nats).await.unwrap());
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Ok(stream) = js.get_stream(&stream).await {
                    if let Ok(message) = stream.get_raw_message(1).await {
                        let _ = js
                            .delete_stream(stream.cached_info().config.name.as_str())
                            .await;
                        break message.headers.get("traceparent").map(ToString::to_string);
                    }
                }
                assert!(
                    Instant::now() < deadline,
                    "the event was not published in 30 s"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        server.send_signal("-TERM");
        assert!(server.wait_for_exit(Duration::from_secs(20)).success());

        assert_eq!(status, 201);
        let spans = collector.spans();
        let request = named(&spans, "PUT /api/v1/profiles/me");
        let publish = named(&spans, "publish otel_test.profile.created");
        assert_eq!(publish.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(
            publish.parent_span_id, request.span_id,
            "the request that wrote the event"
        );
        assert_eq!(publish.attributes["messaging.system"], "nats");
        // A consumer continues the trace from the publish span.
        let expected = format!("00-{}-{}-01", publish.trace_id, publish.span_id);
        assert_eq!(header.as_deref(), Some(expected.as_str()));
    }

    #[test]
    fn requests_succeed_while_the_collector_refuses_connections_or_never_answers() {
        let refusing = format!("http://127.0.0.1:{}", free_port());
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let hanging = format!("http://{}", silent.local_addr().unwrap());
        // Accepts connections and never reads or answers them.
        std::thread::spawn(move || {
            let held: Vec<_> = silent.incoming().map_while(Result::ok).collect();
            drop(held);
        });
        for endpoint in [refusing, hanging] {
            let mut server = Server::start(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
                ("OTEL_TRACES_SAMPLER", "always_on"),
            ]);
            let token = token("otel-down");
            // Enough spans to fill the exporter's queue (2,048) several times over.
            for n in 0..2500 {
                let (status, _, _) = send(&server, "GET", &token, &[], "");
                assert_eq!(status, 404, "request {n} with the collector at {endpoint}");
            }
            server.send_signal("-TERM");
            assert!(server.wait_for_exit(Duration::from_secs(20)).success());
        }
    }
}
