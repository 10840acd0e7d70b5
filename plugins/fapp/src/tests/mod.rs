//! Unit tests of the whole plugin: several FAPP instances in one process,
//! each behind a `ServiceHarness` (the same encoded calls a host makes), with
//! a small in-memory stand-in for the mesh.
//!
//! [`Mesh`] does what the host does for FAPP, and nothing more: floods reach
//! every other node once (anonymous floods without a sender), a `Reply` goes
//! back to the flood's sender with `reply_to`, timers fire when the test
//! advances the clock, and sign / verify / seal / open are real Ed25519 and
//! X25519 with the host's formats. Everything that crosses the "air" is kept
//! in [`Mesh::wire`] so tests can look for leaks.

mod abuse;
mod flow;
mod fuzz;
mod relay_rules;
mod size;

use crate::Fapp;
use crate::crypto;
use ed25519_dalek::{Signer, SigningKey, Verifier};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use weft_plugin_api::actions::CommandReply;
use weft_plugin_api::host_call::{HostCall, HostReply};
use weft_plugin_api::testing::{ServiceHarness, TestHost};
use weft_plugin_api::{Action, Address, Command, Event, HostError, HostErrorCode, Message, Opened, TimerFired};

/// What the host signs for a plugin named `fapp`: its context, the name, NUL
/// (the host's `plugin_signing_input`).
const PLUGIN_CONTEXT: &[u8] = b"weft plugin signature v2\0fapp\0";
/// 2026-05-28T20:26:40Z: a few days before the sample slots (June 2026).
pub const T0_MS: u64 = 1_780_000_000_000;

pub type Keys = Arc<Mutex<BTreeMap<Address, [u8; 32]>>>;

/// A host call handler with real crypto for the node with `seed`.
pub fn crypto_host(seed: u8, keys: Keys, opens: Arc<AtomicUsize>) -> TestHost {
    let signing = SigningKey::from_bytes(&[seed; 32]);
    let public = signing.verifying_key().to_bytes();
    let address = crypto::address_of(&public);
    if let Ok(mut k) = keys.lock() {
        k.insert(address, public);
    }
    let mut host = TestHost::default();
    host.address = address;
    host.now_ms = T0_MS;
    // Distinct randomness per node: draw a seed-dependent number of bytes.
    let mut skip = vec![0u8; seed as usize];
    weft_plugin_api::internal::Host::fill_random(&mut host, &mut skip);
    let mut rng = u64::from(seed) * 0x9e37_79b9;
    host.handler = Some(Box::new(move |call: &HostCall| match call {
        HostCall::PublicKey(_) => HostReply::PublicKey(public.to_vec().into()),
        HostCall::Sign(req) => {
            let mut input = PLUGIN_CONTEXT.to_vec();
            input.extend_from_slice(&req.message);
            HostReply::Signature(signing.sign(&input).to_bytes().to_vec().into())
        }
        HostCall::Verify(req) => {
            let mut input = PLUGIN_CONTEXT.to_vec();
            input.extend_from_slice(&req.message);
            let ok = <[u8; 32]>::try_from(req.public_key.as_slice())
                .ok()
                .and_then(|k| ed25519_dalek::VerifyingKey::from_bytes(&k).ok())
                .zip(<[u8; 64]>::try_from(req.signature.as_slice()).ok())
                .is_some_and(|(k, s)| k.verify(&input, &ed25519_dalek::Signature::from_bytes(&s)).is_ok());
            HostReply::Verified(ok)
        }
        HostCall::Seal(req) => {
            let known = keys.lock().ok().and_then(|k| k.get(&req.to).copied());
            match known.and_then(|k| crypto::node_x25519_key(&k)) {
                Some(x) => {
                    rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    let eph = [(rng >> 24) as u8; 32];
                    HostReply::Sealed(crypto::seal(&x, &req.plaintext, eph, crypto::NODE_SEAL_INFO).unwrap().into())
                }
                None => HostReply::Error(HostError::new(HostErrorCode::NotFound, "no key")),
            }
        }
        HostCall::Open(req) => {
            opens.fetch_add(1, Ordering::SeqCst);
            let secret = x25519_dalek::StaticSecret::from(signing.to_scalar_bytes());
            match crypto::open(&secret, &req.sealed, crypto::NODE_SEAL_INFO) {
                Some(plaintext) => HostReply::Opened(Opened { plaintext, sender: None }),
                None => HostReply::Error(HostError::new(HostErrorCode::Failed, "does not authenticate")),
            }
        }
        other => HostReply::Error(HostError::new(HostErrorCode::Unsupported, other.kind_name())),
    }));
    host
}

