//! One live QUIC link to a neighbour: its tasks and its handle.
//!
//! Owns: [`Link`] (the handle the node keeps: send, close, info), the reader
//! (frames from the peer's streams and datagrams, size limit, decode errors
//! counted, never fatal to the link), the writer (batches queued frames into
//! one stream write), and the reflexive-address exchange, which is answered
//! here because only the link knows the peer's socket address.
//!
//! Fair ingress: every link holds at most [`INGRESS_BATCHES`] batches in the
//! node's shared event queue (a per-link credit that travels with the batch
//! and returns when the node has handled it). A neighbour that writes faster
//! than the node can handle stalls only its own reader, and QUIC flow control
//! pushes back on it; frames from the other links wait behind at most a few
//! of its batches, never behind a backlog it built up.
//!
//! Transport use: service frames go on one long-lived unidirectional stream
//! per direction (reliable, ordered). Reflect frames go as QUIC datagrams
//! (small, idempotent, retried), falling back to the stream if the peer
//! disabled datagrams.

use super::counters::{CounterSnapshot, LinkCounters};
use super::endpoint::LinkSettings;
use super::frame::{FrameReader, LinkFrame, ReadItem, encode_prefixed};
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use weft_plugin_api::Address;

/// Who opened the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// We dialed.
    Outbound,
    /// The peer dialed.
    Inbound,
}

/// What the node learns from its links.
#[derive(Debug)]
pub enum LinkEvent {
    /// A connection completed its handshake.
    Up(Link),
    /// Service frames arrived (batched per read).
    Frames {
        /// The link they came on.
        link: u64,
        /// The neighbour that sent them.
        peer: Address,
        /// The frames, in order.
        frames: Vec<Vec<u8>>,
        /// One of the link's [`INGRESS_BATCHES`] credits: the link's reader
        /// gets it back when the node drops the event.
        credit: OwnedSemaphorePermit,
    },
    /// A connection ended.
    Down {
        /// The link.
        link: u64,
        /// The neighbour.
        peer: Address,
        /// Why, for logs.
        reason: String,
    },
}

/// Batches one link may have waiting in the node's event queue at once.
pub const INGRESS_BATCHES: usize = 4;

/// Gives a batch of frames to the node once the link has a credit for it
/// (the link's share of the node's event queue: it waits while the link's
/// earlier batches are still queued). `false`: the node stopped.
async fn hand_over(info: &LinkInfo, events: &mpsc::Sender<LinkEvent>, frames: Vec<Vec<u8>>) -> bool {
    let Ok(credit) = info.ingress.clone().acquire_owned().await else { return false };
    LinkCounters::add(&info.counters.frames_in, frames.len() as u64);
    events.send(LinkEvent::Frames { link: info.id, peer: info.peer, frames, credit }).await.is_ok()
}

/// Facts about a link, readable while it runs.
#[derive(Debug)]
pub struct LinkInfo {
    /// Unique per process.
    pub id: u64,
    /// The neighbour's address (proven by the TLS handshake).
    pub peer: Address,
    /// The neighbour's socket address.
    pub remote: SocketAddr,
    /// Who dialed.
    pub direction: Direction,
    /// When the handshake completed.
    pub since: SystemTime,
    /// Counters.
    pub counters: LinkCounters,
    /// Our address as the neighbour sees it, once it answered.
    pub reflexive: Mutex<Option<SocketAddr>>,
    /// Bytes queued for the writer and not yet written.
    queued_bytes: AtomicUsize,
    /// The link's credits in the node's event queue ([`INGRESS_BATCHES`]).
    ingress: Arc<Semaphore>,
}

/// Why a frame was not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Larger than the link's frame limit.
    #[error("frame of {0} bytes exceeds the link's limit of {1} bytes")]
    TooLarge(usize, usize),
    /// The send queue is full.
    #[error("link to {0} is congested")]
    Congested(Address),
    /// The link closed.
    #[error("link to {0} is closed")]
    Closed(Address),
}

/// The node's handle on a link.
#[derive(Debug, Clone)]
pub struct Link {
    info: Arc<LinkInfo>,
    connection: quinn::Connection,
    queue: mpsc::UnboundedSender<LinkFrame>,
    max_frame: usize,
    max_queued: usize,
}

/// Application close codes.
pub mod close_code {
    /// The node is shutting down.
    pub const SHUTDOWN: u32 = 1;
    /// Another connection to the same peer was kept.
    pub const DUPLICATE: u32 = 2;
    /// Our sending stream failed; reconnect.
    pub const WRITER_FAILED: u32 = 3;
}

static NEXT_LINK_ID: AtomicU64 = AtomicU64::new(1);

