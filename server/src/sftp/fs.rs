//! The SFTP file system of a session: the tenant's vault (`app::backend::vault`), nothing else.
//!
//! - Paths are `/`-separated from the tenant's root; `.` and empty segments fold away, `..` is refused (there is
//!   nothing above the root, and a path that climbs is a mistake or a probe). Symbolic links do not exist.
//! - `get` streams a version through the decryptor; `put` streams into the encryptor and, at `close`, becomes a
//!   new version of the path (a new file, or the next version of an existing one); writes must come in order
//!   (as `sftp` sends them), and a connection lost before `close` stores nothing. `rm` moves a file to the bin,
//!   `mkdir`/`rmdir` make and remove empty folders, `rename` moves a file or a folder without overwriting.
//! - Before every operation but the data packets the session is authorised again from the database
//!   (`sessions::authorise`): a lost grant or an ended session is refused at once, whichever instance changed it.
//! - Setting attributes is accepted and ignored (the vault keeps its own times; `put -p` still works).

use app::backend::access::{perm, TenantCtx};
use app::backend::platform::request::RequestMeta;
use app::backend::ssh::gateway::sessions::{self, Traffic};
use app::backend::vault::folders::{self, Node};
use app::backend::vault::read::PlainStream;
use app::backend::AppState;
use app::model::{AppError, VaultFileView};
use axum::body::Bytes;
use futures_util::StreamExt as _;
use russh_sftp::protocol::{Attrs, Data, File, FileAttributes, Handle, Name, OpenFlags, Status, StatusCode, Version};
use russh_sftp::server::StatusReply;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;

/// One piece of an upload: data, or the client's `close` (without it the upload is abandoned).
enum Piece {
    Data(Bytes),
    End,
}

enum Open {
    Dir {
        folder: String,
        done: bool,
    },
    /// `version_id`: the version opened; a read back starts it again, not whatever is current by then.
    Read {
        object_id: String,
        version_id: String,
        size: u64,
        pos: u64,
        buf: Bytes,
        body: PlainStream,
    },
    Write {
        next: u64,
        tx: mpsc::Sender<Piece>,
        task: tokio::task::JoinHandle<Result<VaultFileView, AppError>>,
    },
}

/// The file system of one SFTP session.
pub struct Fs {
    pub state: AppState,
    pub ctx: TenantCtx,
    pub meta: RequestMeta,
    pub session: String,
    pub traffic: Arc<Traffic>,
    handles: HashMap<String, Open>,
    next_handle: u64,
}

impl Fs {
    pub fn new(state: AppState, ctx: TenantCtx, meta: RequestMeta, session: String, traffic: Arc<Traffic>) -> Self {
        Self { state, ctx, meta, session, traffic, handles: HashMap::new(), next_handle: 0 }
    }

    async fn authorise(&mut self) -> Result<(), StatusReply> {
        match sessions::authorise(&self.state, &self.session, &mut self.ctx).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(StatusCode::PermissionDenied.with_message(format!("Access ended: {reason}."))),
            Err(e) => Err(refused(e)),
        }
    }

    fn handle(&mut self, open: Open) -> String {
        self.next_handle += 1;
        let h = self.next_handle.to_string();
        self.handles.insert(h.clone(), open);
        h
    }
}

/// The vault path a client's path names (`""` is the root).
pub fn vault_path(raw: &str) -> Result<String, StatusReply> {
    let mut parts = Vec::new();
    for seg in raw.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                return Err(
                    StatusCode::PermissionDenied.with_message("`..` is not allowed: paths start at the vault's root.")
                )
            }
            s => parts.push(s),
        }
    }
    Ok(parts.join("/"))
}

/// An error as the client sees it: what it can act on, never an internal detail.
fn refused(e: AppError) -> StatusReply {
    match e {
        AppError::NotFound => StatusCode::NoSuchFile.with_message("No such file or folder."),
        AppError::Forbidden | AppError::Unauthenticated => {
            StatusCode::PermissionDenied.with_message("Permission denied: the member may not do this.")
        }
        AppError::Validation { msg, .. } | AppError::Conflict { msg } => StatusCode::Failure.with_message(msg),
        AppError::RateLimited { .. } => StatusCode::Failure.with_message("Too many requests: try again later."),
        other => StatusCode::Failure.with_message(other.to_string()),
    }
}