/// One FAPP instance.
pub struct Node {
    pub name: &'static str,
    pub config: Value,
    pub h: ServiceHarness<Fapp>,
    pub address: Address,
    /// How often the node's host was asked to open a box.
    pub opens: Arc<AtomicUsize>,
    /// Every action the node returned, in order.
    pub actions: Vec<Action>,
}

/// A message on its way.
struct InFlight {
    to: usize,
    message: Message,
    /// Where a reply to it goes.
    back: Option<usize>,
}

/// The stand-in mesh.
pub struct Mesh {
    pub nodes: Vec<Node>,
    pub keys: Keys,
    pub now_ms: u64,
    /// (due, node, timer id).
    timers: Vec<(u64, usize, u64)>,
    queue: VecDeque<InFlight>,
    /// Where a reply to (node, message id) goes.
    origins: BTreeMap<(usize, u64), usize>,
    next_id: u64,
    /// Every payload that crossed the mesh: (from node, anonymous, bytes).
    pub wire: Vec<(usize, bool, Vec<u8>)>,
    /// Command answers: (node, reply).
    pub replies: Vec<(usize, CommandReply)>,
    /// Nodes that receive nothing (a partition).
    pub offline: Vec<usize>,
}

/// A therapist config: CBT + trauma in Munich, auto-confirm, no slots yet.
pub fn therapist_config(extra_roles: &[&str], confirm: &str) -> Value {
    let mut roles = vec!["therapist"];
    roles.extend_from_slice(extra_roles);
    json!({
        "roles": roles,
        "therapist": {
            "specialisms": ["verhaltenstherapie", "trauma"],
            "modalities": ["hybrid"],
            "payers": ["gkv", "pkv"],
            "plz": "80331",
            "approbation": "BY-PP-2019-04711",
            "confirm": confirm,
        }
    })
}

/// Five 50-minute first consultations from 2026-06-01T09:00Z, one a day.
pub fn five_slots() -> String {
    let slots: Vec<Value> = (1..=5)
        .map(|d| json!({ "start": format!("2026-06-0{d}T09:00Z"), "duration": 50, "type": "erstgespraech" }))
        .collect();
    json!({ "slots": slots }).to_string()
}

impl Mesh {
    pub fn new() -> Mesh {
        Mesh {
            nodes: Vec::new(),
            keys: Arc::default(),
            now_ms: T0_MS,
            timers: Vec::new(),
            queue: VecDeque::new(),
            origins: BTreeMap::new(),
            next_id: 1,
            wire: Vec::new(),
            replies: Vec::new(),
            offline: Vec::new(),
        }
    }

    /// Adds a node with `config`; returns its index.
    pub fn add(&mut self, name: &'static str, seed: u8, config: Value) -> usize {
        let opens = Arc::new(AtomicUsize::new(0));
        let host = crypto_host(seed, self.keys.clone(), opens.clone());
        let address = host.address;
        let (h, actions) = ServiceHarness::<Fapp>::init(host, &config, None).expect("init");
        self.nodes.push(Node { name, config, h, address, opens, actions: Vec::new() });
        let i = self.nodes.len() - 1;
        self.apply(i, actions);
        self.run();
        i
    }

    /// Delivers `event` to node `i` and routes what it does.
    pub fn event(&mut self, i: usize, event: Event) {
        let actions = self.nodes[i].h.event(event).expect("event");
        self.apply(i, actions);
    }

    fn apply(&mut self, i: usize, actions: Vec<Action>) {
        let cut_off = self.offline.contains(&i);
        for action in &actions {
            match action {
                Action::Flood(f) => {
                    self.wire.push((i, f.anonymous, f.payload.clone()));
                    if cut_off {
                        continue;
                    }
                    for to in 0..self.nodes.len() {
                        if to == i || self.offline.contains(&to) {
                            continue;
                        }
                        let id = self.next_id;
                        self.next_id += 1;
                        let from = (!f.anonymous).then_some(self.nodes[i].address);
                        let message = Message {
                            id,
                            from,
                            port: f.port,
                            payload: f.payload.clone(),
                            reply_to: None,
                            sealed: false,
                        };
                        self.queue.push_back(InFlight { to, message, back: Some(i) });
                    }
                }
                Action::Reply(r) => {
                    self.wire.push((i, false, r.payload.clone()));
                    if cut_off {
                        continue;
                    }
                    // Answers to injected messages go nowhere.
                    let Some(&to) = self.origins.get(&(i, r.message)) else { continue };
                    if self.offline.contains(&to) {
                        continue;
                    }
                    let id = self.next_id;
                    self.next_id += 1;
                    let message = Message {
                        id,
                        from: Some(self.nodes[i].address),
                        port: crate::messages::PORT,
                        payload: r.payload.clone(),
                        reply_to: Some(0),
                        sealed: false,
                    };
                    self.queue.push_back(InFlight { to, message, back: None });
                }
                Action::SetTimer(t) => {
                    self.timers.retain(|(_, n, id)| !(*n == i && *id == t.id));
                    self.timers.push((self.now_ms + t.after_ms, i, t.id));
                }
                Action::CancelTimer(t) => self.timers.retain(|(_, n, id)| !(*n == i && *id == t.id)),
                Action::CommandReply(r) => self.replies.push((i, r.clone())),
                Action::Send(_) => panic!("FAPP never sends by address"),
                _ => {}
            }
        }
        self.nodes[i].actions.extend(actions);
    }

