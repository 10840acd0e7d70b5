//! The five FAPP messages and their exact byte layout.
//!
//! Owns: [`Message`] and its bodies, [`encode`](Message::encode) /
//! [`decode`](Message::decode), and the size limits every decoder enforces.
//! A payload is one tag byte followed by one CBOR item:
//!
//! | tag  | message        | CBOR body |
//! |------|----------------|-----------|
//! | 0x01 | SlotAnnounce   | `[body: bstr, signature: bstr(64)]` — `body` is the CBOR of [`AnnounceBody`] |
//! | 0x02 | SlotQuery      | `[query_id, specialisms, modalities, payers, plz_prefix, from, to, slot_types, max_results]` |
//! | 0x03 | SlotResponse   | `[query_id, [announce, ...]]`, each announce as in 0x01 without the tag |
//! | 0x04 | SlotReserve    | `bstr`: a box sealed to the therapist's node key holding [`ReservePlain`] |
//! | 0x05 | SlotConfirm    | `bstr`: a box sealed to the patient's reply key holding [`ConfirmPlain`] |
//!
//! Records are CBOR arrays (position = field), never maps with names: a
//! SlotAnnounce with five slots must fit one 255-byte LoRa frame with its
//! routing header (`docs/fapp.md` counts every byte). Decoders accept arrays
//! longer than they know and skip the extra items, so a later version can
//! append fields; it cannot reorder or drop them.

use crate::cbor::{DecodeError, Reader, Writer};
use crate::crypto;
use crate::domain::Mask;
use weft_plugin_api::Address;

/// The service port FAPP binds (ASCII `F`). Echo has 7, counter 8, the
/// sequence test plugin 9.
pub const PORT: u16 = 70;

/// Tag of [`Message::Announce`].
pub const TAG_ANNOUNCE: u8 = 0x01;
/// Tag of [`Message::Query`].
pub const TAG_QUERY: u8 = 0x02;
/// Tag of [`Message::Response`].
pub const TAG_RESPONSE: u8 = 0x03;
/// Tag of [`Message::Reserve`].
pub const TAG_RESERVE: u8 = 0x04;
/// Tag of [`Message::Confirm`].
pub const TAG_CONFIRM: u8 = 0x05;

/// Most slots one announce may carry.
pub const MAX_SLOTS: usize = 32;
/// Longest postal code (or prefix), in bytes.
pub const MAX_PLZ: usize = 10;
/// Longest profile URL, in bytes.
pub const MAX_URL: usize = 120;
/// Largest signed announce body, in bytes.
pub const MAX_BODY: usize = 1024;
/// Most announces in one response.
pub const MAX_RESPONSE_ANNOUNCES: usize = 32;
/// Largest sealed box (reserve or confirm), in bytes.
pub const MAX_BOX: usize = 1024;
/// Longest contact text in a reservation, in bytes.
pub const MAX_CONTACT: usize = 160;
/// Longest note in a confirmation, in bytes.
pub const MAX_NOTE: usize = 160;
/// Most results a query may ask for.
pub const MAX_RESULTS: u8 = 50;
/// Longest slot, in minutes.
pub const MAX_DURATION: u16 = 24 * 60;
/// Highest code of a set member or slot type.
pub const MAX_CODE: u8 = 31;
/// Extra trailing items a decoder skips (fields of later versions).
const MAX_EXTRA: usize = 16;

/// Domain separation for announce signatures (the host adds its own
/// "weft plugin signature v2" context and the plugin's name on top).
pub const ANNOUNCE_CONTEXT: &[u8] = b"fapp announce v1\0";

/// One bookable time slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Slot {
    /// Start, in minutes since the Unix epoch (UTC).
    pub start: u32,
    /// Length in minutes (1..=1440).
    pub duration: u16,
    /// [`crate::domain::SlotType`] code (0..=31; unknown codes are kept).
    pub kind: u8,
}

