//! The OpenAPI 3.1 document of `/api/v1`: its frame (`ApiDoc`: title, security scheme, shared schemas), what
//! every operation can answer, and the patterns utoipa cannot derive. The operations themselves come from the
//! one list in `rest::operations`, which registers each handler with its annotation.

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

/// What every operation can answer besides its own outcomes, declared in one place so that the document and the
/// gate cannot drift apart: every operation is keyed (401, 403 for a scope or a blocked address, 409 while the
/// organisation is closing, 429 past a limit); a path with parameters declares them and answers 404; a body
/// answers 413, 415 and 422; query parameters answer 422.
struct CommonAnswers;

impl Modify for CommonAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
        use utoipa::openapi::{ObjectBuilder, Ref, RefOr, Required, ResponseBuilder, Type};
        let error = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        utoipa::openapi::ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                    )
                    .build(),
            )
        };
        let add = |op: &mut Operation, status: &str, description: &str| {
            op.responses.responses.entry(status.to_owned()).or_insert_with(|| error(description));
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let names: Vec<String> = path
                .split('/')
                .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .map(str::to_owned)
                .collect();
            let ops =
                [item.get.as_mut(), item.put.as_mut(), item.post.as_mut(), item.delete.as_mut(), item.patch.as_mut()];
            for op in ops.into_iter().flatten() {
                if op.security.is_none() {
                    continue;
                }
                add(op, "401", "Missing, malformed, unknown, expired, revoked or disabled key");
                add(op, "403", "The key lacks the scope, or the client address is blocked (`ip_refused`)");
                add(op, "409", "The organisation is closing");
                add(op, "429", "Too many requests (see Retry-After)");
                let params = op.parameters.get_or_insert_with(Vec::new);
                let has_query = params.iter().any(|p| p.parameter_in == ParameterIn::Query);
                for name in &names {
                    if !params.iter().any(|p| p.parameter_in == ParameterIn::Path && &p.name == name) {
                        params.push(
                            ParameterBuilder::new()
                                .name(name)
                                .parameter_in(ParameterIn::Path)
                                .required(Required::True)
                                .description(Some(if name == "id" { "The object's id" } else { "The version's id" }))
                                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                                .build(),
                        );
                    }
                }
                if !names.is_empty() {
                    add(op, "404", "No such object in this organisation");
                }
                if has_query {
                    add(op, "422", "A query parameter is not valid");
                }
                if op.request_body.is_some() {
                    add(op, "413", "The body is over the limit");
                    add(op, "415", "The body is not of the declared content type");
                    add(op, "422", "The body is not valid");
                }
            }
        }
    }
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
        components.add_security_scheme(
            "enrolment_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("rmp_enrol_<secret>")
                    .description(Some("A one-time machine enrolment token from the console's Machines page."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "machine_certificate",
            SecurityScheme::MutualTls {
                description: Some(
                    "The client certificate of an enrolled machine, presented in the TLS handshake.".to_owned(),
                ),
                extensions: None,
            },
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
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&BearerKey)
)]
pub struct ApiDoc;

/// Where the operations are mounted; their `#[utoipa::path]`s name paths below it.
pub const BASE: &str = "/api/v1";

/// The document of the operations the router registered (`rest::operations`): their paths under [`BASE`],
/// with what every operation can answer added (`CommonAnswers`).
pub fn complete(mut api: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let paths = std::mem::take(&mut api.paths.paths);
    api.paths.paths = paths.into_iter().map(|(path, item)| (format!("{BASE}{path}"), item)).collect();
    CommonAnswers.modify(&mut api);
    api
}

/// One IPv4 or IPv6 address or CIDR block, as `Cidr` parses it (no leading zeros in IPv4, no zone).
pub const IP_OR_BLOCK: &str = concat!(
    r"^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}",
    r"(/(3[0-2]|[12]?[0-9]))?",
    r"|(([0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,7}:|([0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}",
    r"|([0-9a-fA-F]{1,4}:){1,5}(:[0-9a-fA-F]{1,4}){1,2}|([0-9a-fA-F]{1,4}:){1,4}(:[0-9a-fA-F]{1,4}){1,3}",
    r"|([0-9a-fA-F]{1,4}:){1,3}(:[0-9a-fA-F]{1,4}){1,4}|([0-9a-fA-F]{1,4}:){1,2}(:[0-9a-fA-F]{1,4}){1,5}",
    r"|[0-9a-fA-F]{1,4}:(:[0-9a-fA-F]{1,4}){1,6}|:((:[0-9a-fA-F]{1,4}){1,7}|:))",
    r"(/(12[0-8]|1[01][0-9]|[1-9]?[0-9]))?)$"
);

/// An entry of a key's IP allow list: as `IP_OR_BLOCK`, but never a block of every address (`/0`), which a key
/// says by an empty list.
const ALLOWED_IP: &str = concat!(
    r"^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}",
    r"(/(3[0-2]|[12][0-9]|[1-9]))?",
    r"|(([0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,7}:|([0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}",
    r"|([0-9a-fA-F]{1,4}:){1,5}(:[0-9a-fA-F]{1,4}){1,2}|([0-9a-fA-F]{1,4}:){1,4}(:[0-9a-fA-F]{1,4}){1,3}",
    r"|([0-9a-fA-F]{1,4}:){1,3}(:[0-9a-fA-F]{1,4}){1,4}|([0-9a-fA-F]{1,4}:){1,2}(:[0-9a-fA-F]{1,4}){1,5}",
    r"|[0-9a-fA-F]{1,4}:(:[0-9a-fA-F]{1,4}){1,6}|:((:[0-9a-fA-F]{1,4}){1,7}|:))",
    r"(/(12[0-8]|1[01][0-9]|[1-9][0-9]|[1-9]))?)$"
);

