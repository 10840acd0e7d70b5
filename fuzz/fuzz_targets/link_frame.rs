//! QUIC link frames (`weft_host::link::frame`): `LinkFrame::decode` on one
//! frame, and `FrameReader` splitting a stream of length-prefixed frames fed
//! in arbitrary chunks.
//!
//! Input: byte 0 picks the maximum frame size of the reader, byte 1 the
//! chunk size the stream is fed in, the rest is the stream (and, whole, one
//! frame for `LinkFrame::decode`).
//!
//! Properties: no panic; a decoded frame re-encodes to bytes that decode to
//! the same frame (equal to the input unless a varint was overlong); every
//! frame the reader yields is within the limit; the reader yields the same
//! items whatever the chunking, and the same as one `push` of everything.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_host::link::frame::{FrameReader, LinkFrame, ReadItem};

fn check_frame(bytes: &[u8]) {
    let Ok(frame) = LinkFrame::decode(bytes) else { return };
    let encoded = frame.encode();
    assert!(encoded.len() <= frame.size_bound(), "size_bound too small for {frame:?}");
    assert_eq!(LinkFrame::decode(&encoded).as_ref(), Ok(&frame));
    if encoded != bytes {
        assert!(encoded.len() < bytes.len(), "{bytes:02x?} re-encodes longer: {encoded:02x?}");
    }
}

#[derive(Debug, PartialEq)]
enum Item {
    Frame(Vec<u8>),
    Oversize(u64),
    BadPrefix,
}

fn split(stream: &[u8], max_frame: usize, chunk: usize) -> Vec<Item> {
    let mut reader = FrameReader::new(max_frame);
    let mut items = Vec::new();
    for piece in stream.chunks(chunk.max(1)) {
        reader.push(piece);
        while let Some(item) = reader.next_item() {
            items.push(match item {
                ReadItem::Frame(body) => {
                    assert!(body.len() <= max_frame, "a frame of {} bytes past the limit {max_frame}", body.len());
                    check_frame(body);
                    Item::Frame(body.to_vec())
                }
                ReadItem::Oversize(len) => {
                    assert!(len > max_frame as u64);
                    Item::Oversize(len)
                }
                ReadItem::BadPrefix => Item::BadPrefix,
            });
            if matches!(items.last(), Some(Item::BadPrefix)) {
                // The connection is closed on a bad prefix: nothing after it counts.
                return items;
            }
        }
    }
    items
}

fuzz_target!(|data: &[u8]| {
    check_frame(data);
    let [limit, chunk, stream @ ..] = data else { return };
    let max_frame = usize::from(*limit) * 8;
    let whole = split(stream, max_frame, stream.len());
    let chunked = split(stream, max_frame, usize::from(*chunk % 32) + 1);
    assert_eq!(whole, chunked, "chunking changed what the reader saw");
});