/// What a therapist signs: the fields of a SlotAnnounce.
///
/// CBOR: `[key, sequence, expires, approbation, specialisms, modalities,
/// payers, plz, [[start, duration, type], ...], profile_url / null]`.
/// The therapist's address is not sent: it is the first 16 bytes of
/// SHA-256 of `therapist_key`, as for every Weft node, so it cannot disagree
/// with the key that signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceBody {
    /// The therapist node's Ed25519 public key (32 bytes).
    pub therapist_key: [u8; 32],
    /// Grows with every announce of this therapist (the newest wins).
    pub sequence: u64,
    /// Unix seconds after which the announce is void.
    pub expires: u64,
    /// SHA-256 of the therapist's licence (Approbation): binds the
    /// professional identity without publishing it.
    pub approbation: [u8; 32],
    /// [`crate::domain::Fachrichtung`] set.
    pub specialisms: Mask,
    /// [`crate::domain::Modalitaet`] set.
    pub modalities: Mask,
    /// [`crate::domain::Kostentraeger`] set.
    pub payers: Mask,
    /// Postal code (PLZ) of the practice: a location hint, never an address.
    pub plz: String,
    /// Offered slots, by strictly increasing start.
    pub slots: Vec<Slot>,
    /// Optional profile page (signed like the rest).
    pub profile_url: Option<String>,
}

/// A SlotAnnounce as received: the body, the exact bytes that were signed,
/// and the signature. Relays store and forward exactly these bytes and never
/// re-sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedAnnounce {
    /// The decoded body.
    pub body: AnnounceBody,
    /// The therapist's address, derived from `body.therapist_key`.
    pub therapist: Address,
    /// The body bytes exactly as signed and sent.
    pub signed: Vec<u8>,
    /// Ed25519 signature by the therapist's node key (through the host's
    /// `Sign` call) over [`ANNOUNCE_CONTEXT`] ‖ `signed`.
    pub signature: [u8; 64],
}

/// Query filters. Empty sets, an empty prefix and zero times mean "any".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    /// Any of these specialisms.
    pub specialisms: Mask,
    /// Any of these modalities.
    pub modalities: Mask,
    /// Any of these payers.
    pub payers: Mask,
    /// The practice's postal code starts with this.
    pub plz_prefix: String,
    /// A slot starts at or after this minute (0: from now).
    pub from: u32,
    /// A slot starts before this minute (0: no limit).
    pub to: u32,
    /// The slot is of one of these types.
    pub slot_types: Mask,
    /// Most announces to return (1..=[`MAX_RESULTS`]).
    pub max_results: u8,
}

/// A SlotQuery: a random id (to match responses; it names no one) and filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotQuery {
    /// Chosen at random by the patient for each query.
    pub query_id: u32,
    /// What the patient looks for.
    pub filter: Filter,
}

/// A SlotResponse: matching announces, verbatim, for the patient to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotResponse {
    /// The query answered.
    pub query_id: u32,
    /// The announces, each still signed by its therapist.
    pub announces: Vec<SignedAnnounce>,
}

/// What a reservation says, sealed to the therapist's node key.
///
/// CBOR: `[reservation, slot_start, sequence, reply_key, contact / null]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservePlain {
    /// Random id the patient picked; echoed in the confirmation.
    pub reservation: u64,
    /// The slot's start minute (a therapist has one slot per start).
    pub slot_start: u32,
    /// The announce sequence the patient saw the slot in.
    pub sequence: u64,
    /// The patient's ephemeral X25519 public key for the confirmation.
    pub reply_key: [u8; 32],
    /// How the practice can reach the patient, if the patient chose to say.
    pub contact: Option<String>,
}

/// What a confirmation says, sealed to the patient's reply key.
///
/// CBOR: `[reservation, accepted, slot_start, note / null]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmPlain {
    /// The reservation answered.
    pub reservation: u64,
    /// Accepted (the slot is the patient's) or declined.
    pub accepted: bool,
    /// The slot's start minute.
    pub slot_start: u32,
    /// A word from the practice (or why it declined).
    pub note: Option<String>,
}

/// A FAPP payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// 0x01: a therapist's signed slots, flooded.
    Announce(Box<SignedAnnounce>),
    /// 0x02: a patient's anonymous query, flooded.
    Query(SlotQuery),
    /// 0x03: matching announces, sent back along the query's path.
    Response(SlotResponse),
    /// 0x04: a reservation, a box only the therapist can open, flooded anonymously.
    Reserve(Vec<u8>),
    /// 0x05: the therapist's answer, a box only the patient's reply key opens,
    /// sent back along the reservation's path.
    Confirm(Vec<u8>),
}

