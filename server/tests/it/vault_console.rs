//! The console's vault as a browser without JavaScript uses it: the upload form (into a new subfolder) and its
//! redirect with a notice, the listing and the search form, restoring an older version, the bin, a link shown
//! exactly once, and the key rotation behind a step-up.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use crate::common::TestApp;
use app::model::{VaultFileDetailView, VaultKeyView, VaultListView};
use reqwest::StatusCode;

fn location(res: &reqwest::Response) -> String {
    res.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default()
}

async fn bytes_of(app: &TestApp, client: &reqwest::Client, path: &str) -> Vec<u8> {
    let res = client.get(app.url(path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.bytes().await.unwrap().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vault_works_from_plain_forms() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Plainforms").await;

    // The form posts into a new subfolder and comes back to it with a notice.
    let res = app
        .upload_form(
            &owner,
            &[("folder", ""), ("subfolder", "reports")],
            &[("budget.csv", b"a,b\n1,2\n"), ("minutes.txt", b"minutes")],
            false,
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = location(&res);
    assert_eq!(back, "/vault?folder=reports/&notice=2%20files%20uploaded");
    let html = app.get(&owner, &back).await.text().await.unwrap();
    assert!(html.contains("2 files uploaded") && html.contains("budget.csv") && html.contains("minutes.txt"));
    let root = app.get(&owner, "/vault").await.text().await.unwrap();
    assert!(root.contains("reports/") && !root.contains("budget.csv"), "the root shows the folder, not its files");

    // The search form: by name, and by size.
    let html = app.get(&owner, "/vault?folder=&q=BUDGET").await.text().await.unwrap();
    assert!(html.contains("budget.csv") && !html.contains("minutes.txt"), "a search under the root by name");
    let html = app.get(&owner, "/vault?min_size=8").await.text().await.unwrap();
    assert!(html.contains("budget.csv") && !html.contains("minutes.txt"), "by size");
    let html = app.get(&owner, "/vault?min_size=lots").await.text().await.unwrap();
    assert!(html.contains("Give a size in bytes."), "a bad filter says why");

    // A second version, then the first one restored: downloads give the old bytes again.
    let list: VaultListView = app.call(&owner, "list_vault", &[("folder", "reports/")]).await.json().await.unwrap();
    let id = list.files.iter().find(|f| f.name == "budget.csv").unwrap().id.clone();
    app.uploaded(&owner, "reports/", "budget.csv", b"a,b\n3,4\n").await;
    let detail: VaultFileDetailView =
        app.call(&owner, "get_vault_file", &[("file_id", id.as_str())]).await.json().await.unwrap();
    let first = detail.versions.iter().find(|v| v.number == 1).unwrap().id.clone();
    let page = format!("/vault/files/{id}");
    let res = app
        .post_html(&owner, "restore_vault_version", &[("file_id", id.as_str()), ("version_id", first.as_str())], &page)
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(location(&res), format!("/vault/files/{id}?restored=1"));
    assert_eq!(bytes_of(&app, &owner, &format!("/vault/files/{id}/download")).await, b"a,b\n1,2\n");
    let html = app.get(&owner, &format!("{page}?restored=1")).await.text().await.unwrap();
    assert!(html.contains("The version was restored") && html.contains("Restore version 2"));

    // A link: shown once on the file's page, then never again; it works without a session.
    let res = app.post_html(&owner, "create_vault_link", &[("file_id", id.as_str()), ("minutes", "15")], &page).await;
    assert_eq!(location(&res), format!("/vault/files/{id}?link=1"));
    let html = app.get(&owner, &format!("{page}?link=1")).await.text().await.unwrap();
    let start = html.find("/vault/links/").expect("the new link is shown");
    let token: String = html[start + "/vault/links/".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect();
    assert!(token.len() >= 20, "{token}");
    let again = app.get(&owner, &format!("{page}?link=1")).await.text().await.unwrap();
    assert!(!again.contains(&token), "a link's URL is shown once");
    let anon = bytes_of(&app, &app.client(), &format!("/vault/links/{token}")).await;
    assert_eq!(anon, b"a,b\n1,2\n");

    // The bin: moved there, listed with its purge date, restored.
    let res = app.post_html(&owner, "delete_vault_file", &[("file_id", id.as_str())], &page).await;
    assert_eq!(location(&res), "/vault?folder=reports/&notice=budget.csv%20was%20moved%20to%20the%20bin.");
    assert!(!app.get(&owner, "/vault?folder=reports/").await.text().await.unwrap().contains("budget.csv"));
    let bin = app.get(&owner, "/vault?deleted=1").await.text().await.unwrap();
    assert!(bin.contains("budget.csv") && bin.contains("Purged on") && bin.contains("Restore budget.csv"));
    let res = app.post_html(&owner, "undelete_vault_file", &[("file_id", id.as_str())], "/vault?deleted=1").await;
    assert_eq!(location(&res), "/vault?folder=reports/&notice=budget.csv%20was%20restored.");
    assert!(app.get(&owner, "/vault?folder=reports/").await.text().await.unwrap().contains("budget.csv"));

    // The key rotation needs a step-up (the sign-in's own one has lapsed by now).
    app.clock.advance_ms(11 * 60_000);
    let res = app.call(&owner, "rotate_vault_key", &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "no step-up yet");
    app.call(&owner, "step_up", &[("password", common::PASSWORD)]).await;
    let res = app.post_html(&owner, "rotate_vault_key", &[], "/vault/key").await;
    assert_eq!(location(&res), "/vault/key?rotating=1");
    let key: VaultKeyView = app.call(&owner, "get_vault_key", &[]).await.json().await.unwrap();
    let rotation = key.rotation.expect("a rotation");
    assert_eq!((rotation.from_version, rotation.to_version), (1, 2));
    let html = app.get(&owner, "/vault/key").await.text().await.unwrap();
    assert!(html.contains("Files re-encrypted") && html.contains("Rotate data key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_plain_upload_comes_back_with_the_reason() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Failing").await;
    let res = app.upload_form(&owner, &[("folder", ""), ("subfolder", "../up")], &[("x.txt", b"x")], false).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = location(&res);
    assert!(back.starts_with("/vault?error="), "{back}");
    let html = app.get(&owner, &back).await.text().await.unwrap();
    assert!(html.contains("are not allowed in a path"), "the page shows why");
    let res = app.upload_form(&owner, &[("folder", "")], &[], false).await;
    let html = app.get(&owner, &location(&res)).await.text().await.unwrap();
    assert!(html.contains("Choose at least one file."));
}

/// The console's upload form carries files of any size up to the vault's limit: axum's 2 MiB default body limit
/// for extractors does not apply to it (a 5 MiB file through the form came back as "length limit exceeded").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_upload_past_two_mebibytes_arrives_whole() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Bigform").await;
    let content = common::vault::body(5 << 20, 7);
    let res = app.upload(&owner, "", "archive.bin", &content).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let stored: Vec<app::model::VaultFileView> = res.json().await.unwrap();
    let back = bytes_of(&app, &owner, &format!("/vault/files/{}/download", stored[0].id)).await;
    assert!(back == content, "the same 5 MiB come back ({} bytes)", back.len());

    // Without that limit a text field is still read only so far: a 1 MiB folder name is refused, nothing stored.
    let long = "a".repeat(1 << 20);
    let res = app.upload(&owner, &long, "other.txt", b"other").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("This folder name is too long."));
    let list: VaultListView = app.call(&owner, "list_vault", &[("folder", "")]).await.json().await.unwrap();
    assert_eq!(list.files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["archive.bin"]);
}

/// A form of several files is stored whole or not at all: when one is refused (here too large), the files sent
/// before it in the same form leave neither a version nor a blob behind, and the answer says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_with_one_refused_file_stores_none_of_its_files() {
    let app = TestApp::spawn_with(|s| s.vault_max_file_mib = 1).await;
    let (owner, _) = app.signed_in("Allornone").await;
    let tenant = common::audit::tenant_id(&app, "Allornone").await;
    app.uploaded(&owner, "", "keep.txt", b"version one").await;
    let blobs = app.state.vault.store.list(&tenant).await.unwrap().len();
    let big = common::vault::body(2 << 20, 3);
    let files: [(&str, &[u8]); 3] = [("keep.txt", b"version two"), ("new.txt", b"new"), ("big.bin", &big)];
    let res = app.upload_form(&owner, &[("folder", "")], &files, false).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = location(&res);
    assert!(back.starts_with("/vault?error=") && back.contains("larger%20than%20the%20limit"), "{back}");
    let list: VaultListView = app.call(&owner, "list_vault", &[("folder", "")]).await.json().await.unwrap();
    let names: Vec<(&str, i64)> = list.files.iter().map(|f| (f.name.as_str(), f.versions)).collect();
    assert_eq!(names, [("keep.txt", 1)], "no new version, no new file");
    assert_eq!(app.state.vault.store.list(&tenant).await.unwrap().len(), blobs, "no blob left behind");

    // The same files without the refused one: both recorded, in one answer.
    let res = app.upload_form(&owner, &[("folder", "")], &files[..2], true).await;
    assert_eq!(res.status(), StatusCode::OK);
    let list: VaultListView = app.call(&owner, "list_vault", &[("folder", "")]).await.json().await.unwrap();
    let mut names: Vec<(&str, i64)> = list.files.iter().map(|f| (f.name.as_str(), f.versions)).collect();
    names.sort_unstable();
    assert_eq!(names, [("keep.txt", 2), ("new.txt", 1)]);
}
