//! Sending: addressed messages (in a session, in a one-shot box, or in
//! plaintext), floods and replies to floods, the session pump, and packets
//! held until a path or a session exists.

use super::*;
use crate::routing::wire::{FLOOD_SIGNATURE, Kind, flood_signed_bytes};
use crate::time::Millis;

impl<M: AnnounceCheck> Router<M> {
    /// A link took a held packet ([`RouterOutput::TransmitHeld`]): it
    /// leaves the hold and the disk.
    pub fn held_sent(&mut self, held: &Held) {
        self.hold.counters.delivered += 1;
        self.out.push(RouterOutput::Hold(HoldChange::Delete(held.key)));
    }

    /// A link refused a held packet ([`RouterOutput::TransmitHeld`]): it
    /// goes back into the hold as it was (its record never left the disk)
    /// and is tried again at the next housekeeping while a route exists, or
    /// when a path appears.
    pub fn held_refused(&mut self, held: Held) {
        self.hold.counters.requeued += 1;
        for change in self.hold.restore(held) {
            self.out.push(RouterOutput::Hold(change));
        }
    }

    /// Hands a held message that reveals its sender to the sessions, now
    /// that the destination's key is known. False when it is not such a
    /// message (anonymous ones are sealed in a one-shot box instead).
    pub(super) fn held_into_session(&mut self, held: &Held, now: Millis) -> bool {
        let Ok(packet) = Packet::decode(&held.packet) else { return false };
        let Body::Data { destination, port, flags, inner } = packet.body else { return false };
        if flags & FLAG_SOURCE == 0 {
            return false;
        }
        let Ok(fields) = Inner::decode(flags, inner) else { return false };
        let inner = Inner { source: None, ..fields };
        self.sessions.send(&self.table, destination, port, inner.flags(), &inner.encode(), now);
        self.pump_sessions(now);
        true
    }

    /// Routes what the sessions produced: packets toward their node (held
    /// while no route is known), opened messages to their port.
    pub(super) fn pump_sessions(&mut self, now: Millis) {
        self.sessions.drain_into(&mut self.session_out);
        if self.session_out.is_empty() {
            return;
        }
        // Drained, not borrowed: each sealed packet moves on without a copy.
        let mut outputs = std::mem::take(&mut self.session_out);
        for output in outputs.drain(..) {
            match output {
                SessionOutput::Route { to, packet } => self.route_or_hold(to, packet, now),
                SessionOutput::Deliver { from, flags, port, fields } => match Inner::decode(flags, &fields) {
                    Ok(inner) => {
                        let fields = Inner { source: Some(from), ..inner };
                        self.deliver(port, &fields, true, true, ReplyPath::Node(from));
                    }
                    Err(_) => self.counters.undecodable += 1,
                },
                SessionOutput::NeedKey(node) => self.request_path(node, now),
            }
        }
        self.session_out = outputs;
    }

    pub(super) fn route_or_hold(&mut self, to: Address, packet: Vec<u8>, now: Millis) {
        match self.table.route(&to, now) {
            Some(route) => self.out.push(RouterOutput::Transmit { link: route.link, packet }),
            None => self.hold_packet(to, packet, false, None, now),
        }
    }

    /// Seals a held packet that originated here, now that the key is known.
    pub(super) fn finish_held(&mut self, held: &Held) -> Option<Vec<u8>> {
        if !held.needs_seal {
            return Some(held.packet.clone());
        }
        let packet = Packet::decode(&held.packet).ok()?;
        let Body::Data { destination, port, flags, inner } = packet.body else { return None };
        let key = self.table.entry(&destination)?.announce.sealing_key;
        let sealed = seal(&mut self.crypto_rng, &x25519_dalek::PublicKey::from(key), inner)?;
        Some(Packet { hops: packet.hops, body: Body::Data { destination, port, flags, inner: &sealed } }.encode())
    }

    /// Holds `packet` for `to` until a path appears; `source` is the
    /// neighbour that handed it over (`None`: it originated here).
    pub(super) fn hold_packet(
        &mut self,
        to: Address,
        packet: Vec<u8>,
        needs_seal: bool,
        source: Option<Address>,
        now: Millis,
    ) {
        let expires = self.wall(now).after_ms(self.hold.limits().ttl_ms);
        for change in self.hold.hold(to, packet, needs_seal, source, expires) {
            self.out.push(RouterOutput::Hold(change));
        }
        self.request_path(to, now);
    }

    /// Takes back packets persisted by an earlier run.
    pub fn restore(&mut self, key: u64, record: &[u8]) -> bool {
        let Some(held) = Held::from_record(key, record) else { return false };
        for change in self.hold.restore(held) {
            self.out.push(RouterOutput::Hold(change));
        }
        true
    }

    // ---- sending --------------------------------------------------------

    /// Floods `packet` on every link but `except` (a radio channel once).
    pub(super) fn send_on_all_links(&mut self, except: Option<LinkId>, packet: Vec<u8>) {
        let links = self.outlets(|l| Some(*l) == except);
        if let Some((last, rest)) = links.split_last() {
            for link in rest {
                self.out.push(RouterOutput::Transmit { link: *link, packet: packet.clone() });
            }
            self.out.push(RouterOutput::Transmit { link: *last, packet });
        }
    }