impl Message {
    /// The tag byte.
    pub fn tag(&self) -> u8 {
        match self {
            Message::Announce(_) => TAG_ANNOUNCE,
            Message::Query(_) => TAG_QUERY,
            Message::Response(_) => TAG_RESPONSE,
            Message::Reserve(_) => TAG_RESERVE,
            Message::Confirm(_) => TAG_CONFIRM,
        }
    }

    /// Tag byte + CBOR body.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(256);
        w.raw(&[self.tag()]);
        match self {
            Message::Announce(a) => a.write_item(&mut w),
            Message::Query(q) => q.write(&mut w),
            Message::Response(r) => {
                w.array(2);
                w.uint(r.query_id as u64);
                w.array(r.announces.len());
                for a in &r.announces {
                    a.write_item(&mut w);
                }
            }
            Message::Reserve(sealed) | Message::Confirm(sealed) => w.bytes(sealed),
        }
        w.into_vec()
    }

    /// Decodes a payload. Any malformation is an error, never a panic.
    pub fn decode(payload: &[u8]) -> Result<Message, DecodeError> {
        let (&tag, body) = payload.split_first().ok_or(DecodeError::Empty)?;
        let mut r = Reader::new(body);
        let message = match tag {
            TAG_ANNOUNCE => Message::Announce(Box::new(SignedAnnounce::read_item(&mut r)?)),
            TAG_QUERY => Message::Query(SlotQuery::read(&mut r)?),
            TAG_RESPONSE => Message::Response(SlotResponse::read(&mut r)?),
            TAG_RESERVE => Message::Reserve(read_box(&mut r)?),
            TAG_CONFIRM => Message::Confirm(read_box(&mut r)?),
            other => return Err(DecodeError::UnknownTag(other)),
        };
        r.finish()?;
        Ok(message)
    }
}

/// Reads the head of a record of at least `fields` items; returns how many
/// extra (later-version) items follow the known ones.
fn record(r: &mut Reader<'_>, what: &'static str, fields: usize) -> Result<usize, DecodeError> {
    Ok(r.array(what, fields, fields + MAX_EXTRA)? - fields)
}

fn skip_extra(r: &mut Reader<'_>, extra: usize) -> Result<(), DecodeError> {
    (0..extra).try_for_each(|_| r.skip())
}

fn mask(r: &mut Reader<'_>, what: &'static str) -> Result<Mask, DecodeError> {
    Ok(Mask(r.u32(what)?))
}

fn read_box(r: &mut Reader<'_>) -> Result<Vec<u8>, DecodeError> {
    let sealed = r.bytes("sealed box", MAX_BOX)?;
    if sealed.len() < crypto::BOX_OVERHEAD {
        return Err(DecodeError::Invalid("sealed box shorter than its overhead"));
    }
    Ok(sealed.to_vec())
}

fn valid_plz(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl AnnounceBody {
    /// The CBOR encoding (the bytes that get signed).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(160);
        w.array(10);
        w.bytes(&self.therapist_key);
        w.uint(self.sequence);
        w.uint(self.expires);
        w.bytes(&self.approbation);
        w.uint(self.specialisms.0 as u64);
        w.uint(self.modalities.0 as u64);
        w.uint(self.payers.0 as u64);
        w.text(&self.plz);
        w.array(self.slots.len());
        for slot in &self.slots {
            w.array(3);
            w.uint(slot.start as u64);
            w.uint(slot.duration as u64);
            w.uint(slot.kind as u64);
        }
        w.opt_text(self.profile_url.as_deref());
        w.into_vec()
    }

    /// Decodes and checks a body.
    pub fn decode(bytes: &[u8]) -> Result<AnnounceBody, DecodeError> {
        let mut r = Reader::new(bytes);
        let extra = record(&mut r, "announce", 10)?;
        let therapist_key = r.fixed::<32>("therapist key")?;
        let sequence = r.uint("sequence", u64::MAX)?;
        let expires = r.uint("expires", u64::MAX)?;
        let approbation = r.fixed::<32>("approbation hash")?;
        let specialisms = mask(&mut r, "specialisms")?;
        let modalities = mask(&mut r, "modalities")?;
        let payers = mask(&mut r, "payers")?;
        let plz = r.text("plz", MAX_PLZ)?;
        if !valid_plz(plz) {
            return Err(DecodeError::Invalid("plz: letters and digits only"));
        }
        let count = r.array("slots", 0, MAX_SLOTS)?;
        let mut slots = Vec::with_capacity(count);
        for _ in 0..count {
            let slot_extra = record(&mut r, "slot", 3)?;
            let start = r.u32("slot start")?;
            let duration = r.uint("slot duration", MAX_DURATION as u64)? as u16;
            let kind = r.uint("slot type", MAX_CODE as u64)? as u8;
            skip_extra(&mut r, slot_extra)?;
            if duration == 0 {
                return Err(DecodeError::Invalid("slot duration 0"));
            }
            if slots.last().is_some_and(|prev: &Slot| prev.start >= start) {
                return Err(DecodeError::Invalid("slots must be ordered by strictly increasing start"));
            }
            slots.push(Slot { start, duration, kind });
        }
        let profile_url = r.opt_text("profile url", MAX_URL)?.map(str::to_string);
        skip_extra(&mut r, extra)?;
        r.finish()?;
        Ok(AnnounceBody {
            therapist_key,
            sequence,
            expires,
            approbation,
            specialisms,
            modalities,
            payers,
            plz: plz.to_string(),
            slots,
            profile_url,
        })
    }
}

