//! S3 (AWS or compatible: Garage, MinIO, Ceph…) through the `object_store` crate, which signs
//! requests (SigV4) and streams bodies. Reads run truly concurrently; a missing object is
//! "not found", anything else "unavailable" (our retry wrapper decides what to do).

use std::time::Duration;

use futures::future::BoxFuture;
use futures::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig};
use uuid::Uuid;

use super::{object_name, trust, BlockStore, ReadResult, S3Config, StoreError};
use crate::error::{Error, Result};

pub struct S3BlockStore {
    client: AmazonS3,
    description: String,
    /// The CAs HTTPS is verified against, for messages.
    trusted: String,
}

impl S3BlockStore {
    pub fn new(config: &S3Config) -> Result<Self> {
        let description = super::SingleStore::S3(config.clone()).to_string();
        let region = if config.region.is_empty() {
            "us-east-1"
        } else {
            &config.region
        };
        let mut options = ClientOptions::new()
            .with_allow_http(true)
            .with_connect_timeout(Duration::from_secs(10))
            .with_timeout(Duration::from_secs(120));
        let trusted = match trust::ca_bundle(trust::StoreKind::S3)? {
            None => "the operating system's trust store".to_owned(),
            Some((pem, named)) => {
                let certs = object_store::Certificate::from_pem_bundle(&pem)
                    .map_err(|e| Error::BlockstoreConfig(format!("the CA bundle {named}: {e}")))?;
                for cert in certs {
                    options = options.with_root_certificate(cert);
                }
                options = options.with_no_system_certificates(true);
                named
            }
        };
        let mut builder = AmazonS3Builder::new()
            .with_region(region)
            .with_bucket_name(&config.bucket)
            .with_access_key_id(&config.key)
            .with_secret_access_key(&config.secret)
            .with_client_options(options)
            // Retries are ours (see retry.rs): one policy for every store.
            .with_retry(RetryConfig {
                max_retries: 0,
                ..RetryConfig::default()
            });
        if let Some(endpoint) = &config.endpoint {
            // Path-style addressing, as boto3 uses for custom endpoints.
            builder = builder
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(false);
        }
        let client = builder.build().map_err(|e| {
            Error::BlockstoreConfig(format!(
                "invalid S3 configuration for {description}: {}",
                scrub(&e.to_string(), config)
            ))
        })?;
        Ok(S3BlockStore {
            client,
            description,
            trusted,
        })
    }
}

impl S3BlockStore {
    /// Writes one object. Not part of `BlockStore`: the tool never writes to a server's
    /// store; only `testbed` uses this, to fill staging stores.
    pub async fn put(&self, name: &str, data: Vec<u8>) -> std::result::Result<(), StoreError> {
        self.client
            .put(&Path::from(name), data.into())
            .await
            .map(|_| ())
            .map_err(|e| self.classify(e))
    }
}

/// object_store errors do not contain credentials, but be certain.
fn scrub(text: &str, config: &S3Config) -> String {
    if config.secret.len() >= 3 {
        text.replace(&config.secret, "***")
    } else {
        text.to_owned()
    }
}

impl S3BlockStore {
    fn classify(&self, e: object_store::Error) -> StoreError {
        match e {
            object_store::Error::NotFound { .. } => StoreError::NotFound,
            other => self.unavailable(&other),
        }
    }

    fn unavailable(&self, e: &object_store::Error) -> StoreError {
        StoreError::Unavailable(trust::explain(e, &self.trusted, one_line(e)))
    }
}

fn one_line(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text.replace('\n', " ")
}

impl BlockStore for S3BlockStore {
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn read<'a>(&'a self, organization_id: &'a str, block_id: Uuid) -> BoxFuture<'a, ReadResult> {
        Box::pin(async move {
            let path = Path::from(object_name(organization_id, block_id));
            let result = self.client.get(&path).await.map_err(|e| self.classify(e))?;
            let size = usize::try_from(result.meta.size).unwrap_or(0);
            // Streamed into one buffer of the announced size: a body cut short is an error.
            let mut data = Vec::with_capacity(size);
            let mut stream = result.into_stream();
            while let Some(chunk) = stream.try_next().await.map_err(|e| self.classify(e))? {
                data.extend_from_slice(&chunk);
            }
            if data.len() != size {
                return Err(StoreError::Unavailable(format!(
                    "the object body was {} bytes where its length is {size}",
                    data.len()
                )));
            }
            Ok(data)
        })
    }

    fn check<'a>(&'a self, organization_id: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            // Listing one key proves the endpoint answers, the credentials are accepted and
            // the bucket exists (a missing bucket is an error, not an empty list).
            let prefix = Path::from(organization_id);
            let mut listing = self.client.list(Some(&prefix));
            match listing.try_next().await {
                Ok(_) => Ok(()),
                Err(object_store::Error::NotFound { .. }) => {
                    Err(StoreError::Unavailable("the bucket does not exist".into()))
                }
                Err(e) => Err(self.unavailable(&e)),
            }
        })
    }
}
