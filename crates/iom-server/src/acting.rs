//! Every request runs in an actor scope (`iom_store::acting`): what it writes names the caller,
//! set by the extractor that authenticated it (an API token, a signed-in person, a provider's
//! signed webhook). Until then it is iom's own API acting, which writes nothing.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use iom_domain::Actor;

pub async fn scope(req: Request, next: Next) -> Response {
    iom_store::acting::scope(Actor::system("api"), next.run(req)).await
}
