//! The data pipeline's moving parts, between HTTP and the store: loading provider instances
//! (secrets opened, transformation compiled, cached), receiving and re-processing documents,
//! fetching what a webhook only names (BigCommerce), outbound provider actions, and the
//! background workers: delivering business events (webhook subscriptions, NATS JetStream),
//! turning events into outbound documents (`documents`), sending those (`sender`), and polling
//! sources that must be pulled (`pull`).

pub mod channel;
pub mod connection_test;
pub mod delivery;
pub mod documents;
pub mod flow_calls;
pub mod instance;
pub mod nats;
pub mod outbound;
pub mod pull;
pub mod sender;
pub mod settings;
pub mod subscription;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use iom_domain::Actor;
use iom_providers::Mappings;
use iom_providers::inbound::{self, Instance, Interpretation};
use iom_providers::jq::Transform;
use iom_providers::secrets::{MasterKey, SecretError};
use iom_providers::types::{self, ProviderType};
use iom_store::providers::{
    Apply, Direction, MessageRecord, NewMessage, Processed, ProviderRecord, ShipmentWork, Target,
};
use iom_store::{Store, StoreError, acting};
use serde_json::{Value, json};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum PipelineError {
    #[error("provider {0} does not exist")]
    UnknownProvider(String),
    #[error("message {0} does not exist")]
    UnknownMessage(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("provider {provider}: {source}")]
    Secret {
        provider: String,
        source: SecretError,
    },
    #[error("provider {provider}: stored configuration is not readable: {message}")]
    Config { provider: String, message: String },
}

/// How long another process's change to an instance may go unseen here.
pub const CACHE_TTL: Duration = Duration::from_secs(2);

/// A provider instance ready to use.
pub struct Loaded {
    pub record: ProviderRecord,
    pub kind: &'static ProviderType,
    pub instance: Instance,
    /// Opened secrets, by connection field.
    pub secrets: BTreeMap<String, String>,
}

impl Loaded {
    pub fn name(&self) -> &str {
        &self.record.name
    }

    /// `Err` naming what the instance is when it is not of provider type `kind`.
    pub fn of_kind(&self, kind: &str) -> Result<(), String> {
        if self.kind.name == kind {
            Ok(())
        } else {
            Err(format!(
                "{} is a {} instance, not a {kind} one",
                self.name(),
                self.kind.name
            ))
        }
    }

    /// A connection field, secret or not.
    pub fn connection(&self, field: &str) -> Option<&str> {
        self.secrets.get(field).map(String::as_str).or_else(|| {
            self.record.config["connection"][field]
                .as_str()
                .filter(|s| !s.is_empty())
        })
    }
}

/// Where the master key came from, for the start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Environment,
    File(String),
    /// No key: storing secrets is refused.
    None,
}

