//! Rampart's metrics: every name, label and help text, in one place. Code that makes a decision records it
//! here with one call (`state.metrics.sign_in(SignIn::Throttled)`); the server serves the Prometheus text on
//! its own loopback listener (`server::startup::metrics`), never on the console's.
//!
//! Policy:
//! - Names are `rampart_*`, counters end in `_total`, durations are histograms in `_seconds` (Prometheus naming
//!   conventions).
//! - Low cardinality, and nothing personal or secret: every label value is a `&'static str` from the code, so
//!   a tenant id, an email, a key or a raw path cannot become one. The two exceptions are bounded by the code
//!   too: the HTTP route is the router's matched template (`/api/v1/vault/files/{id}`, or `other`) and the
//!   status is the answer's code.
//! - Each app has its own recorder (no global one): two servers in one process (the tests) never mix counts.
//!   A disabled `Metrics` (no `metrics_addr`) records nothing and costs a branch.

use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Counter, Histogram, Unit,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

const HTTP_REQUESTS: &str = "rampart_http_requests_total";
const HTTP_DURATION: &str = "rampart_http_request_duration_seconds";
const SIGN_INS: &str = "rampart_sign_in_attempts_total";
const STEP_UPS: &str = "rampart_step_up_attempts_total";
const SECOND_FACTOR: &str = "rampart_second_factor_checks_total";
const THROTTLE: &str = "rampart_throttle_decisions_total";
const IP_BLOCKS_STARTED: &str = "rampart_ip_blocks_started_total";
const IP_BLOCKS_ACTIVE: &str = "rampart_ip_blocks_active";
const IP_BLOCKED_REQUESTS: &str = "rampart_ip_blocked_requests_total";
const IP_RULE_REFUSALS: &str = "rampart_ip_rule_refusals_total";
const KEY_VERIFICATIONS: &str = "rampart_api_key_verifications_total";
const HASH_QUEUE: &str = "rampart_password_hash_queue_depth";
const HASH_IN_PROGRESS: &str = "rampart_password_hash_in_progress";
const HASH_DURATION: &str = "rampart_password_hash_duration_seconds";
const HASH_WAIT: &str = "rampart_password_hash_wait_seconds";
const HASH_REJECTED: &str = "rampart_password_hash_rejected_total";
const HASH_RESCUED: &str = "rampart_password_hash_rescued_total";
const API_LOG_QUEUE: &str = "rampart_api_log_queue_depth";
const API_LOG_LAG: &str = "rampart_api_log_lag_seconds";
const API_LOG_WRITTEN: &str = "rampart_api_log_events_written_total";
const API_LOG_FAILURES: &str = "rampart_api_log_write_failures_total";
const JOB_RUNS: &str = "rampart_job_runs_total";
const JOB_DURATION: &str = "rampart_job_duration_seconds";
const JOB_LAST_SUCCESS: &str = "rampart_job_last_success_timestamp_seconds";
const EMAILS: &str = "rampart_emails_total";
const EMAIL_DURATION: &str = "rampart_email_send_duration_seconds";
const POOL_CONNECTIONS: &str = "rampart_db_pool_connections";
const POOL_IDLE: &str = "rampart_db_pool_idle_connections";
const POOL_IN_USE: &str = "rampart_db_pool_in_use_connections";
const POOL_MAX: &str = "rampart_db_pool_max_connections";
const BUILD_INFO: &str = "rampart_build_info";
const RENDER_RETRIES: &str = "rampart_page_render_retries_total";
const PAGES_KEPT: &str = "rampart_pages_served_kept_total";

