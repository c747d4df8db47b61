//! The settings' loading and checks.

use super::*;

#[test]
fn defaults_are_valid_and_debug_hides_secrets() {
    let mut s = Settings::default();
    assert!(s.validate().is_ok());
    s.master_key = Some(SecretString::from("c2VjcmV0LXZhbHVlLXRoYXQtbXVzdC1ub3QtbGVhaw".to_owned()));
    let dbg = format!("{s:?}");
    assert!(!dbg.contains("c2VjcmV0"), "{dbg}");
}

#[test]
fn environment_overrides_and_foreign_variables_are_left_alone() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("RAMPART_DATABASE_URL", "postgres://db.internal/rampart");
        jail.set_env("RAMPART_TRUSTED_PROXIES", "[10.0.0.0/8]");
        jail.set_env("RAMPART_BIN", "/usr/local/bin/rampart");
        let s = Settings::load(None).map_err(|e| e.to_string())?;
        assert_eq!(s.database_url, "postgres://db.internal/rampart");
        assert_eq!(s.trusted_proxies.len(), 1);
        Ok(())
    });
    figment::Jail::expect_with(|jail| {
        jail.create_file("rampart.toml", "databse_url = \"typo\"")?;
        let err = Settings::load(None).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("databse_url"), "a typo in the file is refused: {err}");
        Ok(())
    });
}

/// The pool's size: four connections on SQLite (each keeps megabytes of its own), eight on PostgreSQL, and
/// whatever is set on either; none at all is refused.
#[test]
fn the_pool_size_follows_the_database_unless_set() {
    let mut s = Settings::default();
    assert_eq!(s.database_pool_size(), SQLITE_POOL_SIZE);
    assert_eq!(SQLITE_POOL_SIZE, 4);
    s.database_url = "postgres://db.internal/rampart".to_owned();
    assert_eq!(s.database_pool_size(), POSTGRES_POOL_SIZE);
    assert_eq!(POSTGRES_POOL_SIZE, 8);
    figment::Jail::expect_with(|jail| {
        jail.set_env("RAMPART_DATABASE_MAX_CONNECTIONS", "12");
        let s = Settings::load(None).map_err(|e| e.to_string())?;
        assert_eq!(s.database_pool_size(), 12, "set: used on SQLite too");
        jail.set_env("RAMPART_DATABASE_MAX_CONNECTIONS", "0");
        let err = Settings::load(None).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("database_max_connections"), "{err}");
        Ok(())
    });
}

#[test]
fn invalid_values_name_the_key() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("RAMPART_LISTEN_ADDR", "not-an-address");
        let err = Settings::load(None).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("listen_addr"), "{err}");
        Ok(())
    });
    figment::Jail::expect_with(|jail| {
        jail.set_env("RAMPART_DATABASE_URL", "mysql://x");
        let err = Settings::load(None).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("database_url"), "{err}");
        Ok(())
    });
    figment::Jail::expect_with(|jail| {
        jail.create_file("rampart.toml", "session_idle_minutes = \"soon\"")?;
        let err = Settings::load(None).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("session_idle_minutes"), "{err}");
        Ok(())
    });
}

#[test]
fn metrics_addr_is_loopback_unless_public_and_can_be_off() {
    assert_eq!(Settings::default().metrics_addr, Some(SocketAddr::from(([127, 0, 0, 1], 9464))));
    for off in ["off", "", "OFF"] {
        figment::Jail::expect_with(|jail| {
            jail.set_env("RAMPART_METRICS_ADDR", off);
            assert_eq!(Settings::load(None).map_err(|e| e.to_string())?.metrics_addr, None, "{off:?}");
            Ok(())
        });
    }
    figment::Jail::expect_with(|jail| {
        jail.create_file("rampart.toml", "metrics_addr = \"[::1]:9100\"")?;
        let s = Settings::load(None).map_err(|e| e.to_string())?;
        assert_eq!(s.metrics_addr, Some("[::1]:9100".parse().map_err(|_| "addr")?));
        jail.set_env("RAMPART_METRICS_ADDR", "[::1]:9101");
        let s = Settings::load(None).map_err(|e| e.to_string())?;
        assert_eq!(s.metrics_addr, Some("[::1]:9101".parse().map_err(|_| "addr")?));
        Ok(())
    });
    figment::Jail::expect_with(|jail| {
        jail.set_env("RAMPART_METRICS_ADDR", "0.0.0.0:9464");
        let err = Settings::load(None).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("metrics_addr") && err.contains("metrics_public"), "{err}");
        jail.set_env("RAMPART_METRICS_PUBLIC", "true");
        let s = Settings::load(None).map_err(|e| e.to_string())?;
        assert_eq!(s.metrics_addr, Some(SocketAddr::from(([0, 0, 0, 0], 9464))));
        Ok(())
    });
    figment::Jail::expect_with(|jail| {
        jail.set_env("RAMPART_METRICS_ADDR", "metrics.internal:9464");
        let err = Settings::load(None).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("metrics_addr"), "{err}");
        Ok(())
    });
}

