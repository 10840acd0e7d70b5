//! What a node answers: a [`Reply`], `Ok` with a typed [`Answer`] or `Err`
//! with the reason, and [`Response`], its JSON shape on the admin socket.
//!
//! Owns: the answer types in process and their one conversion to JSON.
//! Must not: hold a reply in JSON anywhere but at the socket's edge.

use super::rows::{
    CallOutcome, LoadOutcome, PeerRow, PluginRow, RadioRow, ReloadReport, ReloadSummary, SendManyOutcome, SendOutcome,
    Status, StopOutcome, SwapReport, TraceReport,
};
use serde::{Deserialize, Serialize};
use weft_core::routing::RouteRow;

/// A node's answer to one request.
pub type Reply = Result<Answer, String>;

/// A successful answer, one variant per kind of result. Serialized as the
/// result alone (the request says which kind to expect).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    /// `status`.
    Status(Box<Status>),
    /// `peers`.
    Peers(Vec<PeerRow>),
    /// `routes`.
    Routes(Vec<RouteRow>),
    /// `links`.
    Links(Vec<RadioRow>),
    /// `plugins`.
    Plugins(Vec<PluginRow>),
    /// `metrics`: the Prometheus text exposition.
    Metrics(String),
    /// `send`.
    Sent(SendOutcome),
    /// `send_many`.
    SentMany(SendManyOutcome),
    /// `trace`.
    Trace(TraceReport),
    /// `call` and `link_call`: the plugin's or driver's answer.
    Called(CallOutcome),
    /// `plugin_load`.
    Loaded(LoadOutcome),
    /// `plugin_stop` and `plugin_unload`.
    Stopped(StopOutcome),
    /// `plugin_reload`.
    Reloaded(ReloadReport),
    /// `swap_driver`.
    Swapped(SwapReport),
    /// `reload`.
    ConfigReloaded(ReloadSummary),
    /// `drain`: what happens next.
    Draining(String),
}

/// A reply as one line of the admin socket: `ok`, then `result` or `error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// Whether the request succeeded.
    pub ok: bool,
    /// The result (for `ok`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// The error (when not `ok`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Response {
    /// A failed response.
    pub fn failure(error: impl Into<String>) -> Self {
        Self { ok: false, result: None, error: Some(error.into()) }
    }
}

impl From<Reply> for Response {
    fn from(reply: Reply) -> Self {
        match reply.map(|answer| serde_json::to_value(&answer)) {
            Ok(Ok(value)) => Response { ok: true, result: Some(value), error: None },
            Ok(Err(e)) => Response::failure(format!("cannot encode the result: {e}")),
            Err(error) => Response::failure(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_becomes_ok_with_the_bare_result_or_an_error() {
        let sent = Response::from(Ok(Answer::Sent(SendOutcome::Held)));
        assert_eq!(serde_json::to_string(&sent).unwrap(), r#"{"ok":true,"result":"held"}"#);
        let failed = Response::from(Err("no route".to_string()));
        assert_eq!(serde_json::to_string(&failed).unwrap(), r#"{"ok":false,"error":"no route"}"#);
        let metrics = Response::from(Ok(Answer::Metrics("# HELP x\n".into())));
        assert_eq!(metrics.result, Some(serde_json::Value::String("# HELP x\n".into())));
    }
}
