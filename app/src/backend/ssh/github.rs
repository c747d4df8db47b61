//! Reading a GitHub user's public SSH keys: `<github_base>/<user>.keys` (plain text, one key a line; asked
//! with `If-None-Match` so an unchanged list costs GitHub nothing), the JSON list `<api_base>/users/<user>/keys`
//! for the keys' ids, and `<api_base>/users/<user>` for the account's numeric id. Both bases are settings, so
//! tests point them at a stand-in on loopback; plain HTTP is accepted only to a loopback address. No redirects
//! are followed and answers are capped at 1 MiB.

use std::time::Duration;

/// Where GitHub is, and how to ask it.
#[derive(Debug, Clone)]
pub struct GithubConfig {
    pub base_url: String,
    pub api_url: String,
    /// A token raises GitHub's limit from 60 requests an hour per address to 5,000.
    pub token: Option<secrecy::SecretString>,
}

impl Default for GithubConfig {
    fn default() -> Self {
        Self { base_url: "https://github.com".to_owned(), api_url: "https://api.github.com".to_owned(), token: None }
    }
}

/// What GitHub said about a user's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The key lines, with GitHub's key ids where the JSON list gave them, the account's id and the new ETag.
    Keys { lines: Vec<(String, Option<i64>)>, user_id: Option<i64>, etag: Option<String> },
    /// The list did not change since the ETag we sent.
    Unchanged,
    /// No such user (404).
    NoUser,
}

/// Why GitHub could not be asked: the last known keys stay, marked stale.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FetchError(pub String);

const MAX_BODY: usize = 1 << 20;

/// A GitHub user name: 1 to 39 letters, digits or single dashes, not starting or ending with a dash.
pub fn valid_user(name: &str) -> bool {
    (1..=39).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

fn client() -> Result<reqwest13::Client, FetchError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest13::Client::builder()
        .redirect(reqwest13::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .user_agent("rampart-ssh-key-sync")
        .no_proxy()
        .build()
        .map_err(|e| FetchError(format!("HTTP client: {e}")))
}

async fn body(res: reqwest13::Response) -> Result<String, FetchError> {
    if res.content_length().is_some_and(|n| n > MAX_BODY as u64) {
        return Err(FetchError("GitHub's answer is too large".to_owned()));
    }
    let bytes = res.bytes().await.map_err(|e| {
        tracing::warn!(error = %e, "GitHub's answer to the SSH key sync could not be read");
        FetchError("GitHub's answer could not be read".to_owned())
    })?;
    if bytes.len() > MAX_BODY {
        return Err(FetchError("GitHub's answer is too large".to_owned()));
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| FetchError("GitHub's answer is not text".to_owned()))
}

/// Asks GitHub for `user`'s keys; `etag`: the one of the last answer.
pub async fn fetch(config: &GithubConfig, user: &str, etag: Option<&str>) -> Result<Fetched, FetchError> {
    use secrecy::ExposeSecret as _;
    if !valid_user(user) {
        return Ok(Fetched::NoUser);
    }
    let allowed = crate::backend::platform::request::https_or_loopback_http;
    if !allowed(&config.base_url) || !allowed(&config.api_url) {
        return Err(FetchError("the GitHub URLs must be https:// (http:// only to a loopback address)".to_owned()));
    }
    let http = client()?;
    let auth = |req: reqwest13::RequestBuilder| match &config.token {
        Some(t) => req.bearer_auth(t.expose_secret()),
        None => req,
    };
    let base = config.base_url.trim_end_matches('/');
    let mut req = auth(http.get(format!("{base}/{user}.keys")));
    if let Some(tag) = etag {
        req = req.header("if-none-match", tag);
    }
    let res = req.send().await.map_err(|e| {
        // The detail (addresses, the operator's URLs) goes to the log; the member's page says what happened.
        tracing::warn!(error = %e, "GitHub did not answer the SSH key sync");
        FetchError("GitHub did not answer".to_owned())
    })?;
    match res.status().as_u16() {
        304 => return Ok(Fetched::Unchanged),
        404 => return Ok(Fetched::NoUser),
        200 => {}
        s => return Err(FetchError(format!("GitHub answered {s}"))),
    }
    let new_etag = res.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let text = body(res).await?;
    let lines: Vec<String> =
        text.lines().map(str::trim).filter(|l| !l.is_empty()).take(100).map(str::to_owned).collect();
    // The ids and the account's number, where the API answers (it is optional: the list above decides).
    let api = config.api_url.trim_end_matches('/');
    let ids: Vec<(i64, String)> = match auth(http.get(format!("{api}/users/{user}/keys"))).send().await {
        Ok(r) if r.status().is_success() => {
            let v: serde_json::Value = serde_json::from_str(&body(r).await.unwrap_or_default()).unwrap_or_default();
            v.as_array()
                .map(|a| {
                    a.iter().filter_map(|k| Some((k["id"].as_i64()?, k["key"].as_str()?.trim().to_owned()))).collect()
                })
                .unwrap_or_default()
        }
        _ => Vec::new(),
    };
    let user_id = match auth(http.get(format!("{api}/users/{user}"))).send().await {
        Ok(r) if r.status().is_success() => {
            let v: serde_json::Value = serde_json::from_str(&body(r).await.unwrap_or_default()).unwrap_or_default();
            v["id"].as_i64()
        }
        _ => None,
    };
    let lines = lines
        .into_iter()
        .map(|line| {
            let head: String = line.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
            let id = ids.iter().find(|(_, k)| k.split_whitespace().take(2).collect::<Vec<_>>().join(" ") == head);
            (line, id.map(|(i, _)| *i))
        })
        .collect();
    Ok(Fetched::Keys { lines, user_id, etag: new_etag })
}
