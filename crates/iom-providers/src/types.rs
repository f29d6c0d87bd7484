//! The built-in provider types as definitions: what each receives, what it can do outbound, which
//! connection fields it needs (and which of them are secrets), how an inbound document proves
//! where it comes from, and the default transformation. The server reads these to validate
//! `PUT /api/v1/providers/{name}` and to dispatch `POST /api/v1/inbound/{provider}`; the UI and
//! `GET /api/v1/provider-types` show them as they are.

use serde::Serialize;

use crate::jq::programs;

/// How an inbound document is authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verification {
    /// `X-Shopify-Hmac-Sha256`: base64 HMAC-SHA256 of the raw body with `webhook_secret`.
    ShopifyHmac,
    /// A shared secret in a header that the source is configured to send (BigCommerce lets a
    /// webhook carry custom headers; iom expects `webhook_secret` in `X-Webhook-Secret`).
    SharedSecretHeader,
    /// EasyPost's `X-Hmac-Signature: hmac-sha256-hex=HEX`: HMAC-SHA256 of the raw body with
    /// `webhook_secret` (normalised NFKD).
    #[serde(rename = "easypost_hmac")]
    EasyPostHmac,
    /// The source has no signature of its own: an iom API token with capture rights.
    BearerToken,
    /// The type receives nothing.
    None,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct ConnectionField {
    pub name: &'static str,
    pub required: bool,
    /// Encrypted at rest and never returned by the API.
    pub secret: bool,
    pub description: &'static str,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct ProviderType {
    pub name: &'static str,
    pub description: &'static str,
    /// Document kinds accepted by `POST /api/v1/inbound/{provider}`.
    pub inbound: &'static [&'static str],
    /// Actions iom can take through an instance.
    pub outbound: &'static [&'static str],
    pub verification: Verification,
    pub connection: &'static [ConnectionField],
    /// The jq program that turns the source's JSON into order intakes; an instance may replace
    /// it with its own (`transformation`).
    pub default_transformation: Option<&'static str>,
}

impl ProviderType {
    pub fn field(&self, name: &str) -> Option<&ConnectionField> {
        self.connection.iter().find(|f| f.name == name)
    }

    pub fn receives(&self) -> bool {
        !self.inbound.is_empty()
    }
}

const fn field(
    name: &'static str,
    required: bool,
    secret: bool,
    description: &'static str,
) -> ConnectionField {
    ConnectionField {
        name,
        required,
        secret,
        description,
    }
}

