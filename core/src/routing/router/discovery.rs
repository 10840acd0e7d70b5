//! Discovery: the node's own announces, rebroadcasts of others' (with the
//! per-link budget), path requests for unknown nodes and the answers to
//! them, and what happens when a path is found.

use super::*;
use crate::routing::limits::TokenBucket;
use crate::time::Millis;

/// What a path request asks, as decoded from the wire.
pub(super) struct PathRequestFields {
    /// Its id (duplicate suppression, the way back for the answer).
    pub(super) request: u64,
    /// The node whose announce is wanted.
    pub(super) target: Address,
    /// The newest sequence of it the requester knows.
    pub(super) known_sequence: u64,
}

impl<M: AnnounceCheck> Router<M> {
    /// `announce` as this node passes it on: `count` hops and `cost` (its
    /// route's path cost; 0 for its own) from the origin.
    pub(super) fn announce_packet(&self, announce: &Announce, count: u8, cost: u32, request: Option<u64>) -> Vec<u8> {
        let body = announce.to_body();
        let body = Body::Announce { request, body: &body, cost: wire_cost(cost) };
        Packet { hops: Hops { count, limit: self.config.max_hops }, body }.encode()
    }

    pub(super) fn next_sequence(&self, now: Millis) -> u64 {
        self.own_announce.sequence.saturating_add(1).max(self.wall(now).as_unix_ms())
    }

    /// Whether `sequence` lies within [`MAX_SEQUENCE_LEAD_MS`] of this
    /// node's clock.
    pub(super) fn plausible_sequence(&self, sequence: u64, now: Millis) -> bool {
        sequence <= self.wall(now).after_ms(MAX_SEQUENCE_LEAD_MS).as_unix_ms()
    }

    /// Signs a fresh announce and floods it on every link.
    pub(super) fn announce_self(&mut self, now: Millis) {
        let jitter = self.rng.up_to(self.config.announce_interval_ms / 10);
        self.next_announce = now.after_ms(self.config.announce_interval_ms.saturating_sub(jitter));
        self.own_announce = Announce::create(&self.identity, self.config.capabilities, self.next_sequence(now));
        let packet: Arc<[u8]> = self.announce_packet(&self.own_announce.clone(), 0, 0, None).into();
        for link in self.outlets(|_| false) {
            self.send_announce(link, self.own, 0, packet.clone(), now);
        }
    }

    /// Offers an announce to the budget of `link` (a link, or a radio
    /// channel): it goes now, or when the budget allows.
    pub(super) fn send_announce(&mut self, link: LinkId, origin: Address, hops: u8, packet: Arc<[u8]>, now: Millis) {
        let budget = match link {
            LinkId::RadioChannel(radio) => self.channels.get_mut(&radio),
            _ => self.links.get_mut(&link).map(|state| &mut state.budget),
        };
        let Some(budget) = budget else { return };
        if let Some(packet) = budget.offer(origin, hops, packet, now) {
            self.counters.announce_bytes += packet.len() as u64;
            self.out.push(RouterOutput::Transmit { link, packet: packet.to_vec() });
        }
    }

    pub(super) fn rebroadcast(&mut self, address: Address, pending: Rebroadcast, now: Millis) {
        let (Some(entry), Some(route)) = (self.table.entry(&address), self.table.route(&address, now)) else {
            return;
        };
        if route.hops >= pending.limit {
            return;
        }
        let body = entry.announce.to_body();
        let packet: Arc<[u8]> = Packet {
            hops: Hops { count: route.hops, limit: pending.limit },
            body: Body::Announce { request: None, body: &body, cost: wire_cost(route.cost) },
        }
        .encode()
        .into();
        for link in self.outlets(|l| pending.heard.contains(l)) {
            self.send_announce(link, address, route.hops, packet.clone(), now);
        }
    }

