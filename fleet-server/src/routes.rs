//! The route table: every path the server answers, the methods it takes, and whether the
//! OpenAPI document (`api/openapi.json`) describes it. [`router`] is built from the table and
//! [`ROUTES`] lists it, so the document is checked against what is served (both ways), not
//! against the source text.

use axum::Router;
use axum::routing::{get, post, put};

use crate::api::{admin, agenda, kiosk, metrics, public, releases};
use crate::dashboard::{self, live, pages};
use crate::state::AppState;

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteInfo {
    /// The path, with `{name}` for a parameter.
    pub path: &'static str,
    /// The methods it takes, lower case as in OpenAPI.
    pub methods: &'static [&'static str],
    /// Part of the JSON API (described in the OpenAPI document), or a page of the dashboard.
    pub api: bool,
}

macro_rules! table {
    ($state:ident; $( $kind:ident $path:literal [$($m:ident),+] => $router:expr ;)+) => {
        /// Every route, in the order of the table.
        pub const ROUTES: &[RouteInfo] = &[
            $( RouteInfo { path: $path, methods: &[$(stringify!($m)),+], api: table!(@api $kind) } ),+
        ];

        /// The handlers of [`ROUTES`], without the layers every request passes
        /// ([`crate::http::layered`]).
        pub fn router($state: &AppState) -> Router<AppState> {
            Router::new() $( .route($path, $router) )+
        }
    };
    (@api api) => { true };
    (@api page) => { false };
}

