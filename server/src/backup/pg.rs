//! PostgreSQL's own tools for the database part of a backup: `pg_dump -Fc` out, `pg_restore` in. They are
//! found in `pg_bin_dir`, on the PATH, or under `/usr/lib/postgresql/<version>/bin` (the newest). The password
//! of the database URL goes through `PGPASSWORD`, never on a command line.

use super::BackupError;
use std::path::PathBuf;
use std::process::Stdio;

/// The path of a PostgreSQL client program.
pub fn program(settings: &crate::startup::config::Settings, name: &str) -> Result<PathBuf, BackupError> {
    if let Some(dir) = settings.pg_bin_dir.as_ref().filter(|d| !d.as_os_str().is_empty()) {
        return Ok(dir.join(name));
    }
    if let Some(paths) = std::env::var_os("PATH") {
        if let Some(found) = std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file()) {
            return Ok(found);
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin").join(name)).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    versions.sort_by_key(|p| p.iter().nth(4).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0));
    versions.pop().ok_or_else(|| {
        BackupError::Refused(format!("{name} not found: install PostgreSQL's client programs or set pg_bin_dir"))
    })
}

/// The URL without its password, and the password.
pub fn split_password(url: &str) -> Result<(String, Option<String>), BackupError> {
    let mut u = url::Url::parse(url).map_err(|e| BackupError::Refused(format!("database_url: {e}")))?;
    let password = u.password().map(|p| percent_encoding::percent_decode_str(p).decode_utf8_lossy().into_owned());
    let _ = u.set_password(None);
    Ok((u.to_string(), password))
}

/// `pg_dump -Fc` of `url`, its output streamed to the caller.
pub fn dump(settings: &crate::startup::config::Settings, url: &str) -> Result<tokio::process::Child, BackupError> {
    let (uri, password) = split_password(url)?;
    let mut cmd = tokio::process::Command::new(program(settings, "pg_dump")?);
    cmd.args(["--format=custom", "--no-owner", "--no-privileges", "--dbname"]).arg(uri);
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    cmd.spawn().map_err(|e| BackupError::Failed(format!("pg_dump: {e}")))
}

/// `pg_restore` into `url`, reading the archive from its standard input.
pub fn restore(settings: &crate::startup::config::Settings, url: &str) -> Result<tokio::process::Child, BackupError> {
    let (uri, password) = split_password(url)?;
    let mut cmd = tokio::process::Command::new(program(settings, "pg_restore")?);
    cmd.args(["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", "--dbname"]).arg(uri);
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).kill_on_drop(true);
    cmd.spawn().map_err(|e| BackupError::Failed(format!("pg_restore: {e}")))
}

/// Waits for a tool and turns a failure into an error carrying its message.
pub async fn finished(child: tokio::process::Child, what: &str) -> Result<(), BackupError> {
    let out = child.wait_with_output().await?;
    if out.status.success() {
        Ok(())
    } else {
        let msg = String::from_utf8_lossy(&out.stderr);
        Err(BackupError::Failed(format!("{what} failed ({}): {}", out.status, msg.trim())))
    }
}

/// A scratch database beside the one of `url` (same server and credentials): its URL. Dropped by `drop_scratch`.
pub async fn create_scratch(url: &str) -> Result<(String, String), BackupError> {
    let name = format!("rampart_verify_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::AnyPool::connect(url).await?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await?;
    pool.close().await;
    let mut u = url::Url::parse(url).map_err(|e| BackupError::Refused(format!("database_url: {e}")))?;
    u.set_path(&format!("/{name}"));
    Ok((u.to_string(), name))
}

/// Drops a scratch database made by `create_scratch`.
pub async fn drop_scratch(url: &str, name: &str) -> Result<(), BackupError> {
    let pool = sqlx::AnyPool::connect(url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&pool).await?;
    pool.close().await;
    Ok(())
}