/// The key that seals secrets: `IOM_MASTER_KEY` when given. Without it, a SQLite database gets a
/// key file beside it (`iom.db.key`, created once, readable by the owner only), so that one
/// command still gives a working system; a PostgreSQL deployment has several processes and no
/// common file, so there secrets are refused until the variable is set.
pub fn master_key(
    configured: Option<&str>,
    database_url: &str,
) -> anyhow::Result<(Option<MasterKey>, KeySource)> {
    if let Some(k) = configured.filter(|k| !k.trim().is_empty()) {
        return Ok((Some(MasterKey::derive(k)), KeySource::Environment));
    }
    let Some(path) = database_url.strip_prefix("sqlite://") else {
        return Ok((None, KeySource::None));
    };
    let key_path = format!("{path}.key");
    let p = Path::new(&key_path);
    if p.exists() {
        let text = std::fs::read_to_string(p)?;
        let key = MasterKey::from_hex(&text)
            .ok_or_else(|| anyhow::anyhow!("{key_path} does not hold a 64-digit hex key"))?;
        return Ok((Some(key), KeySource::File(key_path)));
    }
    let key = MasterKey::generate();
    write_private(p, &key.to_hex())?;
    Ok((Some(key), KeySource::File(key_path)))
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

/// The pipeline's state, shared by handlers and workers.
pub struct Pipeline {
    pub key: Option<MasterKey>,
    pub http: reqwest::Client,
    /// Instances by name, with when they were read: compiling a jq program and opening secrets
    /// is done once per change, and a busy channel does not cost a database read per document.
    cache: RwLock<HashMap<String, (Arc<Loaded>, Instant)>>,
}

impl Pipeline {
    pub fn new(key: Option<MasterKey>) -> Pipeline {
        Pipeline {
            key,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(5))
                .build()
                .expect("an HTTP client with timeouts"),
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// The instance, as stored at most [`CACHE_TTL`] ago (a change made through this process is
    /// seen at once: `forget` is called on PUT).
    pub async fn load(&self, store: &Store, name: &str) -> Result<Arc<Loaded>, PipelineError> {
        if let Some((loaded, at)) = self.cache.read().expect("provider cache").get(name)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(loaded.clone());
        }
        let record = store
            .get_provider(name.to_owned())
            .await?
            .ok_or_else(|| PipelineError::UnknownProvider(name.to_owned()))?;
        let reuse = self
            .cache
            .read()
            .expect("provider cache")
            .get(name)
            .filter(|(hit, _)| hit.record == record)
            .map(|(hit, _)| hit.clone());
        let loaded = match reuse {
            Some(hit) => hit,
            None => Arc::new(self.prepare(record)?),
        };
        self.cache
            .write()
            .expect("provider cache")
            .insert(name.to_owned(), (loaded.clone(), Instant::now()));
        Ok(loaded)
    }

    /// Drops the cached instance, after it was changed.
    pub fn forget(&self, name: &str) {
        self.cache.write().expect("provider cache").remove(name);
    }

    fn prepare(&self, record: ProviderRecord) -> Result<Loaded, PipelineError> {
        let config_error = |message: String| PipelineError::Config {
            provider: record.name.clone(),
            message,
        };
        let kind = types::find(&record.kind)
            .ok_or_else(|| config_error(format!("unknown type {}", record.kind)))?;
        let mappings: Mappings = serde_json::from_value(record.config["mappings"].clone())
            .map_err(|e| config_error(e.to_string()))?;
        let transform = match record.config["transformation"].as_str() {
            Some(code) => Some(Arc::new(
                Transform::compile(&record.name, code).map_err(|e| config_error(e.to_string()))?,
            )),
            None => default_transform(kind).map_err(config_error)?,
        };
        let mut secrets = BTreeMap::new();
        for (field, sealed) in &record.secrets {
            let key = self.key.as_ref().ok_or_else(|| PipelineError::Secret {
                provider: record.name.clone(),
                source: SecretError::WrongKey,
            })?;
            let plain = key
                .open(sealed, &record.name)
                .map_err(|source| PipelineError::Secret {
                    provider: record.name.clone(),
                    source,
                })?;
            secrets.insert(
                field.clone(),
                String::from_utf8(plain).map_err(|e| config_error(e.to_string()))?,
            );
        }
        let default_node = record.config["settings"]["default_node"]
            .as_str()
            .map(str::to_owned);
        let csv = if kind.name == "csv" {
            iom_providers::csv::CsvOptions::from_settings(&record.config["settings"])
                .map_err(config_error)?
        } else {
            iom_providers::csv::CsvOptions::default()
        };
        Ok(Loaded {
            instance: Instance {
                name: record.name.clone(),
                kind,
                mappings,
                transform,
                default_node,
                csv,
            },
            kind,
            secrets,
            record,
        })
    }

    /// Logs a document received from `loaded` and processes it in the same transaction. An X12
    /// body becomes one document per transaction set (see [`Pipeline::receive_x12`]); every
    /// other body is one document. The outcomes, in the body's order.
    pub async fn receive(
        &self,
        store: &Store,
        loaded: &Loaded,
        body: Vec<u8>,
    ) -> Result<Vec<Processed>, PipelineError> {
        // What a document causes, the provider instance that sent it did.
        acting::scope(Actor::provider(loaded.name()), async {
            if loaded.kind.name == "x12" {
                return self.receive_x12(store, loaded, body).await;
            }
            Ok(vec![self.receive_one(store, loaded, body).await?])
        })
        .await
    }

    async fn receive_one(
        &self,
        store: &Store,
        loaded: &Loaded,
        body: Vec<u8>,
    ) -> Result<Processed, PipelineError> {
        if loaded.kind.name == "bigcommerce" {
            // The webhook only names the order: keep it first, then fetch what it names, so a
            // store API that is down leaves a message to retry rather than nothing.
            let logged = store
                .process_message(
                    Target::New(inbound_message(loaded, "order", body.clone())),
                    None,
                    Apply::Nothing,
                    Vec::new(),
                )
                .await?;
            let Processed::Done { id, .. } = logged else {
                return Ok(logged);
            };
            return self.bigcommerce(store, loaded, id, &body).await;
        }
        if loaded.kind.name == "carrier" {
            // A tracker webhook: logged and applied in one transaction like any document.
            let apply = crate::shipping::tracking::apply(loaded.name(), &body);
            let message = inbound_message(loaded, "tracker", body);
            return Ok(store
                .process_message(
                    Target::New(message),
                    Some("tracker".into()),
                    apply,
                    Vec::new(),
                )
                .await?);
        }
        let now = Utc::now();
        let control = ack_control(store, loaded).await?;
        let interpretation = inbound::interpret(&loaded.instance, &body, now, control);
        log_new(store, loaded, interpretation, body).await
    }

    /// An X12 body: each transaction set is logged and processed as a document of its own (in one
    /// transaction, each in its own savepoint), so one that fails, or that this instance does not
    /// take, never drops another; an interchange that cannot be read is logged as it came. Then
    /// every interchange is acknowledged as it was really processed: a 997 (or 999) saying per
    /// set `A`, `E` or `R`, and a TA1 where the envelope calls for one. A set sent again is a
    /// duplicate only if it was processed; the acknowledgement of a resend accepts it again.
    ///
    /// The acknowledgements are logged after the sets' transaction: a process stopped between
    /// the two has processed the sets without acknowledging them, and the partner, missing its
    /// 997, sends them again and is answered then.
    async fn receive_x12(
        &self,
        store: &Store,
        loaded: &Loaded,
        body: Vec<u8>,
    ) -> Result<Vec<Processed>, PipelineError> {
        let now = Utc::now();
        let mut receipt = match inbound::x12_receipt(&loaded.instance, &body, now) {
            Ok(receipt) => receipt,
            Err(e) => {
                let kind = "x12".to_owned();
                let message = inbound_message(loaded, &kind, body.clone());
                let processed = store
                    .process_message(
                        Target::New(message),
                        Some(kind),
                        Apply::Failed(e.to_json()),
                        Vec::new(),
                    )
                    .await?;
                return Ok(vec![processed]);
            }
        };
        let mut items = Vec::with_capacity(receipt.parts.len());
        for part in std::mem::take(&mut receipt.parts) {
            let kind = part.kind.clone();
            let (apply, _) = decide(
                loaded,
                Interpretation {
                    kind: part.kind,
                    result: part.result,
                    ack: None,
                    x12_partner: part.x12_partner,
                },
            );
            let apply = located(store, apply).await?;
            let message = inbound_message(loaded, &kind, part.payload);
            items.push((Target::New(message), Some(kind), apply));
        }
        let outcomes = store.process_messages(items).await?;
        let succeeded: Vec<bool> = outcomes
            .iter()
            .map(|o| match o {
                Processed::Done { status, .. } => status == "processed",
                Processed::Duplicate { .. } | Processed::AlreadyProcessed { .. } => true,
            })
            .collect();
        let mut controls = Vec::new();
        for _ in 0..receipt.acknowledgements_needed() {
            controls.push(ack_control(store, loaded).await?);
        }
        let acks: Vec<NewMessage> = receipt
            .acknowledgements(&succeeded, &controls, now)
            .into_iter()
            .map(|(kind, text)| NewMessage {
                provider: loaded.name().to_owned(),
                direction: Direction::Outbound,
                kind: kind.into(),
                status: "processed",
                payload: text.into_bytes(),
            })
            .collect();
        if !acks.is_empty() {
            store.log_messages(acks).await?;
        }
        Ok(outcomes)
    }

    /// Logs a Shopify webhook of `topic` (`X-Shopify-Topic`) and processes it in the same
    /// transaction. The topic is the message's kind, so a retry means the same again.
    pub async fn receive_topic(
        &self,
        store: &Store,
        loaded: &Loaded,
        topic: &str,
        body: Vec<u8>,
    ) -> Result<Processed, PipelineError> {
        let interpretation =
            inbound::interpret_topic(&loaded.instance, &body, Utc::now(), 0, Some(topic));
        acting::scope(
            Actor::provider(loaded.name()),
            log_new(store, loaded, interpretation, body),
        )
        .await
    }

    /// Processes a logged inbound message again with the instance as it is now (after a mapping
    /// was fixed, or when a process stopped before finishing it).
    pub async fn reprocess(
        &self,
        store: &Store,
        loaded: &Loaded,
        message: MessageRecord,
    ) -> Result<Processed, PipelineError> {
        acting::scope(
            Actor::provider(loaded.name()),
            self.reprocess_logged(store, loaded, message),
        )
        .await
    }

    async fn reprocess_logged(
        &self,
        store: &Store,
        loaded: &Loaded,
        message: MessageRecord,
    ) -> Result<Processed, PipelineError> {
        if loaded.kind.name == "shopify" && iom_providers::shopify::is_topic(&message.kind) {
            let interpretation = inbound::interpret_topic(
                &loaded.instance,
                &message.payload,
                Utc::now(),
                0,
                Some(&message.kind),
            );
            let (apply, outbound) = decide(loaded, interpretation);
            return Ok(store
                .process_message(
                    Target::Existing {
                        provider: loaded.name().to_owned(),
                        id: message.id,
                    },
                    None,
                    apply,
                    outbound,
                )
                .await?);
        }
        if loaded.kind.name == "bigcommerce" {
            return self
                .bigcommerce(store, loaded, message.id, &message.payload)
                .await;
        }
        if loaded.kind.name == "carrier" {
            let apply = crate::shipping::tracking::apply(loaded.name(), &message.payload);
            let target = Target::Existing {
                provider: loaded.name().to_owned(),
                id: message.id,
            };
            return Ok(store
                .process_message(target, None, apply, Vec::new())
                .await?);
        }
        let control = ack_control(store, loaded).await?;
        let interpretation =
            inbound::interpret(&loaded.instance, &message.payload, Utc::now(), control);
        let kind = interpretation.kind.clone();
        let (apply, outbound) = decide(loaded, interpretation);
        let apply = located(store, apply).await?;
        Ok(store
            .process_message(
                Target::Existing {
                    provider: loaded.name().to_owned(),
                    id: message.id,
                },
                Some(kind),
                apply,
                outbound,
            )
            .await?)
    }

    async fn bigcommerce(
        &self,
        store: &Store,
        loaded: &Loaded,
        id: String,
        webhook: &[u8],
    ) -> Result<Processed, PipelineError> {
        let apply = match self.fetch_bigcommerce(loaded, webhook).await {
            Ok(document) => match inbound::json_orders(&loaded.instance, &document, Utc::now()) {
                Ok(content) => content_apply(loaded, content),
                Err(e) => Apply::Failed(e.to_json()),
            },
            Err(message) => Apply::Failed(json!({"message": message})),
        };
        let apply = located(store, apply).await?;
        Ok(store
            .process_message(
                Target::Existing {
                    provider: loaded.name().to_owned(),
                    id,
                },
                None,
                apply,
                Vec::new(),
            )
            .await?)
    }

    /// `{"order", "products", "shipping_addresses"}` for the order a BigCommerce webhook names.
    async fn fetch_bigcommerce(&self, loaded: &Loaded, webhook: &[u8]) -> Result<Value, String> {
        let hook: Value =
            serde_json::from_slice(webhook).map_err(|e| format!("the webhook is not JSON: {e}"))?;
        let order_id = match &hook["data"]["id"] {
            Value::Number(n) => n.to_string(),
            Value::String(s) if !s.is_empty() => s.clone(),
            _ => return Err("the webhook names no order (data.id)".into()),
        };
        let base = loaded
            .connection("api_url")
            .ok_or("the connection has no api_url")?
            .trim_end_matches('/')
            .to_owned();
        let token = loaded.connection("access_token").unwrap_or_default();
        let get = |path: String| {
            let request = self
                .http
                .get(format!("{base}/{path}"))
                .header("X-Auth-Token", token)
                .header("Accept", "application/json");
            async move {
                let response = request.send().await.map_err(|e| format!("{path}: {e}"))?;
                let status = response.status();
                if status == reqwest::StatusCode::NO_CONTENT {
                    return Ok(Value::Array(Vec::new()));
                }
                if !status.is_success() {
                    return Err(format!("{path}: the store API answered {status}"));
                }
                response
                    .json::<Value>()
                    .await
                    .map_err(|e| format!("{path}: {e}"))
            }
        };
        let order = get(format!("orders/{order_id}")).await?;
        let products = get(format!("orders/{order_id}/products")).await?;
        let shipping = get(format!("orders/{order_id}/shipping_addresses")).await?;
        Ok(json!({"order": order, "products": products, "shipping_addresses": shipping}))
    }

    /// Resumes inbound messages that a stopped process left `received`.
    pub async fn resume(&self, store: &Store) -> Result<usize, PipelineError> {
        let mut done = 0;
        for message in store.unfinished_messages(1000).await? {
            let loaded = match self.load(store, &message.provider).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, message = %message.id, "cannot resume message");
                    continue;
                }
            };
            self.reprocess(store, &loaded, message).await?;
            done += 1;
        }
        Ok(done)
    }
}

