//! EasyPost's v2 API over HTTP, for one `carrier` instance: HTTP Basic with the API key as the
//! user, JSON bodies as `iom_providers::easypost` writes them.

use iom_providers::easypost::Shipment;
use serde_json::Value;

use super::ShippingError;
use crate::pipeline::Loaded;

pub struct Client<'a> {
    http: &'a reqwest::Client,
    base: String,
    api_key: String,
}

impl<'a> Client<'a> {
    pub fn new(http: &'a reqwest::Client, loaded: &Loaded) -> Result<Self, ShippingError> {
        let field = |name: &str| {
            loaded.connection(name).map(str::to_owned).ok_or_else(|| {
                ShippingError::Carrier(format!(
                    "provider {} has no connection.{name}",
                    loaded.name()
                ))
            })
        };
        Ok(Client {
            http,
            base: field("base_url")?.trim_end_matches('/').to_owned(),
            api_key: field("api_key")?,
        })
    }

    /// `POST /v2/shipments`: the shipment with its rates.
    pub async fn create(&self, body: &Value) -> Result<Shipment, ShippingError> {
        let req = self
            .http
            .post(format!("{}/v2/shipments", self.base))
            .json(body);
        self.shipment(req).await
    }

    /// `GET /v2/shipments/{id}`: whether it was bought, and its label.
    pub async fn retrieve(&self, id: &str) -> Result<Shipment, ShippingError> {
        let req = self.http.get(format!("{}/v2/shipments/{id}", self.base));
        self.shipment(req).await
    }

    /// `POST /v2/shipments/{id}/buy`.
    pub async fn buy(&self, id: &str, body: &Value) -> Result<Shipment, ShippingError> {
        let req = self
            .http
            .post(format!("{}/v2/shipments/{id}/buy", self.base))
            .json(body);
        self.shipment(req).await
    }

    /// The label file at `url` (EasyPost's label URLs are public).
    pub async fn label(&self, url: &str) -> Result<Vec<u8>, ShippingError> {
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| ShippingError::Carrier(format!("fetching the label: {e}")))?;
        if !resp.status().is_success() {
            return Err(ShippingError::Carrier(format!(
                "fetching the label answered {}",
                resp.status()
            )));
        }
        Ok(resp
            .bytes()
            .await
            .map_err(|e| ShippingError::Carrier(format!("reading the label: {e}")))?
            .to_vec())
    }

    async fn shipment(&self, req: reqwest::RequestBuilder) -> Result<Shipment, ShippingError> {
        let resp = req
            .basic_auth(&self.api_key, Some(""))
            .send()
            .await
            .map_err(|e| ShippingError::Carrier(format!("the carrier cannot be reached: {e}")))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| ShippingError::Carrier(format!("reading the carrier's answer: {e}")))?;
        if !status.is_success() {
            let message = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
            return Err(ShippingError::Carrier(format!(
                "the carrier answered {status}: {message}"
            )));
        }
        Shipment::parse(&body).map_err(ShippingError::Carrier)
    }
}
