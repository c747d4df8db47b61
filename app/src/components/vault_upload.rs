//! The vault's upload form. Without JavaScript it is a plain multipart POST to `/vault/upload` (the server
//! answers 303 back to the folder with a notice). With JavaScript the same form, or files dropped on the drop
//! zone, go one file per `XMLHttpRequest` asking for JSON, each with a `<progress>` bar driven by the
//! request's upload progress events; the listing is reloaded once every file has finished.

use crate::model::human_size;
use leptos::html::Input;
use leptos::prelude::*;

/// Where one file's upload stands.
#[derive(Debug, Clone, PartialEq)]
pub enum UploadState {
    Sending,
    Done,
    Failed(String),
}

/// One file being (or having been) uploaded.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub id: u32,
    pub name: String,
    /// 0 to 100.
    pub percent: f64,
    pub state: UploadState,
}

/// The page's uploads: owned by the page, so the bars survive the listing's reload.
#[derive(Debug, Clone, Copy)]
pub struct Uploads {
    pub list: RwSignal<Vec<Upload>>,
    /// Counts batches that have finished; the listing reloads when it moves.
    pub finished: RwSignal<u32>,
    next: RwSignal<u32>,
}

impl Default for Uploads {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
impl Uploads {
    pub fn new() -> Self {
        Self { list: RwSignal::new(Vec::new()), finished: RwSignal::new(0), next: RwSignal::new(0) }
    }

    fn add(&self, name: String) -> u32 {
        let id = self.next.get_untracked();
        self.next.set(id + 1);
        self.list.update(|l| l.push(Upload { id, name, percent: 0.0, state: UploadState::Sending }));
        id
    }

    fn progress(&self, id: u32, fraction: f64) {
        self.list.try_update(|l| {
            if let Some(u) = l.iter_mut().find(|u| u.id == id && u.state == UploadState::Sending) {
                u.percent = (fraction * 100.0).clamp(0.0, 100.0).floor();
            }
        });
    }

