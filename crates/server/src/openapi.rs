//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{api, server};

#[derive(OpenApi)]
#[openapi(
    info(title = "Sallyport common operating picture", description = "REST API of `sallyport serve`. Errors are RFC 9457 problem details (`application/problem+json`)."),
    paths(
        server::healthz, server::readyz,
        api::login, api::whoami,
        api::overview, api::sites, api::site, api::fleet, api::schedule, api::threat, api::operation, api::progress, api::alerts, api::live,
        api::people, api::person, api::export_people,
        api::device_sync, api::device_state,
        api::sitrep_json, api::sitrep_pdf,
    ),
    components(schemas(crate::problem::Problem, crate::live::LiveEvent)),
    modifiers(&Bearer),
    tags((name = "picture", description = "The common operating picture"), (name = "people", description = "People in custody"),
        (name = "field", description = "Field-device custody sync"), (name = "session", description = "Log in"), (name = "ops", description = "Health"))
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as JSON.
pub fn json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".into())
}
