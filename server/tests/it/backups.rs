//! Backups that restore, on the run's database and blob store (SQLite + local files, PostgreSQL + S3): made
//! while serving, verified by the operator's command, restored into an empty place where the tenant signs in,
//! every file decrypts byte-equal and every chain verifies; a damaged byte is named; a used target is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::keys::{api_get, create_key};
use crate::common::vault::{body, content, upload};
use crate::common::{self, TestApp};
use reqwest::StatusCode;
use server::backup::BackupError;
use server::startup::config::Settings;

/// A backup key of the operator's own (so the backup carries the master keys).
const BACKUP_KEY: &str = "q0Xz8m3nF6yT2vB9cL4wR7aK1pD5sH0jG3eU8iO6tYc=";

/// Settings for an empty place to restore into: new data folder, database and bucket, no master key.
async fn empty_target(from: &Settings, dir: &std::path::Path) -> Settings {
    let mut s = from.clone();
    s.data_dir = dir.to_path_buf();
    s.database_url = common::database_url(dir).await;
    s.master_key = None;
    s.master_key_file = None;
    common::use_test_bucket(&mut s).await;
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_made_while_serving_verifies_and_restores_whole() {
    let app = TestApp::spawn_with(|s| s.backup_key = Some(BACKUP_KEY.to_owned().into())).await;
    let (owner, email) = app.signed_in("Backed Up").await;
    let (_, key) = create_key(&app, &owner, "write", &[]).await;
    let files: Vec<(String, Vec<u8>)> = {
        let mut v = Vec::new();
        for (i, len) in [0usize, 1000, 3 << 20].into_iter().enumerate() {
            let bytes = body(len, 40 + i as u64);
            let f = upload(&app, &key, &format!("kept/file-{i}.bin"), bytes.clone()).await;
            v.push((f["id"].as_str().unwrap().to_owned(), bytes));
        }
        v
    };

    // Made while a client keeps writing.
    let root = tempfile::tempdir().unwrap();
    let backup_dir = root.path().join("backup-1");
    let writer = {
        let (base, key) = (app.base.clone(), key.clone());
        let client = app.client();
        tokio::spawn(async move {
            for i in 0..20 {
                let url = format!("{base}/api/v1/vault/files?path=during/{i}.txt");
                let _ = client.put(url).bearer_auth(&key).body(vec![b'x'; 1000]).send().await;
            }
        })
    };
    let made = server::backup::create::create(&app.settings, &app.state, &backup_dir).await.unwrap();
    writer.await.unwrap();
    assert_eq!(made.manifest.key, "backup_key");
    assert!(made.blobs >= 3, "{}", made.blobs);
    let names: Vec<&str> = made.manifest.files.iter().map(|f| f.path.as_str()).collect();
    assert!(names.contains(&"secrets.enc") && names.contains(&"config.json.enc"), "{names:?}");
    // Nothing in it is plaintext: not a file's body, not the owner's email, not the database's own header.
    for f in &made.manifest.files {
        let stored = std::fs::read(backup_dir.join(&f.path)).unwrap();
        assert!(!stored.windows(email.len()).any(|w| w == email.as_bytes()), "{}", f.path);
        assert!(!stored.windows(15).any(|w| w == b"SQLite format 3"), "{}", f.path);
    }
    let probe = &files[2].1[1 << 20..(1 << 20) + 64];
    for f in &made.manifest.files {
        let stored = std::fs::read(backup_dir.join(&f.path)).unwrap();
        assert!(!stored.windows(64).any(|w| w == probe), "vault plaintext in {}", f.path);
    }

    // The operator's command verifies it.
    let out = common::rampart(app.settings.data_dir.parent().unwrap(), &app.settings.database_url)
        .env("RAMPART_DATA_DIR", &app.settings.data_dir)
        .env("RAMPART_BACKUP_KEY", BACKUP_KEY)
        .args(["backup", "verify"])
        .arg(&backup_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("is intact") && stdout.contains("chain(s) verify"), "{stdout}");

    // Restored where nothing was: a lost server, only the backup and its key remain.
    let target_dir = tempfile::tempdir().unwrap();
    let target = empty_target(&app.settings, target_dir.path()).await;
    // A backup of a newer schema (made by a later build) is refused before anything is written: this build
    // could not start on what it would restore.
    let signed = std::fs::read_to_string(backup_dir.join("manifest.json")).unwrap();
    let mut newer: server::backup::Manifest = serde_json::from_str(&signed).unwrap();
    newer.migration = app::backend::platform::db::newest_migration() + 1;
    newer.mac = newer.compute_mac(&server::backup::backup_key(&app.settings, None).unwrap().0);
    std::fs::write(backup_dir.join("manifest.json"), serde_json::to_vec_pretty(&newer).unwrap()).unwrap();
    let err = server::backup::restore::restore(&target, &backup_dir).await.unwrap_err();
    assert!(matches!(&err, BackupError::Refused(m) if m.contains("newer than this build")), "{err:?}");
    let left: Vec<_> = std::fs::read_dir(target_dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "nothing written: {left:?}");
    std::fs::write(backup_dir.join("manifest.json"), signed).unwrap();
    let restored = server::backup::restore::restore(&target, &backup_dir).await.unwrap();
    assert_eq!(restored.blobs, made.blobs);
    let restored_app = TestApp::start_on(target, app.clock.clone()).await;
    let (client, _) = restored_app.password_step(&email).await;
    assert_eq!(restored_app.get(&client, "/overview").await.status(), StatusCode::OK, "the owner signs in");
    for (id, bytes) in &files {
        let res = content(&restored_app, &key, id, None).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.bytes().await.unwrap()[..] == bytes[..], "file {id} decrypts byte-equal");
    }
    assert_eq!(api_get(&restored_app, &key, "/api/v1/members").await.status(), StatusCode::OK, "keys work too");
    let keys = &restored_app.state.keys;
    let anchors = app::backend::audit::anchor::AnchorLog::none();
    for chain in app::backend::audit::verify::list_chains(&restored_app.state.pool).await.unwrap() {
        let r =
            app::backend::audit::verify::verify_chain(&restored_app.state.pool, keys, &anchors, &chain).await.unwrap();
        assert!(r.ok, "chain {chain} verifies after the restore: {r:?}");
    }

    // A second restore into the now-used place is refused, and changes nothing.
    let again = server::backup::restore::restore(&restored_app.settings, &backup_dir).await;
    assert!(matches!(&again, Err(BackupError::Refused(m)) if m.contains("already")), "{again:?}");
    assert_eq!(content(&restored_app, &key, &files[1].0, None).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_backup_is_named_and_the_wrong_key_refused() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Damaged").await;
    let (_, key) = create_key(&app, &owner, "write", &[]).await;
    upload(&app, &key, "a.bin", body(2 << 20, 7)).await;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("b");
    let made = server::backup::create::create(&app.settings, &app.state, &dir).await.unwrap();
    assert_eq!(made.manifest.key, "master", "no backup_key: a key derived from the master key");
    assert!(!made.manifest.files.iter().any(|f| f.path == "secrets.enc"), "the master key is not carried");
    server::backup::verify::verify(&app.settings, &dir).await.unwrap();

    // One flipped byte in a blob: verification names that file.
    let blob = made.manifest.files.iter().find(|f| f.path.starts_with("blobs/")).unwrap().path.clone();
    let mut bytes = std::fs::read(dir.join(&blob)).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(dir.join(&blob), &bytes).unwrap();
    let err = server::backup::verify::verify(&app.settings, &dir).await.unwrap_err();
    assert!(matches!(&err, BackupError::Damaged(m) if m.contains(&blob)), "{err:?}");
    bytes[middle] ^= 1;
    std::fs::write(dir.join(&blob), &bytes).unwrap();
    // The database copy: named too.
    let db = made.manifest.files.iter().find(|f| f.path.starts_with("database.")).unwrap().path.clone();
    let mut bytes = std::fs::read(dir.join(&db)).unwrap();
    bytes[100] ^= 1;
    std::fs::write(dir.join(&db), &bytes).unwrap();
    let err = server::backup::verify::verify(&app.settings, &dir).await.unwrap_err();
    assert!(matches!(&err, BackupError::Damaged(m) if m.contains(&db)), "{err:?}");
    bytes[100] ^= 1;
    std::fs::write(dir.join(&db), &bytes).unwrap();
    // A manifest edited to match a swapped file fails its MAC.
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    std::fs::write(dir.join("manifest.json"), manifest.replacen("\"migration\": ", "\"migration\": 1", 1)).unwrap();
    let err = server::backup::verify::verify(&app.settings, &dir).await.unwrap_err();
    assert!(matches!(&err, BackupError::Damaged(m) if m.contains("manifest.json")), "{err:?}");
    std::fs::write(dir.join("manifest.json"), manifest).unwrap();
    server::backup::verify::verify(&app.settings, &dir).await.unwrap();

    // Another server's master key cannot read it; a backup into a non-empty folder is refused.
    let other = tempfile::tempdir().unwrap();
    let stranger = Settings { data_dir: other.path().to_path_buf(), ..app.settings.clone() };
    std::fs::create_dir_all(other.path().join("secrets")).unwrap();
    std::fs::write(other.path().join("secrets/master.key"), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap();
    let err = server::backup::verify::verify(&stranger, &dir).await.unwrap_err();
    assert!(matches!(&err, BackupError::Damaged(m) if m.contains("another key")), "{err:?}");
    let err = server::backup::create::create(&app.settings, &app.state, &dir).await.unwrap_err();
    assert!(matches!(&err, BackupError::Refused(m) if m.contains("not empty")), "{err:?}");
}

/// The schedule: a backup at start and whenever the last is older than `backup_every_hours`, made by the
/// server's own job; the oldest beyond `backup_keep` deleted; the last one's age on `/readyz` and in
/// `rampart status`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backups_run_when_due_keep_the_newest_and_show_their_age() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("backups");
    let dir_setting = dir.clone();
    let app = TestApp::spawn_with(move |s| {
        s.backup_dir = Some(dir_setting);
        s.backup_every_hours = 6;
        s.backup_keep = 2;
    })
    .await;
    let ready = || async { app.client().get(app.url("/readyz")).send().await.unwrap().text().await.unwrap() };
    // The server's job makes the first one at start.
    let t = std::time::Instant::now();
    while !ready().await.contains("last backup: 0 s ago") {
        assert!(t.elapsed() < std::time::Duration::from_secs(20), "no backup at start: {}", ready().await);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // One pass at a time, with the server's own job.
    let run = || {
        let pass = server::jobs::backup::run_if_due(&app.state, &app.settings, &dir);
        server::jobs::exclusive(&app.state.pool, &app.state.metrics, "backup", pass)
    };
    assert_eq!(run().await.unwrap(), Some(None), "not due again within six hours");
    app.clock.advance_ms(3 * 3_600_000);
    assert!(ready().await.contains("last backup: 3 h 0 min ago"), "{}", ready().await);
    let mut made = Vec::new();
    for _ in 0..2 {
        app.clock.advance_ms(6 * 3_600_000);
        // (The server's own job may hold the lock for a moment: the pass waits its turn.)
        let t = std::time::Instant::now();
        let dir = loop {
            match run().await.unwrap() {
                Some(Some(dir)) => break dir,
                other => {
                    assert!(t.elapsed() < std::time::Duration::from_secs(10), "due after six hours: {other:?}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        };
        made.push(dir);
    }
    let mut kept: Vec<String> =
        std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path().display().to_string()).collect();
    kept.sort();
    assert_eq!(kept, made, "the newest two are kept, the one made at start is gone");
    server::backup::verify::verify(&app.settings, std::path::Path::new(&made[1])).await.unwrap();
    let out = common::rampart(root.path(), &app.settings.database_url)
        .env("RAMPART_DATA_DIR", &app.settings.data_dir)
        .arg("status")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("last backup:") && stdout.contains(&made[1]), "{stdout}");
}
