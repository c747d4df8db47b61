//! The sign-in activity chart: successes and failures per UTC day as server-rendered inline SVG (no script),
//! with a title and description for assistive technology and the same figures as a table.

use crate::model::DayCount;
use leptos::prelude::*;
use std::fmt::Write as _;

const WIDTH: i64 = 560;
const HEIGHT: i64 = 160;
const BASELINE: i64 = 140;

/// The day's date, `YYYY-MM-DD`, from epoch ms at the start of a UTC day.
fn date_of(day_ms: i64) -> String {
    let mut date = crate::model::format_utc(day_ms);
    date.truncate(10);
    date
}

#[component]
pub fn SignInChart(days: Vec<DayCount>) -> impl IntoView {
    let max = days.iter().map(|d| d.successes.max(d.failures)).max().unwrap_or(0).max(1);
    let n = i64::try_from(days.len()).unwrap_or(1).max(1);
    let slot = WIDTH / n;
    let bar = (slot / 3).max(1);
    let total_ok: i64 = days.iter().map(|d| d.successes).sum();
    let total_failed: i64 = days.iter().map(|d| d.failures).sum();
    let (first, last) = (
        days.first().map(|d| date_of(d.day)).unwrap_or_default(),
        days.last().map(|d| date_of(d.day)).unwrap_or_default(),
    );
    let desc = format!(
        "{total_ok} successful and {total_failed} failed sign-ins from {first} to {last}; the busiest day had {max}."
    );
    let height_of = |v: i64| v * (BASELINE - 10) / max;
    // The bars and the table's rows are digits and dates only, written straight into one string each: as
    // elements, a month of bars was a tenth of an overview render. Nothing in them needs escaping.
    let mut bars = String::with_capacity(days.len() * 220);
    let mut rows = String::with_capacity(days.len() * 80);
    for (i, d) in days.iter().enumerate() {
        let x = i64::try_from(i).unwrap_or(0) * slot + slot / 6;
        let (hs, hf) = (height_of(d.successes), height_of(d.failures));
        let date = date_of(d.day);
        let (ok, failed) = (d.successes, d.failures);
        let _ = write!(
            bars,
            r#"<g><rect class="ok" x="{x}" y="{}" width="{bar}" height="{hs}"><title>{date}: {ok} successful</title></rect><rect class="failed" x="{}" y="{}" width="{bar}" height="{hf}"><title>{date}: {failed} failed</title></rect></g>"#,
            BASELINE - hs,
            x + bar,
            BASELINE - hf,
        );
        let _ = write!(rows, r#"<tr><th scope="row">{date}</th><td>{ok}</td><td>{failed}</td></tr>"#);
    }
    view! {
        <figure class="chart sign-in-chart">
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") width="100%" role="img"
                aria-labelledby="sign-in-chart-title sign-in-chart-desc" xmlns="http://www.w3.org/2000/svg">
                <title id="sign-in-chart-title">"Sign-ins per day"</title>
                <desc id="sign-in-chart-desc">{desc.clone()}</desc>
                <line x1="0" y1=BASELINE x2=WIDTH y2=BASELINE class="axis"/>
                <g class="bars" inner_html=bars></g>
                <text x="0" y=HEIGHT - 4 class="label">{first.clone()}</text>
                <text x=WIDTH y=HEIGHT - 4 text-anchor="end" class="label">{last.clone()}</text>
            </svg>
            <figcaption>
                <span class="legend ok">"Successful"</span> " " <span class="legend failed">"Failed"</span>
                " — " {desc}
            </figcaption>
            <details>
                <summary>"Sign-ins per day as a table"</summary>
                <table>
                    <thead><tr><th scope="col">"Day (UTC)"</th><th scope="col">"Successful"</th><th scope="col">"Failed"</th></tr></thead>
                    <tbody inner_html=rows></tbody>
                </table>
            </details>
        </figure>
    }
}
