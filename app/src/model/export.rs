//! Data exports ("download all our data") as both sides see them.

use serde::{Deserialize, Serialize};

/// Where an export stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportState {
    Queued,
    Running,
    Ready,
    Failed,
    Expired,
}

impl ExportState {
    pub const ALL: [ExportState; 5] = [Self::Queued, Self::Running, Self::Ready, Self::Failed, Self::Expired];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Ready => "ready",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Still being built (the page keeps polling).
    pub fn is_busy(self) -> bool {
        matches!(self, Self::Queued | Self::Running)
    }

    /// What the console calls it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Queued => "Waiting to start",
            Self::Running => "Building",
            Self::Ready => "Ready",
            Self::Failed => "Failed",
            Self::Expired => "Expired",
        }
    }
}

/// One export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataExportView {
    pub id: String,
    pub state: ExportState,
    /// Who asked (a member's email, or `API key <prefix>`).
    pub requested_by: String,
    /// Whether the viewer asked for it (only the requester may download it).
    pub mine: bool,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    /// When the download link stops working (24 hours after it is ready).
    pub expires_at: Option<i64>,
    pub done_entries: i64,
    pub total_entries: i64,
    /// Bytes of vault files written so far, of all.
    pub done_bytes: i64,
    pub total_bytes: i64,
    /// The ZIP's size, once ready.
    pub size: Option<i64>,
    pub error: Option<String>,
}

/// The data export page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataExportsView {
    /// Newest first.
    pub exports: Vec<DataExportView>,
    /// Until when the viewer's step-up lasts (starting an export needs one).
    pub step_up_valid_until: Option<i64>,
    pub two_factor_enabled: bool,
}

impl DataExportsView {
    /// Whether an export is still being built.
    pub fn busy(&self) -> bool {
        self.exports.iter().any(|e| e.state.is_busy())
    }
}