fn ok(id: u32) -> Status {
    Status { id, status_code: StatusCode::Ok, error_message: "Ok".into(), language_tag: "en-US".into() }
}

fn folder_attrs() -> FileAttributes {
    FileAttributes { permissions: Some(0o040_750), size: Some(0), ..FileAttributes::empty() }
}

fn file_attrs(f: &VaultFileView) -> FileAttributes {
    let secs = u32::try_from(f.updated_at.div_euclid(1000)).unwrap_or(0);
    FileAttributes {
        size: Some(u64::try_from(f.size).unwrap_or(0)),
        permissions: Some(0o100_640),
        atime: Some(secs),
        mtime: Some(secs),
        ..FileAttributes::empty()
    }
}

impl russh_sftp::server::Handler for Fs {
    type Error = StatusReply;

    fn unimplemented(&self) -> Self::Error {
        StatusCode::OpUnsupported.with_message("Not supported by Rampart's vault.")
    }

    async fn init(&mut self, _version: u32, _ext: HashMap<String, String>) -> Result<Version, Self::Error> {
        Ok(Version::new())
    }

    async fn realpath(&mut self, id: u32, path: String) -> Result<Name, Self::Error> {
        let p = vault_path(&path)?;
        Ok(Name { id, files: vec![File::new(format!("/{p}"), folder_attrs())] })
    }

