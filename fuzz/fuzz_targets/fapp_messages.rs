//! FAPP payloads (`weft_plugin_fapp::messages`): `Message::decode` on what
//! floods and returns carry, and the decoders of what a sealed box opens to
//! (`ReservePlain::decode`, `ConfirmPlain::decode`) and of a signed announce
//! body (`AnnounceBody::decode`).
//!
//! Input: a first byte below 0x10 is `Message::decode`'s tag byte (the
//! whole input is the payload); any other picks one of the other three
//! decoders (by `% 3`), which take the rest.
//!
//! Properties: no panic; a decoded value encodes to bytes that decode to
//! the same value; the encoding is never longer than the input (integers
//! and lengths must be in shortest form, docs/fapp.md; only items of later
//! versions, which are skipped, make an input longer); a signed announce
//! keeps its body bytes exactly as received.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_plugin_fapp::messages::{AnnounceBody, ConfirmPlain, Message, ReservePlain};

fn not_longer(encoded: &[u8], input: &[u8]) {
    assert!(encoded.len() <= input.len(), "{input:02x?} re-encodes longer: {encoded:02x?}");
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    match if which < 0x10 { 3 } else { which % 3 } {
        3 => {
            let Ok(message) = Message::decode(data) else { return };
            let encoded = message.encode();
            assert_eq!(Message::decode(&encoded).as_ref(), Ok(&message));
            not_longer(&encoded, data);
            let announces = match &message {
                Message::Announce(a) => std::slice::from_ref(&**a),
                Message::Response(r) => &r.announces[..],
                _ => &[],
            };
            for a in announces {
                assert_eq!(AnnounceBody::decode(&a.signed).as_ref(), Ok(&a.body));
            }
        }
        0 => {
            if let Ok(body) = AnnounceBody::decode(rest) {
                let encoded = body.encode();
                assert_eq!(AnnounceBody::decode(&encoded).as_ref(), Ok(&body));
                not_longer(&encoded, rest);
            }
        }
        1 => {
            if let Ok(reserve) = ReservePlain::decode(rest) {
                let encoded = reserve.encode();
                assert_eq!(ReservePlain::decode(&encoded).as_ref(), Ok(&reserve));
                not_longer(&encoded, rest);
            }
        }
        _ => {
            if let Ok(confirm) = ConfirmPlain::decode(rest) {
                let encoded = confirm.encode();
                assert_eq!(ConfirmPlain::decode(&encoded).as_ref(), Ok(&confirm));
                not_longer(&encoded, rest);
            }
        }
    }
});
