//! What an orchestrator relies on: `/metrics` on its own port (`METRICS_PORT`), and the drain before a stop
//! (`SHUTDOWN_DELAY_SECONDS`), checked on the real binary.

use super::*;

/// Status and body of a `GET` with `Connection: close`.
fn get(port: u16, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let (status, _, body) = parse_response(&raw);
    (status, String::from_utf8(body).unwrap())
}

#[test]
fn with_metrics_port_set_metrics_are_served_there_and_the_api_port_answers_404() {
    let metrics_port = free_port();
    let mut server = Server::start(&[("METRICS_PORT", &metrics_port.to_string())]);
    let serving = server.wait_for_log("about serving", |l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("serving"))
    });
    assert_eq!(
        serving["metrics_address"],
        format!("127.0.0.1:{metrics_port}")
    );

    let (api_status, api_body) = get(server.port, "/metrics");
    let (status, body) = get(metrics_port, "/metrics");
    let (other_status, _) = get(metrics_port, "/health");

    assert_eq!(api_status, 404, "{api_body}");
    let problem: Value = serde_json::from_str(&api_body).unwrap();
    assert_eq!(problem["code"], "not_found");
    assert_eq!(status, 200);
    // The probes the test made on the API port are counted; the scrape on the metrics port is not a request
    // of the API.
    assert!(
        body.contains(r#"http_requests_total{method="GET",route="/health/ready",status="200"}"#),
        "{body}"
    );
    assert!(body.contains("\ndatabase_available 1\n"), "{body}");
    assert!(!body.contains(r#"route="/metrics""#), "{body}");
    assert_eq!(other_status, 404);
    let (_, document) = get(server.port, "/api-docs/openapi.json");
    let document: Value = serde_json::from_str(&document).unwrap();
    assert!(document["paths"]["/metrics"].is_null());
    assert!(document["paths"]["/health/ready"].is_object());
}

#[test]
fn without_metrics_port_metrics_are_served_on_the_api_port() {
    let server = Server::start(&[]);

    let (status, body) = get(server.port, "/metrics");

    assert_eq!(status, 200);
    assert!(body.contains("\ndatabase_available 1\n"), "{body}");
}

#[test]
fn during_the_shutdown_delay_readiness_is_503_requests_are_served_and_connections_close_after_their_answer()
 {
    let metrics_port = free_port();
    let mut server = Server::start(&[
        ("SHUTDOWN_DELAY_SECONDS", "5"),
        ("METRICS_PORT", &metrics_port.to_string()),
    ]);
    let mut kept_alive = server.connect().unwrap();
    let before = get_kept_alive(&mut kept_alive, "/health");
    assert_eq!(header(&before, "connection"), None, "{before}");

    server.send_signal("-TERM");
    server.wait_for_log("about draining", |l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("shutdown signal received; draining"))
    });
    let (ready_status, ready_body) = get(server.port, "/health/ready");
    let (health_status, _) = get(server.port, "/health");
    let (metrics_status, _) = get(metrics_port, "/metrics");
    let during = get_kept_alive(&mut kept_alive, "/health");

    assert_eq!(ready_status, 503, "{ready_body}");
    let readiness: Value = serde_json::from_str(&ready_body).unwrap();
    assert_eq!(readiness["status"], "draining");
    assert_eq!(health_status, 200);
    assert_eq!(metrics_status, 200);
    assert!(during.starts_with("HTTP/1.1 200"), "{during}");
    assert_eq!(header(&during, "connection"), Some("close"), "{during}");
    assert!(closed_within(&mut kept_alive, Duration::from_secs(5)));
    server.wait_for_log("about the end of the delay", |l| {
        l["message"] == "shutdown delay over; finishing in-flight requests"
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.connect().is_ok() {
        assert!(
            Instant::now() < deadline,
            "new connections are still accepted 10 s after the delay"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let exit = server.wait_for_exit(Duration::from_secs(30));
    assert!(exit.success(), "exit status {exit}");
}

#[test]
fn with_run_migrations_false_the_server_is_not_ready_until_migrate_has_run() {
    let mut server = Server::launch(&[("RUN_MIGRATIONS", "false")], "/health");
    server.wait_for_log("about the missing migrations", |l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("RUN_MIGRATIONS=false and migrations of this release"))
    });
    let (not_ready, body) = get(server.port, "/health/ready");
    assert_eq!(not_ready, 503, "{body}");
    let (api_status, _) = get(server.port, "/api/v1/profiles/me");
    assert_eq!(api_status, 503);
    let (_, metrics) = get(server.port, "/metrics");
    assert!(metrics.contains("\ndatabase_available 0\n"), "{metrics}");

    let workdir = tempfile::tempdir().unwrap();
    let migrate = Command::new(env!("CARGO_BIN_EXE_user-profile-service"))
        .arg("migrate")
        .env_clear()
        .envs([
            ("DATABASE_URL", server.database_url.as_str()),
            ("JWT_SECRET", SECRET),
            ("LOG_FORMAT", "json"),
        ])
        .current_dir(workdir.path())
        .output()
        .unwrap();

    assert!(migrate.status.success(), "{migrate:?}");
    server.wait_until_ok("/health/ready");
    server.wait_for_log("saying it serves", |l| {
        l["message"] == "database reached; serving API requests"
    });
    let (_, metrics) = get(server.port, "/metrics");
    assert!(metrics.contains("\ndatabase_available 1\n"), "{metrics}");
}
