//! Host hardening as an operator meets it (issue 18): private files, a
//! private key, an admin socket that survives running out of file
//! descriptors and caps its connections. Real `weft run` processes.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::time::Duration;
use weft_tests::node::{NodeSpec, TestNode};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

/// Finding 3: `weft.redb` (bookings with patients' contact details, held
/// packets) was created with the default umask, the data directory's mode
/// was never set, the socket was chmod-ed only after bind.
#[test]
fn the_data_directory_and_every_file_the_node_writes_are_private() {
    let root = tempfile::tempdir().unwrap();
    let mut n = TestNode::new(root.path(), "n");
    // A data directory an operator created with the usual 0755.
    let data = n.config_path().with_file_name("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    n.start(&NodeSpec::echo());
    assert_eq!(mode(&data), 0o700, "data directory");
    assert_eq!(mode(&data.join("weft.redb")), 0o600, "database");
    assert_eq!(mode(&n.socket()), 0o600, "admin socket");
    n.stop();
}

/// Finding 3: the key file's mode was not checked on read. A group- or
/// world-readable key is refused at start, as ssh refuses such a key.
#[test]
fn a_node_refuses_to_start_with_a_key_others_can_read() {
    let root = tempfile::tempdir().unwrap();
    let n = TestNode::new(root.path(), "n");
    n.write_config(&NodeSpec::default());
    let key = n.config_path().with_file_name("node.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = n.config_path();
    let (code, out, err) = weft_tests::node::weft(&["run", "--config", config.to_str().unwrap()]);
    assert_ne!(code, 0, "started with a readable key: {out}");
    assert!(err.contains("node.key") && err.contains("chmod 600"), "{err}");
    let (code, _, err) = weft_tests::node::weft(&["config", "check", config.to_str().unwrap()]);
    assert_ne!(code, 0, "config check says the same: {err}");
}

/// Finding 7: the admin socket died for good after one `accept()` error
/// (at fd exhaustion `weft ctl` got "connection refused" forever, even after
/// every connection closed); there was no cap on admin connections.
#[test]
fn the_admin_socket_survives_fd_exhaustion_and_caps_its_connections() {
    let root = tempfile::tempdir().unwrap();
    let mut n = TestNode::new(root.path(), "n");
    n.write_config(&NodeSpec::default());
    n.launch_with_fd_limit(96);
    // Far more connections than the node has file descriptors.
    let mut held = Vec::new();
    for _ in 0..300 {
        match UnixStream::connect(n.socket()) {
            Ok(stream) => held.push(stream),
            Err(_) => break,
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    drop(held);
    n.wait_until("the admin socket answers again", Duration::from_secs(20), |n| n.ctl(&["status"]).0 == 0);
    assert!(n.log().contains("cannot accept connections"), "the failure is logged");
    n.stop();

    // Within the fd limit: the 65th connection is told why and closed.
    let mut m = TestNode::new(root.path(), "m");
    m.start(&NodeSpec::default());
    let mut open: Vec<UnixStream> = (0..64).map(|_| UnixStream::connect(m.socket()).unwrap()).collect();
    // Each of the 64 is served (a request answered), so all hold a slot.
    for stream in &mut open {
        stream.write_all(b"{\"op\": \"status\"}\n").unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut line = String::new();
        BufReader::new(&*stream).read_line(&mut line).unwrap();
        assert!(line.contains("\"ok\""), "{line}");
    }
    let extra = UnixStream::connect(m.socket()).unwrap();
    extra.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut line = String::new();
    BufReader::new(&extra).read_line(&mut line).unwrap();
    assert!(line.contains("too many admin connections"), "{line}");
    drop(open);
    m.wait_until("status answers once they close", Duration::from_secs(10), |m| m.ctl(&["status"]).0 == 0);
    m.stop();
}

/// `text` with its first line starting with `prefix` replaced by `line`.
fn with_line(text: &str, prefix: &str, line: &str) -> String {
    let mut done = false;
    text.lines()
        .map(|l| {
            if !done && l.starts_with(prefix) {
                done = true;
                line
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `weft run --config FILE`, which must exit by itself (a refused
/// config) within 20 s; returns (exit code, stderr).
fn run_refused(config: &std::path::Path) -> (i32, String) {
    let mut child = std::process::Command::new(weft_tests::node::weft_bin())
        .args(["run", "--config", config.to_str().unwrap()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn weft run");
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().expect("stderr"), &mut err).expect("read stderr");
            return (status.code().unwrap_or(-1), err);
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} was accepted by weft run (it kept running)", config.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Finding 9: `weft config check` said "valid" for configs `weft run` then
/// refused (a duplicate plugin, a permission not granted, an idle timeout
/// that overflows, ...), refused runs left `weft.redb` behind, and some
/// numeric keys did not say their range. Every config of this corpus is
/// refused by both, with the same message, and a refused run creates nothing.
#[test]
fn config_check_and_run_refuse_the_same_bad_configs_with_the_same_message() {
    let root = tempfile::tempdir().unwrap();
    let n = TestNode::new(root.path(), "n");
    n.write_config(&NodeSpec::echo());
    let base = std::fs::read_to_string(n.config_path()).unwrap();
    let plugin = |name: &str, perms: &str| {
        format!(
            "\n[[plugins]]\nfile = \"{}\"\npermissions = [{perms}]\n",
            weft_tests::plugin(name, weft_host::plugin::Binding::Wasm).display()
        )
    };
    let radio = |driver: &str| {
        format!(
            "\n[[radios]]\nname = \"lora0\"\ndevice = \"/dev/null-radio\"\ndriver = \"{}\"\n",
            weft_tests::plugin(driver, weft_host::plugin::Binding::Wasm).display()
        )
    };
    let quic = |key: &str, value: &str| with_line(&base, &format!("{key} ="), &format!("{key} = {value}"));
    let cases: Vec<(&str, String, &str)> = vec![
        ("duplicate plugin", format!("{base}{}", plugin("echo", "\"send\"")), "loaded twice"),
        ("permission not granted", format!("{base}{}", plugin("counter", "")), "storage"),
        ("idle timeout overflows", quic("idle_timeout_ms", "9223372036854775807"), "quic.idle_timeout_ms"),
        ("keepalive too long", quic("keepalive_ms", "99999999999"), "quic.keepalive_ms"),
        ("port 70000", with_line(&base, "listen = ", "listen = \"127.0.0.1:70000\""), "65535"),
        ("max_hops 1000", format!("{base}\n[routing]\nmax_hops = 1000\n"), "1 to 64"),
        ("max_hops 0", format!("{base}\n[routing]\nmax_hops = 0\n"), "1 to 64"),
        ("hold_ttl_s 0", format!("{base}\n[routing]\nhold_ttl_s = 0\n"), "routing.hold_ttl_s"),
        ("announce share", format!("{base}\n[routing]\nannounce_share = 2.0\n"), "routing.announce_share"),
        ("hold totals", format!("{base}\n[routing]\nhold_total = 1\nhold_per_destination = 2\n"), "hold_total"),
        ("hold per source", format!("{base}\n[routing]\nhold_per_source = 0\n"), "hold_per_source"),
        ("unknown key", format!("{base}\n[routing]\nmax_hopz = 3\n"), "unknown field"),
        ("invalid TOML", format!("{base}\n[routing\n"), "invalid TOML"),
        ("missing plugin file", format!("{base}\n[[plugins]]\nfile = \"gone.wasm\"\n"), "no such file"),
        ("not a plugin file", format!("{base}\n[[plugins]]\nfile = \"node.toml\"\n"), "expected a .wasm or .so"),
        ("unknown permission", format!("{base}{}", plugin("counter", "\"teleport\"")), "unknown variant"),
        ("driver as a service", format!("{base}{}", plugin("rnode", "\"serial\"")), "is a driver"),
        ("service as a driver", format!("{base}{}", radio("echo")), "not a driver"),
        ("radio hello 0", format!("{base}{}hello_interval_s = 0\n", radio("rnode")), "neighbour_timeout_s"),
        ("reconnect delays", quic("reconnect_min_ms", "5000"), "quic.reconnect_min_ms"),
        ("keepalive 0", quic("keepalive_ms", "0"), "quic.keepalive_ms"),
        ("bad peer", format!("{base}\n[[peers]]\naddress = \"nowhere\"\nnode = \"00\"\n"), "peers[0]"),
        ("metrics address", format!("{base}\n[metrics]\nlisten = \"localhost\"\n"), "metrics.listen"),
        ("empty name", base.replace("name = \"n\"", "name = \"\""), "node.name"),
        (
            "native_calls on wasm",
            format!("{base}{}native_calls = \"inline\"\n", plugin("counter", "\"storage\"")),
            "native plugins (.so) only",
        ),
        (
            "native_calls unknown",
            format!("{base}{}native_calls = \"fast\"\n", plugin("counter", "\"storage\"")),
            "unknown variant",
        ),
    ];
    assert!(cases.len() >= 20);
    for (what, text, expected) in &cases {
        let file = root.path().join("n").join(format!("bad-{}.toml", what.replace(' ', "-")));
        std::fs::write(&file, text).unwrap();
        let (code, out, check_err) = weft_tests::node::weft(&["config", "check", file.to_str().unwrap()]);
        assert_ne!(code, 0, "{what}: config check said valid: {out}");
        let message = check_err.lines().find(|l| l.contains("error")).unwrap_or_default().to_string();
        assert!(message.contains(expected), "{what}: check says {check_err:?}, expected {expected:?}");
        let detail = message.split("error: ").last().unwrap_or_default().to_string();
        let (code, run_err) = run_refused(&file);
        assert_ne!(code, 0, "{what}: weft run accepted it");
        assert!(run_err.contains(&detail), "{what}: run says {run_err:?}, check said {detail:?}");
        assert!(!root.path().join("n").join("data").exists(), "{what}: a refused run leaves no data directory");
    }
    // The key file others may read: the same, and nothing created.
    let key = root.path().join("n").join("node.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, check_err) = weft_tests::node::weft(&["config", "check", n.config_path().to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(check_err.contains("chmod 600"), "{check_err}");
    let (code, run_err) = run_refused(&n.config_path());
    assert!(code != 0 && run_err.contains("chmod 600"), "{run_err}");
    assert!(!root.path().join("n").join("data").exists(), "a refused run leaves no data directory behind");
}

/// Finding 1: a plugin chose its own storage namespace (its manifest name),
/// so it could claim another's, or the host's. The operator names each
/// instance (`name = ...`, default the manifest's); that name keys storage,
/// state, metrics and commands; names are unique per node and a taken one is
/// refused naming both files; `weft:` names are refused.
#[test]
fn the_operator_names_plugin_instances() {
    let root = tempfile::tempdir().unwrap();
    let mut n = TestNode::new(root.path(), "n");
    let counter = weft_tests::plugin("counter", weft_host::plugin::Binding::Wasm);
    let named =
        format!("\n[[plugins]]\nfile = \"{}\"\nname = \"tally\"\npermissions = [\"storage\"]\n", counter.display());
    n.start(&NodeSpec { extra: named, ..NodeSpec::echo() });
    let (_, plugins, _) = n.ctl(&["plugins"]);
    let names: Vec<&str> = plugins["result"].as_array().unwrap().iter().filter_map(|r| r["name"].as_str()).collect();
    assert!(names.contains(&"tally") && !names.contains(&"counter"), "{plugins}");
    let (code, value, err) = n.ctl(&["call", "tally", "get"]);
    assert_eq!(code, 0, "commands go to the instance name: {err} {value}");
    // The same name again, from another file: refused, naming both files.
    let echo = weft_tests::plugin("echo", weft_host::plugin::Binding::Wasm);
    let (code, value, _) =
        n.ctl(&["plugin", "load", echo.to_str().unwrap(), "--name", "tally", "--permission", "send"]);
    assert_ne!(code, 0, "{value}");
    let error = value["error"].as_str().unwrap_or_default();
    assert!(error.contains("counter.wasm") && error.contains("echo.wasm") && error.contains("tally"), "{error}");
    // The host's namespaces are not names.
    let (code, value, _) = n.ctl(&["plugin", "load", echo.to_str().unwrap(), "--name", "weft:state"]);
    assert_ne!(code, 0, "{value}");
    assert!(value["error"].as_str().unwrap_or_default().contains("--name"), "{value}");
    n.stop();
    // Nor in the config file.
    let bad = format!("\n[[plugins]]\nfile = \"{}\"\nname = \"weft:routing\"\n", echo.display());
    n.write_config(&NodeSpec { extra: bad, ..NodeSpec::default() });
    let (code, _, err) = weft_tests::node::weft(&["config", "check", n.config_path().to_str().unwrap()]);
    assert!(code != 0 && err.contains("plugins[0].name"), "{err}");
}
