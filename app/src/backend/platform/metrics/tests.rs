use super::*;

#[test]
fn records_into_its_own_recorder_only() {
    let (a, b) = (Metrics::prometheus(), Metrics::prometheus());
    a.sign_in(SignIn::WrongPassword);
    a.http_request("GET", "/api/v1/members", 200, Duration::from_millis(3));
    let text = a.render().unwrap_or_default();
    assert!(!b.render().unwrap_or_default().contains("/api/v1/members"), "another app's recorder is untouched");
    assert!(text.contains("rampart_sign_in_attempts_total{outcome=\"wrong_password\"} 1"), "{text}");
    assert!(text.contains("# HELP rampart_sign_in_attempts_total"), "{text}");
    assert!(
        text.contains("rampart_http_requests_total{method=\"GET\",route=\"/api/v1/members\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(text.contains("rampart_http_request_duration_seconds_bucket{"), "a histogram: {text}");
    assert!(!b.render().unwrap_or_default().contains("wrong_password"), "another app's recorder is untouched");
}

/// The handles looked up once keep counting, each under its own labels and in its own recorder.
#[test]
fn counters_through_kept_handles_count_every_time_under_their_own_labels() {
    let (a, b) = (Metrics::prometheus(), Metrics::prometheus());
    for _ in 0..3 {
        a.throttle(Limiter::ApiKeyRate, Decision::Allowed);
        a.api_key_verification("accepted");
    }
    a.throttle(Limiter::ApiKeyRate, Decision::Throttled);
    a.throttle(Limiter::Password, Decision::Allowed);
    a.api_key_verification("revoked");
    b.api_key_verification("accepted");
    let (text, other) = (a.render().unwrap_or_default(), b.render().unwrap_or_default());
    let value =
        |text: &str, series: &str| text.lines().find_map(|l| l.strip_prefix(&format!("{series} "))).map(str::to_owned);
    let throttle =
        |limiter: &str, decision: &str| format!("{THROTTLE}{{limiter=\"{limiter}\",decision=\"{decision}\"}}");
    let verified = |outcome: &str| format!("{KEY_VERIFICATIONS}{{outcome=\"{outcome}\"}}");
    assert_eq!(value(&text, &throttle("api_key_rate", "allowed")).as_deref(), Some("3"), "{text}");
    assert_eq!(value(&text, &throttle("api_key_rate", "throttled")).as_deref(), Some("1"), "{text}");
    assert_eq!(value(&text, &throttle("password", "allowed")).as_deref(), Some("1"), "{text}");
    assert_eq!(value(&text, &verified("accepted")).as_deref(), Some("3"), "{text}");
    assert_eq!(value(&text, &verified("revoked")).as_deref(), Some("1"), "{text}");
    assert_eq!(value(&other, &verified("accepted")).as_deref(), Some("1"), "{other}");
    assert_eq!(value(&other, &verified("revoked")), None, "{other}");
}

#[test]
fn requests_count_under_their_labels_every_time() {
    let (a, b) = (Metrics::prometheus(), Metrics::prometheus());
    for _ in 0..3 {
        a.http_request("GET", "/api/v1/members", 200, Duration::from_millis(3));
    }
    a.http_request("GET", "/api/v1/members", 403, Duration::from_millis(1));
    a.http_request("POST", "/api/v1/members", 200, Duration::from_millis(1));
    a.http_request("GET", "/api/v1/keys", 200, Duration::from_millis(1));
    b.http_request("GET", "/api/v1/members", 200, Duration::from_millis(3));
    let (text, other) = (a.render().unwrap_or_default(), b.render().unwrap_or_default());
    let count = |text: &str, labels: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("rampart_http_requests_total{{{labels}}} ")))
            .map(str::to_owned)
    };
    let members =
        |method: &str, status: u16| format!("method=\"{method}\",route=\"/api/v1/members\",status=\"{status}\"");
    assert_eq!(count(&text, &members("GET", 200)).as_deref(), Some("3"), "{text}");
    assert_eq!(count(&text, &members("GET", 403)).as_deref(), Some("1"), "{text}");
    assert_eq!(count(&text, &members("POST", 200)).as_deref(), Some("1"), "{text}");
    assert_eq!(count(&text, "method=\"GET\",route=\"/api/v1/keys\",status=\"200\"").as_deref(), Some("1"));
    assert_eq!(count(&other, &members("GET", 200)).as_deref(), Some("1"), "{other}");
    let durations = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("rampart_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/members\",status_class=\"2xx\"} ")
        })
        .map(str::to_owned);
    assert_eq!(durations.as_deref(), Some("3"), "{text}");
}

#[test]
fn disabled_records_nothing() {
    let m = Metrics::disabled();
    m.sign_in(SignIn::Success);
    assert!(m.render().is_none() && !m.is_enabled());
}