    pub(super) fn on_announce(
        &mut self,
        link: LinkId,
        hops: Hops,
        request: Option<u64>,
        carried_cost: u16,
        announce: Announce,
        now: Millis,
    ) {
        let address = announce.address();
        if address == self.own {
            return;
        }
        let Some(state) = self.links.get(&link) else { return };
        // The path's cost: what the neighbour's route costs, plus this link.
        let (neighbour, link_cost) = (state.params.neighbour, state.params.cost);
        let cost = u32::from(carried_cost).saturating_add(link_cost);
        if !self.plausible_sequence(announce.sequence, now) {
            self.counters.announces_implausible += 1;
            return;
        }
        let distance = hops.count.saturating_add(1);
        let verdict = self.table.judge(&address, announce.sequence, distance, cost, now);
        if verdict == super::super::table::Verdict::Stale {
            self.counters.announces_stale += 1;
            return;
        }
        if !verdict.accepted() && request.is_none() {
            // A copy of what is known: the neighbour has it, so it need not
            // get our rebroadcast (checking it would change nothing else),
            // unless ours offers it a cheaper path than the one it came by.
            let offer = self.table.route(&address, now).map(|route| route.cost.saturating_add(link_cost));
            if offer.is_some_and(|offer| offer < u32::from(carried_cost)) {
                return;
            }
            if let Some(pending) = self.rebroadcasts.get_mut(&address)
                && pending.sequence == announce.sequence
                && !pending.heard.contains(&link)
            {
                pending.heard.push(link);
            }
            if let Some(state) = self.links.get_mut(&link) {
                state.budget.forget(&address);
            }
            return;
        }
        // Verifying costs a signature check: at most so many per link.
        if let Some(state) = self.links.get_mut(&link)
            && !state.ingress.announces.take(now)
        {
            self.counters.announces_rate_limited += 1;
            return;
        }
        let checked = self.memo.check(&announce);
        let Some(shared) = checked else {
            self.counters.announces_forged += 1;
            return;
        };
        if verdict.accepted() {
            let known = self.table.entry(&address).is_some();
            if known && verdict == super::super::table::Verdict::Newer && !self.origin_may_announce(address, now) {
                self.counters.announces_origin_limited += 1;
                return;
            }
            if !known && !self.make_room(now) {
                self.counters.nodes_refused += 1;
                return;
            }
            self.counters.announces_accepted += 1;
            let route =
                Route { link, neighbour, hops: distance, cost, expires: now.after_ms(self.config.route_ttl_ms) };
            self.table.accept(shared, route, now);
            if !known {
                self.out.push(RouterOutput::KeyLearned { address, signing_key: announce.signing_key });
                self.sessions.learn(&self.table, address, now);
                self.pump_sessions(now);
            }
            if request.is_none() && distance < hops.limit {
                match self.rebroadcasts.get_mut(&address) {
                    // A better path while the rebroadcast waits: it will carry the new distance.
                    Some(pending) if pending.sequence == announce.sequence => pending.heard.push(link),
                    _ => {
                        let due = now.after_ms(self.rng.up_to(self.config.rebroadcast_delay_ms));
                        let pending =
                            Rebroadcast { due, sequence: announce.sequence, limit: hops.limit, heard: vec![link] };
                        self.rebroadcasts.insert(address, pending);
                        self.rebroadcast_order.push(Reverse((due, address)));
                    }
                }
            }
            self.path_found(address, now);
        }
        if let Some(request) = request
            && let Some(Came::Link(back)) = self.seen.came(request, now)
            && back != link
        {
            let cost = self.table.route(&address, now).map_or(cost, |route| route.cost);
            let packet = self.announce_packet(&announce, distance, cost, Some(request));
            self.out.push(RouterOutput::Transmit { link: back, packet });
        }
    }

    /// Whether `origin` may have one more new announce accepted now.
    fn origin_may_announce(&mut self, origin: Address, now: Millis) -> bool {
        let per_min = self.config.limits.announces_per_origin_per_min;
        self.origin_buckets.entry(origin).or_insert_with(|| TokenBucket::new(per_min / 60.0, per_min, now)).take(now)
    }

    /// Room in the table for one more node: at once below `max_nodes`, else
    /// by forgetting the node without a route heard from longest ago.
    fn make_room(&mut self, now: Millis) -> bool {
        if self.table.len() < self.config.limits.max_nodes {
            return true;
        }
        let Some(evicted) = self.table.evictable(now) else { return false };
        self.table.forget(&evicted);
        self.sessions.forget(&evicted);
        self.origin_buckets.remove(&evicted);
        self.counters.nodes_evicted += 1;
        self.out.push(RouterOutput::KeyForgotten { address: evicted });
        true
    }

    // ---- path discovery -------------------------------------------------