/// Histogram buckets of every `_seconds` metric: a millisecond (a cached key check) to five minutes (an export).
const SECONDS_BUCKETS: [f64; 16] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// The outcome of a password sign-in attempt (`identity::auth::sign_in`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    /// Signed in with the password alone.
    Success,
    /// The password was right; a second factor follows.
    SecondFactorRequired,
    /// The password was right; an authenticator must be enrolled first.
    EnrollmentRequired,
    WrongPassword,
    UnknownAccount,
    /// The account has no password yet (setup link not used).
    NoPassword,
    /// Refused before the password check: back-off.
    Throttled,
    /// Refused before the password check: the password factor is suspended.
    Suspended,
    /// A right password from an address the tenant's network rules refuse.
    RefusedByNetworkRules,
    /// Answered 503: the sign-in queue was full, or the database did not answer in time.
    Unavailable,
    /// Anything else (a database error).
    Error,
}

impl SignIn {
    fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::SecondFactorRequired => "second_factor_required",
            Self::EnrollmentRequired => "enrollment_required",
            Self::WrongPassword => "wrong_password",
            Self::UnknownAccount => "unknown_account",
            Self::NoPassword => "no_password",
            Self::Throttled => "throttled",
            Self::Suspended => "suspended",
            Self::RefusedByNetworkRules => "network_rules",
            Self::Unavailable => "unavailable",
            Self::Error => "error",
        }
    }
}

/// The limits whose decisions are counted (`rampart_throttle_decisions_total{limiter}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limiter {
    /// The password budgets of sign-in and step-up (`identity::throttle`).
    Password,
    /// TOTP and recovery-code attempts (`identity::two_factor`).
    SecondFactor,
    /// One password check in flight per account, a share of the queue per tenant (`Hasher::claim`).
    PasswordCheckClaim,
    /// Password-reset requests per client address.
    PasswordReset,
    /// A key's hourly request limit.
    ApiKeyRate,
    /// Unrecognised or malformed keys per client address and minute.
    ApiUnknownKey,
}

impl Limiter {
    fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::SecondFactor => "second_factor",
            Self::PasswordCheckClaim => "password_check_claim",
            Self::PasswordReset => "password_reset",
            Self::ApiKeyRate => "api_key_rate",
            Self::ApiUnknownKey => "api_unknown_key",
        }
    }
}

/// A limiter's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Throttled,
    /// Refused until a reset (a suspended password or second factor).
    Suspended,
}

impl Decision {
    fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Throttled => "throttled",
            Self::Suspended => "suspended",
        }
    }
}

/// Gauges read at scrape time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    pub pool_connections: u32,
    pub pool_idle: usize,
    pub pool_max: u32,
    pub hash_queue: usize,
    pub hash_in_progress: usize,
    pub api_log_queue: usize,
    pub ip_blocks_active: usize,
}

/// This app's metrics: a Prometheus recorder, or nothing. Cheap to clone.
#[derive(Clone, Default)]
pub struct Metrics {
    prometheus: Option<Arc<Prometheus>>,
}

struct Prometheus {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// The request counter and duration histogram of each (route, method, status) seen: looked up once, so an
    /// answered request costs two atomic updates instead of building and hashing two labelled keys. Routes are
    /// templates (a closed set) and statuses few, so this stays small.
    requests: std::sync::RwLock<HashMap<String, RouteHandles>>,
    /// The same for the counters every API request moves (key verifications, the key rate's decisions), by
    /// name and label values: all `'static`, a closed set.
    counters: std::sync::RwLock<HashMap<StaticKey, Counter>>,
}

/// A counter's name with its label names and values.
type StaticKey = (&'static str, [(&'static str, &'static str); 2]);

/// One route's request counter and duration histogram, by method and status.
type RouteHandles = HashMap<(&'static str, u16), (Counter, Histogram)>;

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("enabled", &self.prometheus.is_some()).finish()
    }
}

