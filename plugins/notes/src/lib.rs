//! `notes`: a mesh notice board, the worked example of a request/response
//! service with persistent state (docs/writing-a-service.md walks through it).
//!
//! Each node posts short notes, signed by its node key and stored under
//! `note/<author>/<sequence>`. `weft ctl call notes read '{"from": ADDRESS}'`
//! asks that node's `notes` for its notes; the answer's notes are checked
//! against the author's key (known from its announce) and kept only if the
//! signature holds, so a relay cannot forge or alter one.

use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use weft_plugin_api::prelude::*;

/// The service port.
pub const PORT: u16 = 71;
const PAGE: u32 = 64;

/// One note: its author, the author's sequence number, the text, and the
/// author's signature over `(author, seq, text)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub author: Address,
    pub seq: u64,
    pub text: String,
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
}

impl Note {
    fn signed_bytes(author: Address, seq: u64, text: &str) -> Vec<u8> {
        cbor::to_vec(&(author, seq, text)).unwrap_or_default()
    }
    fn key(&self) -> Vec<u8> {
        format!("note/{}/{:020}", self.author, self.seq).into_bytes()
    }
}

#[derive(Deserialize)]
struct Post {
    text: String,
}

#[derive(Deserialize)]
struct Read {
    from: Address,
}

/// The service: which command waits for which node's notes.
#[derive(Default)]
pub struct Notes {
    next_seq: u64,
    waiting: BTreeMap<u64, u64>, // request tag -> command id
    next_tag: u64,
}

impl Service for Notes {
    const MANIFEST: ManifestDef = ManifestDef {
        name: "notes",
        version: env!("CARGO_PKG_VERSION"),
        description: "a mesh notice board of signed notes",
        ports: &[PORT],
        permissions: &[Permission::Send, Permission::Storage, Permission::Sign],
        commands: &[
            CommandDef { name: "post", help: "{\"text\": TEXT}: sign and keep a note" },
            CommandDef { name: "read", help: "{\"from\": ADDRESS}: fetch and verify that node's notes" },
            CommandDef { name: "list", help: "every note kept here, as JSON" },
        ],
    };

    fn init(ctx: &mut ServiceCtx<'_>, _init: InitArgs) -> Result<Self, String> {
        let own = ctx.own_address().map_err(|e| e.to_string())?;
        let mine = ctx.kv_keys(format!("note/{own}/").as_bytes(), None, u32::MAX).map_err(|e| e.to_string())?;
        Ok(Notes { next_seq: mine.len() as u64, ..Notes::default() })
    }

    fn on_message(&mut self, ctx: &mut ServiceCtx<'_>, message: Message) {
        match message.reply_to {
            // A request: answer with this node's own notes.
            None => match ctx.own_address().and_then(|own| load(ctx, &format!("note/{own}/"))) {
                Ok(notes) => ctx.reply(&message, cbor::to_vec(&notes).unwrap_or_default()),
                Err(e) => ctx.log(LogLevel::Warn, format!("cannot list notes: {e}")),
            },
            // An answer to `read`: keep what verifies.
            Some(tag) => {
                let Some(command) = self.waiting.remove(&tag) else { return };
                let notes: Vec<Note> = cbor::from_slice(&message.payload).unwrap_or_default();
                let (mut kept, mut refused) = (0, 0);
                for note in notes {
                    if message.from == Some(note.author) && verified(ctx, &note) {
                        ctx.store(note.key(), cbor::to_vec(&note).unwrap_or_default());
                        kept += 1;
                    } else {
                        refused += 1;
                    }
                }
                ctx.command_reply(command, true, format!("{{\"kept\": {kept}, \"refused\": {refused}}}"));
            }
        }
    }

    fn on_command(&mut self, ctx: &mut ServiceCtx<'_>, command: Command) {
        let answer = match command.name.as_str() {
            "post" => command.args_as::<Post>().map_err(|e| e.to_string()).and_then(|post| self.post(ctx, post.text)),
            "read" => match command.args_as::<Read>() {
                Ok(read) => {
                    self.next_tag += 1;
                    self.waiting.insert(self.next_tag, command.id);
                    // Answered when the notes arrive, or when the send is refused.
                    return ctx.request(read.from, PORT, Vec::new(), self.next_tag);
                }
                Err(e) => Err(e.to_string()),
            },
            "list" => load(ctx, "note/").map_err(|e| e.to_string()).map(|notes| {
                let rows: Vec<_> =
                    notes.iter().map(|n| json!({ "author": n.author, "seq": n.seq, "text": n.text })).collect();
                json!(rows).to_string()
            }),
            other => Err(format!("unknown command {other:?}")),
        };
        match answer {
            Ok(body) => ctx.command_reply(command.id, true, body),
            Err(e) => ctx.command_reply(command.id, false, e),
        }
    }

    fn on_action_refused(&mut self, ctx: &mut ServiceCtx<'_>, refused: ActionRefused) {
        if let Some(command) = self.waiting.remove(&refused.tag) {
            ctx.command_reply(command, false, format!("not sent: {}", refused.reason));
        }
    }
}

impl Notes {
    fn post(&mut self, ctx: &mut ServiceCtx<'_>, text: String) -> Result<String, String> {
        let author = ctx.own_address().map_err(|e| e.to_string())?;
        let seq = self.next_seq;
        let signature = ctx.sign(&Note::signed_bytes(author, seq, &text)).map_err(|e| e.to_string())?;
        let note = Note { author, seq, text, signature };
        ctx.store(note.key(), cbor::to_vec(&note).map_err(|e| e.to_string())?);
        self.next_seq += 1;
        Ok(format!("{{\"seq\": {seq}}}"))
    }
}

/// Whether the note's signature holds under its author's known key.
fn verified(ctx: &mut ServiceCtx<'_>, note: &Note) -> bool {
    let Ok(Some(key)) = ctx.known_key(note.author) else { return false };
    let bytes = Note::signed_bytes(note.author, note.seq, &note.text);
    ctx.verify(&key, &bytes, &note.signature).unwrap_or(false)
}

/// Every note under `prefix`, in key order, a page at a time.
fn load(ctx: &mut ServiceCtx<'_>, prefix: &str) -> Result<Vec<Note>, HostError> {
    let (mut notes, mut after) = (Vec::new(), None::<Vec<u8>>);
    loop {
        let keys = ctx.kv_keys(prefix.as_bytes(), after.as_deref(), PAGE)?;
        for key in &keys {
            if let Some(note) = ctx.kv_get(key)?.and_then(|bytes| cbor::from_slice(&bytes).ok()) {
                notes.push(note);
            }
        }
        match keys.last() {
            Some(last) if keys.len() == PAGE as usize => after = Some(last.clone()),
            _ => return Ok(notes),
        }
    }
}

export_service!(Notes);

#[cfg(test)]
mod tests;