    pub(super) fn request_path(&mut self, to: Address, now: Millis) {
        let interval = self.config.path_request_interval_ms.max(1);
        let (max_searches, tries) = (self.config.limits.max_searches, self.config.limits.path_request_tries);
        if !self.searches.contains_key(&to) && self.searches.len() >= max_searches {
            self.counters.searches_refused += 1;
            return;
        }
        let search =
            self.searches.entry(to).or_insert(PathSearch { next: Millis::ZERO, interval_ms: interval, tries: 0 });
        if search.next > now || search.tries > tries {
            return;
        }
        if search.tries == tries {
            // Given up: the destination's own announce still finds what waits.
            search.tries += 1;
            self.counters.searches_given_up += 1;
            return;
        }
        if !self.requests_out.take(now) {
            // Over this node's own rate: the next housekeeping tries again.
            self.counters.path_requests_deferred += 1;
            return;
        }
        search.tries += 1;
        search.next = now.after_ms(search.interval_ms);
        search.interval_ms = (search.interval_ms * 2).min(MAX_PATH_REQUEST_INTERVAL_MS);
        let request = self.rng.next_u64();
        self.seen.first_time(request, Came::Here, now);
        let known_sequence = self.table.sequence(&to);
        let packet = Packet {
            hops: Hops::fresh(self.config.max_hops),
            body: Body::PathRequest { request, target: to, known_sequence },
        }
        .encode();
        self.counters.path_requests += 1;
        self.send_on_all_links(None, packet);
    }

    pub(super) fn on_path_request(
        &mut self,
        link: LinkId,
        mut packet: Vec<u8>,
        hops: Hops,
        PathRequestFields { request, target, known_sequence: known }: PathRequestFields,
        now: Millis,
    ) {
        if let Some(state) = self.links.get_mut(&link)
            && !state.ingress.path_requests.take(now)
        {
            self.counters.path_requests_rate_limited += 1;
            return;
        }
        if !self.seen.first_time(request, Came::Link(link), now) {
            self.counters.duplicates += 1;
            return;
        }
        if target == self.own {
            // The requester knows a newer sequence than ours (we restarted
            // with the clock behind): outbid it, but never beyond a bounded
            // lead over our own clock, whatever the wire says.
            let outbid = known.checked_add(1).filter(|&s| self.plausible_sequence(s, now));
            match outbid {
                Some(outbid) if self.own_announce.sequence < outbid => {
                    self.own_announce =
                        Announce::create(&self.identity, self.config.capabilities, self.next_sequence(now).max(outbid));
                }
                Some(_) => {}
                None => self.counters.path_requests_implausible += 1,
            }
            let packet = self.announce_packet(&self.own_announce.clone(), 0, 0, Some(request));
            self.counters.path_responses += 1;
            self.out.push(RouterOutput::Transmit { link, packet });
            return;
        }
        if let (Some(route), Some(entry)) = (self.table.route(&target, now), self.table.entry(&target))
            && route.link != link
            && entry.announce.sequence > known
        {
            let packet = self.announce_packet(&entry.announce.clone(), route.hops, route.cost, Some(request));
            self.counters.path_responses += 1;
            self.out.push(RouterOutput::Transmit { link, packet });
            return;
        }
        if hops.count.saturating_add(1) < hops.limit {
            packet[HOP_COUNT_OFFSET] = hops.count + 1;
            self.send_on_all_links(Some(link), packet);
        } else {
            self.counters.hop_limit += 1;
        }
    }

    /// A route to `to` appeared: send what waited for it.
    pub(super) fn path_found(&mut self, to: Address, now: Millis) {
        self.searches.remove(&to);
        let Some(route) = self.table.route(&to, now) else { return };
        for held in self.hold.take(&to) {
            if held.needs_seal && self.held_into_session(&held, now) {
                self.hold.counters.delivered += 1;
                self.out.push(RouterOutput::Hold(HoldChange::Delete(held.key)));
                continue;
            }
            match self.finish_held(&held) {
                Some(packet) => self.out.push(RouterOutput::TransmitHeld { link: route.link, packet, held }),
                None => {
                    self.counters.undecodable += 1;
                    self.out.push(RouterOutput::Hold(HoldChange::Delete(held.key)));
                }
            }
        }
        let (ready, waiting): (Vec<_>, Vec<_>) = self.traces.drain(..).partition(|trace| trace.to == to);
        self.traces = waiting;
        for trace in ready {
            self.start_trace(trace.to, trace.id, route);
        }
    }
}

/// A path cost as announces carry it (at most `u16::MAX`).
fn wire_cost(cost: u32) -> u16 {
    u16::try_from(cost).unwrap_or(u16::MAX)
}
