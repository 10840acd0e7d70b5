//! Operations end to end (`weft run` processes on 127.0.0.1, real plugin
//! builds): hot reload under load, rollback, shutdown hooks and persisted
//! state, crash restarts, lifecycle commands and permissions, signed
//! plugins, config reload and the Prometheus endpoint.

use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};
use weft_host::plugin::Binding;
use weft_tests::node::{NodeSpec, TestNode};

/// A `[[plugins]]` table with a config.
fn plugin_toml(file: &Path, permissions: &[&str], config: &str) -> String {
    let perms: Vec<String> = permissions.iter().map(|p| format!("\"{p}\"")).collect();
    format!(
        "\n[[plugins]]\nfile = \"{}\"\npermissions = [{}]\n[plugins.config]\n{config}",
        file.display(),
        perms.join(", ")
    )
}

fn seq(binding: Binding) -> std::path::PathBuf {
    weft_tests::plugin("sequence", binding)
}

fn stats(node: &TestNode, sender: &TestNode) -> Value {
    let (code, value, err) = node.ctl(&["call", "sequence", "stats"]);
    assert_eq!(code, 0, "stats failed: {err} {value}");
    let body: Value = serde_json::from_str(value["result"]["body"].as_str().unwrap_or("{}")).expect("stats JSON");
    body[sender.address.as_str()].clone()
}

fn plugin_row(node: &TestNode, name: &str) -> Value {
    let (_, value, _) = node.ctl(&["plugins"]);
    value["result"].as_array().into_iter().flatten().find(|r| r["name"] == name).cloned().unwrap_or(Value::Null)
}

fn blast(from: &TestNode, to: &TestNode, count: u64) {
    let args = format!("{{\"to\": \"{}\", \"count\": {count}, \"per_tick\": 100, \"tick_ms\": 10}}", to.address);
    let (code, value, err) = from.ctl(&["call", "sequence", "blast", &args]);
    assert_eq!(code, 0, "blast failed: {err} {value}");
}

fn pair(root: &Path, b_extra: String) -> (TestNode, TestNode) {
    let (mut a, mut b) = (TestNode::new(root, "a"), TestNode::new(root, "b"));
    b.start(&NodeSpec { extra: b_extra, ..NodeSpec::default() });
    let a_extra = plugin_toml(&seq(Binding::Wasm), &["send"], "");
    a.start(&NodeSpec { extra: a_extra, ..NodeSpec::default() }.peer(&b));
    a.linked_with(&b, Duration::from_secs(10));
    (a, b)
}

#[test]
fn reloading_a_stateful_plugin_twenty_times_under_load_loses_nothing_and_keeps_order() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = pair(root.path(), plugin_toml(&seq(Binding::Wasm), &["send"], ""));
    let total = 30_000;
    blast(&a, &b, total); // 10,000 messages per second for three seconds
    let builds = [seq(Binding::Native), seq(Binding::Wasm)];
    let mut pauses = Vec::new();
    for i in 0..20 {
        std::thread::sleep(Duration::from_millis(100));
        let file = builds[i % 2].to_str().unwrap().to_string();
        let (code, value, err) = b.ctl(&["plugin", "reload", "sequence", &file]);
        assert_eq!(code, 0, "reload {i} failed: {err} {value}");
        pauses.push(value["result"]["pause_us"].as_u64().unwrap_or(0));
    }
    b.wait_until("every message arrived", Duration::from_secs(30), |b| stats(b, &a)["last"].as_u64() == Some(total));
    std::thread::sleep(Duration::from_millis(200));
    let s = stats(&b, &a);
    assert_eq!(s["received"].as_u64(), Some(total), "state continued across 20 reloads: {s}");
    assert_eq!((s["duplicates"].as_u64(), s["gaps"].as_u64()), (Some(0), Some(0)), "{s}");
    let row = plugin_row(&b, "sequence");
    assert_eq!(row["state"], "running", "{row}");
    assert!(pauses.iter().all(|&p| p > 0), "each reload reports its pause: {pauses:?}");
}

