//! The plugin's settings, from the `[plugins.config]` table of the node config.
//!
//! Owns: [`Config`] and its sections, their defaults and checks, and
//! [`SlotSpec`], the human form of a slot shared with the `publish` command.
//! Unknown keys are errors, like everywhere in Weft.
//!
//! ```toml
//! [plugins.config]
//! roles = ["therapist", "relay"]    # any of therapist, relay, patient
//! hops = 8                          # hop limit of announces, queries, reservations
//!
//! [plugins.config.therapist]
//! specialisms = ["verhaltenstherapie", "trauma"]
//! modalities = ["hybrid"]
//! payers = ["gkv", "pkv"]
//! plz = "80331"
//! approbation = "BY-PP-2019-04711"  # licence id; only its SHA-256 is sent
//! confirm = "auto"                  # or "manual": the operator accepts/declines
//! slots = [{ start = "2026-06-01T09:00Z", duration = 50, type = "erstgespraech" }]
//! ```

use crate::domain::{Fachrichtung, Kostentraeger, Mask, SlotType, Vocabulary, parse_modalities};
use crate::messages::{MAX_DURATION, MAX_PLZ, MAX_SLOTS, MAX_URL, Slot};
use crate::store::Limits;
use serde::Deserialize;

/// What this node does in FAPP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Publishes its own slots and answers reservations.
    Therapist,
    /// Stores announces and answers queries from its store.
    Relay,
    /// Queries and reserves.
    Patient,
}

/// How a therapist answers reservations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfirmMode {
    /// Accept a reservation for a slot still offered, decline otherwise.
    #[default]
    Auto,
    /// Hold reservations until the operator runs `accept` or `decline`
    /// (within `manual_timeout_s`, after which they are declined).
    Manual,
}

/// A slot as people write it (config, `publish` arguments).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotSpec {
    /// `YYYY-MM-DDTHH:MMZ` (or with a `+HH:MM` offset).
    pub start: String,
    /// Minutes.
    #[serde(default = "default_duration")]
    pub duration: u16,
    /// Slot type name (default first consultation).
    #[serde(default = "default_slot_type", rename = "type")]
    pub kind: String,
}

fn default_duration() -> u16 {
    50
}

fn default_slot_type() -> String {
    "erstgespraech".into()
}

impl SlotSpec {
    /// The wire slot.
    pub fn to_slot(&self) -> Result<Slot, String> {
        let start = crate::time::parse_minutes(&self.start)?;
        if self.duration == 0 || self.duration > MAX_DURATION {
            return Err(format!("slot {}: duration must be 1..={MAX_DURATION} minutes", self.start));
        }
        Ok(Slot { start, duration: self.duration, kind: SlotType::parse(&self.kind)?.code() })
    }
}

/// Turns slot specs into the ordered, duplicate-free list an announce carries.
pub fn slots_from_specs(specs: &[SlotSpec]) -> Result<Vec<Slot>, String> {
    if specs.len() > MAX_SLOTS {
        return Err(format!("{} slots; an announce carries at most {MAX_SLOTS}", specs.len()));
    }
    let mut slots = specs.iter().map(SlotSpec::to_slot).collect::<Result<Vec<_>, _>>()?;
    slots.sort_by_key(|s| s.start);
    if let Some(pair) = slots.windows(2).find(|w| w[0].start == w[1].start) {
        return Err(format!("two slots start at {}", crate::time::format_minutes(pair[0].start)));
    }
    Ok(slots)
}

/// `[plugins.config.therapist]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TherapistConfig {
    /// Fachrichtung names.
    pub specialisms: Vec<String>,
    /// Modalität names (`hybrid` = praxis + video).
    pub modalities: Vec<String>,
    /// Kostenträger names.
    pub payers: Vec<String>,
    /// Postal code of the practice.
    pub plz: String,
    /// The licence (Approbation) identifier; only its SHA-256 leaves the node.
    pub approbation: String,
    /// Optional profile page.
    #[serde(default)]
    pub profile_url: Option<String>,
    /// Auto or manual confirmation.
    #[serde(default)]
    pub confirm: ConfirmMode,
    /// Announce lifetime in seconds (relays drop it after).
    #[serde(default = "default_ttl")]
    pub ttl_s: u64,
    /// Re-sign and re-flood the current slots this often, in seconds.
    #[serde(default = "default_republish")]
    pub republish_s: u64,
    /// Manual mode: seconds a reservation may wait for the operator. The
    /// way back to the patient is kept by the mesh for two minutes.
    #[serde(default = "default_manual_timeout")]
    pub manual_timeout_s: u64,
    /// Reservations anyone may hold or have waiting under one reply key.
    #[serde(default = "default_per_key")]
    pub reservations_per_key: usize,
    /// Auto mode: reservations accepted at once per rolling hour; more wait
    /// for the operator (as in manual mode), so an anonymous sender with
    /// many keys cannot book every slot.
    #[serde(default = "default_auto_per_hour")]
    pub auto_accepts_per_hour: usize,
    /// Reservations waiting for the operator, at most (newer ones are declined).
    #[serde(default = "default_max_pending")]
    pub max_pending: usize,
    /// Reservations waiting for one slot, at most (newer ones are declined).
    #[serde(default = "default_max_pending_per_slot")]
    pub max_pending_per_slot: usize,
    /// Slots to publish at start when none were published before.
    #[serde(default)]
    pub slots: Vec<SlotSpec>,
}

fn default_ttl() -> u64 {
    24 * 3600
}
fn default_republish() -> u64 {
    6 * 3600
}
fn default_manual_timeout() -> u64 {
    100
}
fn default_per_key() -> usize {
    1
}
fn default_auto_per_hour() -> usize {
    6
}
fn default_max_pending() -> usize {
    32
}
fn default_max_pending_per_slot() -> usize {
    3
}

