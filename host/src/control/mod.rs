//! The node's control protocol: what operators, scripts, `weft run` and the
//! metrics endpoint ask a running node, and what it answers, typed.
//!
//! Its modules, each with what it owns:
//!
//! - [`request`]: [`Request`], grouped by what answers it ([`Query`],
//!   [`Traffic`], [`Lifecycle`]), its JSON form and timeouts.
//! - [`reply`]: [`Reply`] (`Result<Answer, String>`), [`Answer`], and
//!   [`Response`], a reply's JSON line on the admin socket.
//! - [`rows`]: the data answers carry (status, rows, outcomes, reports).
//! - [`plugin_state`]: a plugin's state, typed until printed.
//! - [`handle`]: [`NodeHandle`], the in-process sender of requests.
//!
//! JSON exists only at the admin socket and in `weft ctl --json`; in
//! process every request and answer is a Rust type. This module sits below
//! `node`, `admin` and `metrics`: they import it, it imports none of them.

pub mod handle;
pub mod plugin_state;
pub mod reply;
pub mod request;
pub mod rows;

pub use handle::{NodeHandle, ReplyTo};
pub use reply::{Answer, Reply, Response};
pub use request::{Lifecycle, Query, Request, Traffic};
pub use rows::*;

/// Longest request or response line accepted on the admin socket.
pub const MAX_LINE: usize = 1 << 20;
