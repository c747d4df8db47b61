//! The sign-in activity chart: successes and failures per UTC day as server-rendered inline SVG (no script),
//! with a title and description for assistive technology and the same figures as a table.

use crate::model::DayCount;
use leptos::prelude::*;

const WIDTH: i64 = 560;
const HEIGHT: i64 = 160;
const BASELINE: i64 = 140;

/// The day's date, `YYYY-MM-DD`, from epoch ms at the start of a UTC day.
fn date_of(day_ms: i64) -> String {
    crate::model::format_utc(day_ms).chars().take(10).collect()
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
    let bars = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let x = i64::try_from(i).unwrap_or(0) * slot + slot / 6;
            let (hs, hf) = (height_of(d.successes), height_of(d.failures));
            let date = date_of(d.day);
            view! {
                <g>
                    <rect class="ok" x=x y=BASELINE - hs width=bar height=hs>
                        <title>{format!("{date}: {} successful", d.successes)}</title>
                    </rect>
                    <rect class="failed" x=x + bar y=BASELINE - hf width=bar height=hf>
                        <title>{format!("{date}: {} failed", d.failures)}</title>
                    </rect>
                </g>
            }
        })
        .collect_view();
    let rows = days
        .iter()
        .map(|d| view! { <tr><th scope="row">{date_of(d.day)}</th><td>{d.successes}</td><td>{d.failures}</td></tr> })
        .collect_view();
    view! {
        <figure class="chart sign-in-chart">
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") width="100%" role="img"
                aria-labelledby="sign-in-chart-title sign-in-chart-desc" xmlns="http://www.w3.org/2000/svg">
                <title id="sign-in-chart-title">"Sign-ins per day"</title>
                <desc id="sign-in-chart-desc">{desc.clone()}</desc>
                <line x1="0" y1=BASELINE x2=WIDTH y2=BASELINE class="axis"/>
                {bars}
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
                    <tbody>{rows}</tbody>
                </table>
            </details>
        </figure>
    }
}