    fn finish(&self, id: u32, outcome: Result<(), String>) {
        let all_done = self
            .list
            .try_update(|l| {
                if let Some(u) = l.iter_mut().find(|u| u.id == id) {
                    match outcome {
                        Ok(()) => {
                            u.percent = 100.0;
                            u.state = UploadState::Done;
                        }
                        Err(msg) => u.state = UploadState::Failed(msg),
                    }
                }
                l.iter().all(|u| u.state != UploadState::Sending)
            })
            .unwrap_or(false);
        if all_done {
            self.finished.try_update(|n| *n += 1);
        }
    }
}

#[component]
pub fn UploadForm(folder: String, max_file_bytes: i64, uploads: Uploads) -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let files = NodeRef::<Input>::new();
    let subfolder = NodeRef::<Input>::new();
    let dragging = RwSignal::new(false);
    let target = folder.clone();
    let on_submit = move |ev: leptos::ev::SubmitEvent| submit(ev, &target, files, subfolder, uploads);
    let target = folder.clone();
    let on_drop = move |ev: leptos::ev::DragEvent| {
        dragging.set(false);
        dropped(ev, &target, subfolder, uploads);
    };
    let shown = folder.clone();
    view! {
        <section aria-labelledby="upload-h">
            <h2 id="upload-h">"Upload"</h2>
            <form method="post" action="/vault/upload" enctype="multipart/form-data" class="form upload"
                aria-label="Upload files" on:submit=on_submit>
                <input type="hidden" name="folder" value=folder/>
                <p class="hint">
                    {if shown.is_empty() { "Into the top folder".to_owned() } else { format!("Into {shown}") }}
                    {format!(". Up to {} a file; a file with the same name becomes a new version.", human_size(max_file_bytes))}
                </p>
                <div class="field">
                    <label for="u-subfolder">"Into a new subfolder (optional)"</label>
                    <input id="u-subfolder" name="subfolder" type="text" maxlength="255" spellcheck="false"
                        autocomplete="off" node_ref=subfolder/>
                </div>
                <div class="field">
                    <label for="u-files">"Files"</label>
                    <input id="u-files" name="file" type="file" multiple required node_ref=files/>
                </div>
                <Show when=move || hydrated.get()>
                    <div class="dropzone" class:dragging=move || dragging.get()
                        on:dragover=move |ev: leptos::ev::DragEvent| { ev.prevent_default(); dragging.set(true); }
                        on:dragleave=move |_| dragging.set(false)
                        on:drop=on_drop.clone()>
                        "…or drop files here"
                    </div>
                </Show>
                <button type="submit">"Upload"</button>
            </form>
            <ul class="uploads" aria-label="Uploads">
                {move || uploads.list.get().into_iter().map(|u| {
                    let id = format!("upload-{}", u.id);
                    let text = match &u.state {
                        UploadState::Sending => format!("{:.0}%", u.percent),
                        UploadState::Done => "100% — uploaded".to_owned(),
                        UploadState::Failed(msg) => format!("failed: {msg}"),
                    };
                    let failed = matches!(u.state, UploadState::Failed(_));
                    let name = u.name.clone();
                    view! {
                        <li class:failed=failed>
                            <label for=id.clone()>{u.name}</label>
                            <progress id=id aria-label=name max="100" value=u.percent.to_string()></progress>
                            <span role=if failed { "alert" } else { "status" }>{text}</span>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}

#[cfg(feature = "hydrate")]
fn submit(ev: leptos::ev::SubmitEvent, folder: &str, files: NodeRef<Input>, sub: NodeRef<Input>, uploads: Uploads) {
    let Some(input) = files.get_untracked() else { return };
    let chosen = browser::files_of(input.files());
    if chosen.is_empty() {
        return; // the browser's own validation (or the server) says what is missing
    }
    ev.prevent_default();
    let subfolder = sub.get_untracked().map(|s| s.value()).unwrap_or_default();
    browser::send_all(chosen, folder, &subfolder, uploads);
    input.set_value("");
}

#[cfg(not(feature = "hydrate"))]
fn submit(_ev: leptos::ev::SubmitEvent, _folder: &str, _files: NodeRef<Input>, _sub: NodeRef<Input>, _u: Uploads) {}

#[cfg(feature = "hydrate")]
fn dropped(ev: leptos::ev::DragEvent, folder: &str, sub: NodeRef<Input>, uploads: Uploads) {
    ev.prevent_default();
    let chosen = browser::files_of(ev.data_transfer().and_then(|d| d.files()));
    let subfolder = sub.get_untracked().map(|s| s.value()).unwrap_or_default();
    browser::send_all(chosen, folder, &subfolder, uploads);
}

#[cfg(not(feature = "hydrate"))]
fn dropped(_ev: leptos::ev::DragEvent, _folder: &str, _sub: NodeRef<Input>, _uploads: Uploads) {}

#[cfg(feature = "hydrate")]
mod browser {
    //! The XMLHttpRequest side (fetch has no upload progress).

    use super::Uploads;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::{JsCast as _, JsValue};

    pub fn files_of(list: Option<web_sys::FileList>) -> Vec<web_sys::File> {
        list.map(|l| (0..l.length()).filter_map(|i| l.get(i)).collect()).unwrap_or_default()
    }

    /// Sends each file on its own request, all at once.
    pub fn send_all(files: Vec<web_sys::File>, folder: &str, subfolder: &str, uploads: Uploads) {
        for file in files {
            let id = uploads.add(file.name());
            let (folder, subfolder) = (folder.to_owned(), subfolder.to_owned());
            wasm_bindgen_futures::spawn_local(async move {
                let outcome = send_one(&folder, &subfolder, &file, move |p| uploads.progress(id, p)).await;
                uploads.finish(id, outcome);
            });
        }
    }

    async fn send_one(
        folder: &str,
        subfolder: &str,
        file: &web_sys::File,
        on_progress: impl Fn(f64) + 'static,
    ) -> Result<(), String> {
        let (xhr, progress) = start(on_progress).map_err(|_| "the upload could not start".to_owned())?;
        let done = js_sys::Promise::new(&mut |resolve: js_sys::Function, _reject: js_sys::Function| {
            xhr.set_onloadend(Some(&resolve));
        });
        let form = web_sys::FormData::new().map_err(|_| "no form data".to_owned())?;
        let fill = || -> Result<(), JsValue> {
            form.append_with_str("folder", folder)?;
            form.append_with_str("subfolder", subfolder)?;
            form.append_with_blob_and_filename("file", file, &file.name())?;
            xhr.send_with_opt_form_data(Some(&form))
        };
        fill().map_err(|_| "the upload could not be sent".to_owned())?;
        let _ = wasm_bindgen_futures::JsFuture::from(done).await;
        drop(progress);
        let status = xhr.status().unwrap_or(0);
        if (200..300).contains(&status) {
            return Ok(());
        }
        Err(error_message(xhr.response_text().ok().flatten().as_deref(), status))
    }

    type Started = (web_sys::XmlHttpRequest, Closure<dyn FnMut(web_sys::ProgressEvent)>);

    /// An open request with its upload progress wired to `on_progress` (the closure must outlive it).
    fn start(on_progress: impl Fn(f64) + 'static) -> Result<Started, JsValue> {
        let xhr = web_sys::XmlHttpRequest::new()?;
        xhr.open_with_async("POST", "/vault/upload", true)?;
        xhr.set_request_header("Accept", "application/json")?;
        let progress = Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |e: web_sys::ProgressEvent| {
            if e.length_computable() && e.total() > 0.0 {
                on_progress(e.loaded() / e.total());
            }
        });
        xhr.upload()?.set_onprogress(Some(progress.as_ref().unchecked_ref()));
        Ok((xhr, progress))
    }

    /// The server's `{"error": {"message": …}}`, or the status.
    fn error_message(body: Option<&str>, status: u16) -> String {
        body.and_then(|b| js_sys::JSON::parse(b).ok())
            .and_then(|v| js_sys::Reflect::get(&v, &"error".into()).ok())
            .and_then(|e| js_sys::Reflect::get(&e, &"message".into()).ok())
            .and_then(|m| m.as_string())
            .unwrap_or_else(|| if status == 0 { "the connection failed".to_owned() } else { format!("error {status}") })
    }
}
