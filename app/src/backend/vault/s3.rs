//! Blobs in an S3-compatible bucket, for several instances behind one load balancer: the same
//! [`BlobStore`] interface as the local files, through the `object_store` crate. Only ciphertext reaches it
//! (the vault encrypts above the store).
//!
//! - Objects are named `<prefix>/<tenant id>/<blob id>`, both server-made names checked like the local store's.
//! - A write is a multipart upload in 8 MiB parts, at most 4 in flight; the object exists only once the upload
//!   completes (`commit`), so a reader never sees half a blob. An aborted write aborts the upload; one left by a
//!   crashed instance is never visible and is removed by the bucket's lifecycle rule for incomplete multipart
//!   uploads (see the README).
//! - A read streams the object's body; a tenant's deletion lists its prefix and deletes in batches.

use super::store::{checked_name, BlobReader, BlobStore, BlobWriter};
use futures_util::{StreamExt as _, TryStreamExt as _};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _, WriteMultipart};
use secrecy::{ExposeSecret as _, SecretString};
use std::sync::Arc;

/// Bytes per uploaded part (S3 wants at least 5 MiB for every part but the last).
const PART_BYTES: usize = 8 << 20;
/// Parts uploading at once per blob: bounds a writer's memory to about 40 MiB.
const PARTS_IN_FLIGHT: usize = 4;

/// Where the bucket is and how to reach it.
#[derive(Clone)]
pub struct S3Config {
    pub bucket: String,
    /// `https://…` of an S3-compatible service; unset for AWS itself (by region).
    pub endpoint: Option<String>,
    pub region: String,
    /// Path-style requests (`endpoint/bucket/key`), which most S3-compatible services need.
    pub path_style: bool,
    /// Every object's name starts with this (no leading or trailing slash); may be empty.
    pub prefix: String,
    pub access_key_id: String,
    pub secret_access_key: SecretString,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("path_style", &self.path_style)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl S3Config {
    /// Plain HTTP is accepted only to a loopback endpoint (a test server on this machine).
    pub fn endpoint_is_loopback_http(&self) -> bool {
        self.endpoint.as_deref().is_some_and(crate::backend::platform::request::is_loopback_http)
    }
}

/// The S3-compatible store.
#[derive(Debug, Clone)]
pub struct S3Store {
    s3: Arc<AmazonS3>,
    prefix: String,
}

impl S3Store {
    /// Builds the client; nothing is contacted yet.
    pub fn new(config: &S3Config) -> Result<Self, String> {
        // The HTTP client's TLS uses the process's provider: ring, as everywhere else in Rampart (a provider
        // installed earlier stays).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_access_key_id(&config.access_key_id)
            .with_secret_access_key(config.secret_access_key.expose_secret())
            .with_virtual_hosted_style_request(!config.path_style);
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if config.endpoint_is_loopback_http() {
            builder = builder.with_allow_http(true);
        }
        let s3 = builder.build().map_err(|e| format!("the S3 store cannot be set up: {e}"))?;
        Ok(Self { s3: Arc::new(s3), prefix: config.prefix.trim_matches('/').to_owned() })
    }

    fn tenant_folder(&self, tenant_id: &str) -> std::io::Result<String> {
        let tenant = checked_name(tenant_id)?;
        Ok(if self.prefix.is_empty() { tenant.to_owned() } else { format!("{}/{tenant}", self.prefix) })
    }

    fn tenant_path(&self, tenant_id: &str) -> std::io::Result<Path> {
        Ok(Path::from(self.tenant_folder(tenant_id)?))
    }

    fn path(&self, tenant_id: &str, blob: &str) -> std::io::Result<Path> {
        Ok(Path::from(format!("{}/{}", self.tenant_folder(tenant_id)?, checked_name(blob)?)))
    }

    /// Checks that the bucket answers (a listing of at most one page under the prefix).
    pub async fn check(&self) -> std::io::Result<()> {
        let prefix = (!self.prefix.is_empty()).then(|| Path::from(self.prefix.as_str()));
        let mut list = self.s3.list(prefix.as_ref());
        match list.next().await {
            Some(Err(e)) => Err(e.into()),
            _ => Ok(()),
        }
    }
}

/// A blob being uploaded in parts.
struct S3Writer {
    upload: Option<WriteMultipart>,
}

#[async_trait::async_trait]
impl BlobStore for S3Store {
    async fn create(&self, tenant_id: &str, blob: &str) -> std::io::Result<Box<dyn BlobWriter>> {
        let upload = self.s3.put_multipart(&self.path(tenant_id, blob)?).await?;
        Ok(Box::new(S3Writer { upload: Some(WriteMultipart::new_with_chunk_size(upload, PART_BYTES)) }))
    }

    async fn open(&self, tenant_id: &str, blob: &str) -> std::io::Result<BlobReader> {
        let body = self.s3.get(&self.path(tenant_id, blob)?).await?;
        // Fused: a reader may ask again after the end, and the body stream must not be polled past it.
        let stream = body.into_stream().map_err(std::io::Error::from).fuse();
        Ok(Box::pin(tokio_util::io::StreamReader::new(stream)))
    }

    async fn delete(&self, tenant_id: &str, blob: &str) -> std::io::Result<()> {
        match self.s3.delete(&self.path(tenant_id, blob)?).await {
            Err(object_store::Error::NotFound { .. }) | Ok(()) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn list(&self, tenant_id: &str) -> std::io::Result<Vec<String>> {
        let prefix = self.tenant_path(tenant_id)?;
        let metas: Vec<_> = self.s3.list(Some(&prefix)).try_collect().await?;
        let mut names: Vec<String> =
            metas.into_iter().filter_map(|m| m.location.filename().map(str::to_owned)).collect();
        names.sort();
        Ok(names)
    }

    async fn delete_tenant(&self, tenant_id: &str) -> std::io::Result<()> {
        let prefix = self.tenant_path(tenant_id)?;
        let names = self.s3.list(Some(&prefix)).map_ok(|meta| meta.location).boxed();
        let mut deleted = self.s3.delete_stream(names);
        while let Some(result) = deleted.next().await {
            match result {
                Err(object_store::Error::NotFound { .. }) | Ok(_) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

fn finished() -> std::io::Error {
    std::io::Error::other("the upload has already ended")
}

#[async_trait::async_trait]
impl BlobWriter for S3Writer {
    async fn write(&mut self, bytes: Vec<u8>) -> std::io::Result<()> {
        let upload = self.upload.as_mut().ok_or_else(finished)?;
        upload.wait_for_capacity(PARTS_IN_FLIGHT).await?;
        upload.put(bytes::Bytes::from(bytes));
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> std::io::Result<()> {
        let upload = self.upload.take().ok_or_else(finished)?;
        upload.finish().await?;
        Ok(())
    }

    async fn abort(mut self: Box<Self>) {
        if let Some(upload) = self.upload.take() {
            if let Err(e) = upload.abort().await {
                tracing::warn!(error = %e, "an S3 multipart upload could not be aborted (the bucket's lifecycle rule removes it)");
            }
        }
    }
}
