//! The OpenAPI 3.1 document of `/api/v1`, generated from the handlers' annotations, served at
//! `/api/v1/openapi.json` and summarised for the console's API page.

use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// Every error: a stable code and a human message.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// The error itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// unauthenticated, forbidden, not_found, validation, conflict, rate_limited, unavailable, internal.
    pub code: String,
    pub message: String,
}

struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("rmp_<kind>_<secret>")
                    .description(Some("An API key from the console's API keys page."))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rampart API",
        version = "1",
        description = "The tenant's security data for machines. Authenticate with `Authorization: Bearer <key>`. \
                       Errors are `{\"error\": {\"code\", \"message\"}}`; 401 covers every unusable key, 403 \
                       `ip_refused` a client address on the organisation's block list, 429 carries Retry-After. \
                       Times are epoch milliseconds, UTC."
    ),
    paths(
        super::members::list_members,
        super::access_history::list_events,
        super::keys::list_keys,
        super::keys::create_key,
        super::keys::roll_key,
        super::keys::revoke_key,
        super::vault::list_files,
        super::vault::upload_file,
        super::vault::get_file,
        super::vault::download_file,
        super::vault::delete_file,
        super::vault::undelete_file,
        super::vault::restore_version,
        super::vault::create_link,
        super::exports::start_export,
        super::exports::get_export,
        super::exports::download_export,
    ),
    modifiers(&BearerKey)
)]
pub struct ApiDoc;

/// `GET /api/v1/openapi.json` (no key needed: it describes, it does not disclose). Built once.
pub async fn document() -> impl IntoResponse {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let body = DOC.get_or_init(|| serde_json::to_string(&ApiDoc::openapi()).unwrap_or_default());
    ([(axum::http::header::CONTENT_TYPE, "application/json")], body.as_str())
}

/// The console's summary of the document: one entry per operation.
pub fn reference(base_url: &str) -> app::model::ApiReferenceView {
    let doc = ApiDoc::openapi();
    let mut operations = Vec::new();
    for (path, item) in &doc.paths.paths {
        let ops = [
            ("GET", item.get.as_ref()),
            ("POST", item.post.as_ref()),
            ("PUT", item.put.as_ref()),
            ("PATCH", item.patch.as_ref()),
            ("DELETE", item.delete.as_ref()),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            let scopes = op
                .security
                .iter()
                .flatten()
                .filter_map(|s| serde_json::to_value(s).ok())
                .filter_map(|v| v.get("api_key").cloned())
                .filter_map(|v| serde_json::from_value::<Vec<String>>(v).ok())
                .flatten()
                .collect();
            let parameters = op
                .parameters
                .iter()
                .flatten()
                .map(|p| app::model::ApiParamView {
                    name: p.name.clone(),
                    location: serde_json::to_value(&p.parameter_in)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    description: p.description.clone().unwrap_or_default(),
                })
                .collect();
            let responses = op
                .responses
                .responses
                .iter()
                .map(|(status, r)| {
                    let description = match r {
                        utoipa::openapi::RefOr::T(r) => r.description.clone(),
                        utoipa::openapi::RefOr::Ref(_) => String::new(),
                    };
                    (status.clone(), description)
                })
                .collect();
            operations.push(app::model::ApiOperationView {
                method: method.to_owned(),
                path: path.clone(),
                summary: op.summary.clone().or_else(|| op.description.clone()).unwrap_or_default(),
                scopes,
                parameters,
                responses,
            });
        }
    }
    app::model::ApiReferenceView {
        base_url: base_url.to_owned(),
        title: doc.info.title.clone(),
        description: doc.info.description.clone().unwrap_or_default(),
        operations,
    }
}