    async fn stat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        self.authorise().await?;
        let p = vault_path(&path)?;
        let attrs = match folders::node(&self.state, &self.ctx, &p).await.map_err(refused)? {
            Node::Folder => folder_attrs(),
            Node::File(f) => file_attrs(&f),
        };
        Ok(Attrs { id, attrs })
    }

    async fn lstat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        self.stat(id, path).await
    }

    async fn fstat(&mut self, id: u32, handle: String) -> Result<Attrs, Self::Error> {
        let attrs = match self.handles.get(&handle) {
            Some(Open::Dir { .. }) => folder_attrs(),
            Some(Open::Read { size, .. }) => {
                FileAttributes { size: Some(*size), permissions: Some(0o100_640), ..FileAttributes::empty() }
            }
            Some(Open::Write { next, .. }) => {
                FileAttributes { size: Some(*next), permissions: Some(0o100_640), ..FileAttributes::empty() }
            }
            None => return Err(StatusCode::Failure.with_message("Unknown handle.")),
        };
        Ok(Attrs { id, attrs })
    }

    async fn setstat(&mut self, id: u32, _path: String, _attrs: FileAttributes) -> Result<Status, Self::Error> {
        Ok(ok(id))
    }

    async fn fsetstat(&mut self, id: u32, _handle: String, _attrs: FileAttributes) -> Result<Status, Self::Error> {
        Ok(ok(id))
    }

    async fn opendir(&mut self, id: u32, path: String) -> Result<Handle, Self::Error> {
        self.authorise().await?;
        let folder = vault_path(&path)?;
        if !matches!(folders::node(&self.state, &self.ctx, &folder).await.map_err(refused)?, Node::Folder) {
            return Err(StatusCode::NoSuchFile.with_message("Not a folder."));
        }
        let detail = format!("/{folder}");
        record(&self.state, &self.ctx, &self.meta, "sftp.list", &detail).await?;
        let handle = self.handle(Open::Dir { folder, done: false });
        Ok(Handle { id, handle })
    }

    async fn readdir(&mut self, id: u32, handle: String) -> Result<Name, Self::Error> {
        let Some(Open::Dir { folder, done }) = self.handles.get_mut(&handle) else {
            return Err(StatusCode::Failure.with_message("Unknown handle."));
        };
        if *done {
            return Err(StatusCode::Eof.into());
        }
        *done = true;
        let folder = folder.clone();
        let read = self.ctx.require::<perm::VaultRead>().map_err(refused)?;
        let (subfolders, files) = folders::children(&self.state, &self.ctx, &read, &folder).await.map_err(refused)?;
        let mut out: Vec<File> = subfolders.into_iter().map(|n| File::new(n, folder_attrs())).collect();
        out.extend(files.iter().map(|f| File::new(f.name.clone(), file_attrs(f))));
        Ok(Name { id, files: out })
    }

    async fn open(
        &mut self,
        id: u32,
        filename: String,
        flags: OpenFlags,
        _a: FileAttributes,
    ) -> Result<Handle, Self::Error> {
        self.authorise().await?;
        let path = vault_path(&filename)?;
        if flags.contains(OpenFlags::APPEND) || (flags.contains(OpenFlags::READ) && flags.contains(OpenFlags::WRITE)) {
            return Err(StatusCode::OpUnsupported
                .with_message("Files are read or written whole: no append, no update in place."));
        }
        if flags.contains(OpenFlags::WRITE) {
            self.ctx.require::<perm::VaultWrite>().map_err(refused)?;
            app::backend::vault::paths::file_path(&path).map_err(refused)?;
            let (tx, rx) = mpsc::channel(8);
            let (state, ctx, meta) = (self.state.clone(), self.ctx.clone(), self.meta.clone());
            let task = tokio::spawn(async move {
                let write = ctx.require::<perm::VaultWrite>()?;
                let body = futures_util::stream::unfold(Some(rx), |rx| async move {
                    let mut rx = rx?;
                    match rx.recv().await {
                        Some(Piece::Data(b)) => Some((Ok(b), Some(rx))),
                        Some(Piece::End) => None,
                        None => Some((Err("the connection ended before the file was closed"), None)),
                    }
                });
                app::backend::vault::files::upload(&state, &ctx, &write, &meta, &path, None, body).await
            });
            let handle = self.handle(Open::Write { next: 0, tx, task });
            return Ok(Handle { id, handle });
        }
        let read = self.ctx.require::<perm::VaultRead>().map_err(refused)?;
        let Node::File(file) = folders::node(&self.state, &self.ctx, &path).await.map_err(refused)? else {
            return Err(StatusCode::Failure.with_message("That is a folder."));
        };
        let d = app::backend::vault::read::download(&self.state, &self.ctx, &read, &self.meta, &file.id, None)
            .await
            .map_err(refused)?;
        let handle = self.handle(Open::Read {
            object_id: file.id.clone(),
            version_id: d.version_id,
            size: d.size,
            pos: 0,
            buf: Bytes::new(),
            body: d.body,
        });
        Ok(Handle { id, handle })
    }

    async fn read(&mut self, id: u32, handle: String, offset: u64, len: u32) -> Result<Data, Self::Error> {
        let state = self.state.clone();
        let tenant = self.ctx.tenant_id().as_str().to_owned();
        let Some(Open::Read { object_id, version_id, size, pos, buf, body }) = self.handles.get_mut(&handle) else {
            return Err(StatusCode::Failure.with_message("Unknown handle."));
        };
        if offset >= *size {
            return Err(StatusCode::Eof.into());
        }
        if offset < *pos {
            // Reading back: the same version again from its beginning (rare: `sftp` reads forward). Not the current
            // one: a file replaced meanwhile would splice two versions into one read.
            let d =
                app::backend::vault::read::open_version(&state, &tenant, object_id, Some(version_id.as_str()), false)
                    .await
                    .map_err(refused)?;
            (*pos, *buf, *body) = (0, Bytes::new(), d.body);
        }
        loop {
            if buf.is_empty() {
                match body.next().await {
                    Some(Ok(b)) => *buf = b,
                    Some(Err(_)) => {
                        return Err(StatusCode::Failure.with_message("The stored file failed its integrity check."))
                    }
                    None => return Err(StatusCode::Eof.into()),
                }
            }
            if *pos < offset {
                let skip = usize::try_from(offset - *pos).unwrap_or(usize::MAX).min(buf.len());
                let _ = buf.split_to(skip);
                *pos += skip as u64;
                continue;
            }
            break;
        }
        let n = (len as usize).min(buf.len());
        let data = buf.split_to(n);
        *pos += n as u64;
        self.traffic.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
        Ok(Data { id, data: data.to_vec() })
    }

    async fn write(&mut self, id: u32, handle: String, offset: u64, data: Vec<u8>) -> Result<Status, Self::Error> {
        let Some(Open::Write { next, tx, .. }) = self.handles.get_mut(&handle) else {
            return Err(StatusCode::Failure.with_message("Unknown handle."));
        };
        if offset != *next {
            return Err(StatusCode::Failure.with_message("Writes must come in order: upload the file from its start."));
        }
        let n = data.len() as u64;
        if tx.send(Piece::Data(Bytes::from(data))).await.is_err() {
            // The upload already failed: its reason comes with this answer, and the handle is gone.
            return Err(match self.handles.remove(&handle) {
                Some(Open::Write { task, .. }) => upload_error(task.await),
                _ => StatusCode::Failure.into(),
            });
        }
        *next += n;
        self.traffic.bytes_in.fetch_add(n, Ordering::Relaxed);
        Ok(ok(id))
    }

    async fn close(&mut self, id: u32, handle: String) -> Result<Status, Self::Error> {
        match self.handles.remove(&handle) {
            Some(Open::Write { tx, task, .. }) => {
                // The file becomes a version only now: the write grant is checked again, so a member who lost it
                // while the handle was open (or kept open on purpose) stores nothing. Without its end, the upload
                // fails and its blob is discarded.
                let allowed = match self.authorise().await {
                    Ok(()) => self.ctx.require::<perm::VaultWrite>().map(drop).map_err(refused),
                    Err(e) => Err(e),
                };
                if let Err(e) = allowed {
                    drop(tx);
                    let _ = task.await;
                    return Err(e);
                }
                let _ = tx.send(Piece::End).await;
                drop(tx);
                match task.await {
                    Ok(Ok(_)) => Ok(ok(id)),
                    other => Err(upload_error(other)),
                }
            }
            Some(_) => Ok(ok(id)),
            None => Err(StatusCode::Failure.with_message("Unknown handle.")),
        }
    }

    async fn remove(&mut self, id: u32, filename: String) -> Result<Status, Self::Error> {
        self.authorise().await?;
        let path = vault_path(&filename)?;
        let write = self.ctx.require::<perm::VaultWrite>().map_err(refused)?;
        let Node::File(file) = folders::node(&self.state, &self.ctx, &path).await.map_err(refused)? else {
            return Err(StatusCode::Failure.with_message("That is a folder: use rmdir."));
        };
        app::backend::vault::manage::delete(&self.state, &self.ctx, &write, &self.meta, &file.id)
            .await
            .map_err(refused)?;
        Ok(ok(id))
    }

    async fn mkdir(&mut self, id: u32, path: String, _attrs: FileAttributes) -> Result<Status, Self::Error> {
        self.authorise().await?;
        let path = vault_path(&path)?;
        let write = self.ctx.require::<perm::VaultWrite>().map_err(refused)?;
        folders::make(&self.state, &self.ctx, &write, &self.meta, &path).await.map_err(refused)?;
        Ok(ok(id))
    }

    async fn rmdir(&mut self, id: u32, path: String) -> Result<Status, Self::Error> {
        self.authorise().await?;
        let path = vault_path(&path)?;
        let write = self.ctx.require::<perm::VaultWrite>().map_err(refused)?;
        folders::remove(&self.state, &self.ctx, &write, &self.meta, &path).await.map_err(refused)?;
        Ok(ok(id))
    }

    async fn rename(&mut self, id: u32, from: String, to: String) -> Result<Status, Self::Error> {
        self.authorise().await?;
        let (from, to) = (vault_path(&from)?, vault_path(&to)?);
        let write = self.ctx.require::<perm::VaultWrite>().map_err(refused)?;
        folders::rename(&self.state, &self.ctx, &write, &self.meta, &from, &to).await.map_err(refused)?;
        Ok(ok(id))
    }

    async fn readlink(&mut self, _id: u32, _path: String) -> Result<Name, Self::Error> {
        Err(StatusCode::OpUnsupported.with_message("The vault has no symbolic links."))
    }

    async fn symlink(&mut self, _id: u32, _link: String, _target: String) -> Result<Status, Self::Error> {
        Err(StatusCode::PermissionDenied.with_message("The vault has no symbolic links."))
    }
}

fn upload_error(r: Result<Result<VaultFileView, AppError>, tokio::task::JoinError>) -> StatusReply {
    match r {
        Ok(Err(e)) => refused(e),
        _ => StatusCode::Failure.with_message("The upload failed; nothing was stored."),
    }
}

async fn record(
    state: &AppState,
    ctx: &TenantCtx,
    meta: &RequestMeta,
    action: &str,
    detail: &str,
) -> Result<(), StatusReply> {
    app::backend::ssh::gateway::sessions::record_op(state, ctx, meta, action, detail).await.map_err(refused)
}
