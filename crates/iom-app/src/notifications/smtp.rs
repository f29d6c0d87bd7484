//! The SMTP side of sending: `IOM_SMTP_URL` read once, connections kept open between e-mails,
//! and one e-mail handed over with a commit between the server's `354` and the message.
//!
//! lettre speaks SMTP (connect, TLS, EHLO, AUTH, the commands, dot-stuffing); its pooled
//! transport sends a whole e-mail in one call, with no point at which the caller can record
//! that the message is about to be handed over. [`Smtp::send`] issues the same commands itself
//! on lettre's connection and awaits `before_data` after the `354`, so a crash can be told
//! apart: before that commit the server holds no message (it discards a transaction whose data
//! never ended), after it the server may hold one.

use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use reqwest::Url;
use tokio::sync::Mutex;

const TIMEOUT: Duration = Duration::from_secs(30);
/// An idle connection older than this is closed rather than tried: servers drop idle clients.
const IDLE: Duration = Duration::from_secs(20);

/// How to reach the server, from `IOM_SMTP_URL`: `smtp://host[:25]` (plain),
/// `smtp://host[:587]?tls=required|opportunistic` (STARTTLS), `smtps://host[:465]` (TLS), with
/// `user:password@` for AUTH and an optional path naming the EHLO domain; the same grammar as
/// lettre's `from_url`.
#[derive(Debug, Clone)]
pub struct Server {
    host: String,
    port: u16,
    tls: TlsMode,
    credentials: Option<Credentials>,
    hello: ClientId,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum TlsMode {
    None,
    StartTls { required: bool },
    Wrapper,
}

impl Server {
    pub fn parse(url: &str) -> Result<Server, String> {
        let parsed = Url::parse(url).map_err(|e| e.to_string())?;
        let host = parsed
            .host_str()
            .ok_or("no host")?
            .trim_matches(['[', ']'])
            .to_owned();
        let tls_query = parsed
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let (tls, default_port) = match (parsed.scheme(), tls_query.as_deref()) {
            ("smtp", None) => (TlsMode::None, 25),
            ("smtp", Some("required")) => (TlsMode::StartTls { required: true }, 587),
            ("smtp", Some("opportunistic")) => (TlsMode::StartTls { required: false }, 587),
            ("smtps", _) => (TlsMode::Wrapper, 465),
            (scheme, tls) => {
                return Err(format!(
                    "scheme {scheme:?} with tls={tls:?}: use smtp://, smtp://…?tls=required|opportunistic or smtps://"
                ));
            }
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let credentials = parsed
            .password()
            .map(|password| Credentials::new(decode(parsed.username()), decode(password)));
        let path = parsed.path().trim_matches('/');
        Ok(Server {
            port: parsed.port().unwrap_or(default_port),
            tls,
            credentials,
            hello: if path.is_empty() {
                ClientId::default()
            } else {
                ClientId::Domain(path.to_owned())
            },
            host,
        })
    }

    /// A connection ready for MAIL, or what stopped it (as a [`Handover::NotDelivered`]).
    async fn connect(&self) -> Result<AsyncSmtpConnection, Handover> {
        let mut conn = self.open().await?;
        if let TlsMode::StartTls { required } = self.tls
            && (required || conn.can_starttls())
        {
            let tls = TlsParameters::new(self.host.clone()).map_err(|e| not_delivered(&e))?;
            conn.starttls(tls, &self.hello)
                .await
                .map_err(|e| not_delivered(&e))?;
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(|e| not_delivered(&e))?;
        }
        Ok(conn)
    }

    async fn open(&self) -> Result<AsyncSmtpConnection, Handover> {
        if self.tls == TlsMode::Wrapper {
            let tls = TlsParameters::new(self.host.clone()).map_err(|e| not_delivered(&e))?;
            return AsyncSmtpConnection::connect_tokio1(
                (self.host.as_str(), self.port),
                Some(TIMEOUT),
                &self.hello,
                Some(tls),
                None,
            )
            .await
            .map_err(|e| not_delivered(&e));
        }
        // Without TCP_NODELAY the message and its final dot (two writes, then a read) wait for
        // the server's delayed acknowledgement: 40 ms an e-mail. lettre's own connect leaves
        // Nagle's algorithm on, so the socket is opened here (STARTTLS upgrades it in place);
        // implicit TLS (`smtps://`) goes through lettre's connect.
        let unreachable = |error: String| Handover::NotDelivered {
            error: format!(
                "SMTP: cannot connect to {}:{}: {error}",
                self.host, self.port
            ),
            permanent: false,
        };
        let tcp = tokio::time::timeout(
            TIMEOUT,
            tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| unreachable("timed out".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
            .await
            .map_err(|e| not_delivered(&e))
    }
}

/// What became of one e-mail.
#[derive(Debug)]
pub enum Handover {
    /// The server answered `250` to the message.
    Accepted,
    /// Refused or failed before the message was handed over, or refused by the server's reply
    /// to it: the server holds nothing. `permanent` for a 5xx reply.
    NotDelivered { error: String, permanent: bool },
    /// `before_data` said not to send (another process holds the notification).
    Withdrawn,
    /// The message went out but no reply came (the connection broke): the server may or may
    /// not hold it.
    InDoubt { error: String },
}

/// The server and the connections kept open to it, at most one per sender at a time.
pub struct Smtp {
    server: Server,
    idle: Mutex<Vec<(AsyncSmtpConnection, std::time::Instant)>>,
}

impl Smtp {
    pub fn new(server: Server) -> Smtp {
        Smtp {
            server,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Hands one e-mail to the server: MAIL, RCPT, DATA, then `before_data` (which records the
    /// hand-over and says whether to go on), then the message. A failure before the message on a
    /// connection kept from an earlier e-mail is tried once on a fresh one, which is safe: the
    /// server holds nothing yet.
    pub async fn send<F, Fut>(
        &self,
        envelope: &Envelope,
        message: &[u8],
        before_data: F,
    ) -> Handover
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = bool>,
    {
        let mut before_data = Some(before_data);
        for fresh in [false, true] {
            let reused = if fresh { None } else { self.take().await };
            let was_reused = reused.is_some();
            let mut conn = match reused {
                Some(conn) => conn,
                None => match self.server.connect().await {
                    Ok(conn) => conn,
                    Err(failed) => return failed,
                },
            };
            if let Err(e) = open_transaction(&mut conn, envelope, message).await {
                conn.abort().await;
                if was_reused && !e.is_permanent() {
                    continue;
                }
                return not_delivered(&e);
            }
            let go_on = match before_data.take() {
                Some(f) => f().await,
                None => false,
            };
            if !go_on {
                conn.abort().await;
                return Handover::Withdrawn;
            }
            return match conn.message(message).await {
                Ok(_) => {
                    self.put(conn).await;
                    Handover::Accepted
                }
                Err(e) if e.is_permanent() || e.is_transient() => {
                    // A reply came: the server refused the message and holds nothing.
                    conn.abort().await;
                    not_delivered(&e)
                }
                Err(e) => {
                    conn.abort().await;
                    Handover::InDoubt {
                        error: format!("SMTP: {e}"),
                    }
                }
            };
        }
        unreachable!("the second try always returns")
    }

    async fn take(&self) -> Option<AsyncSmtpConnection> {
        let mut idle = self.idle.lock().await;
        while let Some((mut conn, since)) = idle.pop() {
            if since.elapsed() < IDLE && !conn.has_broken() {
                return Some(conn);
            }
            conn.abort().await;
        }
        None
    }

    async fn put(&self, conn: AsyncSmtpConnection) {
        self.idle
            .lock()
            .await
            .push((conn, std::time::Instant::now()));
    }
}

/// MAIL FROM, RCPT TO for each recipient, DATA; `Ok` once the server answered `354`. The
/// parameters lettre's own `send` would give (SMTPUTF8, 8BITMIME).
async fn open_transaction(
    conn: &mut AsyncSmtpConnection,
    envelope: &Envelope,
    message: &[u8],
) -> Result<(), lettre::transport::smtp::Error> {
    let mut parameters = Vec::new();
    let non_ascii = envelope
        .to()
        .iter()
        .chain(envelope.from())
        .any(|a| !AsRef::<str>::as_ref(a).is_ascii());
    if non_ascii && conn.server_info().supports_feature(Extension::SmtpUtfEight) {
        parameters.push(MailParameter::SmtpUtfEight);
    }
    if !message.is_ascii() && conn.server_info().supports_feature(Extension::EightBitMime) {
        parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    conn.command(Mail::new(envelope.from().cloned(), parameters))
        .await?;
    for to in envelope.to() {
        conn.command(Rcpt::new(to.clone(), Vec::new())).await?;
    }
    conn.command(Data).await?;
    Ok(())
}

fn not_delivered(e: &lettre::transport::smtp::Error) -> Handover {
    Handover::NotDelivered {
        error: format!("SMTP: {e}"),
        permanent: e.is_permanent(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_read_as_lettre_reads_them() {
        let s = Server::parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.tls),
            ("127.0.0.1", 2525, TlsMode::None)
        );
        assert!(s.credentials.is_none());
        let s =
            Server::parse("smtps://ann%40x.com:p%2Fw@mail.example.com/shop.example.com").unwrap();
        assert_eq!((s.port, s.tls), (465, TlsMode::Wrapper));
        assert_eq!(
            s.credentials,
            Some(Credentials::new("ann@x.com".into(), "p/w".into()))
        );
        assert_eq!(s.hello, ClientId::Domain("shop.example.com".into()));
        let s = Server::parse("smtp://mail.example.com?tls=required").unwrap();
        assert_eq!((s.port, s.tls), (587, TlsMode::StartTls { required: true }));
        assert!(Server::parse("http://mail.example.com").is_err());
        assert!(Server::parse("smtp://mail.example.com?tls=sometimes").is_err());
        assert!(Server::parse("not a url").is_err());
    }
}