impl SignedAnnounce {
    /// The bytes the therapist's node key signs for `body_bytes`.
    pub fn signing_input(body_bytes: &[u8]) -> Vec<u8> {
        let mut input = Vec::with_capacity(ANNOUNCE_CONTEXT.len() + body_bytes.len());
        input.extend_from_slice(ANNOUNCE_CONTEXT);
        input.extend_from_slice(body_bytes);
        input
    }

    /// Assembles an announce from signed bytes and their signature.
    pub fn from_parts(signed: Vec<u8>, signature: [u8; 64]) -> Result<SignedAnnounce, DecodeError> {
        let body = AnnounceBody::decode(&signed)?;
        let therapist = crypto::address_of(&body.therapist_key);
        Ok(SignedAnnounce { body, therapist, signed, signature })
    }

    /// Writes `[body bstr, signature bstr]` (the announce without its tag).
    pub fn write_item(&self, w: &mut Writer) {
        w.array(2);
        w.bytes(&self.signed);
        w.bytes(&self.signature);
    }

    /// The announce without its tag, as relays keep and return it.
    pub fn item(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(self.signed.len() + 72);
        self.write_item(&mut w);
        w.into_vec()
    }

    /// The full payload: tag 0x01 + item.
    pub fn to_payload(&self) -> Vec<u8> {
        Message::Announce(Box::new(self.clone())).encode()
    }

    /// Reads `[body bstr, signature bstr]`.
    pub fn read_item(r: &mut Reader<'_>) -> Result<SignedAnnounce, DecodeError> {
        let extra = record(r, "signed announce", 2)?;
        let signed = r.bytes("announce body", MAX_BODY)?.to_vec();
        let signature = r.fixed::<64>("signature")?;
        skip_extra(r, extra)?;
        SignedAnnounce::from_parts(signed, signature)
    }

    /// The slot starting at `start`, if offered.
    pub fn slot(&self, start: u32) -> Option<&Slot> {
        self.body.slots.iter().find(|s| s.start == start)
    }
}

impl Filter {
    /// The filter with `max_results` clamped to 1..=[`MAX_RESULTS`].
    pub fn clamped(mut self) -> Filter {
        self.max_results = self.max_results.clamp(1, MAX_RESULTS);
        self
    }
}

impl SlotQuery {
    fn write(&self, w: &mut Writer) {
        let f = &self.filter;
        w.array(9);
        w.uint(self.query_id as u64);
        w.uint(f.specialisms.0 as u64);
        w.uint(f.modalities.0 as u64);
        w.uint(f.payers.0 as u64);
        w.text(&f.plz_prefix);
        w.uint(f.from as u64);
        w.uint(f.to as u64);
        w.uint(f.slot_types.0 as u64);
        w.uint(f.max_results as u64);
    }

