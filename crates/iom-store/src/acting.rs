//! The actor of the work in progress, stamped by the writer on everything a job writes (the
//! business events it emits, the configuration changes it audits), the way it stamps the time.
//!
//! An edge says once who is acting, for the whole of a request or a flow pass, with [`scope`]
//! (and [`set`] once it knows, e.g. after authenticating); every `Store::write` called inside
//! takes the actor along to the writer thread. Work outside any scope (background workers,
//! sweepers, the command line) acts as [`Actor::system`]. Doing this at the one place all writes
//! pass through is what makes "every event names its actor" hold without every use case
//! threading an actor through every call.

use std::cell::RefCell;
use std::future::Future;

use iom_domain::Actor;

tokio::task_local! {
    static ACTING: RefCell<Actor>;
}

/// Runs `work` with `actor` acting.
pub async fn scope<F: Future>(actor: Actor, work: F) -> F::Output {
    ACTING.scope(RefCell::new(actor), work).await
}

/// Names the actor of the rest of the current [`scope`]; false outside any scope.
pub fn set(actor: Actor) -> bool {
    ACTING
        .try_with(|acting| *acting.borrow_mut() = actor)
        .is_ok()
}

/// The actor acting now.
pub fn current() -> Actor {
    ACTING
        .try_with(|acting| acting.borrow().clone())
        .unwrap_or_else(|_| Actor::system("iom"))
}
