//! OpenStack Swift, as Parsec's server reaches it through python-swiftclient's defaults:
//! auth v1 (TempAuth style: `X-Auth-User`/`X-Auth-Key` against the auth URL, answered with a
//! storage URL and a token), then `GET <storage url>/<container>/<org>/<block uuid>`.

use std::time::Duration;

use futures::future::BoxFuture;
use reqwest::StatusCode;
use tokio::sync::RwLock;
use uuid::Uuid;

use super::{object_name, trust, BlockStore, ReadResult, StoreError, SwiftConfig};
use crate::error::{Error, Result};

pub struct SwiftBlockStore {
    http: reqwest::Client,
    config: SwiftConfig,
    description: String,
    /// The CAs HTTPS is verified against, for messages.
    trusted: String,
    /// (storage URL, token), obtained at first use and renewed when refused.
    session: RwLock<Option<(String, String)>>,
}

impl SwiftBlockStore {
    pub fn new(config: &SwiftConfig) -> Result<Self> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120));
        let trusted = match trust::ca_bundle(trust::StoreKind::Swift)? {
            None => "the operating system's trust store".to_owned(),
            Some((pem, named)) => {
                let certs = reqwest::Certificate::from_pem_bundle(&pem)
                    .map_err(|e| Error::BlockstoreConfig(format!("the CA bundle {named}: {e}")))?;
                builder = builder.tls_certs_only(certs);
                named
            }
        };
        let http = builder.build().map_err(|e| {
            Error::BlockstoreConfig(format!("cannot build an HTTP client for Swift: {e}"))
        })?;
        Ok(SwiftBlockStore {
            http,
            description: super::SingleStore::Swift(config.clone()).to_string(),
            config: config.clone(),
            trusted,
            session: RwLock::new(None),
        })
    }

    async fn login(&self) -> std::result::Result<(String, String), StoreError> {
        // python-swiftclient sends `<user>:<tenant>` as the user for auth v1.
        let response = self
            .http
            .get(&self.config.auth_url)
            .header(
                "X-Auth-User",
                format!("{}:{}", self.config.user, self.config.tenant),
            )
            .header("X-Auth-Key", &self.config.password)
            .send()
            .await
            .map_err(|e| {
                StoreError::unavailable(format!("Swift authentication: {}", self.explain(&e)))
            })?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(StoreError::Unavailable(format!(
                "Swift authentication refused ({status}): check the user, tenant and password"
            )));
        }
        if !status.is_success() {
            // e.g. 503 from TempAuth while its memcache is down: not a credentials problem.
            return Err(StoreError::Unavailable(format!(
                "Swift authentication failed ({status})"
            )));
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        match (header("X-Storage-Url"), header("X-Auth-Token")) {
            (Some(url), Some(token)) => Ok((url, token)),
            _ => Err(StoreError::Unavailable(
                "Swift authentication answered without X-Storage-Url / X-Auth-Token".into(),
            )),
        }
    }

    async fn session(&self, renew: bool) -> std::result::Result<(String, String), StoreError> {
        if !renew {
            if let Some(s) = self.session.read().await.clone() {
                return Ok(s);
            }
        }
        let fresh = self.login().await?;
        *self.session.write().await = Some(fresh.clone());
        Ok(fresh)
    }

    /// Sends `method` on `<storage url>/<container>[/<object>]`, logging in again once if the
    /// token expired.
    async fn request(
        &self,
        method: reqwest::Method,
        object: Option<&str>,
    ) -> std::result::Result<reqwest::Response, StoreError> {
        for renew in [false, true] {
            let (storage_url, token) = self.session(renew).await?;
            let mut url = format!(
                "{}/{}",
                storage_url.trim_end_matches('/'),
                self.config.container
            );
            if let Some(object) = object {
                url.push('/');
                url.push_str(object);
            }
            let response = self
                .http
                .request(method.clone(), &url)
                .header("X-Auth-Token", token)
                .send()
                .await
                .map_err(|e| StoreError::unavailable(self.explain(&e)))?;
            if response.status() != StatusCode::UNAUTHORIZED {
                return Ok(response);
            }
        }
        Err(StoreError::Unavailable(
            "Swift refused a fresh token (401)".into(),
        ))
    }
}

impl SwiftBlockStore {
    fn explain(&self, e: &reqwest::Error) -> String {
        trust::explain(e, &self.trusted, without_url_secrets(e))
    }
}

/// reqwest errors mention the URL, which holds no credential for Swift (the password goes
/// in a header); keep the message on one line.
fn without_url_secrets(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl BlockStore for SwiftBlockStore {
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn read<'a>(&'a self, organization_id: &'a str, block_id: Uuid) -> BoxFuture<'a, ReadResult> {
        Box::pin(async move {
            let name = object_name(organization_id, block_id);
            let response = self.request(reqwest::Method::GET, Some(&name)).await?;
            match response.status() {
                StatusCode::NOT_FOUND => Err(StoreError::NotFound),
                s if s.is_success() => response
                    .bytes()
                    .await
                    .map(|b| b.to_vec())
                    .map_err(|e| StoreError::unavailable(without_url_secrets(&e))),
                s => Err(StoreError::Unavailable(format!("Swift answered {s}"))),
            }
        })
    }

    fn check<'a>(
        &'a self,
        _organization_id: &'a str,
    ) -> BoxFuture<'a, std::result::Result<(), StoreError>> {
        Box::pin(async move {
            let response = self.request(reqwest::Method::HEAD, None).await?;
            match response.status() {
                s if s.is_success() => Ok(()),
                StatusCode::NOT_FOUND => Err(StoreError::Unavailable(
                    "the container does not exist".into(),
                )),
                s => Err(StoreError::Unavailable(format!(
                    "Swift answered {s} for the container"
                ))),
            }
        })
    }
}