#[test]
fn repeated_reloads_do_not_grow_a_plugins_memory() {
    // Each reload pre-faults the new instance from the last swap's peak
    // (PluginHost::reload_sizes). Sized from the current memory
    // instead, which includes what was pre-faulted, it would grow every time.
    let root = tempfile::tempdir().unwrap();
    let mut n = TestNode::new(root.path(), "n");
    n.start(&NodeSpec {
        extra: plugin_toml(&seq(Binding::Wasm), &["send"], "ballast_bytes = 1048576\n"),
        ..NodeSpec::default()
    });
    let memory = |n: &TestNode| plugin_row(n, "sequence")["memory_bytes"].as_u64().expect("a wasm plugin's memory");
    let started = memory(&n);
    let (mut after, mut state) = (Vec::new(), 0);
    for i in 0..12 {
        let (code, value, err) = n.ctl(&["plugin", "reload", "sequence"]);
        assert_eq!(code, 0, "reload {i} failed: {err} {value}");
        state = value["result"]["state_bytes"].as_u64().unwrap_or(0);
        assert!(state > 1 << 20, "{value}");
        after.push(memory(&n));
    }
    let settled = after[4];
    assert!(after[4..].iter().all(|&m| m == settled), "memory settles within a few swaps: {started} -> {after:?}");
    // At its peak a swap holds the state at most twice more than a freshly
    // started instance does (the hook's encoded copy, the next init's input).
    assert!(settled <= after[0] + 2 * state, "pre-faulting stays within a swap's peak: {started} -> {after:?}");
    let (code, value, err) = n.ctl(&["call", "sequence", "stats"]);
    assert_eq!(code, 0, "still serving after twelve reloads: {err} {value}");
}

#[test]
fn a_reload_to_a_broken_build_is_rolled_back_and_the_service_carries_on() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = pair(root.path(), plugin_toml(&seq(Binding::Wasm), &["send"], ""));
    blast(&a, &b, 200);
    b.wait_until("first batch", Duration::from_secs(10), |b| stats(b, &a)["last"].as_u64() == Some(200));
    let broken = weft_tests::plugin("sequence-broken", Binding::Wasm);
    let (code, value, _) = b.ctl(&["plugin", "reload", "sequence", broken.to_str().unwrap()]);
    assert_ne!(code, 0, "{value}");
    let error = value["error"].as_str().unwrap_or_default();
    assert!(error.contains("init refuses on purpose") && error.contains("rolled back"), "{value}");
    let row = plugin_row(&b, "sequence");
    assert_eq!(row["state"], "running", "{row}");
    assert!(!row["version"].as_str().unwrap_or_default().contains("broken"), "{row}");
    // State survived the failed reload: the counters go on from 200.
    let (code, _, err) = a.ctl(&["send", &b.address, "9", "201"]);
    assert_eq!(code, 0, "{err}");
    b.wait_until("the next number", Duration::from_secs(10), |b| stats(b, &a)["last"].as_u64() == Some(201));
    let s = stats(&b, &a);
    assert_eq!((s["received"].as_u64(), s["gaps"].as_u64(), s["duplicates"].as_u64()), (Some(201), Some(0), Some(0)));
}

#[test]
fn sigterm_runs_every_hook_persists_state_and_a_restart_restores_it() {
    let root = tempfile::tempdir().unwrap();
    let (mut a, mut b) = (TestNode::new(root.path(), "a"), TestNode::new(root.path(), "b"));
    a.start(&NodeSpec { extra: plugin_toml(&seq(Binding::Wasm), &["send"], ""), ..NodeSpec::default() });
    // B's sequence sink says goodbye to A from its shutdown hook.
    let b_extra = format!(
        "{}{}",
        plugin_toml(&seq(Binding::Wasm), &["send"], &format!("goodbye_to = \"{}\"\n", a.address)),
        plugin_toml(&weft_tests::plugin("echo", Binding::Wasm), &["send"], "")
    );
    b.write_config(&NodeSpec { extra: b_extra, ..NodeSpec::default() }.peer(&a));
    b.launch();
    a.linked_with(&b, Duration::from_secs(10));
    blast(&a, &b, 100);
    b.wait_until("all 100", Duration::from_secs(10), |b| stats(b, &a)["last"].as_u64() == Some(100));

    let started = Instant::now();
    assert_eq!(b.stop(), Some(0), "exit code 0 after SIGTERM");
    assert!(started.elapsed() < Duration::from_secs(5), "stopped within the deadline: {:?}", started.elapsed());
    a.wait_until("B's goodbye arrived", Duration::from_secs(5), |a| stats(a, &b)["goodbyes"].as_u64() == Some(1));

    b.launch();
    let s = stats(&b, &a);
    assert_eq!((s["received"].as_u64(), s["last"].as_u64()), (Some(100), Some(100)), "state restored: {s}");
    let log = b.log();
    assert!(log.contains("routing state persisted") && log.contains("routing state restored"), "{log}");

    // The blob stays until a later stop replaces it: a crash right after
    // the restart (no hook runs) does not lose it (issue 17, finding 4).
    b.kill();
    b.launch();
    let s = stats(&b, &a);
    assert_eq!((s["received"].as_u64(), s["last"].as_u64()), (Some(100), Some(100)), "restored after kill -9: {s}");
}