    /// Sends a message to one node: at once when a route is known, else held
    /// while a path is requested.
    pub fn send(&mut self, message: Outgoing<'_>, now: Millis) -> Sent {
        let inner = Inner {
            source: message.reveal.then_some(self.own),
            tag: message.tag,
            reply_to: message.reply_to,
            payload: message.payload,
        };
        if message.to == self.own {
            self.counters.delivered += 1;
            self.out.push(RouterOutput::Deliver(Delivery {
                port: message.port,
                from: inner.source,
                payload: message.payload.to_vec(),
                tag: message.tag,
                reply_to: message.reply_to,
                sealed: message.sealed,
                verified: true,
                flooded: false,
                reply: ReplyPath::Node(self.own),
            }));
            return Sent::Local;
        }
        if message.sealed && message.reveal && self.table.entry(&message.to).is_some() {
            let inner = Inner { source: None, ..inner };
            let sent = self.sessions.send(&self.table, message.to, message.port, inner.flags(), &inner.encode(), now);
            let route = self.table.route(&message.to, now);
            self.pump_sessions(now);
            return match (sent, route) {
                (SessionSend::Sealed, Some(route)) => Sent::Transmitted(route.link),
                (SessionSend::Sealed, None) => Sent::Held,
                (SessionSend::Queued, _) => Sent::Queued,
                (SessionSend::Refused, _) => Sent::Congested,
            };
        }
        let flags = inner.flags() | if message.sealed { FLAG_SEALED } else { 0 };
        let plain = inner.encode();
        let hops = Hops::fresh(self.config.max_hops);
        match (self.table.route(&message.to, now), self.table.entry(&message.to)) {
            (Some(route), Some(entry)) => {
                let sealed;
                let body = if message.sealed {
                    let key = x25519_dalek::PublicKey::from(entry.announce.sealing_key);
                    let Some(boxed) = seal(&mut self.crypto_rng, &key, &plain) else {
                        self.counters.lost += 1;
                        return Sent::Lost;
                    };
                    sealed = boxed;
                    &sealed[..]
                } else {
                    &plain[..]
                };
                let packet = Packet {
                    hops,
                    body: Body::Data { destination: message.to, port: message.port, flags, inner: body },
                }
                .encode();
                self.out.push(RouterOutput::Transmit { link: route.link, packet });
                Sent::Transmitted(route.link)
            }
            _ => {
                let packet = Packet {
                    hops,
                    body: Body::Data { destination: message.to, port: message.port, flags, inner: &plain },
                }
                .encode();
                self.hold_packet(message.to, packet, message.sealed, None, now);
                Sent::Held
            }
        }
    }

    /// Floods a message to `port` on every node within `hops`; returns the
    /// flood's id (replies come back as [`ReplyPath::Flood`] answers).
    pub fn flood(&mut self, port: u16, payload: &[u8], hops: u8, reveal: bool, now: Millis) -> u64 {
        let id = self.rng.next_u64();
        self.seen.first_time(id, Came::Here, now);
        let inner = Inner { source: reveal.then_some(self.own), tag: 0, reply_to: None, payload };
        let encoded = inner.encode();
        let signature = reveal.then(|| self.sign_flood(Kind::Flood, id, port, inner.flags(), &encoded));
        let packet = Packet {
            hops: Hops::fresh(hops.min(self.config.max_hops)),
            body: Body::Flood { id, port, flags: inner.flags(), inner: &encoded, signature: signature.as_ref() },
        }
        .encode();
        self.send_on_all_links(None, packet);
        id
    }

    /// Answers a flood along the path it came by.
    pub fn reply_to_flood(
        &mut self,
        flood: u64,
        port: u16,
        payload: &[u8],
        reveal: bool,
        reply_to: Option<u64>,
        now: Millis,
    ) -> Result<Sent, NoWayBack> {
        let back = match self.seen.came(flood, now) {
            Some(Came::Link(link)) if self.links.contains_key(&link) => link,
            Some(Came::Here) => return Err(NoWayBack::OwnFlood),
            _ => return Err(NoWayBack::Forgotten),
        };
        let inner = Inner { source: reveal.then_some(self.own), tag: 0, reply_to, payload };
        let encoded = inner.encode();
        let signature = reveal.then(|| self.sign_flood(Kind::Return, flood, port, inner.flags(), &encoded));
        let packet = Packet {
            hops: Hops::fresh(self.config.max_hops),
            body: Body::Return {
                id: flood,
                port,
                flags: inner.flags(),
                inner: &encoded,
                signature: signature.as_ref(),
            },
        }
        .encode();
        self.out.push(RouterOutput::Transmit { link: back, packet });
        Ok(Sent::Transmitted(back))
    }

    /// This node's signature on a flood or return it sends revealing itself.
    fn sign_flood(&self, kind: Kind, id: u64, port: u16, flags: u8, inner: &[u8]) -> [u8; FLOOD_SIGNATURE] {
        self.identity.sign(&flood_signed_bytes(kind, id, port, flags, inner)).to_bytes()
    }
}
