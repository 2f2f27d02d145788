//! A typed client for the `/v1` API, used by the `imo` CLI and the end-to-end tests.

use reqwest::{Body, StatusCode};
use serde::de::DeserializeOwned;

use crate::dto::*;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error body.
    #[error("{status} {code}: {message}")]
    Api {
        status: StatusCode,
        code: String,
        message: String,
    },
    /// The server could not be reached or the exchange failed.
    #[error("cannot reach the server: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("unexpected response ({status}): {body}")]
    Unexpected { status: StatusCode, body: String },
}

impl ClientError {
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Api { status, .. } | Self::Unexpected { status, .. } => Some(*status),
            Self::Transport(e) => e.status(),
        }
    }
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Metadata of a model upload.
#[derive(Debug, Clone, Default)]
pub struct Upload {
    pub name: String,
    pub price_wei: Option<String>,
    pub description: Option<String>,
    pub version: Option<String>,
}

impl Upload {
    /// An upload named `name`, everything else left to the server's defaults.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
    key: Option<String>,
}

impl Client {
    pub fn new(base_url: &str) -> Self {
        Self {
            base: base_url.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
            key: None,
        }
    }

    pub fn with_key(&self, key: impl Into<String>) -> Self {
        Self {
            key: Some(key.into()),
            ..self.clone()
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request builder with the key attached, for calls this client does not wrap.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let rb = self.http.request(method, self.url(path));
        match &self.key {
            Some(k) => rb.bearer_auth(k),
            None => rb,
        }
    }

    async fn parse<T: DeserializeOwned>(
        resp: reqwest::Response,
    ) -> Result<(StatusCode, T), ClientError> {
        let status = resp.status();
        let text = resp.text().await?;
        if status.is_success() {
            return serde_json::from_str(&text)
                .map(|v| (status, v))
                .map_err(|_| ClientError::Unexpected { status, body: text });
        }
        match serde_json::from_str::<ErrorBody>(&text) {
            Ok(b) => Err(ClientError::Api {
                status,
                code: b.error.code,
                message: b.error.message,
            }),
            Err(_) => Err(ClientError::Unexpected { status, body: text }),
        }
    }

    /// Uploads a model from any body (bytes, or a stream for large files with progress).
    /// Returns the status (201 new, 200 existing) and the model.
    pub async fn upload_model(
        &self,
        meta: &Upload,
        body: impl Into<Body>,
    ) -> Result<(StatusCode, ModelView), ClientError> {
        let mut query = vec![("name", meta.name.clone())];
        for (k, v) in [
            ("price_wei", &meta.price_wei),
            ("description", &meta.description),
            ("version", &meta.version),
        ] {
            if let Some(v) = v {
                query.push((k, v.clone()));
            }
        }
        let resp = self
            .request(reqwest::Method::POST, "/v1/models")
            .query(&query)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await?;
        Self::parse(resp).await
    }

    pub async fn get_model(&self, id: &str) -> Result<ModelView, ClientError> {
        Ok(Self::parse(
            self.request(reqwest::Method::GET, &format!("/v1/models/{id}"))
                .send()
                .await?,
        )
        .await?
        .1)
    }

    pub async fn list_models(&self, query: &[(&str, &str)]) -> Result<ModelList, ClientError> {
        Ok(Self::parse(
            self.request(reqwest::Method::GET, "/v1/models")
                .query(query)
                .send()
                .await?,
        )
        .await?
        .1)
    }

    pub async fn update_model(
        &self,
        id: &str,
        patch: &serde_json::Value,
    ) -> Result<ModelView, ClientError> {
        let rb = self
            .request(reqwest::Method::PATCH, &format!("/v1/models/{id}"))
            .json(patch);
        Ok(Self::parse(rb.send().await?).await?.1)
    }

    pub async fn deactivate_model(&self, id: &str) -> Result<ModelView, ClientError> {
        let rb = self.request(
            reqwest::Method::POST,
            &format!("/v1/models/{id}/deactivate"),
        );
        Ok(Self::parse(rb.send().await?).await?.1)
    }

    pub async fn weights(&self, id: &str) -> Result<WeightList, ClientError> {
        Ok(Self::parse(
            self.request(reqwest::Method::GET, &format!("/v1/models/{id}/weights"))
                .send()
                .await?,
        )
        .await?
        .1)
    }

    pub async fn weight_proof(
        &self,
        id: &str,
        index: usize,
    ) -> Result<WeightProofView, ClientError> {
        let rb = self.request(
            reqwest::Method::GET,
            &format!("/v1/models/{id}/weights/{index}/proof"),
        );
        Ok(Self::parse(rb.send().await?).await?.1)
    }

    pub async fn nonce(&self) -> Result<NonceView, ClientError> {
        Ok(Self::parse(
            self.request(reqwest::Method::POST, "/v1/auth/nonce")
                .send()
                .await?,
        )
        .await?
        .1)
    }

    pub async fn sign_in(
        &self,
        message: &str,
        signature: &str,
        role: &str,
    ) -> Result<IssuedKeyView, ClientError> {
        let body = serde_json::json!({ "message": message, "signature": signature, "role": role });
        Ok(Self::parse(
            self.request(reqwest::Method::POST, "/v1/auth/siwe")
                .json(&body)
                .send()
                .await?,
        )
        .await?
        .1)
    }

    pub async fn create_key(
        &self,
        address: &str,
        role: &str,
        label: &str,
    ) -> Result<IssuedKeyView, ClientError> {
        let body = serde_json::json!({ "address": address, "role": role, "label": label });
        Ok(Self::parse(
            self.request(reqwest::Method::POST, "/v1/keys")
                .json(&body)
                .send()
                .await?,
        )
        .await?
        .1)
    }

    pub async fn revoke_key(&self, id: &str) -> Result<(), ClientError> {
        let resp = self
            .request(reqwest::Method::DELETE, &format!("/v1/keys/{id}"))
            .send()
            .await?;
        if resp.status() == StatusCode::NO_CONTENT {
            return Ok(());
        }
        Self::parse::<serde_json::Value>(resp).await.map(|_| ())
    }

    pub async fn whoami(&self) -> Result<WhoAmI, ClientError> {
        Ok(Self::parse(
            self.request(reqwest::Method::GET, "/v1/whoami")
                .send()
                .await?,
        )
        .await?
        .1)
    }

    /// A raw inference call (JSON body); returns status and the parsed body, errors included,
    /// since protocol errors are `{"error": "..."}` rather than the `/v1` shape.
    pub async fn infer_json(
        &self,
        model: &str,
        body: &serde_json::Value,
    ) -> Result<(StatusCode, serde_json::Value), ClientError> {
        let resp = self
            .request(reqwest::Method::POST, &format!("/v2/models/{model}/infer"))
            .json(body)
            .send()
            .await?;
        let status = resp.status();
        let text = resp.text().await?;
        let v = serde_json::from_str(&text)
            .map_err(|_| ClientError::Unexpected { status, body: text })?;
        Ok((status, v))
    }

    /// `GET /v1/admin/transactions` (admin key).
    pub async fn transactions(
        &self,
        state: Option<&str>,
    ) -> Result<crate::dto::TransactionsResponse, ClientError> {
        let path = match state {
            Some(s) => format!("/v1/admin/transactions?state={s}"),
            None => "/v1/admin/transactions".into(),
        };
        self.send_json(reqwest::Method::GET, &path, None).await
    }

    /// `GET /v1/contracts`.
    pub async fn contracts(&self) -> Result<crate::dto::ContractsResponse, ClientError> {
        self.send_json(reqwest::Method::GET, "/v1/contracts", None)
            .await
    }

    /// `POST /v1/models/{id}/tokenize`.
    pub async fn tokenize(
        &self,
        model: &str,
        name: &str,
        symbol: &str,
        supply_tokens: &str,
        holders_bps: u32,
    ) -> Result<crate::dto::TokenResponse, ClientError> {
        let body = serde_json::json!({ "name": name, "symbol": symbol,
            "supply_tokens": supply_tokens, "holders_bps": holders_bps });
        self.send_json(
            reqwest::Method::POST,
            &format!("/v1/models/{model}/tokenize"),
            Some(&body),
        )
        .await
    }

    /// `GET /v1/models/{id}/token`.
    pub async fn token(&self, model: &str) -> Result<crate::dto::TokenResponse, ClientError> {
        self.send_json(
            reqwest::Method::GET,
            &format!("/v1/models/{model}/token"),
            None,
        )
        .await
    }

    /// `POST /v1/spending-caps`.
    pub async fn spending_cap(
        &self,
        client: &str,
        cap_wei: &str,
        deadline: u64,
        signature: &str,
    ) -> Result<crate::dto::SpendingCapResponse, ClientError> {
        let body = serde_json::json!({ "client": client, "cap_wei": cap_wei,
            "deadline": deadline, "signature": signature });
        self.send_json(reqwest::Method::POST, "/v1/spending-caps", Some(&body))
            .await
    }

    /// `GET /v1/billing`: the caller's billing mode, credit window, served and acknowledged.
    pub async fn billing(&self) -> Result<crate::dto::BillingView, ClientError> {
        self.send_json(reqwest::Method::GET, "/v1/billing", None)
            .await
    }

    /// `POST /v1/billing-mode`: choose acknowledged billing with a signed `AckMode`.
    pub async fn billing_mode(
        &self,
        from_epoch: u64,
        deadline: u64,
        signature: &str,
    ) -> Result<crate::dto::BillingView, ClientError> {
        let body = serde_json::json!({ "from_epoch": from_epoch, "deadline": deadline,
            "signature": signature });
        self.send_json(reqwest::Method::POST, "/v1/billing-mode", Some(&body))
            .await
    }

    /// `POST /v1/acknowledgements`.
    pub async fn acknowledge(
        &self,
        ack: &crate::acks::SignedAcknowledgement,
    ) -> Result<crate::dto::BillingView, ClientError> {
        let body = serde_json::json!({ "epoch": ack.epoch, "amount_wei": ack.amount_wei.to_string(),
            "calls": ack.calls, "signature": ack.signature });
        self.send_json(reqwest::Method::POST, "/v1/acknowledgements", Some(&body))
            .await
    }

    /// `GET /v1/receipts/{id}/proof`.
    pub async fn receipt_proof(
        &self,
        id: &str,
    ) -> Result<crate::dto::ReceiptProofResponse, ClientError> {
        self.send_json(
            reqwest::Method::GET,
            &format!("/v1/receipts/{id}/proof"),
            None,
        )
        .await
    }

    /// `GET /v1/epochs/{epoch}`.
    pub async fn epoch(&self, epoch: u64) -> Result<crate::dto::EpochResponse, ClientError> {
        self.send_json(reqwest::Method::GET, &format!("/v1/epochs/{epoch}"), None)
            .await
    }

    /// `GET /v1/models/{id}/revenue`.
    pub async fn revenue(&self, model: &str) -> Result<crate::dto::RevenueResponse, ClientError> {
        self.send_json(
            reqwest::Method::GET,
            &format!("/v1/models/{model}/revenue"),
            None,
        )
        .await
    }

    /// `GET /v1/holders/{address}/claimable`.
    pub async fn claimable(
        &self,
        holder: &str,
    ) -> Result<crate::dto::ClaimableResponse, ClientError> {
        self.send_json(
            reqwest::Method::GET,
            &format!("/v1/holders/{holder}/claimable"),
            None,
        )
        .await
    }

    async fn send_json<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<T, ClientError> {
        let mut rb = self.request(method, path);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        Ok(Self::parse(rb.send().await?).await?.1)
    }

    pub async fn balance(&self) -> Result<crate::dto::BalanceResponse, ClientError> {
        Ok(Self::parse(
            self.request(reqwest::Method::GET, "/v1/balance")
                .send()
                .await?,
        )
        .await?
        .1)
    }

    pub async fn credit(
        &self,
        address: &str,
        amount_wei: &str,
    ) -> Result<crate::dto::BalanceResponse, ClientError> {
        let body = serde_json::json!({ "address": address, "amount_wei": amount_wei });
        Ok(Self::parse(
            self.request(reqwest::Method::POST, "/v1/admin/credits")
                .json(&body)
                .send()
                .await?,
        )
        .await?
        .1)
    }

    pub async fn receipt(&self, id: &str) -> Result<crate::dto::ReceiptView, ClientError> {
        Ok(Self::parse(
            self.request(reqwest::Method::GET, &format!("/v1/receipts/{id}"))
                .send()
                .await?,
        )
        .await?
        .1)
    }

    pub async fn receipts(
        &self,
        query: &[(&str, &str)],
    ) -> Result<crate::dto::ReceiptList, ClientError> {
        Ok(Self::parse(
            self.request(reqwest::Method::GET, "/v1/receipts")
                .query(query)
                .send()
                .await?,
        )
        .await?
        .1)
    }

    pub async fn usage(
        &self,
        query: &[(&str, &str)],
    ) -> Result<crate::dto::UsageResponse, ClientError> {
        Ok(Self::parse(
            self.request(reqwest::Method::GET, "/v1/usage")
                .query(query)
                .send()
                .await?,
        )
        .await?
        .1)
    }

    pub async fn operator(&self) -> Result<crate::dto::OperatorView, ClientError> {
        Ok(Self::parse(
            self.request(reqwest::Method::GET, "/v1/operator")
                .send()
                .await?,
        )
        .await?
        .1)
    }

    pub async fn ready(&self) -> Result<Health, ClientError> {
        Ok(
            Self::parse(self.request(reqwest::Method::GET, "/readyz").send().await?)
                .await?
                .1,
        )
    }
}
