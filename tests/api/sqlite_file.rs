//! The SQLite data file (issue 12, item 9): created owner-only with its `-wal` and `-shm`, and erased rows
//! overwritten (`secure_delete`), so an erased profile leaves no bytes behind. SQLite only: the PostgreSQL
//! equivalent is an operations matter (docs/operations.md).

use std::path::PathBuf;

use serde_json::json;
use user_profile_service::db::{Pool, TxConn};

use crate::support::TestApp;

fn database_file(app: &TestApp) -> PathBuf {
    let url = app.state.config.database_url.expose();
    let path = url.strip_prefix("sqlite:").unwrap();
    PathBuf::from(path.split('?').next().unwrap())
}

fn with_suffix(path: &std::path::Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_file_and_its_wal_and_shm_are_created_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::spawn().await;
    if app.is_postgres() {
        return;
    }
    app.create_profile("u1", "u1@example.com").await;

    let file = database_file(&app);
    for path in [
        file.clone(),
        with_suffix(&file, "-wal"),
        with_suffix(&file, "-shm"),
    ] {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
    }
}

#[tokio::test]
async fn every_sqlite_connection_has_secure_delete_on() {
    let app = TestApp::spawn().await;
    let Pool::Sqlite(reader) = app.db.reader() else {
        return;
    };
    let TxConn::Sqlite(mut writer) = app.db.begin().await.unwrap().conn else {
        unreachable!("the reader is SQLite");
    };

    let on_writer: i64 = sqlx::query_scalar("PRAGMA secure_delete")
        .fetch_one(&mut *writer)
        .await
        .unwrap();
    let on_reader: i64 = sqlx::query_scalar("PRAGMA secure_delete")
        .fetch_one(reader)
        .await
        .unwrap();

    assert_eq!((on_writer, on_reader), (1, 1));
}

#[tokio::test]
async fn an_erased_profile_leaves_no_bytes_in_the_data_file() {
    let app = TestApp::spawn().await;
    let Pool::Sqlite(reader) = app.db.reader().clone() else {
        return;
    };
    let token = app.token("u1");
    let created = app
        .put_json(
            "/api/v1/profiles/me",
            &token,
            &json!({"email": "Quirinus.Zed@example.org", "display_name": "Quirinus Xylander"}),
        )
        .await;
    assert_eq!(created.status, 201);

    let erased = app.delete("/api/v1/profiles/me", &token).await;
    assert_eq!(erased.status, 204);
    // Copies the log into the file and empties it, as the background checkpoints and a clean shutdown do.
    let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(&reader)
        .await
        .unwrap();
    assert_eq!(busy, 0);

    let file = database_file(&app);
    let bytes = std::fs::read(&file).unwrap();
    let text = String::from_utf8_lossy(&bytes).to_lowercase();
    for value in ["quirinus.zed@example.org", "quirinus xylander"] {
        assert!(!text.contains(value), "`{value}` is still in the file");
    }
    assert_eq!(
        std::fs::metadata(with_suffix(&file, "-wal")).unwrap().len(),
        0
    );
}