/// The control number of the 997 an X12 instance answers with: the next of the instance's
/// sequence, the one its outbound documents use (a number taken by a message that then fails
/// leaves a gap, which X12 allows; a repeat it does not). Other types send no 997.
async fn ack_control(store: &Store, loaded: &Loaded) -> Result<u32, PipelineError> {
    if loaded.kind.name != "x12" {
        return Ok(0);
    }
    let next = store.next_control_number(loaded.name().to_owned()).await?;
    // ISA13 has nine digits: the sequence wraps after 999,999,999.
    Ok(u32::try_from((next - 1) % 999_999_999 + 1).unwrap_or(1))
}

fn default_transform(kind: &ProviderType) -> Result<Option<Arc<Transform>>, String> {
    let transform = match kind.name {
        "shopify" => Transform::shopify(),
        "bigcommerce" => Transform::bigcommerce(),
        "amazon" => Transform::amazon(),
        _ => return Ok(None),
    };
    transform
        .map(|t| Some(Arc::new(t)))
        .map_err(|e| e.to_string())
}

pub(crate) fn inbound_message(loaded: &Loaded, kind: &str, payload: Vec<u8>) -> NewMessage {
    NewMessage {
        provider: loaded.name().to_owned(),
        direction: Direction::Inbound,
        kind: kind.to_owned(),
        status: "received",
        payload,
    }
}