impl Metrics {
    /// A recorder of its own, every metric described, `_seconds` metrics as histograms.
    pub fn prometheus() -> Self {
        let builder = PrometheusBuilder::new();
        let builder = match builder.set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &SECONDS_BUCKETS) {
            Ok(b) => b,
            // Unreachable (the buckets are not empty); summaries instead of histograms would still work.
            Err(_) => PrometheusBuilder::new(),
        };
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let metrics = Self {
            prometheus: Some(Arc::new(Prometheus {
                recorder,
                handle,
                requests: Default::default(),
                counters: Default::default(),
            })),
        };
        metrics.with(describe);
        metrics.with(|| gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0));
        metrics
    }

    /// Records nothing.
    pub fn disabled() -> Self {
        Self::default()
    }

    pub fn is_enabled(&self) -> bool {
        self.prometheus.is_some()
    }

    /// The Prometheus text exposition of everything recorded so far (`None` when disabled).
    pub fn render(&self) -> Option<String> {
        self.prometheus.as_ref().map(|p| p.handle.render())
    }

    /// Drains histogram samples into their buckets; run every few seconds so memory stays flat between scrapes.
    pub fn upkeep(&self) {
        if let Some(p) = &self.prometheus {
            p.handle.run_upkeep();
        }
    }

    fn with(&self, f: impl FnOnce()) {
        if let Some(p) = &self.prometheus {
            metrics::with_local_recorder(&p.recorder, f);
        }
    }

    /// One answered request: `route` is the matched route template or `other`.
    pub fn http_request(&self, method: &'static str, route: &str, status: u16, elapsed: Duration) {
        let Some(p) = &self.prometheus else { return };
        let known = p.requests.read().ok().and_then(|m| m.get(route)?.get(&(method, status)).cloned());
        let (count, duration) = match known {
            Some(handles) => handles,
            None => {
                let class = match status {
                    100..=199 => "1xx",
                    200..=299 => "2xx",
                    300..=399 => "3xx",
                    400..=499 => "4xx",
                    _ => "5xx",
                };
                let handles = metrics::with_local_recorder(&p.recorder, || {
                    let route = route.to_owned();
                    (
                        counter!(HTTP_REQUESTS, "method" => method, "route" => route.clone(), "status" => status.to_string()),
                        histogram!(HTTP_DURATION, "method" => method, "route" => route, "status_class" => class),
                    )
                });
                if let Ok(mut m) = p.requests.write() {
                    m.entry(route.to_owned()).or_default().insert((method, status), handles.clone());
                }
                handles
            }
        };
        count.increment(1);
        duration.record(elapsed);
    }

    /// The password step of a sign-in.
    pub fn sign_in(&self, outcome: SignIn) {
        self.with(|| counter!(SIGN_INS, "outcome" => outcome.as_str()).increment(1));
    }

    /// The password step of a step-up; `outcome` is one of `success`, `wrong_password`, `throttled`,
    /// `suspended`, `busy`.
    pub fn step_up(&self, outcome: &'static str) {
        self.with(|| counter!(STEP_UPS, "outcome" => outcome).increment(1));
    }

    /// A TOTP or recovery code check; `outcome` is one of `totp`, `recovery_code`, `wrong_code`, `replayed`,
    /// `throttled`, `suspended`.
    pub fn second_factor(&self, outcome: &'static str) {
        self.with(|| counter!(SECOND_FACTOR, "outcome" => outcome).increment(1));
    }

    /// A decision of one of the rate limits and lock-outs.
    pub fn throttle(&self, limiter: Limiter, decision: Decision) {
        self.count((THROTTLE, [("limiter", limiter.as_str()), ("decision", decision.as_str())]));
    }

    /// Adds one to a counter whose labels are all `'static` (an unused second label has an empty name), through
    /// a handle looked up once.
    fn count(&self, key: StaticKey) {
        let Some(p) = &self.prometheus else { return };
        if let Some(c) = p.counters.read().ok().and_then(|m| m.get(&key).cloned()) {
            c.increment(1);
            return;
        }
        let (name, labels) = key;
        let labels: Vec<metrics::Label> =
            labels.iter().filter(|(k, _)| !k.is_empty()).map(|(k, v)| metrics::Label::new(*k, *v)).collect();
        let c = metrics::with_local_recorder(&p.recorder, || counter!(name, labels));
        if let Ok(mut m) = p.counters.write() {
            m.insert(key, c.clone());
        }
        c.increment(1);
    }

    /// A client address was blocked automatically for too many failed sign-ins.
    pub fn ip_block_started(&self) {
        self.with(|| counter!(IP_BLOCKS_STARTED).increment(1));
    }

    /// A request refused because its address is automatically blocked.
    pub fn ip_blocked_request(&self) {
        self.with(|| counter!(IP_BLOCKED_REQUESTS).increment(1));
    }

    /// A request refused by a tenant's network rules; `surface` is `console`, `sign_in` or `api`, `rule` is
    /// `block_list` or `allow_list`.
    pub fn ip_rule_refusal(&self, surface: &'static str, rule: &'static str) {
        self.with(|| counter!(IP_RULE_REFUSALS, "surface" => surface, "rule" => rule).increment(1));
    }

    /// An API key check: `accepted`, or the refusal's reason (`keys::verify::Denial::reason`).
    pub fn api_key_verification(&self, outcome: &'static str) {
        self.count((KEY_VERIFICATIONS, [("outcome", outcome), ("", "")]));
    }

    /// One argon2 computation (`op`: `hash` or `verify`): how long it waited for a worker, how long it took.
    pub fn password_hash(&self, op: &'static str, wait: Duration, work: Duration) {
        self.with(|| {
            histogram!(HASH_WAIT, "op" => op).record(wait);
            histogram!(HASH_DURATION, "op" => op).record(work);
        });
    }

    /// A password check refused because the hashing queue was full.
    pub fn password_hash_rejected(&self) {
        self.with(|| counter!(HASH_REJECTED).increment(1));
    }

    /// A hash handed to the normal-priority rescue thread because the low-priority ones were starved.
    pub fn password_hash_rescued(&self) {
        self.with(|| counter!(HASH_RESCUED).increment(1));
    }

    /// A page that took longer than the render deadline and was rendered again (`server::middleware::render_guard`).
    pub fn page_render_retried(&self) {
        self.with(|| counter!(RENDER_RETRIES).increment(1));
    }

    /// A page served as kept from an earlier rendering whose every input is unchanged
    /// (`server::middleware::page_memo`).
    pub fn page_served_kept(&self) {
        self.with(|| counter!(PAGES_KEPT).increment(1));
    }

    /// A batch of REST request events written; `lag` is how long its oldest event waited in the queue.
    pub fn api_log_batch(&self, events: usize, lag: Duration) {
        self.with(|| {
            counter!(API_LOG_WRITTEN).increment(u64::try_from(events).unwrap_or(u64::MAX));
            histogram!(API_LOG_LAG).record(lag);
        });
    }

    /// A batch of REST request events that failed to write (it is retried).
    pub fn api_log_write_failed(&self) {
        self.with(|| counter!(API_LOG_FAILURES).increment(1));
    }

    /// One pass of a background job.
    pub fn job_run(&self, job: &'static str, ok: bool, elapsed: Duration) {
        self.with(|| {
            counter!(JOB_RUNS, "job" => job, "outcome" => if ok { "success" } else { "failure" }).increment(1);
            histogram!(JOB_DURATION, "job" => job).record(elapsed);
            if ok {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                gauge!(JOB_LAST_SUCCESS, "job" => job).set(now.as_secs_f64());
            }
        });
    }

    /// One email handed to the transport (`smtp` or `outbox`).
    pub fn email(&self, transport: &'static str, sent: bool, elapsed: Duration) {
        self.with(|| {
            counter!(EMAILS, "transport" => transport, "outcome" => if sent { "sent" } else { "failed" }).increment(1);
            histogram!(EMAIL_DURATION, "transport" => transport).record(elapsed);
        });
    }

    /// The gauges read at scrape time.
    pub fn sample(&self, s: &Sample) {
        let f = |n: usize| n as f64; // counts far below 2^52: exact
        self.with(|| {
            gauge!(POOL_CONNECTIONS).set(s.pool_connections);
            gauge!(POOL_IDLE).set(f(s.pool_idle));
            gauge!(POOL_IN_USE).set(f((s.pool_connections as usize).saturating_sub(s.pool_idle)));
            gauge!(POOL_MAX).set(s.pool_max);
            gauge!(HASH_QUEUE).set(f(s.hash_queue));
            gauge!(HASH_IN_PROGRESS).set(f(s.hash_in_progress));
            gauge!(API_LOG_QUEUE).set(f(s.api_log_queue));
            gauge!(IP_BLOCKS_ACTIVE).set(f(s.ip_blocks_active));
        });
    }
}