/// A shutdown hook that spins for 10 s against a 300 ms deadline: wasm is
/// interrupted, a native hook abandoned on its thread (issue 18, finding
/// 10); either way the node stops at once and says so.
#[test]
fn a_hook_that_overruns_the_deadline_is_cut_off_and_reported() {
    for (binding, reported) in [(Binding::Wasm, "interrupted"), (Binding::Native, "abandoned")] {
        let root = tempfile::tempdir().unwrap();
        let mut n = TestNode::new(root.path(), "n");
        let hostile = plugin_toml(&weft_tests::plugin("hostile", binding), &[], "slow_shutdown = true\n");
        n.write_config(&NodeSpec { extra: hostile, ..NodeSpec::default() });
        let text = std::fs::read_to_string(n.config_path()).unwrap();
        std::fs::write(n.config_path(), text.replacen("[node]\n", "[node]\nshutdown_deadline_ms = 300\n", 1)).unwrap();
        n.launch();
        let started = Instant::now();
        assert_eq!(n.stop(), Some(0), "{binding}");
        let took = started.elapsed();
        assert!(took < Duration::from_secs(4), "{binding}: the 10 s hook held the node: stopped after {took:?}");
        let log = n.log();
        assert!(
            log.contains("shutdown hook of `hostile` failed") && log.contains(reported),
            "{binding}: the overrun is reported:\n{log}"
        );
    }
}

/// Issue 17, finding 4: the routing state was written only at a clean stop,
/// so a crash forgot every known node's key and sequence.
#[test]
fn routing_state_is_persisted_while_running_and_survives_kill_9() {
    let root = tempfile::tempdir().unwrap();
    let (mut a, mut b) = (TestNode::new(root.path(), "a"), TestNode::new(root.path(), "b"));
    a.start(&NodeSpec::echo());
    b.write_config(&NodeSpec::echo().peer(&a));
    let text = std::fs::read_to_string(b.config_path()).unwrap();
    assert!(!text.contains("[routing]"), "{text}");
    std::fs::write(b.config_path(), format!("{text}\n[routing]\npersist_interval_s = 1\n")).unwrap();
    b.launch();
    a.linked_with(&b, Duration::from_secs(10));
    b.wait_until("A's key learned", Duration::from_secs(10), |b| b.log().contains("node key learned"));
    std::thread::sleep(Duration::from_millis(2_500)); // at least one periodic write after that
    b.kill();
    assert!(!b.log().contains("routing state restored"), "nothing to restore at the first start");
    b.launch();
    let log = b.log();
    assert!(log.contains("routing state restored"), "known nodes back after kill -9:\n{log}");
}

