//! The list pages the API answers with, `{items, next_cursor}`, and their opaque keyset cursors.

use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    domain::{
        address::Address, audit::AuditEvent, privacy::ErasureReceipt, profile::ProfileSummary,
    },
    service::Page,
};

/// One page of addresses, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AddressPage {
    pub items: Vec<Address>,
    /// Pass as `?cursor=` for the next page; `null` on the last page.
    #[schema(required = true, example = json!(null))]
    pub next_cursor: Option<String>,
}

impl From<Page<Address>> for AddressPage {
    fn from(page: Page<Address>) -> Self {
        let next_cursor = next_cursor(&page, |last| last.id);
        AddressPage {
            items: page.items,
            next_cursor,
        }
    }
}

/// One page of profiles, ordered by `user_id`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfilePage {
    pub items: Vec<ProfileSummary>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// One page of audit events, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventPage {
    pub items: Vec<AuditEvent>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// One page of erasure receipts, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureReceiptPage {
    pub items: Vec<ErasureReceipt>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Encodes the position after the last item of a page as an opaque cursor.
pub fn encode_cursor(position: &impl serde::Serialize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(position).unwrap_or_default())
}

/// The cursor of the page after `page` (the position of its last item), `None` on the last page.
pub fn next_cursor<T, C: serde::Serialize>(
    page: &Page<T>,
    cursor: impl Fn(&T) -> C,
) -> Option<String> {
    let last = page.items.last().filter(|_| page.has_more)?;
    Some(encode_cursor(&cursor(last)))
}