fn decide(loaded: &Loaded, interpretation: Interpretation) -> (Apply, Vec<NewMessage>) {
    let outbound = interpretation
        .ack
        .map(|ack| NewMessage {
            provider: loaded.name().to_owned(),
            direction: Direction::Outbound,
            kind: "997".into(),
            status: "processed",
            payload: ack.into_bytes(),
        })
        .into_iter()
        .collect();
    let mut apply = match interpretation.result {
        Ok(content) => content_apply(loaded, content),
        Err(e) => Apply::Failed(e.to_json()),
    };
    // What the sender's envelope says, kept for the documents iom sends it (with the content,
    // in the message's transaction).
    if let (Apply::Content { work, .. }, Some(partner)) = (&mut apply, interpretation.x12_partner)
        && let Some(id) = partner.id.clone()
    {
        let provider = loaded.name().to_owned();
        let profile = serde_json::to_value(&partner).unwrap_or_default();
        work.push(Box::new(move |tx| {
            let now = tx.now();
            iom_store::outbound::learn_partner(tx.conn(), &provider, &id, &profile, now)?;
            Ok(Vec::new())
        }));
    }
    (apply, outbound)
}

/// Logs a new document as interpreted, and applies what it asks for, in one transaction.
async fn log_new(
    store: &Store,
    loaded: &Loaded,
    interpretation: Interpretation,
    body: Vec<u8>,
) -> Result<Processed, PipelineError> {
    let kind = interpretation.kind.clone();
    let (apply, outbound) = decide(loaded, interpretation);
    let apply = located(store, apply).await?;
    Ok(store
        .process_message(
            Target::New(inbound_message(loaded, &kind, body)),
            Some(kind),
            apply,
            outbound,
        )
        .await?)
}