#[test]
fn a_node_running_a_looping_native_plugin_keeps_serving_and_stops_on_sigterm() {
    let root = tempfile::tempdir().unwrap();
    let (mut a, mut b) = (TestNode::new(root.path(), "a"), TestNode::new(root.path(), "b"));
    a.start(&NodeSpec::echo());
    let hostile = plugin_toml(&weft_tests::plugin("hostile", Binding::Native), &[], "");
    b.start(&NodeSpec { extra: hostile, ..NodeSpec::echo() }.peer(&a));
    a.linked_with(&b, Duration::from_secs(10));
    // The call spins forever on B: it is abandoned at its deadline and the
    // plugin restarted on a new thread.
    let (code, _, err) = a.ctl(&["send", &b.address, "9", "loop"]);
    assert_eq!(code, 0, "{err}");
    b.wait_until("the looping call abandoned and the plugin restarted", Duration::from_secs(10), |b| {
        plugin_row(b, "hostile")["restarts"].as_u64() == Some(1)
    });
    let (code, status, err) = b.ctl(&["status"]);
    assert_eq!(code, 0, "B answers its admin socket: {err} {status}");
    let (code, value, err) = a.ping(&b, "still there?");
    assert_eq!(code, 0, "B's echo answers across the link: {err} {value}");
    let (code, value, err) = a.ctl(&["send", &b.address, "9", "hello"]);
    assert_eq!(code, 0, "the restarted plugin takes messages: {err} {value}");
    assert!(b.log().contains("abandoned after exceeding its"), "the fault is logged:\n{}", b.log());
    let row = plugin_row(&b, "hostile");
    assert!(row["last_fault"].as_str().is_some_and(|f| f.contains("abandoned")), "{row}");
    let started = Instant::now();
    assert_eq!(b.stop(), Some(0), "SIGTERM stops the node although one thread still spins");
    assert!(started.elapsed() < Duration::from_secs(8), "stopped after {:?}", started.elapsed());
}

#[test]
fn a_native_panic_under_rust_backtrace_is_reported_with_its_message_and_no_backtrace() {
    let root = tempfile::tempdir().unwrap();
    let (mut a, mut b) = (TestNode::new(root.path(), "a"), TestNode::new(root.path(), "b"));
    a.start(&NodeSpec::echo());
    let hostile = plugin_toml(&weft_tests::plugin("hostile", Binding::Native), &[], "");
    b.write_config(&NodeSpec { extra: hostile, ..NodeSpec::echo() }.peer(&a));
    b.launch_env(&[("RUST_BACKTRACE", "1")]);
    a.linked_with(&b, Duration::from_secs(10));
    let (code, _, err) = a.ctl(&["send", &b.address, "9", "panic"]);
    assert_eq!(code, 0, "{err}");
    b.wait_until("the panic restarted the plugin", Duration::from_secs(10), |b| {
        plugin_row(b, "hostile")["restarts"].as_u64() == Some(1)
    });
    let log = b.log();
    assert!(log.contains("asked to panic (at ") && log.contains("src/lib.rs"), "message and location:\n{log}");
    let row = plugin_row(&b, "hostile");
    let last = row["last_fault"].as_str().unwrap_or_default();
    assert!(last.contains("asked to panic (at "), "weft ctl plugins keeps the last fault: {row}");
    // The standard hook would print a backtrace here, resolving the
    // plugin's symbols on the node's time (seconds); the SDK's hook prints
    // nothing and the host logs the fault once.
    assert!(!log.contains("stack backtrace"), "no backtrace printed:\n{log}");
    assert!(!log.contains("panicked at"), "no second report from the standard hook:\n{log}");
}

#[test]
fn a_plugin_that_traps_on_every_event_is_restarted_with_growing_backoff() {
    let root = tempfile::tempdir().unwrap();
    let (mut a, mut b) = (TestNode::new(root.path(), "a"), TestNode::new(root.path(), "b"));
    a.start(&NodeSpec::echo());
    let hostile = plugin_toml(&weft_tests::plugin("hostile", Binding::Wasm), &[], "");
    b.start(&NodeSpec { extra: hostile, ..NodeSpec::echo() }.peer(&a));
    a.linked_with(&b, Duration::from_secs(10));
    for round in 1..=4u32 {
        let (code, _, err) = a.ctl(&["send", &b.address, "9", "panic"]);
        assert_eq!(code, 0, "{err}");
        b.wait_until(&format!("restart {round}"), Duration::from_secs(10), |b| {
            plugin_row(b, "hostile")["restarts"].as_u64() == Some(u64::from(round))
        });
        // The node and its other plugin are fine throughout.
        let (code, value, err) = a.ping(&b, "still there?");
        assert_eq!(code, 0, "echo on B answered: {err} {value}");
    }
    let row = plugin_row(&b, "hostile");
    assert_eq!(row["faults"].as_u64(), Some(4), "{row}");
    let log = b.log();
    for delay in ["delay_ms=100", "delay_ms=200", "delay_ms=400", "delay_ms=800"] {
        assert!(log.contains(delay), "backoff {delay} in the log:\n{log}");
    }
}