table! { state;
    // The kiosks' API; enrolment is open to anyone, throttled, with a small body.
    api "/api/kiosk/v1/enrol" [post] => kiosk::enrol_route(state);
    api "/api/kiosk/v1/submissions" [post] => post(kiosk::submissions);
    api "/api/kiosk/v1/catalog" [get] => get(kiosk::catalog);
    api "/api/kiosk/v1/status/{code}" [get] => get(kiosk::status);
    api "/api/kiosk/v1/heartbeat" [post] => post(kiosk::heartbeat);
    api "/api/kiosk/v1/requests/by-identity" [post] => post(kiosk::by_identity);
    api "/api/kiosk/v1/commands/{id}/result" [post] => post(kiosk::command_result);
    api "/api/kiosk/v1/releases/{version}" [get] => get(kiosk::release_bundle);
    // Staff's API.
    api "/api/admin/v1/bootstrap-tokens" [post] => post(admin::create_token);
    api "/api/admin/v1/catalog" [get, put] => get(admin::get_catalog).put(admin::publish);
    api "/api/admin/v1/kiosks" [get] => get(admin::kiosks);
    api "/api/admin/v1/submissions" [get] => get(admin::submissions);
    api "/api/admin/v1/alerts" [get] => get(admin::alerts);
    api "/api/admin/v1/sla" [get] => get(admin::sla_report);
    api "/api/admin/v1/audit" [get] => get(admin::audit_log);
    api "/api/admin/v1/kiosks/{id}" [get] => get(admin::kiosk);
    api "/api/admin/v1/kiosks/{id}/health" [get] => get(admin::kiosk_health);
    api "/api/admin/v1/kiosks/{id}/commands" [get, post]
        => get(admin::kiosk_commands).post(admin::queue_command);
    api "/api/admin/v1/kiosks/{id}/commands/{command}/cancel" [post]
        => post(admin::cancel_command);
    api "/api/admin/v1/alerts/{id}/ack" [post] => post(admin::ack_alert);
    api "/api/admin/v1/requests/{code}" [get] => get(admin::request);
    api "/api/admin/v1/requests/{code}/resend" [post] => post(admin::resend_notice);
    api "/api/admin/v1/requests/{code}/notes" [post] => post(admin::add_note);
    api "/api/admin/v1/whoami" [get] => get(releases::whoami);
    api "/api/admin/v1/releases" [get, post] => get(releases::releases).post(releases::add_release);
    api "/api/admin/v1/releases/{version}/bundle" [put] => put(releases::upload_bundle);
    api "/api/admin/v1/releases/{version}/rollback" [post] => post(releases::add_rollback);
    api "/api/admin/v1/rollouts" [get, post] => get(releases::rollouts).post(releases::create);
    api "/api/admin/v1/rollouts/{id}" [get] => get(releases::rollout);
    api "/api/admin/v1/rollouts/{id}/{action}" [post] => post(releases::act);
    api "/api/admin/v1/updates" [get] => get(releases::updates);
    // The agenda system, the public status page, monitoring.
    api "/api/agenda/v1/status" [post] => post(agenda::update);
    api "/s/{code}" [get] => get(public::page);
    api "/metrics" [get] => get(metrics::metrics);
    api "/healthz" [get] => get(crate::api::healthz);
    api "/api/openapi.json" [get] => get(crate::api::openapi);
    // The dashboard; signing in is open to anyone, throttled, with a small body.
    page "/" [get] => get(dashboard::to_dashboard);
    page "/login" [get, post] => get(dashboard::login_page).merge(dashboard::sign_in_route(state));
    page "/logout" [post] => post(dashboard::logout);
    page "/dashboard" [get] => get(pages::overview);
    page "/dashboard/kiosks/{id}" [get] => get(pages::kiosk);
    page "/dashboard/kiosks/{id}/commands" [post] => post(pages::command);
    page "/dashboard/kiosks/{id}/commands/{command}/cancel" [post] => post(pages::cancel_command);
    page "/dashboard/kiosks/{id}/console-code" [post] => post(pages::console_code);
    page "/dashboard/alerts" [get] => get(pages::alerts);
    page "/dashboard/alerts/{id}/ack" [post] => post(pages::ack);
    page "/dashboard/sla" [get] => get(pages::sla);
    page "/dashboard/catalog" [get, post] => get(pages::catalog).post(pages::upload_catalog);
    page "/dashboard/notices" [post] => post(pages::publish_notice);
    page "/dashboard/notices/{id}/withdraw" [post] => post(pages::withdraw_notice);
    page "/dashboard/services/{id}/groups" [post] => post(pages::service_groups);
    page "/dashboard/users" [get, post] => get(pages::users).post(pages::create_user);
    page "/dashboard/users/{name}" [post] => post(pages::update_user);
    page "/dashboard/account" [get, post] => get(pages::account).post(pages::change_password);
    page "/dashboard/audit" [get] => get(pages::audit);
    page "/dashboard/requests" [get] => get(pages::requests);
    page "/dashboard/requests/{code}/resend" [post] => post(pages::resend_notice);
    page "/dashboard/requests/{code}/note" [post] => post(pages::request_note);
    page "/dashboard/releases" [get] => get(dashboard::releases::releases);
    page "/dashboard/rollouts" [post] => post(dashboard::releases::create);
    page "/dashboard/rollouts/{id}/{action}" [post] => post(dashboard::releases::act);
    page "/dashboard/events" [get] => get(live::events);
    page "/dashboard/assets/dashboard.css" [get] => get(dashboard::css);
    page "/dashboard/assets/live.js" [get] => get(dashboard::js);
}

/// The whole server: the table's routes behind the layers every request passes.
pub fn app(state: AppState) -> Router {
    crate::http::layered(router(&state), state)
}

#[cfg(test)]
mod tests {
    use super::ROUTES;

    #[test]
    fn each_path_appears_once_and_the_kiosk_api_is_under_its_prefix() {
        let mut seen = std::collections::HashSet::new();
        for r in ROUTES {
            assert!(seen.insert(r.path), "{} twice in the table", r.path);
            if r.path.starts_with("/api/kiosk/") {
                assert!(r.path.starts_with(protocol::fleet::PREFIX), "{}", r.path);
            }
        }
    }
}