    fn read(r: &mut Reader<'_>) -> Result<SlotQuery, DecodeError> {
        let extra = record(r, "query", 9)?;
        let query_id = r.u32("query id")?;
        let specialisms = mask(r, "specialisms")?;
        let modalities = mask(r, "modalities")?;
        let payers = mask(r, "payers")?;
        let plz_prefix = r.text("plz prefix", MAX_PLZ)?;
        if !valid_plz(plz_prefix) {
            return Err(DecodeError::Invalid("plz prefix: letters and digits only"));
        }
        let from = r.u32("from")?;
        let to = r.u32("to")?;
        let slot_types = mask(r, "slot types")?;
        let max_results = r.uint("max results", MAX_RESULTS as u64)? as u8;
        if max_results == 0 {
            return Err(DecodeError::Invalid("max results 0"));
        }
        skip_extra(r, extra)?;
        let filter = Filter {
            specialisms,
            modalities,
            payers,
            plz_prefix: plz_prefix.to_string(),
            from,
            to,
            slot_types,
            max_results,
        };
        Ok(SlotQuery { query_id, filter })
    }
}

impl SlotResponse {
    fn read(r: &mut Reader<'_>) -> Result<SlotResponse, DecodeError> {
        let extra = record(r, "response", 2)?;
        let query_id = r.u32("query id")?;
        let count = r.array("announces", 0, MAX_RESPONSE_ANNOUNCES)?;
        let announces = (0..count).map(|_| SignedAnnounce::read_item(r)).collect::<Result<Vec<_>, _>>()?;
        skip_extra(r, extra)?;
        Ok(SlotResponse { query_id, announces })
    }
}

/// Encodes a response from announces already encoded as items (what a relay
/// keeps), without decoding them again.
pub fn encode_response(query_id: u32, items: &[&[u8]]) -> Vec<u8> {
    let size = 8 + items.iter().map(|i| i.len()).sum::<usize>();
    let mut w = Writer::with_capacity(size);
    w.raw(&[TAG_RESPONSE]);
    w.array(2);
    w.uint(query_id as u64);
    w.array(items.len());
    for item in items {
        w.raw(item);
    }
    w.into_vec()
}

/// Bytes [`encode_response`] adds around its items (for sizing responses).
pub fn response_overhead(items: usize) -> usize {
    // tag + array(2) + query id (up to 5) + array head (1 below 24 items).
    1 + 1 + 5 + if items < 24 { 1 } else { 2 }
}

impl ReservePlain {
    /// CBOR encoding (the plaintext that gets sealed).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(64);
        w.array(5);
        w.uint(self.reservation);
        w.uint(self.slot_start as u64);
        w.uint(self.sequence);
        w.bytes(&self.reply_key);
        w.opt_text(self.contact.as_deref());
        w.into_vec()
    }

    /// Decodes an opened reservation.
    pub fn decode(bytes: &[u8]) -> Result<ReservePlain, DecodeError> {
        let mut r = Reader::new(bytes);
        let extra = record(&mut r, "reservation", 5)?;
        let reservation = r.uint("reservation id", u64::MAX)?;
        let slot_start = r.u32("slot start")?;
        let sequence = r.uint("sequence", u64::MAX)?;
        let reply_key = r.fixed::<32>("reply key")?;
        let contact = r.opt_text("contact", MAX_CONTACT)?.map(str::to_string);
        skip_extra(&mut r, extra)?;
        r.finish()?;
        Ok(ReservePlain { reservation, slot_start, sequence, reply_key, contact })
    }
}