    /// Stops node `i` (for `reason`) and starts a new instance with the state
    /// it handed over; returns the state blob.
    pub fn restart(&mut self, i: usize, reason: weft_plugin_api::ShutdownReason) -> Vec<u8> {
        let (state, actions) = self.nodes[i].h.shutdown(reason).expect("shutdown");
        self.apply(i, actions);
        self.timers.retain(|(_, n, _)| *n != i);
        let host = std::mem::take(&mut self.nodes[i].h.host);
        let (h, actions) =
            ServiceHarness::<Fapp>::init(host, &self.nodes[i].config, Some(state.clone())).expect("init");
        self.nodes[i].h = h;
        self.apply(i, actions);
        self.run();
        state
    }

    /// Delivers everything in flight.
    pub fn run(&mut self) {
        while let Some(InFlight { to, message, back }) = self.queue.pop_front() {
            if let Some(back) = back {
                self.origins.insert((to, message.id), back);
            }
            self.event(to, Event::Message(message));
        }
    }

    /// Moves the clock on by `ms`, firing due timers in order.
    pub fn advance(&mut self, ms: u64) {
        let end = self.now_ms + ms;
        loop {
            self.timers.sort();
            let Some(&(due, i, id)) = self.timers.first().filter(|(due, ..)| *due <= end) else { break };
            self.timers.remove(0);
            self.set_now(due.max(self.now_ms));
            self.event(i, Event::Timer(TimerFired { id }));
            self.run();
        }
        self.set_now(end);
    }

    fn set_now(&mut self, now: u64) {
        self.now_ms = now;
        for n in &mut self.nodes {
            n.h.host.now_ms = now;
        }
    }

    /// Runs a command on node `i`; returns its answer if it came within `wait_ms`.
    pub fn command(&mut self, i: usize, name: &str, args: &str, wait_ms: u64) -> Option<CommandReply> {
        let id = self.next_id;
        self.next_id += 1;
        self.event(i, Event::Command(Command { id, name: name.into(), args: args.into() }));
        self.run();
        let mut waited = 0;
        loop {
            if let Some(pos) = self.replies.iter().position(|(n, r)| *n == i && r.id == id) {
                return Some(self.replies.remove(pos).1);
            }
            if waited >= wait_ms {
                return None;
            }
            self.advance(100);
            waited += 100;
        }
    }

    /// A command that must succeed; returns its JSON answer.
    pub fn ok(&mut self, i: usize, name: &str, args: Value) -> Value {
        let mut args = args;
        args["json"] = json!(true);
        let reply = self.command(i, name, &args.to_string(), 10_000).expect("an answer");
        assert!(reply.ok, "{name} on {} failed: {}", self.nodes[i].name, reply.body);
        serde_json::from_str(&reply.body).expect("JSON answer")
    }

    /// The node's counter `name` (from `stats`).
    pub fn counter(&mut self, i: usize, name: &str) -> u64 {
        self.ok(i, "stats", json!({}))["counters"][name].as_u64().unwrap_or(0)
    }

    /// Sum of the metric `name` the node reported.
    pub fn metric(&self, i: usize, name: &str) -> f64 {
        self.nodes[i]
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::Metric(m) if m.name == name => Some(m.value),
                _ => None,
            })
            .sum()
    }

    /// Delivers a raw payload to node `i` as a fresh flood from nowhere.
    pub fn inject(&mut self, i: usize, payload: Vec<u8>) {
        let id = self.next_id;
        self.next_id += 1;
        let message = Message { id, from: None, port: crate::messages::PORT, payload, reply_to: None, sealed: false };
        self.event(i, Event::Message(message));
        self.run();
    }
}
