//! The overview page's figures.

use crate::model::{AppError, OverviewView};
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "get_overview")]
pub async fn get_overview() -> Result<OverviewView, AppError> {
    use super::ssr::{finish, recorded, state, tenant_ctx};
    finish(
        recorded(async { crate::backend::organisation::overview::get_overview(&state()?, &tenant_ctx()?).await }).await,
    )
}
