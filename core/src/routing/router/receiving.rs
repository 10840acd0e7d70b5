//! Receiving: a packet from a link is checked, deduplicated, then delivered
//! here, forwarded toward its destination, or dropped and counted.

use super::*;
use crate::routing::wire::{FLOOD_SIGNATURE, Kind, flood_signed_bytes};
use crate::time::Millis;

/// What a flood's signature says of its revealed source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FloodSigner {
    /// It names no source.
    Anonymous,
    /// Signed by the node it names, under that node's announced key.
    Verified,
    /// It names a node whose key is not known here: a claim, taken as one.
    Claim,
    /// It names a node whose key is known here, without a signature.
    Unsigned,
    /// The signature fails under the named node's key.
    Forged,
}

impl FloodSigner {
    /// Whether the flood is refused: neither delivered nor relayed.
    fn refused(self) -> bool {
        matches!(self, FloodSigner::Unsigned | FloodSigner::Forged)
    }
}

impl<M: AnnounceCheck> Router<M> {
    /// A packet arrived on `link`.
    pub fn receive(&mut self, link: LinkId, mut packet: Vec<u8>, now: Millis) {
        if !self.links.contains_key(&link) {
            return;
        }
        // Nobody relays further than this node would originate: a hop limit
        // from the wire above `max_hops` is capped before anything else.
        if let Some(limit) = packet.get_mut(HOP_COUNT_OFFSET + 1)
            && *limit > self.config.max_hops
        {
            *limit = self.config.max_hops;
            self.counters.hop_limit_capped += 1;
        }
        let decoded = match Packet::decode(&packet) {
            Ok(decoded) => decoded,
            Err(_) => {
                self.counters.undecodable += 1;
                return;
            }
        };
        let hops = decoded.hops;
        match decoded.body {
            Body::Data { destination, port, flags, inner } => {
                if destination == self.own {
                    self.deliver_data(port, flags, inner);
                } else {
                    self.forward(link, destination, packet, now);
                }
            }
            Body::Flood { id, port, flags, inner, signature } => {
                if self.seen.came(id, now).is_some() {
                    self.counters.duplicates += 1;
                    return;
                }
                let fields = Inner::decode(flags, inner);
                // Judged before the id is remembered: a forged copy must not
                // make the genuine flood look like a duplicate.
                let signer = match &fields {
                    Ok(fields) => self.flood_signer(Kind::Flood, id, port, flags, fields, inner, signature),
                    Err(_) => FloodSigner::Anonymous,
                };
                if signer.refused() {
                    self.count_refused_flood(signer);
                    return;
                }
                self.seen.first_time(id, Came::Link(link), now);
                match fields {
                    Ok(fields) => {
                        self.deliver(port, &fields, false, signer == FloodSigner::Verified, ReplyPath::Flood(id));
                        self.mark_flooded();
                    }
                    Err(_) => self.counters.undecodable += 1,
                }
                if hops.count.saturating_add(1) < hops.limit {
                    let mut packet = packet;
                    packet[HOP_COUNT_OFFSET] = hops.count + 1;
                    self.counters.forwarded += 1;
                    self.send_on_all_links(Some(link), packet);
                } else {
                    self.counters.hop_limit += 1;
                }
            }
            Body::Return { id, port, flags, inner, signature } => match self.seen.came(id, now) {
                Some(Came::Here) => match Inner::decode(flags, inner) {
                    Ok(fields) => {
                        let signer = self.flood_signer(Kind::Return, id, port, flags, &fields, inner, signature);
                        if signer.refused() {
                            self.count_refused_flood(signer);
                            return;
                        }
                        let reply = fields.source.map_or(ReplyPath::None, ReplyPath::Node);
                        self.deliver(port, &fields, false, signer == FloodSigner::Verified, reply);
                        self.mark_flooded();
                    }
                    Err(_) => self.counters.undecodable += 1,
                },
                Some(Came::Link(back)) if hops.count.saturating_add(1) < hops.limit => {
                    let mut packet = packet;
                    packet[HOP_COUNT_OFFSET] = hops.count + 1;
                    self.counters.forwarded += 1;
                    self.out.push(RouterOutput::Transmit { link: back, packet });
                }
                _ => self.counters.lost += 1,
            },
            Body::Announce { request, body, cost } => {
                let announce = Announce::from_body(body);
                self.on_announce(link, hops, request, cost, announce, now);
            }
            Body::PathRequest { request, target, known_sequence } => {
                let fields = super::discovery::PathRequestFields { request, target, known_sequence };
                self.on_path_request(link, packet, hops, fields, now);
            }
            Body::Trace { reply, id, destination, origin, path } => {
                self.on_trace(hops, trace::TraceProbe { reply, id, destination, origin, path: path.to_vec() }, now);
            }
            Body::Session { destination, index, counter, sealed } => {
                if destination == self.own {
                    self.sessions.receive_message(&self.identity, index, counter, sealed, now);
                    self.pump_sessions(now);
                } else {
                    self.forward(link, destination, packet, now);
                }
            }
            Body::Handshake { destination, step, body } => {
                if destination == self.own {
                    self.sessions.receive_handshake(&self.table, step, body, now);
                    self.pump_sessions(now);
                } else {
                    self.forward(link, destination, packet, now);
                }
            }
        }
    }

