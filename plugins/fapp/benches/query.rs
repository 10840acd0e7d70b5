//! "A relay answers a query over 10,000 stored announces in <= 1 ms."
//!
//! Run: `cargo xtask plugins && cargo bench -p weft-plugin-fapp --bench query`.
//!
//! A relay holds 10,000 verified announces from 10,000 therapists (five
//! slots each; specialisms, modalities, payers, postal codes and slot times
//! spread evenly). Measured, for two queries:
//! - `typical`: one specialism, a two-digit postal-code prefix, from now, 10
//!   results (27 of the 10,000 match);
//! - `match_all`: no filter at all, 10 results (every entry matches and the
//!   ten earliest must be picked): the worst case for the scan.
//!
//! Four ways: the store's scan alone; the whole plugin call in process
//! (`ServiceHarness`: the query message decoded from CBOR, matched, the
//! responses encoded and returned as actions); and the same call through the
//! host's native and wasm bindings (`weft-host`'s plugin runtime, exactly as
//! `weft run` calls the plugin, ABI crossing included).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use weft_core::crypto::NodeIdentity;
use weft_host::kv::MemoryKv;
use weft_host::plugin::{Binding, Grants, HostServices, Limits, PluginRuntime, RuntimeOptions};
use weft_plugin_api::host_call::HostReply;
use weft_plugin_api::internal::codec;
use weft_plugin_api::testing::{ServiceHarness, TestHost};
use weft_plugin_api::{Event, InitArgs, Message, Permission};
use weft_plugin_fapp::Fapp;
use weft_plugin_fapp::domain::Mask;
use weft_plugin_fapp::messages::{self, AnnounceBody, Filter, SignedAnnounce, Slot, SlotQuery};
use weft_plugin_fapp::store::{Limits as StoreLimits, Store};

const ANNOUNCES: usize = 10_000;

fn now_s() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// 10,000 announces, each signed by its own node key.
fn announces(now_s: u64) -> Vec<SignedAnnounce> {
    let first_minute = (now_s / 60 + 24 * 60) as u32; // slots from tomorrow
    (0..ANNOUNCES)
        .map(|i| {
            let mut secret = [7u8; 32];
            secret[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let identity = NodeIdentity::from_secret(secret);
            let slots = (0..5u32)
                .map(|k| Slot {
                    start: first_minute + ((i as u32 % 30) + 3 * k) * 1440 + (i as u32 % 10) * 60,
                    duration: 50,
                    kind: (i % 5) as u8,
                })
                .collect();
            let body = AnnounceBody {
                therapist_key: identity.public_key().to_bytes(),
                sequence: now_s,
                expires: now_s + 86_400,
                approbation: [i as u8; 32],
                specialisms: Mask(1 << (i % 8) | 1 << ((i / 8) % 8)),
                modalities: Mask(1 + (i % 7) as u32),
                payers: Mask(1 + ((i / 7) % 7) as u32),
                plz: format!("{:05}", (i * 7919) % 100_000),
                slots,
                profile_url: None,
            };
            let signed = body.encode();
            let signature = identity.sign_for_plugin("fapp", &SignedAnnounce::signing_input(&signed)).to_bytes();
            SignedAnnounce::from_parts(signed, signature).expect("valid announce")
        })
        .collect()
}

fn queries() -> [(&'static str, Filter); 2] {
    let typical = Filter { specialisms: Mask(1), plz_prefix: "80".into(), max_results: 10, ..Filter::default() };
    let all = Filter { max_results: 10, ..Filter::default() };
    [("typical", typical), ("match_all", all)]
}

fn query_message(id: u64, filter: &Filter) -> Event {
    let payload = messages::Message::Query(SlotQuery { query_id: 7, filter: filter.clone() }).encode();
    Event::Message(Message { id, from: None, port: messages::PORT, payload, reply_to: None, sealed: false })
}

fn announce_message(id: u64, a: &SignedAnnounce) -> Event {
    Event::Message(Message {
        id,
        from: None,
        port: messages::PORT,
        payload: a.to_payload(),
        reply_to: None,
        sealed: false,
    })
}

fn relay_config() -> Vec<u8> {
    codec::encode(&serde_json::json!({ "roles": ["relay"] })).expect("config")
}

fn plugin(binding: Binding) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/plugins");
    let path = match binding {
        Binding::Wasm => dir.join("wasm/fapp.wasm"),
        Binding::Native => dir.join(format!("native/fapp.{}", std::env::consts::DLL_EXTENSION)),
    };
    assert!(path.exists(), "{} missing: run `cargo xtask plugins`", path.display());
    path
}

fn bench_query(c: &mut Criterion) {
    let now = now_s();
    let announces = announces(now);
    let mut group = c.benchmark_group("relay_query_10k_announces");

    // The scan alone.
    let mut store = Store::new(StoreLimits { capacity: ANNOUNCES, ..StoreLimits::default() });
    for a in &announces {
        store.insert(a, now);
    }
    assert_eq!(store.len(), ANNOUNCES);
    for (name, filter) in queries() {
        let hits = store.query(&filter, now).len();
        eprintln!("{name}: {hits} results returned");
        group.bench_function(BenchmarkId::new("store_scan", name), |b| b.iter(|| black_box(store.query(&filter, now))));
    }

    // The whole plugin call, in process.
    let mut host = TestHost::default();
    host.now_ms = now * 1000;
    host.handler = Some(Box::new(|_| HostReply::Verified(true))); // signatures are checked below, with the host
    let mut relay =
        ServiceHarness::<Fapp>::init(host, &serde_json::json!({ "roles": ["relay"] }), None).expect("init").0;
    for (i, a) in announces.iter().enumerate() {
        relay.event(announce_message(i as u64, a)).expect("announce");
    }
    for (name, filter) in queries() {
        let event = query_message(1, &filter);
        let actions = relay.event(event.clone()).expect("query");
        eprintln!(
            "{name}: {} responses",
            actions.iter().filter(|a| matches!(a, weft_plugin_api::Action::Reply(_))).count()
        );
        group.bench_function(BenchmarkId::new("plugin_in_process", name), |b| {
            b.iter(|| black_box(relay.event(black_box(event.clone())).expect("query")))
        });
    }

    // Through the host's bindings, with real signature checks while filling.
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = PluginRuntime::new(RuntimeOptions::under(dir.path())).expect("runtime");
    let services = Arc::new(HostServices::new(NodeIdentity::from_secret([1; 32]), Arc::new(MemoryKv::default())));
    let grants = Grants::permissions([Permission::Flood, Permission::Sign, Permission::Seal, Permission::Storage]);
    for binding in [Binding::Native, Binding::Wasm] {
        let loaded = runtime.load(&plugin(binding), &grants, Limits::default()).expect("load fapp");
        let mut instance = loaded.instantiate(&services).expect("instantiate");
        instance.init(&InitArgs { config: relay_config(), state: None }).expect("init");
        for (i, a) in announces.iter().enumerate() {
            instance.handle(&announce_message(i as u64, a)).expect("announce");
        }
        let label = match binding {
            Binding::Native => "host_native",
            Binding::Wasm => "host_wasm",
        };
        for (name, filter) in queries() {
            let event = query_message(1, &filter);
            let dispatch = instance.handle(&event).expect("query");
            assert!(!dispatch.actions.is_empty(), "{label} {name}: the relay answered");
            group.bench_function(BenchmarkId::new(label, name), |b| {
                b.iter(|| black_box(instance.handle(black_box(&event)).expect("query")))
            });
        }
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default().sample_size(50).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1))
}

criterion_group! { name = benches; config = config(); targets = bench_query }
criterion_main!(benches);
