//! Server secrets kept on disk: generated on first start into `data_dir/secrets/` with mode 0600, reused
//! afterwards. The master key will wrap TOTP secrets, tenant data keys and the audit chain key.

use crate::startup::config::Settings;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretBox, SecretString};
use std::io::Write as _;
use std::path::Path;

/// The 32-byte server master key.
pub type MasterKey = SecretBox<[u8; 32]>;

/// Loads the master key from the settings, or from its file, generating the file when missing.
pub fn load_master_key(settings: &Settings) -> Result<MasterKey, String> {
    if let Some(value) = &settings.master_key {
        return decode(value).map_err(|e| format!("master_key: {e}"));
    }
    let path = master_path(settings);
    if !path.exists() {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        write_private(&path, STANDARD.encode(key).as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
        tracing::info!(path = %path.display(), "generated a new master key");
    }
    let text = std::fs::read_to_string(&path).map_err(|e| format!("master_key_file {}: {e}", path.display()))?;
    decode(&SecretString::from(text.trim().to_owned())).map_err(|e| format!("master_key_file {}: {e}", path.display()))
}

/// The master key if one is configured or on disk; never generates one (a restore must not invent a key).
pub fn existing_master_key(settings: &Settings) -> Result<Option<MasterKey>, String> {
    if settings.master_key.is_some() || master_path(settings).exists() {
        return load_master_key(settings).map(Some);
    }
    Ok(None)
}

/// Puts the master keys a backup carried in place (current first, then the retired ones): the key file must
/// not exist, or hold the same key.
pub fn install_masters(settings: &Settings, masters: &[[u8; 32]]) -> Result<(), String> {
    let Some((current, previous)) = masters.split_first() else { return Err("no master key".to_owned()) };
    if let Some(existing) = existing_master_key(settings)? {
        if existing.expose_secret() != current {
            return Err("another master key is already configured here: restore into a fresh data folder, or \
                        remove master_key / the key file"
                .to_owned());
        }
        return Ok(());
    }
    let path = master_path(settings);
    write_private(&path, STANDARD.encode(current).as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    for (i, key) in previous.iter().enumerate() {
        // Oldest first on disk (`load_previous_masters` tries the newest first).
        let name = previous_dir(settings).join(format!("{:016}.key", previous.len() - i));
        write_private(&name, STANDARD.encode(key).as_bytes()).map_err(|e| format!("{}: {e}", name.display()))?;
    }
    Ok(())
}

fn master_path(settings: &Settings) -> std::path::PathBuf {
    settings.master_key_file.clone().unwrap_or_else(|| settings.data_dir.join("secrets/master.key"))
}

/// Where retired master keys are kept (`previous/` beside the master key file): they still open what was
/// sealed before a rotation (older TOTP seals, access-history chain keys of older events, data keys not yet
/// re-wrapped).
fn previous_dir(settings: &Settings) -> std::path::PathBuf {
    master_path(settings).parent().map(|p| p.join("previous")).unwrap_or_else(|| "previous".into())
}

/// The retired master keys, newest first.
pub fn load_previous_masters(settings: &Settings) -> Result<Vec<[u8; 32]>, String> {
    let dir = previous_dir(settings);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    let mut files: Vec<std::path::PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "key"))
        .collect();
    files.sort();
    files.reverse();
    files
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            decode(&SecretString::from(text.trim().to_owned()))
                .map(|k| *k.expose_secret())
                .map_err(|e| format!("{}: {e}", p.display()))
        })
        .collect()
}

/// Replaces the master key with a fresh one, keeping the old one in `previous/` (named by time, so the newest
/// sorts last on disk and is tried first). Refused when the master key comes from the settings.
pub fn rotate_master(settings: &Settings, now_ms: i64) -> Result<(), String> {
    if settings.master_key.is_some() {
        return Err("the master key is set in the configuration: rotate it there (keep the old one as a \
                    file in the previous/ folder)"
            .to_owned());
    }
    let current = load_master_key(settings)?;
    let path = master_path(settings);
    write_private(
        &previous_dir(settings).join(format!("{now_ms:016}.key")),
        STANDARD.encode(current.expose_secret()).as_bytes(),
    )
    .map_err(|e| format!("keeping the old master key: {e}"))?;
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    let next = path.with_extension("key.next");
    let _ = std::fs::remove_file(&next);
    write_private(&next, STANDARD.encode(key).as_bytes()).map_err(|e| format!("{}: {e}", next.display()))?;
    std::fs::rename(&next, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(())
}

fn decode(value: &SecretString) -> Result<MasterKey, String> {
    let bytes = STANDARD.decode(value.expose_secret().trim()).map_err(|_| "not valid base64".to_owned())?;
    let key: [u8; 32] = bytes.try_into().map_err(|_| "must decode to exactly 32 bytes".to_owned())?;
    Ok(SecretBox::new(Box::new(key)))
}

/// Writes a file readable by the owner only (0600), creating its folder (0700).
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut file = opts.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_is_private_and_reused() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let settings = Settings { data_dir: dir.path().to_path_buf(), ..Settings::default() };
        let a = load_master_key(&settings)?;
        let b = load_master_key(&settings)?;
        assert_eq!(a.expose_secret(), b.expose_secret());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join("secrets/master.key"))?.permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        Ok(())
    }

    #[test]
    fn bad_keys_are_refused() {
        let settings = Settings { master_key: Some(SecretString::from("c2hvcnQ=".to_owned())), ..Settings::default() };
        assert!(load_master_key(&settings).is_err_and(|e| e.contains("32 bytes")));
    }
}