static TYPES: &[ProviderType] = &[
    ProviderType {
        name: "rest",
        description: "Orders posted as iom order intakes (JSON object or array), or any JSON with an instance transformation.",
        inbound: &["order"],
        outbound: &[],
        verification: Verification::BearerToken,
        connection: &[],
        default_transformation: None,
    },
    ProviderType {
        name: "shopify",
        description: "Shopify webhooks by X-Shopify-Topic: orders/create (the bare order; {\"order\"} / {\"orders\"} from the REST API without a topic), orders/updated (changes before release), orders/cancelled, refunds/create (returns received and refunded), fulfillments/create and fulfillments/update (a shipment, once per fulfillment id); other topics are logged as ignored.",
        inbound: &["order", "refund"],
        outbound: &[],
        verification: Verification::ShopifyHmac,
        connection: &[
            field(
                "shop",
                true,
                false,
                "The shop's domain, e.g. example.myshopify.com",
            ),
            field("access_token", false, true, "Admin API access token"),
            field(
                "webhook_secret",
                true,
                true,
                "Signs the webhooks (X-Shopify-Hmac-Sha256)",
            ),
        ],
        default_transformation: Some(programs::SHOPIFY),
    },
    ProviderType {
        name: "bigcommerce",
        description: "BigCommerce store/order/created webhooks; the order and its products are fetched from the store API.",
        inbound: &["order"],
        outbound: &[],
        verification: Verification::SharedSecretHeader,
        connection: &[
            field(
                "api_url",
                true,
                false,
                "The store's v2 API base, e.g. https://api.bigcommerce.com/stores/HASH/v2",
            ),
            field(
                "access_token",
                true,
                true,
                "Sent as X-Auth-Token to the store API",
            ),
            field(
                "webhook_secret",
                true,
                true,
                "Expected in the webhook's X-Webhook-Secret header",
            ),
        ],
        default_transformation: Some(programs::BIGCOMMERCE),
    },
    ProviderType {
        name: "amazon",
        description: "Amazon SP-API Orders v0 documents: {\"order\": getOrder payload, \"items\": getOrderItems payload}.",
        inbound: &["order"],
        outbound: &[],
        verification: Verification::BearerToken,
        connection: &[
            field("seller_id", false, false, "Selling partner id"),
            field("marketplace_id", false, false, "Marketplace id"),
            field("refresh_token", false, true, "LWA refresh token"),
            field("client_secret", false, true, "LWA client secret"),
        ],
        default_transformation: Some(programs::AMAZON),
    },
    ProviderType {
        name: "x12",
        description: "ANSI X12 EDI: 850 purchase orders, 856 ship notices and 945 shipping advices in; a 997 is stored for each interchange. Out: 855, 856 and 810 for its orders, 940 for lines released to a node it runs (settings.x12 holds the envelope).",
        inbound: &["850", "856", "945"],
        outbound: &["997", "855", "856", "810", "940"],
        verification: Verification::BearerToken,
        connection: &[
            field(
                "url",
                false,
                false,
                "Where outbound documents are posted; without it they wait in the message log to be picked up",
            ),
            field(
                "secret",
                false,
                true,
                "Signs each posted document (X-IOM-Signature: sha256=HEX)",
            ),
        ],
        default_transformation: None,
    },
    ProviderType {
        name: "csv",
        description: "Orders from a spreadsheet, one row per line; settings.columns maps a file's own headers, settings.preset \"shopify_export\" reads Shopify's order export.",
        inbound: &["orders"],
        outbound: &[],
        verification: Verification::BearerToken,
        connection: &[],
        default_transformation: None,
    },
    ProviderType {
        name: "ubl",
        description: "UBL 2.1 Order XML.",
        inbound: &["order"],
        outbound: &[],
        verification: Verification::BearerToken,
        connection: &[],
        default_transformation: None,
    },
    ProviderType {
        name: "carrier",
        description: "A carrier account through EasyPost's v2 API: rates and labels for shipments (flow step buy-label, POST /api/v1/orders/{id}/labels), tracker webhooks (tracker.updated events) in. settings.services maps an order's ship_method to a service, settings.parcel is the default parcel (inches, ounces), settings.label_format is PDF (default), ZPL or PNG, settings.from_address is the sender when a node has no address.",
        inbound: &["tracker"],
        outbound: &["buy_label"],
        verification: Verification::EasyPostHmac,
        connection: &[
            field(
                "base_url",
                true,
                false,
                "The API's base, https://api.easypost.com",
            ),
            field(
                "api_key",
                true,
                true,
                "Sent as the user of HTTP Basic authentication",
            ),
            field(
                "webhook_secret",
                true,
                true,
                "Signs the tracker webhooks (X-Hmac-Signature)",
            ),
        ],
        default_transformation: None,
    },
    ProviderType {
        name: "payment",
        description: "Payments through Stripe's PaymentIntents API: the default flow authorises an order's total with manual capture before release (flow step authorize-payment, against the order's attributes.payment_method, e.g. pm_card_visa), captures each shipment's amount as it ships (capture-payment), lets the rest go when the order is cancelled, and pays out returns' refunds. settings.channels lists the channels it serves (all when absent).",
        inbound: &[],
        outbound: &["authorize", "capture", "cancel", "refund"],
        verification: Verification::None,
        connection: &[
            field(
                "base_url",
                true,
                false,
                "The API's base, https://api.stripe.com",
            ),
            field(
                "secret_key",
                true,
                true,
                "The secret key (sk_…), sent as Authorization: Bearer",
            ),
        ],
        default_transformation: None,
    },
    ProviderType {
        name: "tax",
        description: "Tax through Avalara AvaTax's REST API v2: an order that arrives without tax is taxed before release by the default flow (flow step calculate-tax: an uncommitted SalesInvoice whose code is the order's id; the lines' tax and the totals become AvaTax's), and the document is committed once the order has shipped (adjusted to what shipped when the rest was cancelled) or voided when it was cancelled with nothing shipped (commit-tax). settings.channels lists the channels it serves (all when absent); settings.ship_from is the address goods leave from (else the node's location).",
        inbound: &[],
        outbound: &["calculate", "commit", "void", "adjust"],
        verification: Verification::None,
        connection: &[
            field(
                "base_url",
                true,
                false,
                "The API's base, https://rest.avatax.com (sandbox: https://sandbox-rest.avatax.com)",
            ),
            field(
                "account_id",
                true,
                false,
                "The account id, the user of HTTP Basic authentication",
            ),
            field(
                "license_key",
                true,
                true,
                "The licence key, the password of HTTP Basic authentication",
            ),
            field(
                "company_code",
                true,
                false,
                "The company whose documents iom creates",
            ),
        ],
        default_transformation: None,
    },
    ProviderType {
        name: "webhook",
        description: "Releases orders to a node, and asks a node for return labels, as signed JSON webhooks (X-IOM-Signature: sha256=HEX).",
        inbound: &[],
        outbound: &["release", "return_label"],
        verification: Verification::None,
        connection: &[
            field("url", true, false, "Where the JSON is posted"),
            field("secret", true, true, "Signs each body with HMAC-SHA256"),
        ],
        default_transformation: None,
    },
    ProviderType {
        name: "nats",
        description: "Publishes to NATS JetStream.",
        inbound: &[],
        outbound: &["publish"],
        verification: Verification::None,
        connection: &[
            field("url", true, false, "nats://host:4222"),
            field(
                "subject_prefix",
                false,
                false,
                "Prefix of the subjects (default iom)",
            ),
            field("token", false, true, "Authentication token"),
        ],
        default_transformation: None,
    },
];

/// Every built-in type.
pub fn builtin() -> &'static [ProviderType] {
    TYPES
}

pub fn find(name: &str) -> Option<&'static ProviderType> {
    TYPES.iter().find(|t| t.name == name)
}