/// The therapist's profile in wire form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Specialism set.
    pub specialisms: Mask,
    /// Modality set.
    pub modalities: Mask,
    /// Payer set.
    pub payers: Mask,
    /// Postal code.
    pub plz: String,
    /// SHA-256 of the licence id.
    pub approbation: [u8; 32],
    /// Profile page.
    pub profile_url: Option<String>,
}

impl TherapistConfig {
    /// Checks the section and builds the wire profile.
    pub fn profile(&self) -> Result<Profile, String> {
        let specialisms = Fachrichtung::parse_set(&self.specialisms)?;
        let modalities = parse_modalities(&self.modalities)?;
        let payers = Kostentraeger::parse_set(&self.payers)?;
        if specialisms.is_empty() || modalities.is_empty() || payers.is_empty() {
            return Err("therapist: specialisms, modalities and payers must each name at least one".into());
        }
        if self.plz.is_empty() || self.plz.len() > MAX_PLZ || !self.plz.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(format!("therapist.plz {:?}: 1 to {MAX_PLZ} letters or digits", self.plz));
        }
        if self.approbation.trim().is_empty() {
            return Err("therapist.approbation must not be empty".into());
        }
        if let Some(url) = &self.profile_url
            && (url.len() > MAX_URL || !url.starts_with("https://"))
        {
            return Err(format!("therapist.profile_url: an https:// URL of at most {MAX_URL} bytes"));
        }
        if self.reservations_per_key == 0 || self.max_pending_per_slot == 0 {
            return Err("therapist: reservations_per_key and max_pending_per_slot must be at least 1".into());
        }
        if self.max_pending > 10_000 || self.auto_accepts_per_hour > 10_000 {
            return Err("therapist: max_pending and auto_accepts_per_hour must be at most 10000".into());
        }
        if self.ttl_s < 60 || self.republish_s < 60 || self.republish_s >= self.ttl_s {
            return Err("therapist: need 60 <= republish_s < ttl_s".into());
        }
        Ok(Profile {
            specialisms,
            modalities,
            payers,
            plz: self.plz.clone(),
            approbation: crate::crypto::sha256(self.approbation.trim().as_bytes()),
            profile_url: self.profile_url.clone(),
        })
    }
}

/// `[plugins.config.relay]`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelayConfig {
    /// Most announces stored.
    pub capacity: usize,
    /// Longest an announce is kept, in seconds.
    pub max_ttl_s: u64,
    /// Largest response payload; more results go in further responses.
    pub max_response_bytes: usize,
}

impl Default for RelayConfig {
    fn default() -> Self {
        let limits = Limits::default();
        RelayConfig { capacity: limits.capacity, max_ttl_s: limits.max_ttl_s, max_response_bytes: 1000 }
    }
}

/// `[plugins.config.patient]`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PatientConfig {
    /// How long `query` collects responses, in milliseconds.
    pub query_wait_ms: u64,
    /// How long `reserve` waits for the confirmation, in milliseconds
    /// (`"wait_ms"` in the command overrides it; 0 returns at once).
    pub reserve_wait_ms: u64,
}

impl Default for PatientConfig {
    fn default() -> Self {
        PatientConfig { query_wait_ms: 1500, reserve_wait_ms: 5000 }
    }
}

/// The whole `[plugins.config]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Roles this node holds.
    pub roles: Vec<Role>,
    /// Hop limit of everything FAPP floods.
    pub hops: u8,
    /// Therapist settings (required with the therapist role).
    pub therapist: Option<TherapistConfig>,
    /// Relay settings.
    pub relay: RelayConfig,
    /// Patient settings.
    pub patient: PatientConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            roles: vec![Role::Relay],
            hops: 8,
            therapist: None,
            relay: RelayConfig::default(),
            patient: PatientConfig::default(),
        }
    }
}

impl Config {
    /// Whether the node holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Checks the cross-field rules.
    pub fn check(&self) -> Result<(), String> {
        if self.roles.is_empty() {
            return Err("roles: name at least one of therapist, relay, patient".into());
        }
        if self.hops == 0 {
            return Err("hops must be at least 1".into());
        }
        if self.has(Role::Therapist) != self.therapist.is_some() {
            return Err("the therapist role and the [plugins.config.therapist] section go together".into());
        }
        if self.relay.capacity == 0 || self.relay.max_response_bytes < 300 {
            return Err("relay: capacity >= 1 and max_response_bytes >= 300".into());
        }
        Ok(())
    }

    /// The relay store's limits.
    pub fn limits(&self) -> Limits {
        Limits { capacity: self.relay.capacity, max_ttl_s: self.relay.max_ttl_s }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_specs_are_ordered_and_checked() {
        let spec = |start: &str, kind: &str| SlotSpec { start: start.into(), duration: 50, kind: kind.into() };
        let slots = slots_from_specs(&[spec("2026-06-02T09:00Z", "therapie"), spec("2026-06-01T09:00Z", "akut")]);
        let slots = slots.unwrap();
        assert!(slots[0].start < slots[1].start && slots[0].kind == SlotType::Akut.code());
        assert!(slots_from_specs(&[spec("2026-06-01T09:00Z", "x")]).unwrap_err().contains("slot type"));
        let twice = slots_from_specs(&[spec("2026-06-01T09:00Z", "akut"), spec("2026-06-01T11:00+02:00", "akut")]);
        assert!(twice.unwrap_err().contains("two slots start at 2026-06-01T09:00Z"));
    }
}