/// One name of a vault path, as `vault::paths` checks it (at most 63 characters, so at most 252 bytes): no
/// `.` or `..`, no slash, backslash, control character or invisible / text-direction character, no space at
/// either end.
const SEGMENT: &str = concat!(
    r"(?!\.\.?(/|$))[^\s/\\\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]",
    r"([^/\\\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]{0,61}",
    r"[^\s/\\\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb])?"
);

/// One referer pattern, as `RefererPattern` parses it.
const REFERER: &str = concat!(
    r"^([hH][tT][tT][pP][sS]?://)?(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?",
    r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?){0,2}",
    r"(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?",
    r"(/[^,*\s\x00-\x1f\x7f-\x9f]{0,100}\*?)?$"
);

/// One line of text with something in it, as key descriptions are.
const ONE_LINE: &str = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$";

/// The document as served: utoipa's, with the schemas whose rules span fields (which kind may carry which
/// scopes and referers) written out in full.
pub fn document_json(api: &utoipa::openapi::OpenApi) -> serde_json::Value {
    let mut doc = serde_json::to_value(api).unwrap_or_default();
    if let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(|s| s.as_object_mut()) {
        schemas.insert("NewKey".to_owned(), new_key_schema());
    }
    let file_path = format!("^/?{SEGMENT}(/{SEGMENT}){{0,31}}$");
    let folder = format!("^(/?{SEGMENT}(/{SEGMENT}){{0,31}})?/?$");
    for (path, method, name, pattern, max) in [
        ("/api/v1/access-history", "get", "ip", IP_OR_BLOCK, None),
        ("/api/v1/vault/files", "put", "path", file_path.as_str(), Some(256)),
        ("/api/v1/vault/files", "get", "folder", folder.as_str(), Some(257)),
    ] {
        let pointer = format!("/paths/{}/{method}/parameters", path.replace('/', "~1"));
        for p in doc.pointer_mut(&pointer).and_then(|p| p.as_array_mut()).into_iter().flatten() {
            if p["name"] == name {
                p["schema"]["pattern"] = serde_json::Value::from(pattern);
                if let Some(max) = max {
                    p["schema"]["maxLength"] = serde_json::Value::from(max);
                }
            }
        }
    }
    doc
}

fn new_key_schema() -> serde_json::Value {
    use serde_json::json;
    let level = json!({"type": "string", "enum": ["none", "read", "write"]});
    let resources = ["members", "access_history", "vault"];
    let scopes: serde_json::Map<String, serde_json::Value> =
        resources.iter().map(|r| ((*r).to_owned(), level.clone())).collect();
    let some = |levels: &[&str]| {
        json!({"anyOf": resources.iter().map(|r| json!({"required": [r], "properties": {*r: {"enum": levels}}}))
            .collect::<Vec<_>>()})
    };
    let reads_only: serde_json::Map<String, serde_json::Value> =
        resources.iter().map(|r| ((*r).to_owned(), json!({"enum": ["none", "read"]}))).collect();
    json!({
        "description": "A key to create. Referer patterns are for keys that only read (read keys, or restricted keys \
                        without write access); a restricted key needs read or write access to something. The \
                        expiry is at most the organisation's maximum and the creating key's own remaining life \
                        (asked for in whole days: a request up to a day past the creating key's expiry ends with it).",
        "allOf": [
            {
                "type": "object",
                "additionalProperties": false,
                "required": ["kind", "description"],
                "properties": {
                    "kind": {"type": "string", "enum": ["write", "read", "restricted"]},
                    "description": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": ONE_LINE},
                    "expires_in_days": {"type": ["integer", "null"], "minimum": 1, "maximum": 730},
                    "allowed_ips": {"type": "array", "maxItems": 100,
                        "items": {"type": "string", "pattern": ALLOWED_IP}},
                    "allowed_referers": {"type": "array", "maxItems": 100,
                        "items": {"type": "string", "maxLength": 300, "pattern": REFERER}},
                    "rate_per_hour": {"type": ["integer", "null"], "minimum": 1, "maximum": 10_000_000},
                    "machines_only": {"type": "boolean",
                        "description": "Works only from an enrolled machine (required when the creating key is)."},
                    "scopes": {"type": "object", "additionalProperties": false, "properties": scopes,
                        "description": "For restricted keys: resource → none, read or write (ignored otherwise)."}
                }
            },
            {"oneOf": [
                {"properties": {"kind": {"enum": ["write"]}, "allowed_referers": {"maxItems": 0}}},
                {"properties": {"kind": {"enum": ["read"]}}},
                {"required": ["scopes"], "properties": {"kind": {"enum": ["restricted"]},
                    "allowed_referers": {"maxItems": 0}, "scopes": some(&["read", "write"])}},
                {"required": ["scopes", "allowed_referers"], "properties": {"kind": {"enum": ["restricted"]},
                    "allowed_referers": {"minItems": 1},
                    "scopes": {"allOf": [{"properties": reads_only}, some(&["read"])]}}}
            ]}
        ]
    })
}

/// The console's summary of the document: one entry per operation.
pub fn reference(doc: &utoipa::openapi::OpenApi, base_url: &str) -> app::model::ApiReferenceView {
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
