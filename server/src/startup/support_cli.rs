//! `rampart support …`: the platform operator's side of support access. A request names the organisation,
//! the operator and why; the organisation's owners decide in their console. Once approved, `open` prints a
//! one-time link (15 minutes) that starts the read-only support session in a browser.

use crate::startup::config::Settings;
use crate::{build_state, StartError};
use app::backend::platform::clock::SystemClock;
use app::model::AppError;
use clap::Subcommand;
use std::sync::Arc;

#[derive(Debug, Subcommand)]
pub enum SupportCommand {
    /// Ask an organisation (by id or name) to let an operator look at its console, read-only.
    Request {
        #[arg(long)]
        tenant: String,
        /// Who will look (named in the request, the banner and the access history).
        #[arg(long)]
        operator: String,
        #[arg(long)]
        reason: String,
        /// How long (1 to 72 hours; the owner may grant less).
        #[arg(long, default_value_t = 4)]
        hours: i64,
    },
    /// Print the one-time sign-in link of an approved request.
    Open {
        #[arg(long)]
        request: String,
    },
}

fn refused(e: AppError) -> StartError {
    match e {
        AppError::Validation { .. } | AppError::Conflict { .. } => StartError::Config(e.to_string()),
        other => StartError::Runtime(other.to_string()),
    }
}

pub async fn execute(command: SupportCommand, settings: Settings) -> Result<(), StartError> {
    let state = build_state(&settings, Arc::new(SystemClock)).await?;
    match command {
        SupportCommand::Request { tenant, operator, reason, hours } => {
            let id =
                app::backend::support::request(&state, &tenant, &operator, &reason, hours).await.map_err(refused)?;
            // The owners' emails go out with the alert job of the running server.
            println!("Support request {id} waits for an owner of the organisation to approve it.");
            println!("Once approved: rampart support open --request {id}");
        }
        SupportCommand::Open { request } => {
            let token = app::backend::support::session::open_link(&state, &request).await.map_err(refused)?;
            println!("One-time support link (valid 15 minutes, single use, read-only):");
            println!("  {}/support/{token}", settings.public_origin());
        }
    }
    Ok(())
}
