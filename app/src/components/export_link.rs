//! Export links with a progress bar. Without JavaScript each link is a plain download (the server streams the
//! file with `Content-Disposition: attachment`). With it, the download is read as a stream, the bar shows rows
//! received against the `X-Rampart-Rows` total the server sends first, and the file is handed to the browser's
//! downloads once complete (a broken stream shows an error instead of a short file).

use leptos::prelude::*;

/// Where an export stands.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum Progress {
    Idle,
    Running { rows: f64, total: f64 },
    Done { rows: f64 },
    Failed,
}

/// Links to `href_csv` and `href_json`, with a progress bar while one downloads.
#[component]
pub fn ExportLinks(href_csv: String, href_json: String) -> impl IntoView {
    let progress = RwSignal::new(Progress::Idle);
    let start = move |href: String, name: &'static str| {
        move |ev: leptos::ev::MouseEvent| {
            ev.prevent_default();
            if matches!(progress.get_untracked(), Progress::Running { .. }) {
                return;
            }
            progress.set(Progress::Running { rows: 0.0, total: 0.0 });
            download(href.clone(), name, progress);
        }
    };
    let status = move || match progress.get() {
        Progress::Idle => ().into_any(),
        Progress::Running { rows, total } => {
            let label =
                if total > 0.0 { format!("{rows:.0} of {total:.0} events") } else { format!("{rows:.0} events") };
            view! {
                <progress max=total.max(1.0) value=rows aria-label="Export progress"></progress>
                <span role="status">{label}</span>
            }
            .into_any()
        }
        Progress::Done { rows } => {
            view! { <span role="status">{format!("Export ready: {rows:.0} events.")}</span> }.into_any()
        }
        Progress::Failed => view! {
            <span class="notice error" role="alert">"The export was interrupted. Try again."</span>
        }
        .into_any(),
    };
    view! {
        <p class="export">
            "Export these events: "
            <a href=href_csv.clone() download="access-history.csv" on:click=start(href_csv, "access-history.csv")>"CSV"</a>
            " · "
            <a href=href_json.clone() download="access-history.json" on:click=start(href_json, "access-history.json")>"JSON"</a>
            " "
            {status}
        </p>
    }
}

#[cfg(feature = "hydrate")]
fn download(href: String, name: &'static str, progress: RwSignal<Progress>) {
    wasm_bindgen_futures::spawn_local(async move {
        let outcome = fetch_stream(&href, name, progress).await;
        progress.set(match outcome {
            Ok(rows) => Progress::Done { rows },
            Err(_) => Progress::Failed,
        });
    });
}

#[cfg(not(feature = "hydrate"))]
fn download(_href: String, _name: &'static str, _progress: RwSignal<Progress>) {}

#[cfg(feature = "hydrate")]
async fn fetch_stream(href: &str, name: &str, progress: RwSignal<Progress>) -> Result<f64, wasm_bindgen::JsValue> {
    use wasm_bindgen::JsCast as _;
    use wasm_bindgen_futures::JsFuture;
    let window = web_sys::window().ok_or("no window")?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str(href)).await?.dyn_into()?;
    if !response.ok() {
        return Err("export refused".into());
    }
    let total: f64 = response.headers().get("x-rampart-rows")?.and_then(|t| t.parse().ok()).unwrap_or(0.0);
    let body = response.body().ok_or("no body")?;
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().dyn_into()?;
    let chunks = js_sys::Array::new();
    let mut rows = 0.0;
    loop {
        let step = JsFuture::from(reader.read()).await?;
        if js_sys::Reflect::get(&step, &"done".into())?.as_bool().unwrap_or(true) {
            break;
        }
        let chunk: js_sys::Uint8Array = js_sys::Reflect::get(&step, &"value".into())?.dyn_into()?;
        rows += chunk.to_vec().iter().filter(|b| **b == b'\n').count() as f64;
        chunks.push(&chunk);
        progress.set(Progress::Running { rows: rows.min(total.max(rows)), total });
    }
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(&response.headers().get("content-type")?.unwrap_or_default());
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&chunks, &options)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let document = window.document().ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement = document.create_element("a")?.dyn_into()?;
    a.set_href(&url);
    a.set_download(name);
    a.click();
    // The object URL lives until the page goes: revoking it at once can cancel the download.
    Ok(if total > 0.0 { total } else { rows })
}