/// The HELP and unit of every metric.
fn describe() {
    describe_counter!(HTTP_REQUESTS, "Answered HTTP requests by method, route template and status.");
    describe_histogram!(HTTP_DURATION, Unit::Seconds, "Time to the response head, by method, route and status class.");
    describe_counter!(SIGN_INS, "Password sign-in attempts by outcome.");
    describe_counter!(STEP_UPS, "Step-up password checks by outcome.");
    describe_counter!(SECOND_FACTOR, "TOTP and recovery code checks by outcome.");
    describe_counter!(THROTTLE, "Rate-limit and lock-out decisions by limiter and decision.");
    describe_counter!(IP_BLOCKS_STARTED, "Client addresses blocked automatically after too many failed sign-ins.");
    describe_gauge!(IP_BLOCKS_ACTIVE, "Client addresses blocked automatically right now (this instance).");
    describe_counter!(IP_BLOCKED_REQUESTS, "Requests refused because their address is blocked automatically.");
    describe_counter!(IP_RULE_REFUSALS, "Requests refused by a tenant's network rules, by surface and rule.");
    describe_counter!(KEY_VERIFICATIONS, "API key checks by outcome (accepted, or the refusal's reason).");
    describe_gauge!(HASH_QUEUE, "Password checks waiting for an argon2 worker or a sign-in slot.");
    describe_gauge!(HASH_IN_PROGRESS, "argon2 computations running.");
    describe_histogram!(HASH_DURATION, Unit::Seconds, "argon2 computation time, by operation.");
    describe_histogram!(HASH_WAIT, Unit::Seconds, "Time a password check waited for an argon2 worker.");
    describe_counter!(HASH_REJECTED, "Password checks refused because the hashing queue was full.");
    describe_counter!(HASH_RESCUED, "Hashes run at normal priority because the low-priority threads were starved.");
    describe_counter!(RENDER_RETRIES, "Pages rendered again because the first rendering passed the deadline.");
    describe_counter!(PAGES_KEPT, "Pages served from an earlier rendering whose inputs had not changed.");
    describe_gauge!(API_LOG_QUEUE, "REST request events waiting to be written to the access history.");
    describe_histogram!(API_LOG_LAG, Unit::Seconds, "Time from queueing to commit of each batch's oldest event.");
    describe_counter!(API_LOG_WRITTEN, "REST request events written to the access history.");
    describe_counter!(API_LOG_FAILURES, "Failed writes of REST request event batches (each is retried).");
    describe_counter!(JOB_RUNS, "Background job passes by job and outcome.");
    describe_histogram!(JOB_DURATION, Unit::Seconds, "Background job pass duration by job.");
    describe_gauge!(JOB_LAST_SUCCESS, Unit::Seconds, "Unix time of each job's last successful pass.");
    describe_counter!(EMAILS, "Emails handed to the transport, by transport and outcome.");
    describe_histogram!(EMAIL_DURATION, Unit::Seconds, "Time to hand one email to the transport.");
    describe_gauge!(POOL_CONNECTIONS, "Open database connections.");
    describe_gauge!(POOL_IDLE, "Idle database connections.");
    describe_gauge!(POOL_IN_USE, "Database connections in use.");
    describe_gauge!(POOL_MAX, "The database pool's maximum size.");
    describe_gauge!(BUILD_INFO, "Always 1; the version is a label.");
}

#[cfg(test)]
mod tests;
