//! `GET /api/v1/events`: the change feed for other services (docs/events.md).

use std::time::Duration;

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::Caller,
    domain::event::{Event, EventType},
    http::{
        error::{ApiError, FieldError, ProblemDetails},
        extract::{AppQuery, check_user_id, decode_cursor},
        pages::encode_cursor,
    },
    service::{self, events::Filter},
    state::AppState,
};

/// Events per page by default, and at most.
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events))
}

/// Where to start, what to read and how long to wait.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// `next_cursor` of the previous page, or an item's `cursor`; absent: from the oldest event kept.
    pub after: Option<String>,
    /// Events per page, 1-1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Only these event types, comma-separated (e.g. `address.defaults_changed,profile.erased`).
    #[param(value_type = Option<Vec<EventType>>, example = "profile.erased")]
    #[serde(rename = "type")]
    pub types: Option<String>,
    /// Only this user's events.
    pub user_id: Option<String>,
    /// Seconds to wait, 0-30 (default 0), when nothing follows `after` yet: the answer comes as soon as an
    /// event does.
    #[param(minimum = 0, maximum = 30)]
    pub wait: Option<u64>,
}

/// One event of the feed, with the cursor that resumes right after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedEvent {
    #[serde(flatten)]
    pub event: Event,
    /// Pass as `after` to read what follows this event.
    pub cursor: String,
}

/// One page of the change feed, in the order every reader sees.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub items: Vec<FeedEvent>,
    /// Pass as `after` for the next page; never null. A page shorter than `limit` reached the head: the next
    /// read gets what was written since (use `wait` to hold it open until then).
    pub next_cursor: String,
}

/// Read the change feed: events of every user, in one global order, with no personal data.
///
/// Role `service` or `admin`, or scope `events:read`. Resume with the previous page's `next_cursor` as `after`;
/// `wait` holds the request open until an event arrives. Events name resources and fields, never values
/// (docs/events.md).
#[utoipa::path(
    get, path = "/api/v1/events", tag = "events",
    params(EventQuery),
    responses(
        (status = 200, description = "One page of events (empty when nothing followed within `wait`)", body = EventPage),
        (status = 403, description = "`forbidden`: needs role `service` or `admin`, or scope `events:read`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 410, description = "`cursor_expired`: the events after `after` are past the retention (`EVENTS_RETENTION_DAYS`)", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a bad `after`, `limit`, `type`, `user_id` or `wait`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn list_events(
    caller: Caller,
    State(state): State<AppState>,
    query: Result<AppQuery<EventQuery>, ApiError>,
) -> Result<Response, ApiError> {
    caller.require_event_reader()?;
    let AppQuery(query) = query?;
    let query = feed_query(&query, state.config.request_timeout)?;
    let page = service::events::read(&state, query).await?;
    let items = page
        .items
        .into_iter()
        .map(|p| FeedEvent {
            event: p.event,
            cursor: encode_cursor(&p.position),
        })
        .collect();
    let body = EventPage {
        items,
        next_cursor: encode_cursor(&page.next),
    };
    let mut response = Json(body).into_response();
    // Each read depends on when it was made.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The service's query, or a 422 naming every bad parameter. `wait` ends a second before the request's time
/// limit (`REQUEST_TIMEOUT_SECONDS`), so a long poll answers 200 rather than 503.
fn feed_query(
    query: &EventQuery,
    request_timeout: Duration,
) -> Result<service::events::Query, ApiError> {
    let mut errors = Vec::new();
    let after = match query
        .after
        .as_deref()
        .map(|raw| decode_cursor::<i64>("after", raw))
    {
        Some(Err(ApiError::Validation(mut e))) => {
            errors.append(&mut e);
            None
        }
        Some(Ok(position)) => Some(position),
        _ => None,
    };
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        errors.push(FieldError::between("limit", "invalid_value", 1, MAX_LIMIT));
    }
    let wait = Duration::from_secs(query.wait.unwrap_or(0));
    if wait > service::events::MAX_WAIT {
        let max = service::events::MAX_WAIT.as_secs();
        errors.push(FieldError::between("wait", "invalid_value", 0, max));
    }
    let mut types = Vec::new();
    for name in query.types.iter().flat_map(|t| t.split(',')) {
        match EventType::parse(name.trim()) {
            Some(kind) => types.push(kind),
            None => errors.push(
                FieldError::new("type", "invalid_value")
                    .message("invalid_value.event_type")
                    .with("value", name),
            ),
        }
    }
    if let Some(user_id) = &query.user_id {
        if let Err(ApiError::Validation(mut e)) = check_user_id(user_id) {
            errors.append(&mut e);
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(service::events::Query {
        after,
        limit,
        filter: Filter {
            user_id: query.user_id.clone(),
            types,
        },
        wait: wait.min(request_timeout.saturating_sub(Duration::from_secs(1))),
    })
}
