//! Client of the in-sandbox supervisor's API.

use gopilot_guest_api::{GuestStatus, LogLine};
use std::time::Duration;

use crate::endpoint::GuestEndpoint;

/// A failed call to a guest.
#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    #[error("guest at {url} is unreachable: {source}")]
    Unreachable { url: String, source: reqwest::Error },
    #[error("guest answered {status} for {url}: {body}")]
    Status { url: String, status: u16, body: String },
}

#[derive(Debug, Clone)]
pub struct GuestClient {
    http: reqwest::Client,
}

impl Default for GuestClient {
    fn default() -> Self {
        GuestClient::new()
    }
}

impl GuestClient {
    pub fn new() -> GuestClient {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(15))
            .build()
            .expect("HTTP client builds");
        GuestClient { http }
    }

    async fn get(&self, guest: &GuestEndpoint, path: &str) -> Result<reqwest::Response, GuestError> {
        let url = format!("{}{path}", guest.base_url);
        self.http
            .get(&url)
            .bearer_auth(&guest.token)
            .send()
            .await
            .map_err(|source| GuestError::Unreachable { url, source })
    }

    /// Returns true when the runtime's own readiness check passes.
    pub async fn ready(&self, guest: &GuestEndpoint) -> Result<bool, GuestError> {
        let response = self.get(guest, "/v1/ready").await?;
        Ok(response.status().is_success())
    }

    pub async fn status(&self, guest: &GuestEndpoint) -> Result<GuestStatus, GuestError> {
        let url = format!("{}/v1/status", guest.base_url);
        let response = self.get(guest, "/v1/status").await?;
        check(&url, response).await?.json().await.map_err(|source| GuestError::Unreachable { url, source })
    }

    /// Returns the last `tail` lines of the runtime's output.
    pub async fn tail(&self, guest: &GuestEndpoint, tail: usize) -> Result<Vec<LogLine>, GuestError> {
        let path = format!("/v1/logs?tail={tail}");
        let url = format!("{}{path}", guest.base_url);
        let response = self.get(guest, &path).await?;
        check(&url, response).await?.json().await.map_err(|source| GuestError::Unreachable { url, source })
    }
}

async fn check(url: &str, response: reqwest::Response) -> Result<reqwest::Response, GuestError> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    Err(GuestError::Status { url: url.to_string(), status, body: body.chars().take(500).collect() })
}