impl Link {
    /// Facts and counters.
    pub fn info(&self) -> &Arc<LinkInfo> {
        &self.info
    }

    /// The link id.
    pub fn id(&self) -> u64 {
        self.info.id
    }

    /// The neighbour.
    pub fn peer(&self) -> Address {
        self.info.peer
    }

    /// Current round-trip time estimate.
    pub fn rtt(&self) -> Duration {
        self.connection.rtt()
    }

    /// Counter snapshot.
    pub fn counters(&self) -> CounterSnapshot {
        self.info.counters.snapshot()
    }

    /// Queues a frame for the reliable stream. Never waits: when more than
    /// the link's byte budget is queued, the frame is refused as congested
    /// (the caller learns it; nothing is dropped silently).
    pub fn send(&self, frame: LinkFrame) -> Result<(), SendError> {
        let size = frame.size_bound();
        if size > self.max_frame {
            return Err(SendError::TooLarge(size, self.max_frame));
        }
        let queued = &self.info.queued_bytes;
        if queued.fetch_add(size, Ordering::AcqRel) + size > self.max_queued {
            queued.fetch_sub(size, Ordering::AcqRel);
            LinkCounters::add(&self.info.counters.dropped_congested, 1);
            return Err(SendError::Congested(self.info.peer));
        }
        self.queue.send(frame).map_err(|_| {
            queued.fetch_sub(size, Ordering::AcqRel);
            SendError::Closed(self.info.peer)
        })
    }

    /// Closes the connection with an application code.
    pub fn close(&self, code: u32, reason: &str) {
        self.connection.close(code.into(), reason.as_bytes());
    }
}

/// Runs an established connection until it closes. Reports `Up`, frames and
/// `Down` on `events`.
pub async fn run(
    connection: quinn::Connection,
    peer: Address,
    direction: Direction,
    settings: Arc<LinkSettings>,
    events: mpsc::Sender<LinkEvent>,
) {
    let info = Arc::new(LinkInfo {
        id: NEXT_LINK_ID.fetch_add(1, Ordering::Relaxed),
        peer,
        remote: connection.remote_address(),
        direction,
        since: SystemTime::now(),
        counters: LinkCounters::default(),
        reflexive: Mutex::new(None),
        queued_bytes: AtomicUsize::new(0),
        ingress: Arc::new(Semaphore::new(INGRESS_BATCHES)),
    });
    let (queue, outbound) = mpsc::unbounded_channel();
    let link = Link {
        info: info.clone(),
        connection: connection.clone(),
        queue,
        max_frame: settings.max_frame_bytes,
        max_queued: settings.send_queue_bytes,
    };
    if events.send(LinkEvent::Up(link.clone())).await.is_err() {
        connection.close(close_code::SHUTDOWN.into(), b"node stopping");
        return;
    }
    tokio::spawn(write_frames(connection.clone(), outbound, info.clone()));
    tokio::spawn(ask_reflexive(link.clone()));
    let reason = loop {
        tokio::select! {
            stream = connection.accept_uni() => match stream {
                Ok(stream) => {
                    let reader = StreamReader { link: link.clone(), events: events.clone(), max: settings.max_frame_bytes };
                    tokio::spawn(reader.run(stream));
                }
                Err(e) => break e.to_string(),
            },
            datagram = connection.read_datagram() => match datagram {
                Ok(bytes) => {
                    LinkCounters::add(&info.counters.bytes_in, bytes.len() as u64);
                    match LinkFrame::decode(&bytes) {
                        Ok(frame) => {
                            if let Some(packet) = handle_control(&link, frame)
                                && !hand_over(&info, &events, vec![packet]).await
                            {
                                break "node stopping".to_string();
                            }
                        }
                        Err(e) => undecodable(&link, &e.to_string()),
                    }
                }
                Err(e) => break e.to_string(),
            },
        }
    };
    let _ = events.send(LinkEvent::Down { link: info.id, peer, reason }).await;
}

fn undecodable(link: &Link, why: &str) {
    let counters = &link.info.counters;
    LinkCounters::add(&counters.dropped_undecodable, 1);
    tracing::debug!(peer = %link.peer(), "dropped an undecodable frame: {why}");
}

/// Answers reflect frames; returns routed packets for the node.
fn handle_control(link: &Link, frame: LinkFrame) -> Option<Vec<u8>> {
    match frame {
        LinkFrame::Packet(packet) => Some(packet),
        LinkFrame::ReflectAsk { nonce } => {
            let answer = LinkFrame::ReflectSeen { nonce, seen: link.connection.remote_address() };
            send_small(link, answer);
            None
        }
        LinkFrame::ReflectSeen { seen, .. } => {
            if let Ok(mut slot) = link.info.reflexive.lock() {
                *slot = Some(seen);
            }
            None
        }
    }
}