impl ConfirmPlain {
    /// CBOR encoding (the plaintext that gets sealed).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(48);
        w.array(4);
        w.uint(self.reservation);
        w.bool(self.accepted);
        w.uint(self.slot_start as u64);
        w.opt_text(self.note.as_deref());
        w.into_vec()
    }

    /// Decodes an opened confirmation.
    pub fn decode(bytes: &[u8]) -> Result<ConfirmPlain, DecodeError> {
        let mut r = Reader::new(bytes);
        let extra = record(&mut r, "confirmation", 4)?;
        let reservation = r.uint("reservation id", u64::MAX)?;
        let accepted = r.bool("accepted")?;
        let slot_start = r.u32("slot start")?;
        let note = r.opt_text("note", MAX_NOTE)?.map(str::to_string);
        skip_extra(&mut r, extra)?;
        r.finish()?;
        Ok(ConfirmPlain { reservation, accepted, slot_start, note })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A therapist body with `slots` first-consultation slots, 50 minutes each,
    /// one a day at 09:00 from 2026-06-01 (a typical profile: two
    /// specialisms, hybrid, two payers, five-digit PLZ, no profile URL).
    pub(crate) fn sample_body(slots: usize) -> AnnounceBody {
        let first = crate::time::parse_minutes("2026-06-01T09:00Z").unwrap();
        AnnounceBody {
            therapist_key: [7; 32],
            sequence: 1_780_000_000,
            expires: 1_780_086_400,
            approbation: [9; 32],
            specialisms: Mask(0b1_0001),
            modalities: Mask(0b11),
            payers: Mask(0b11),
            plz: "80331".into(),
            slots: (0..slots as u32).map(|i| Slot { start: first + i * 1440, duration: 50, kind: 0 }).collect(),
            profile_url: None,
        }
    }

    pub(crate) fn sample_announce(slots: usize) -> SignedAnnounce {
        SignedAnnounce::from_parts(sample_body(slots).encode(), [5; 64]).unwrap()
    }

    #[test]
    fn every_message_round_trips() {
        let announce = sample_announce(5);
        let query = SlotQuery {
            query_id: 0xdead_beef,
            filter: Filter {
                specialisms: Mask(1),
                plz_prefix: "80".into(),
                from: 5,
                to: 6,
                slot_types: Mask(1),
                max_results: 10,
                ..Filter::default()
            },
        };
        let messages = [
            Message::Announce(Box::new(announce.clone())),
            Message::Query(query),
            Message::Response(SlotResponse { query_id: 3, announces: vec![announce.clone(), announce] }),
            Message::Reserve(vec![1; 80]),
            Message::Confirm(vec![2; 60]),
        ];
        for m in messages {
            assert_eq!(Message::decode(&m.encode()), Ok(m.clone()), "{m:?}");
        }
        let reserve = ReservePlain {
            reservation: 9,
            slot_start: 100,
            sequence: 4,
            reply_key: [3; 32],
            contact: Some("x".into()),
        };
        assert_eq!(ReservePlain::decode(&reserve.encode()), Ok(reserve));
        let confirm = ConfirmPlain { reservation: 9, accepted: true, slot_start: 100, note: None };
        assert_eq!(ConfirmPlain::decode(&confirm.encode()), Ok(confirm));
    }

    #[test]
    fn encode_response_from_items_equals_the_typed_encoding() {
        let a = sample_announce(2);
        let typed = Message::Response(SlotResponse { query_id: 77, announces: vec![a.clone()] }).encode();
        assert_eq!(encode_response(77, &[&a.item()]), typed);
        assert!(response_overhead(1) >= typed.len() - a.item().len());
    }

    #[test]
    fn later_versions_may_append_fields() {
        // A query with one extra trailing item decodes; the item is skipped.
        let mut payload = Message::Query(SlotQuery { query_id: 1, filter: Filter::default().clamped() }).encode();
        payload[1] += 1; // array(9) -> array(10)
        payload.extend_from_slice(&[0x63, b'n', b'e', b'w']);
        assert!(matches!(Message::decode(&payload), Ok(Message::Query(_))));
    }

    #[test]
    fn semantic_rules_are_enforced() {
        let mut body = sample_body(2);
        body.slots.swap(0, 1);
        assert_eq!(
            AnnounceBody::decode(&body.encode()),
            Err(DecodeError::Invalid("slots must be ordered by strictly increasing start"))
        );
        let mut body = sample_body(1);
        body.plz = "80 331".into();
        assert!(AnnounceBody::decode(&body.encode()).is_err());
        let mut body = sample_body(1);
        body.slots[0].duration = 0;
        assert!(AnnounceBody::decode(&body.encode()).is_err());
        let too_many = sample_body(MAX_SLOTS + 1);
        assert!(matches!(AnnounceBody::decode(&too_many.encode()), Err(DecodeError::TooLarge { what: "slots", .. })));
        let zero = Message::Query(SlotQuery { query_id: 1, filter: Filter::default() }).encode();
        assert_eq!(Message::decode(&zero), Err(DecodeError::Invalid("max results 0")));
    }
}