#[test]
fn mail_defaults_to_the_outbox_and_debug_hides_the_smtp_url() {
    let mut s = Settings::default();
    let mail = s.mail_config().map_err(|e| e.to_string());
    assert!(matches!(&mail, Ok(m) if m.outbox_dir == Path::new("data/outbox") && m.smtp_url.is_none()));
    assert!(matches!(&mail, Ok(m) if m.from == "Rampart <no-reply@rampart.localhost>" && m.dkim.is_none()));
    s.smtp_url = Some(SecretString::from("smtps://mailer:hunter2@smtp.example.com".to_owned()));
    assert!(s.validate().is_ok());
    assert!(!format!("{s:?}").contains("hunter2"));
}

#[test]
fn mail_settings_are_checked_and_name_the_key() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("RAMPART_SMTP_URL", "smtp://mailer:hunter2@smtp.example.com:25?tls=none");
        let err = Settings::load(None).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("smtp_url") && !err.contains("hunter2"), "{err}");
        Ok(())
    });
    figment::Jail::expect_with(|jail| {
        jail.set_env("RAMPART_SMTP_URL", "smtp://127.0.0.1:2525?tls=none");
        let s = Settings::load(None).map_err(|e| e.to_string())?;
        assert!(s.mail_config().map_err(|e| e.to_string())?.smtp_url.is_some());
        Ok(())
    });
    figment::Jail::expect_with(|jail| {
        jail.set_env("RAMPART_MAIL_FROM", "no address here");
        let err = Settings::load(None).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("mail_from"), "{err}");
        Ok(())
    });
    figment::Jail::expect_with(|jail| {
        jail.set_env("RAMPART_ERROR_REPORT_EMAIL", "ops at example");
        let err = Settings::load(None).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("error_report_email"), "{err}");
        jail.set_env("RAMPART_ERROR_REPORT_EMAIL", "ops@example.com");
        assert!(Settings::load(None).is_ok());
        Ok(())
    });
    figment::Jail::expect_with(|jail| {
        jail.set_env("RAMPART_DKIM_DOMAIN", "example.com");
        jail.set_env("RAMPART_DKIM_KEY_FILE", "dkim.pem");
        let err = Settings::load(None).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("dkim_selector"), "{err}");
        Ok(())
    });
}

#[test]
fn dkim_key_file_is_read_and_checked() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("RAMPART_DKIM_DOMAIN", "example.com");
        jail.set_env("RAMPART_DKIM_SELECTOR", "rampart");
        jail.set_env("RAMPART_DKIM_KEY_FILE", "dkim.pem");
        let s = Settings::load(None).map_err(|e| e.to_string())?;
        let err = s.mail_config().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("dkim_key_file") && err.contains("dkim.pem"), "a missing file is named: {err}");
        jail.create_file("dkim.pem", "not a key")?;
        let err = s.mail_config().and_then(|c| Mailer::new(c).map_err(ConfigError)).err();
        assert!(err.map(|e| e.to_string()).unwrap_or_default().contains("dkim_key_file"));
        // A test-only Ed25519 key (`openssl genpkey -algorithm ed25519`).
        jail.create_file(
            "dkim.pem",
            concat!(
                "-----BEGIN PRIVATE KEY-----\n",
                "MC4CAQAwBQYDK2VwBCIEIKrQM/1PqdaAWhYkUWovngQZwlqYkqOPqlAO5vXgqSRW\n",
                "-----END PRIVATE KEY-----\n",
            ),
        )?;
        let mail = s.mail_config().map_err(|e| e.to_string())?;
        assert!(matches!(&mail.dkim, Some(d) if d.domain == "example.com" && d.selector == "rampart"));
        assert!(Mailer::new(mail).is_ok());
        Ok(())
    });
}