    /// Who signed a flood or a return: its revealed source, checked
    /// against the signing key of that node's announce when this node knows
    /// it. A node this node knows must have signed what names it (a missing
    /// or failing signature is refused); a node not known yet can only be
    /// claimed.
    #[allow(clippy::too_many_arguments, reason = "the signed fields of one packet")]
    fn flood_signer(
        &self,
        kind: Kind,
        id: u64,
        port: u16,
        flags: u8,
        fields: &Inner<'_>,
        inner: &[u8],
        signature: Option<&[u8; FLOOD_SIGNATURE]>,
    ) -> FloodSigner {
        let Some(source) = fields.source else { return FloodSigner::Anonymous };
        let Some(entry) = self.table.entry(&source) else { return FloodSigner::Claim };
        let Some(signature) = signature else { return FloodSigner::Unsigned };
        let signed = flood_signed_bytes(kind, id, port, flags, inner);
        if crate::crypto::verify(&entry.announce.signing_key, &signed, signature) {
            FloodSigner::Verified
        } else {
            FloodSigner::Forged
        }
    }

    fn count_refused_flood(&mut self, signer: FloodSigner) {
        match signer {
            FloodSigner::Unsigned => self.counters.floods_unsigned += 1,
            _ => self.counters.floods_forged += 1,
        }
    }

    pub(super) fn deliver_data(&mut self, port: u16, flags: u8, inner: &[u8]) {
        let sealed = flags & FLAG_SEALED != 0;
        let opened;
        let bytes = if sealed {
            match open(&self.identity.x25519_secret(), inner) {
                Ok(plain) => {
                    opened = plain;
                    &opened[..]
                }
                Err(_) => {
                    self.counters.unopenable += 1;
                    return;
                }
            }
        } else {
            inner
        };
        match Inner::decode(flags, bytes) {
            Ok(fields) => {
                let reply = fields.source.map_or(ReplyPath::None, ReplyPath::Node);
                self.deliver(port, &fields, sealed, false, reply);
            }
            Err(_) => self.counters.undecodable += 1,
        }
    }

    /// The delivery just made came by flood (or answers one).
    pub(super) fn mark_flooded(&mut self) {
        if let Some(RouterOutput::Deliver(delivery)) = self.out.last_mut() {
            delivery.flooded = true;
        }
    }

    pub(super) fn deliver(&mut self, port: u16, fields: &Inner<'_>, sealed: bool, verified: bool, reply: ReplyPath) {
        self.counters.delivered += 1;
        self.out.push(RouterOutput::Deliver(Delivery {
            port,
            from: fields.source,
            payload: fields.payload.to_vec(),
            tag: fields.tag,
            reply_to: fields.reply_to,
            sealed,
            verified,
            flooded: false,
            reply,
        }));
    }

    pub(super) fn forward(&mut self, from: LinkId, to: Address, mut packet: Vec<u8>, now: Millis) {
        let (count, limit) = (packet[HOP_COUNT_OFFSET], packet[HOP_COUNT_OFFSET + 1]);
        if count.saturating_add(1) >= limit {
            self.counters.hop_limit += 1;
            return;
        }
        packet[HOP_COUNT_OFFSET] = count + 1;
        match self.table.route(&to, now) {
            // Sending it back where it came from would loop: the route is stale.
            Some(route) if route.link != from => {
                self.counters.forwarded += 1;
                self.out.push(RouterOutput::Transmit { link: route.link, packet });
            }
            _ => {
                self.table.forget_route(&to);
                // Holding stores the packet and starts a search: at most so
                // many a second per link for destinations nobody knows.
                if let Some(state) = self.links.get_mut(&from)
                    && !state.ingress.unknown.take(now)
                {
                    self.counters.unknown_rate_limited += 1;
                    return;
                }
                // Held on the account of the neighbour that handed it over.
                let source = self.links.get(&from).map(|state| state.params.neighbour);
                self.hold_packet(to, packet, false, source, now);
            }
        }
    }
}
