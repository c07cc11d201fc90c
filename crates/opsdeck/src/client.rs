//! A small API client for the everyday commands.

use crate::config::Config;
use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    pub fn new(cfg: &Config) -> Result<Client> {
        let token = cfg.token.clone().ok_or_else(|| {
            anyhow!(
                "no API token: pass --token or set OPSDECK_TOKEN (create one in the UI under \
                 Settings → API tokens, or with `opsdeck token create`)"
            )
        })?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("opsdeck-cli/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Client { http, base: cfg.server.trim_end_matches('/').to_owned(), token })
    }

    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value> {
        self.send(self.http.get(format!("{}{path}", self.base)).query(query)).await
    }

    /// A non-JSON answer (CSV, HTML) as text.
    pub async fn get_text(&self, path: &str, query: &[(&str, String)]) -> Result<String> {
        let req = self.http.get(format!("{}{path}", self.base)).query(query).bearer_auth(&self.token);
        let resp = req.send().await.with_context(|| format!("cannot reach the Opsdeck server at {}", self.base))?;
        let status = resp.status();
        if status.is_success() {
            return resp.text().await.context("the server's answer was cut off");
        }
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        let code = body["error"]["code"].as_str().unwrap_or("error");
        let message = body["error"]["message"].as_str().unwrap_or("the server gave no reason");
        bail!("{message} ({code}, HTTP {})", status.as_u16())
    }

    /// Every item of a paginated list.
    pub async fn get_all(&self, path: &str) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("limit", "500".to_owned())];
            if let Some(c) = &cursor {
                query.push(("cursor", c.clone()));
            }
            let page = self.get(path, &query).await?;
            items.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return Ok(items),
            }
        }
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Result<Value> {
        self.send(self.http.patch(format!("{}{path}", self.base)).json(body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<()> {
        let resp = self
            .http
            .delete(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach the Opsdeck server at {}", self.base))?;
        if resp.status().is_success() {
            return Ok(());
        }
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        bail!(
            "{} ({}, HTTP {})",
            body["error"]["message"].as_str().unwrap_or("failed"),
            body["error"]["code"].as_str().unwrap_or("error"),
            status.as_u16()
        )
    }

    pub async fn put(&self, path: &str, body: &Value) -> Result<Value> {
        self.send(self.http.put(format!("{}{path}", self.base)).json(body)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body)).await
    }

    /// Posts JSON for work that may take minutes (an import reading a vendor's API).
    pub async fn post_slow(&self, path: &str, body: &Value) -> Result<Value> {
        let req =
            self.http.post(format!("{}{path}", self.base)).json(body).timeout(std::time::Duration::from_secs(900));
        self.send(req).await
    }

    /// Posts a file as the body (imports); the server may take minutes on a large one.
    pub async fn post_file(&self, path: &str, query: &[(&str, String)], body: Vec<u8>) -> Result<Value> {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .query(query)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .timeout(std::time::Duration::from_secs(600))
            .body(body);
        self.send(req).await
    }

    /// Posts a JSON-RPC message to the server's MCP endpoint as it is; the caller reads the answer.
    pub async fn post_mcp(&self, message: String, headers: &[(&'static str, String)]) -> Result<reqwest::Response> {
        let mut req = self
            .http
            .post(format!("{}/mcp", self.base))
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json, text/event-stream")
            .timeout(std::time::Duration::from_secs(120));
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        req.body(message).send().await.with_context(|| format!("cannot reach the Opsdeck server at {}", self.base))
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Value> {
        let resp = req.bearer_auth(&self.token).send().await.with_context(|| {
            format!("cannot reach the Opsdeck server at {} (is it running? set --server or OPSDECK_SERVER)", self.base)
        })?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let code = body["error"]["code"].as_str().unwrap_or("error");
        let message = body["error"]["message"].as_str().unwrap_or("the server gave no reason");
        bail!("{message} ({code}, HTTP {})", status.as_u16())
    }
}
