//! Rough per-step cost of the CBOR codec on the dispatch hot path.
//! `cargo run --release -p weft-plugin-api --example codec_cost`
use std::time::Instant;
use weft_plugin_api::actions::*;
use weft_plugin_api::internal::*;
use weft_plugin_api::*;

fn time<F: FnMut()>(name: &str, mut f: F) {
    // The best of 15 batches: the machine is shared, and the minimum is the
    // figure least disturbed by other processes.
    let n = 20_000;
    for _ in 0..10_000 {
        f();
    }
    let mut best = f64::MAX;
    for _ in 0..15 {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        best = best.min(t.elapsed().as_nanos() as f64 / n as f64);
    }
    println!("{name:<28} {best:>7.0} ns");
}

fn main() {
    let event =
        Event::Message(Message { id: 1, from: None, port: 7, payload: vec![0xab; 100], reply_to: None, sealed: false });
    let mut call = Vec::new();
    Call::encode_event(&event, &mut call).unwrap();
    let outcome =
        Outcome { actions: vec![Action::Reply(Reply { message: 1, payload: vec![0xab; 100] })], ..Default::default() };
    let out = codec::encode(&outcome).unwrap();
    let mut buf = Vec::with_capacity(256);
    time("encode event call", || {
        buf.clear();
        Call::encode_event(std::hint::black_box(&event), &mut buf).unwrap();
    });
    time("decode call", || {
        std::hint::black_box(codec::decode::<Call>(&call).unwrap());
    });
    time("Call::decode (hot path)", || {
        std::hint::black_box(Call::decode(&call).unwrap());
    });
    time("encode outcome", || {
        buf.clear();
        codec::encode_into(std::hint::black_box(&outcome), &mut buf).unwrap();
    });
    time("decode outcome", || {
        std::hint::black_box(codec::decode::<Outcome>(&out).unwrap());
    });
    time("Outcome::encode_into (hot)", || {
        buf.clear();
        std::hint::black_box(&outcome).encode_into(&mut buf).unwrap();
    });
    time("Outcome::decode (hot path)", || {
        std::hint::black_box(Outcome::decode(&out).unwrap());
    });
    println!("call {} bytes, outcome {} bytes", call.len(), out.len());
    extra();
}

#[allow(dead_code)]
fn extra() {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct OnlyBytes {
        #[serde(with = "serde_bytes")]
        p: Vec<u8>,
    }
    #[derive(serde::Serialize, serde::Deserialize)]
    struct OnlyInts {
        a: u64,
        b: u16,
    }
    let b = codec::encode(&OnlyBytes { p: vec![1; 100] }).unwrap();
    time("decode bytes-only struct", || {
        std::hint::black_box(codec::decode::<OnlyBytes>(&b).unwrap());
    });
    let i = codec::encode(&OnlyInts { a: 1, b: 7 }).unwrap();
    time("decode ints-only struct", || {
        std::hint::black_box(codec::decode::<OnlyInts>(&i).unwrap());
    });
    let m =
        codec::encode(&Message { id: 1, from: None, port: 7, payload: vec![0xab; 100], reply_to: None, sealed: false })
            .unwrap();
    time("decode Message", || {
        std::hint::black_box(codec::decode::<Message>(&m).unwrap());
    });
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Tuple(u64, Option<[u8; 0]>, u16, #[serde(with = "serde_bytes")] Vec<u8>);
    let t = codec::encode(&Tuple(1, None, 7, vec![0xab; 100])).unwrap();
    time("decode Message as array", || {
        std::hint::black_box(codec::decode::<Tuple>(&t).unwrap());
    });
    let n = codec::encode(&7u32).unwrap();
    time("decode u32", || {
        std::hint::black_box(codec::decode::<u32>(&n).unwrap());
    });
}