#[test]
fn the_s3_store_needs_a_bucket_credentials_and_a_safe_endpoint() {
    let s3 = |tweak: &dyn Fn(&mut Settings)| {
        let mut s = Settings {
            blob_store: BlobStoreKind::S3,
            s3_bucket: "rampart-vault".to_owned(),
            s3_endpoint: Some("https://s3.example.net".to_owned()),
            s3_access_key_id: "AKIAEXAMPLE".to_owned(),
            s3_secret_access_key: Some(SecretString::from("wJalrXUtnFEMI-not-a-real-secret".to_owned())),
            ..Settings::default()
        };
        tweak(&mut s);
        s.validate().map_err(|e| e.to_string())
    };
    assert!(s3(&|_| {}).is_ok());
    let config = Settings { blob_store: BlobStoreKind::S3, ..Settings::default() };
    assert!(!format!("{config:?}").contains("wJalr"));
    for (tweak, key) in [
        (&(|s: &mut Settings| s.s3_bucket = String::new()) as &dyn Fn(&mut Settings), "s3_bucket"),
        (&|s: &mut Settings| s.s3_bucket = "Not_A_Bucket".to_owned(), "s3_bucket"),
        (&|s: &mut Settings| s.s3_secret_access_key = None, "s3_secret_access_key"),
        (&|s: &mut Settings| s.s3_access_key_id = " ".to_owned(), "s3_access_key_id"),
        (&|s: &mut Settings| s.s3_endpoint = Some("http://s3.example.net".to_owned()), "s3_endpoint"),
        (&|s: &mut Settings| s.s3_endpoint = Some("ftp://127.0.0.1:9000".to_owned()), "s3_endpoint"),
        (&|s: &mut Settings| s.s3_prefix = "a/../b".to_owned(), "s3_prefix"),
    ] {
        let err = s3(tweak).err().unwrap_or_default();
        assert!(err.contains(key) && !err.contains("wJalr"), "{key}: {err}");
    }
    // Plain HTTP only to this machine (a test server); the secret never appears in the settings' Debug.
    assert!(s3(&|s| s.s3_endpoint = Some("http://127.0.0.1:9000".to_owned())).is_ok());
    assert!(s3(&|s| s.s3_endpoint = Some("http://[::1]:9000".to_owned())).is_ok());
    let secret = Some(SecretString::from("wJalrXUtnFEMI-not-a-real-secret".to_owned()));
    let shown = Settings { s3_secret_access_key: secret, ..Settings::default() };
    assert!(!format!("{shown:?}").contains("wJalr"));
    assert!(!serde_json::to_string(&shown).unwrap_or_default().contains("wJalr"), "never serialised");
    // Local (the default) ignores the S3 settings.
    assert!(Settings { s3_bucket: "x".to_owned(), ..Settings::default() }.validate().is_ok());
}

#[test]
fn the_blob_store_is_chosen_by_name() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("RAMPART_BLOB_STORE", "s3");
        let err = Settings::load(None).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("s3_bucket"), "s3 without a bucket is refused: {err}");
        jail.set_env("RAMPART_BLOB_STORE", "ftp");
        let err = Settings::load(None).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("blob_store"), "{err}");
        jail.set_env("RAMPART_BLOB_STORE", "s3");
        jail.set_env("RAMPART_S3_BUCKET", "vault-bucket");
        jail.set_env("RAMPART_S3_ACCESS_KEY_ID", "AKIA");
        jail.set_env("RAMPART_S3_SECRET_ACCESS_KEY", "secret-from-env");
        jail.set_env("RAMPART_S3_ENDPOINT", "http://127.0.0.1:9000");
        let s = Settings::load(None).map_err(|e| e.to_string())?;
        let c = s.s3_config().map_err(|e| e.to_string())?.ok_or("an S3 config")?;
        assert_eq!((c.bucket.as_str(), c.endpoint.as_deref()), ("vault-bucket", Some("http://127.0.0.1:9000")));
        Ok(())
    });
}