/// Locates the ship-to of each order `apply` creates (`located_by`), as capture through the API
/// does.
async fn located(store: &Store, mut apply: Apply) -> Result<Apply, StoreError> {
    if let Apply::Content { orders, .. } = &mut apply {
        crate::fulfillment::locate::label_orders(store, orders).await?;
    }
    Ok(apply)
}

pub(crate) fn content_apply(loaded: &Loaded, content: inbound::Content) -> Apply {
    if let Some(reason) = content.ignored {
        return Apply::Ignored(json!({ "message": reason }));
    }
    let default_node = loaded.instance.default_node.clone();
    let channel = loaded.name().to_owned();
    let mut work: Vec<iom_store::providers::ContentWork> = Vec::new();
    let mut orders = content.orders;
    for order in content.revisions {
        orders.push(order.clone());
        work.push(channel::revision(channel.clone(), order));
    }
    work.extend(
        content
            .cancellations
            .into_iter()
            .map(|notice| channel::cancellation(channel.clone(), notice)),
    );
    work.extend(
        content
            .channel_shipments
            .into_iter()
            .map(|notice| channel::shipment(channel.clone(), notice, default_node.clone())),
    );
    work.extend(
        content
            .refunds
            .into_iter()
            .map(|notice| channel::refund(channel.clone(), notice, default_node.clone())),
    );
    Apply::Content {
        work,
        orders,
        shipments: content
            .shipments
            .into_iter()
            .map(|notice| {
                let default_node = default_node.clone();
                ShipmentWork {
                    external_id: notice.order_ref.clone(),
                    plan: Box::new(move |order| {
                        inbound::plan_shipment(&notice, order, default_node.as_deref())
                    }),
                }
            })
            .collect(),
    }
}