#[test]
fn lifecycle_commands_and_permission_checks() {
    let root = tempfile::tempdir().unwrap();
    let mut n = TestNode::new(root.path(), "n");
    n.start(&NodeSpec::echo());
    let counter = weft_tests::plugin("counter", Binding::Wasm);
    let (code, value, _) = n.ctl(&["plugin", "load", counter.to_str().unwrap()]);
    assert_ne!(code, 0, "counter needs storage, which was not granted: {value}");
    assert!(value["error"].as_str().unwrap_or_default().contains("storage"), "{value}");
    let (code, value, err) = n.ctl(&["plugin", "load", counter.to_str().unwrap(), "--permission", "storage"]);
    assert_eq!(code, 0, "{err} {value}");
    assert_eq!(plugin_row(&n, "counter")["state"], "running");
    let (code, _, err) = n.ctl(&["plugin", "stop", "counter"]);
    assert_eq!(code, 0, "{err}");
    assert!(plugin_row(&n, "counter")["state"].as_str().unwrap_or_default().starts_with("stopped"));
    let (code, _, err) = n.ctl(&["plugin", "unload", "counter"]);
    assert_eq!(code, 0, "{err}");
    assert!(plugin_row(&n, "counter").is_null(), "unloaded");
    // A plugin config given at load time reaches the plugin (finding 8 of
    // issue 18: `--config` here collided with `weft ctl --config` and clap
    // panicked, exit 101, whenever it was given).
    let counter = counter.to_str().unwrap();
    let bad = ["plugin", "load", counter, "--permission", "storage", "--config", r#"{"flush_interval_ms": "soon"}"#];
    let (code, value, err) = n.ctl(&bad);
    assert_eq!(code, 1, "refused by the plugin's init, not a crash: {err} {value}");
    assert!(value["error"].as_str().unwrap_or_default().contains("bad counter config"), "{value}");
    let good = ["plugin", "load", counter, "--permission", "storage", "--config", r#"{"reply": false}"#];
    let (code, value, err) = n.ctl(&good);
    assert_eq!(code, 0, "{err} {value}");
    // The node's own --config still works before the command.
    let config = n.config_path();
    let args = ["ctl", "--config", config.to_str().unwrap(), "--json", "plugin", "unload", "counter"];
    let (code, out, err) = weft_tests::node::weft(&args);
    assert_eq!(code, 0, "{err} {out}");
    // A second echo cannot load: the name and the port are taken.
    let echo = weft_tests::plugin("echo", Binding::Wasm);
    let (code, value, _) = n.ctl(&["plugin", "load", echo.to_str().unwrap(), "--permission", "send"]);
    assert_ne!(code, 0, "{value}");
    // Text output names the binding; native plugins are marked trusted.
    let (code, text, _) = weft_tests::node::weft(&["ctl", "--socket", n.socket().to_str().unwrap(), "plugins"]);
    assert_eq!(code, 0);
    assert!(text.contains("echo") && text.contains("wasm"), "{text}");
}

#[test]
fn a_write_over_the_storage_quota_is_refused_with_an_event_and_a_metric_never_a_crash() {
    let root = tempfile::tempdir().unwrap();
    let mut n = TestNode::new(root.path(), "n");
    // counter stores "total" (5 bytes) -> 8 bytes: 13 bytes, over a 10-byte quota.
    let counter = plugin_toml(&weft_tests::plugin("counter", Binding::Wasm), &["storage"], "flush_interval_ms = 50\n")
        .replace("[plugins.config]", "storage_quota_bytes = 10\n[plugins.config]");
    n.start(&NodeSpec { extra: counter, ..NodeSpec::echo() });
    let (code, _, err) = n.ctl(&["send", &n.address, "8", "one"]);
    assert_eq!(code, 0, "{err}");
    n.wait_until("the flush is refused", Duration::from_secs(10), |n| {
        plugin_row(n, "counter")["refused"].as_u64().unwrap_or(0) >= 1
    });
    assert_eq!(plugin_row(&n, "counter")["state"], "running", "refused, not crashed");
    let (code, value, _) = n.ctl(&["metrics"]);
    assert_eq!(code, 0);
    let text = value["result"].as_str().unwrap_or_default();
    assert!(text.contains("weft_plugin_refused_actions_total{plugin=\"counter\"}"), "{text}");
    assert!(n.log().contains("storage quota of 10 bytes exceeded"), "the plugin was told why:\n{}", n.log());
}

#[test]
fn only_plugins_signed_by_a_trusted_publisher_load_when_signatures_are_required() {
    let root = tempfile::tempdir().unwrap();
    let key = root.path().join("publisher.key");
    let (code, out, err) = weft_tests::node::weft(&["keygen", "--out", key.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let _ = out;
    let signed = root.path().join("echo.wasm");
    std::fs::copy(weft_tests::plugin("echo", Binding::Wasm), &signed).unwrap();
    let (code, out, err) =
        weft_tests::node::weft(&["plugin", "sign", "--key", key.to_str().unwrap(), signed.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let publisher = out.lines().find_map(|l| l.strip_prefix("publisher ")).expect("publisher line").to_string();

    let mut n = TestNode::new(root.path(), "n");
    let trust = format!("\n[trust]\nrequire_signed = true\npublishers = [\"{publisher}\"]\n");
    n.start(&NodeSpec { extra: format!("{trust}{}", plugin_toml(&signed, &["send"], "")), ..NodeSpec::default() });
    assert_eq!(plugin_row(&n, "echo")["state"], "running", "the signed plugin loaded");

    let unsigned = root.path().join("counter.wasm");
    std::fs::copy(weft_tests::plugin("counter", Binding::Wasm), &unsigned).unwrap();
    let (code, value, _) = n.ctl(&["plugin", "load", unsigned.to_str().unwrap(), "--permission", "storage"]);
    assert_ne!(code, 0);
    assert!(value["error"].as_str().unwrap_or_default().contains("unsigned"), "{value}");

    let (code, _, err) =
        weft_tests::node::weft(&["plugin", "sign", "--key", key.to_str().unwrap(), unsigned.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let mut bytes = std::fs::read(&unsigned).unwrap();
    bytes.extend_from_slice(b"\0tampered");
    std::fs::write(&unsigned, bytes).unwrap();
    let (code, value, _) = n.ctl(&["plugin", "load", unsigned.to_str().unwrap(), "--permission", "storage"]);
    assert_ne!(code, 0);
    assert!(value["error"].as_str().unwrap_or_default().contains("tampered"), "{value}");
}

#[test]
fn config_reload_applies_added_removed_and_changed_plugins_and_refuses_an_invalid_file() {
    let root = tempfile::tempdir().unwrap();
    let mut n = TestNode::new(root.path(), "n");
    let echo = plugin_toml(&weft_tests::plugin("echo", Binding::Wasm), &["send"], "");
    let counter = |interval: u64| {
        plugin_toml(
            &weft_tests::plugin("counter", Binding::Wasm),
            &["storage"],
            &format!("flush_interval_ms = {interval}\n"),
        )
    };
    n.start(&NodeSpec { extra: format!("{echo}{}", counter(1000)), ..NodeSpec::default() });
    // Remove echo, change counter's config, add sequence.
    let sequence = plugin_toml(&seq(Binding::Wasm), &["send"], "");
    n.write_config(&NodeSpec { extra: format!("{}{sequence}", counter(250)), ..NodeSpec::default() });
    let (code, value, err) = n.ctl(&["reload"]);
    assert_eq!(code, 0, "{err} {value}");
    let r = &value["result"];
    assert_eq!(r["added"], serde_json::json!(["sequence"]), "{r}");
    assert_eq!(r["removed"], serde_json::json!(["echo"]), "{r}");
    assert_eq!(r["reloaded"], serde_json::json!(["counter"]), "{r}");
    assert!(plugin_row(&n, "echo").is_null());
    assert_eq!(plugin_row(&n, "sequence")["state"], "running");

    // An invalid file changes nothing and says why.
    std::fs::write(n.config_path(), "[node]\nname = \"n\"\nbogus = 1\n").unwrap();
    let (code, value, _) = n.ctl(&["reload"]);
    assert_ne!(code, 0);
    let error = value["error"].as_str().unwrap_or_default();
    assert!(error.contains("nothing changed") && error.contains("bogus"), "{error}");
    assert_eq!(plugin_row(&n, "sequence")["state"], "running");
    assert_eq!(plugin_row(&n, "counter")["state"], "running");
}

#[test]
fn sighup_reloads_the_config_and_json_logs_name_the_plugin() {
    let root = tempfile::tempdir().unwrap();
    let mut n = TestNode::new(root.path(), "n");
    n.write_config(&NodeSpec::echo());
    n.launch_with(&["--log-format", "json"]);
    let counter = plugin_toml(&weft_tests::plugin("counter", Binding::Wasm), &["storage"], "");
    n.write_config(&NodeSpec { extra: counter, ..NodeSpec::echo() });
    n.signal("HUP");
    n.wait_until("counter loaded by SIGHUP", Duration::from_secs(30), |n| {
        plugin_row(n, "counter")["state"] == "running"
    });
    assert_eq!(n.stop(), Some(0));
    let log = n.log();
    let lines: Vec<Value> = log.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(lines.len() > 3, "log lines are JSON objects:\n{log}");
    assert!(
        lines.iter().any(|l| l["message"].as_str().is_some_and(|m| m.contains("config reloaded"))),
        "the reload is logged:\n{log}"
    );
    assert!(lines.iter().any(|l| l["plugin"] == "counter"), "plugin lines carry the plugin's name:\n{log}");
}

#[test]
fn metrics_are_served_over_http_and_parse() {
    let root = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut n = TestNode::new(root.path(), "n");
    n.start(&NodeSpec { extra: format!("\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n"), ..NodeSpec::echo() });
    let (code, value, err) = n.ping(&n, "count me");
    assert_eq!(code, 0, "{err} {value}");
    // A plugin's own metrics (`ctx.count`): FAPP counts a malformed message.
    let fapp = weft_tests::plugin("fapp", Binding::Wasm);
    let perms = ["--permission", "flood", "--permission", "sign", "--permission", "seal", "--permission", "storage"];
    let mut load = vec!["plugin", "load", fapp.to_str().unwrap(), "--config", r#"{"roles": ["relay"]}"#];
    load.extend(perms);
    let (code, value, err) = n.ctl(&load);
    assert_eq!(code, 0, "{err} {value}");
    let (code, value, err) = n.ctl(&["send", &n.address, "70", "not a FAPP message"]);
    assert_eq!(code, 0, "{err} {value}");
    n.wait_until("fapp reported its metric", Duration::from_secs(10), |n| {
        plugin_row(n, "fapp")["metrics"]["values"]["malformed"]["value"].as_f64() == Some(1.0)
    });
    let body = http_get(port, "/metrics");
    assert!(body.contains("weft_plugin_reported_total{metric=\"malformed\",plugin=\"fapp\"} 1"), "{body}");
    let mut samples = 0;
    for line in body.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (name, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        assert!(value.parse::<f64>().is_ok(), "not a number in {line}");
        assert!(name.starts_with("weft_"), "{line}");
        samples += 1;
    }
    assert!(samples > 10, "{body}");
    assert!(body.contains("weft_plugin_events_total{plugin=\"echo\"}"), "{body}");
    assert!(body.contains("weft_plugin_dispatch_seconds_bucket{plugin=\"echo\""), "{body}");
    assert!(body.contains("# TYPE weft_routing_packets_total counter"), "{body}");
    assert!(http_get(port, "/nope").is_empty(), "only /metrics has a body with 200");
    // Every metric the shipped Grafana dashboard queries is one the node
    // exports (families with labels appear once they have a sample, e.g. a
    // link; those must at least be in the documented list).
    let documented = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/operations.md"))
        .expect("docs/operations.md");
    let dashboard =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/grafana-dashboard.json"))
            .expect("configs/grafana-dashboard.json");
    let dashboard: Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(str::to_string))
        .collect();
    assert!(exprs.len() >= 10, "{exprs:?}");
    for expr in exprs {
        for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("weft_")) {
            let family = word.trim_end_matches("_bucket").trim_end_matches("_sum").trim_end_matches("_count");
            assert!(
                body.contains(&format!("# TYPE {family} ")) || documented.contains(&format!("| `{family}` |")),
                "the dashboard queries {word}, which is neither exported here nor documented"
            );
        }
    }
}

/// GET `path`; the body when the status is 200, else empty.
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or_default();
    if head.starts_with("HTTP/1.1 200") { body.to_string() } else { String::new() }
}
