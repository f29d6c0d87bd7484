//! The page shell: head, navigation, who is signed in, the one-time message.

use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::assets;
use super::session::{Session, clear_flash};
use crate::auth::Access;

/// The sections of the navigation, in order: (path, label).
const SECTIONS: &[(&str, &str)] = &[
    ("/ui", "Dashboard"),
    ("/ui/orders", "Orders"),
    ("/ui/inventory", "Inventory"),
    ("/ui/nodes", "Nodes"),
    ("/ui/flows", "Flows"),
    ("/ui/tasks", "Tasks"),
    ("/ui/alerts", "Alerts"),
    ("/ui/returns", "Returns"),
    ("/ui/providers", "Providers"),
    ("/ui/subscriptions", "Subscriptions"),
    ("/ui/notification-templates", "Notifications"),
    ("/ui/audit", "Audit"),
    (USERS, "Users"),
];

const USERS: &str = "/ui/users";

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · iom" }
            link rel="stylesheet" href=(assets::CSS_URL);
            script src=(assets::JS_URL) defer {}
        }
    }
}

/// A page of a signed-in user; `section` is the path of its navigation entry.
pub fn page(session: &Session, title: &str, section: &str, content: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html.no-js lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/ui" { "iom" }
                    nav aria-label="Sections" {
                        @for (path, label) in SECTIONS {
                            @if *path == USERS && !session.can(Access::Configure) {
                                // Only admins manage users: no way in for others.
                            } @else if *path == section {
                                a href=(path) aria-current="page" { (label) }
                            } @else {
                                a href=(path) { (label) }
                            }
                        }
                    }
                    div.who {
                        span { (session.principal.name) " · " (session.principal.role.as_str()) }
                        form method="post" action="/ui/sign-out" {
                            input type="hidden" name="csrf" value=(session.csrf);
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                @if let Some(flash) = &session.flash {
                    p.flash.ok[flash.ok].error[!flash.ok] role="status" { (flash.text) }
                }
                main #main tabindex="-1" data-after=[session.seen_seq] { (content) }
            }
        }
    };
    let mut response = markup.into_response();
    if session.flash.is_some() {
        clear_flash(&mut response, session.secure);
    }
    response
}

/// A page outside the signed-in shell (sign-in, errors).
pub fn bare(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html.no-js lang="en" {
            (head(title))
            body.bare { (content) }
        }
    }
}