/// Sends a small control frame as a datagram, or on the stream if the peer
/// does not take datagrams.
fn send_small(link: &Link, frame: LinkFrame) {
    let bytes = frame.encode();
    let len = bytes.len() as u64;
    match link.connection.send_datagram(bytes.into()) {
        Ok(()) => LinkCounters::add(&link.info.counters.bytes_out, len),
        Err(_) => {
            let _ = link.send(frame);
        }
    }
}

/// Asks the neighbour which address it sees us at; retried because
/// datagrams may be lost.
async fn ask_reflexive(link: Link) {
    let nonce = rand::random::<u32>() as u64;
    for _ in 0..5 {
        send_small(&link, LinkFrame::ReflectAsk { nonce });
        tokio::time::sleep(Duration::from_millis(500)).await;
        let answered = link.info.reflexive.lock().map(|s| s.is_some()).unwrap_or(true);
        if answered || link.connection.close_reason().is_some() {
            return;
        }
    }
}

/// Frames per event to the node, so one large read cannot become one huge
/// event (the node's channel is bounded in events; this bounds it in frames).
const MAX_BATCH: usize = 256;

struct StreamReader {
    link: Link,
    events: mpsc::Sender<LinkEvent>,
    max: usize,
}

impl StreamReader {
    async fn hand_over(&self, frames: Vec<Vec<u8>>) -> bool {
        hand_over(&self.link.info, &self.events, frames).await
    }

    async fn run(self, mut stream: quinn::RecvStream) {
        let info = self.link.info.clone();
        let mut reader = FrameReader::new(self.max);
        loop {
            let chunk = match stream.read_chunk(64 * 1024, true).await {
                Ok(Some(chunk)) => chunk,
                Ok(None) | Err(_) => return,
            };
            LinkCounters::add(&info.counters.bytes_in, chunk.bytes.len() as u64);
            reader.push(&chunk.bytes);
            let mut batch = Vec::new();
            let mut broken = false;
            while let Some(item) = reader.next_item() {
                if batch.len() >= MAX_BATCH && !self.hand_over(std::mem::take(&mut batch)).await {
                    return;
                }
                match item {
                    ReadItem::Frame(body) => match LinkFrame::decode(body) {
                        Ok(frame) => {
                            if let Some(packet) = handle_control(&self.link, frame) {
                                batch.push(packet);
                            }
                        }
                        Err(e) => undecodable(&self.link, &e.to_string()),
                    },
                    ReadItem::Oversize(len) => {
                        LinkCounters::add(&info.counters.dropped_oversize, 1);
                        tracing::debug!(peer = %info.peer, "skipped a {len}-byte frame (limit {})", self.max);
                    }
                    ReadItem::BadPrefix => {
                        undecodable(&self.link, "garbage length prefix; stream abandoned");
                        broken = true;
                        break;
                    }
                }
            }
            if !batch.is_empty() && !self.hand_over(batch).await {
                return;
            }
            if broken {
                let _ = stream.stop(0u8.into());
                return;
            }
        }
    }
}

/// Writes queued frames on one stream, coalescing whatever is queued into a
/// single write.
/// A link whose writer stops cannot send again, so the connection is closed
/// and the dialer (or the peer) reconnects.
async fn write_frames(
    connection: quinn::Connection,
    mut outbound: mpsc::UnboundedReceiver<LinkFrame>,
    info: Arc<LinkInfo>,
) {
    let Ok(mut stream) = connection.open_uni().await else {
        connection.close(close_code::WRITER_FAILED.into(), b"cannot open a stream");
        return;
    };
    let mut buffer = Vec::with_capacity(64 * 1024);
    let started = Instant::now();
    while let Some(frame) = outbound.recv().await {
        buffer.clear();
        let mut budget = frame.size_bound();
        encode_prefixed(&frame, &mut buffer);
        let mut frames = 1;
        while buffer.len() < 60 * 1024 {
            match outbound.try_recv() {
                Ok(frame) => {
                    budget += frame.size_bound();
                    encode_prefixed(&frame, &mut buffer);
                    frames += 1;
                }
                Err(_) => break,
            }
        }
        let written = stream.write_all(&buffer).await;
        info.queued_bytes.fetch_sub(budget, Ordering::AcqRel);
        if written.is_err() {
            tracing::debug!(peer = %info.peer, "link stream stopped after {:?}; closing the link", started.elapsed());
            connection.close(close_code::WRITER_FAILED.into(), b"stream stopped");
            return;
        }
        LinkCounters::add(&info.counters.frames_out, frames);
        LinkCounters::add(&info.counters.bytes_out, buffer.len() as u64);
    }
    let _ = stream.finish();
}
