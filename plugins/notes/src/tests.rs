//! Two nodes' `notes` services, each on a `TestHost` with real node keys,
//! messages carried between them by hand.

use super::*;
use weft_plugin_api::actions::{CommandReply, Reply, Send};
use weft_plugin_api::testing::{KeyDirectory, ServiceHarness, TestHost};
use weft_plugin_api::{Action, Event};

fn node(seed: u8, keys: &KeyDirectory) -> (ServiceHarness<Notes>, Address) {
    let host = TestHost::node([seed; 32], "notes", keys);
    let address = host.address;
    (ServiceHarness::init(host, &(), None).unwrap().0, address)
}

fn command(h: &mut ServiceHarness<Notes>, id: u64, name: &str, args: &str) -> Vec<Action> {
    h.event(Event::Command(Command { id, name: name.into(), args: args.into() })).unwrap()
}

/// The command's answer (the last action; stores come before it).
fn answer(actions: &[Action]) -> (bool, String) {
    match actions.last() {
        Some(Action::CommandReply(CommandReply { ok, body, .. })) => (*ok, body.clone()),
        _ => panic!("expected a command reply last, got {actions:?}"),
    }
}

fn message(id: u64, from: Address, payload: Vec<u8>, reply_to: Option<u64>) -> Event {
    Event::Message(Message { id, from: Some(from), port: PORT, payload, reply_to, sealed: false })
}

/// B reads A's notes: B's request, A's reply, B's verdict.
fn read(a: &mut ServiceHarness<Notes>, b: &mut ServiceHarness<Notes>, from: Address, to: Address) -> Vec<Action> {
    let sent = command(b, 10, "read", &format!("{{\"from\": \"{from}\"}}"));
    let [Action::Send(Send { to: asked, tag, .. })] = &sent[..] else { panic!("{sent:?}") };
    assert_eq!(*asked, from);
    let replied = a.event(message(1, to, vec![], None)).unwrap();
    let [Action::Reply(Reply { payload, .. })] = &replied[..] else { panic!("{replied:?}") };
    b.event(message(2, from, payload.clone(), Some(*tag))).unwrap()
}

#[test]
fn notes_are_signed_kept_read_across_nodes_and_verified() {
    let keys = KeyDirectory::new();
    let (mut a, a_address) = node(1, &keys);
    let (mut b, b_address) = node(2, &keys);
    assert_eq!(answer(&command(&mut a, 1, "post", "{\"text\": \"bread at 9\"}")), (true, "{\"seq\": 0}".into()));
    assert_eq!(answer(&command(&mut a, 2, "post", "{\"text\": \"choir at 7\"}")), (true, "{\"seq\": 1}".into()));

    let verdict = read(&mut a, &mut b, a_address, b_address);
    let stored = verdict.iter().filter(|a| matches!(a, Action::Store(_))).count();
    assert_eq!((stored, answer(&verdict)), (2, (true, "{\"kept\": 2, \"refused\": 0}".into())));
    let (_, list) = answer(&command(&mut b, 3, "list", ""));
    assert!(list.contains("bread at 9") && list.contains("choir at 7"), "{list}");

    // A restarted A continues its sequence from storage.
    let (state, _) = a.shutdown(ShutdownReason::Stop).unwrap();
    let host = std::mem::take(&mut a.host);
    let (mut a, _) = ServiceHarness::<Notes>::init(host, &(), Some(state)).unwrap();
    assert_eq!(answer(&command(&mut a, 4, "post", "{\"text\": \"third\"}")), (true, "{\"seq\": 2}".into()));
}

#[test]
fn an_altered_or_misattributed_note_is_refused() {
    let keys = KeyDirectory::new();
    let (mut a, a_address) = node(1, &keys);
    let (mut b, b_address) = node(2, &keys);
    command(&mut a, 1, "post", "{\"text\": \"meet at noon\"}");
    let sent = command(&mut b, 10, "read", &format!("{{\"from\": \"{a_address}\"}}"));
    let [Action::Send(Send { tag, .. })] = &sent[..] else { panic!() };
    let replied = a.event(message(1, b_address, vec![], None)).unwrap();
    let [Action::Reply(Reply { payload, .. })] = &replied[..] else { panic!() };
    let mut notes: Vec<Note> = cbor::from_slice(payload).unwrap();
    notes[0].text = "meet at midnight".into(); // a relay's edit
    let forged = cbor::to_vec(&notes).unwrap();
    let verdict = b.event(message(2, a_address, forged, Some(*tag))).unwrap();
    assert_eq!(answer(&verdict), (true, "{\"kept\": 0, \"refused\": 1}".into()));
    assert!(b.host.kv.is_empty(), "nothing stored");
}
