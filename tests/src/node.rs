//! Running real `weft run` processes for multi-node tests.
//!
//! Owns: [`TestNode`] (key, config, process, log file, admin socket in a
//! temporary directory), [`weft_bin`], and `weft ctl` helpers. Every wait is
//! bounded and fails the test with the node's log when it runs out. Nodes are
//! killed when dropped, so a failing test leaves no processes behind.

use serde_json::Value;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use weft_host::plugin::Binding;

/// The `weft` binary built by the same `cargo test` run (`WEFT_BIN` overrides).
pub fn weft_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("WEFT_BIN") {
        return PathBuf::from(path);
    }
    // Test executables live in target/<profile>/deps/.
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
    let bin = profile_dir.join("weft");
    assert!(
        bin.exists(),
        "{} is missing; build it with `cargo build -p weft-host` (cargo xtask test does)",
        bin.display()
    );
    bin
}

/// A free UDP port on 127.0.0.1 (bound and released; good enough for tests).
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).map(|a| a.port()).expect("free port")
}

/// Runs `weft` with `args`; returns (exit code, stdout, stderr).
pub fn weft(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(weft_bin()).args(args).output().expect("run weft");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One node process with its own directory.
pub struct TestNode {
    /// Node name.
    pub name: String,
    /// Its directory (key, config, data, log).
    pub dir: PathBuf,
    /// Its address (text form).
    pub address: String,
    /// Its QUIC port on 127.0.0.1.
    pub port: u16,
    child: Option<Child>,
}

/// What goes into a test node's config besides the basics.
#[derive(Clone, Default)]
pub struct NodeSpec {
    /// `(port, address)` of static peers.
    pub peers: Vec<(u16, String)>,
    /// Plugins: (name, binding, permissions).
    pub plugins: Vec<(&'static str, Binding, &'static [&'static str])>,
    /// Extra TOML appended to the config.
    pub extra: String,
    /// `[quic]` settings besides `listen` (default [`FAST_LINKS`]).
    pub quic: Option<String>,
}

impl NodeSpec {
    /// The usual test node: echo (wasm) with `send`.
    pub fn echo() -> Self {
        Self { plugins: vec![("echo", Binding::Wasm, &["send"])], ..Self::default() }
    }

    /// Adds a static peer.
    pub fn peer(mut self, node: &TestNode) -> Self {
        self.peers.push((node.port, node.address.clone()));
        self
    }
}

/// Fast keepalive and idle timeout, so link loss is seen within about a second.
pub const FAST_LINKS: &str =
    "keepalive_ms = 200\nidle_timeout_ms = 1500\nreconnect_min_ms = 100\nreconnect_max_ms = 1000\n";

impl TestNode {
    /// Creates the node's key and directory (not started). `root` holds all
    /// nodes of a test.
    pub fn new(root: &Path, name: &str) -> Self {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).expect("node dir");
        let key = dir.join("node.key");
        let (code, out, err) = weft(&["keygen", "--out", key.to_str().expect("utf-8 path"), "--json"]);
        assert_eq!(code, 0, "keygen failed: {err}");
        let parsed: Value = serde_json::from_str(&out).expect("keygen JSON");
        let address = parsed["address"].as_str().expect("address").to_string();
        Self { name: name.into(), dir, address, port: free_udp_port(), child: None }
    }

    /// The config file path.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("node.toml")
    }

    /// The admin socket path.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("admin.sock")
    }

    /// Writes the config for `spec`.
    pub fn write_config(&self, spec: &NodeSpec) {
        let cache = crate::plugin_dir().join("../test-module-cache");
        let mut toml = format!(
            "[node]\nname = \"{}\"\nidentity = \"node.key\"\ndata_dir = \"data\"\nmodule_cache = \"{}\"\n\n\
             [quic]\nlisten = \"127.0.0.1:{}\"\n{}\n[admin]\nsocket = \"admin.sock\"\n",
            self.name,
            cache.display(),
            self.port,
            spec.quic.as_deref().unwrap_or(FAST_LINKS),
        );
        for (port, address) in &spec.peers {
            toml.push_str(&format!("\n[[peers]]\naddress = \"127.0.0.1:{port}\"\nnode = \"{address}\"\n"));
        }
        for (name, binding, permissions) in &spec.plugins {
            let perms: Vec<String> = permissions.iter().map(|p| format!("\"{p}\"")).collect();
            toml.push_str(&format!(
                "\n[[plugins]]\nfile = \"{}\"\npermissions = [{}]\n",
                crate::plugin(name, *binding).display(),
                perms.join(", ")
            ));
        }
        toml.push_str(&spec.extra);
        std::fs::write(self.config_path(), toml).expect("write config");
    }

    /// Writes the config and starts `weft run`; waits until the admin socket answers.
    pub fn start(&mut self, spec: &NodeSpec) {
        self.write_config(spec);
        self.launch();
    }

    /// Starts `weft run` with the config already written.
    pub fn launch(&mut self) {
        self.launch_with(&[]);
    }

    /// Starts `weft run` with extra arguments (e.g. `--log-format json`).
    pub fn launch_with(&mut self, extra: &[&str]) {
        let mut command = Command::new(weft_bin());
        command.args(["run", "--config", self.config_path().to_str().expect("utf-8 path")]).args(extra);
        self.launch_command(command);
    }

    /// Starts `weft run` with extra environment variables.
    pub fn launch_env(&mut self, env: &[(&str, &str)]) {
        let mut command = Command::new(weft_bin());
        command.args(["run", "--config", self.config_path().to_str().expect("utf-8 path")]);
        command.envs(env.iter().copied());
        self.launch_command(command);
    }

    /// Starts `weft run` allowed at most `limit` open files (through
    /// util-linux's `prlimit`), as an operator's tight `ulimit -n` would.
    pub fn launch_with_fd_limit(&mut self, limit: u64) {
        let mut command = Command::new("prlimit");
        command.arg(format!("--nofile={limit}:{limit}")).arg("--").arg(weft_bin()).args([
            "run",
            "--config",
            self.config_path().to_str().expect("utf-8 path"),
        ]);
        self.launch_command(command);
    }

    fn launch_command(&mut self, mut command: Command) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).expect("log file");
        let child = command
            .env("WEFT_LOG", "info,weft_host=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn weft run");
        self.child = Some(child);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if self.ctl(&["status"]).0 == 0 {
                return;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("node {} exited at start ({status})\n--- log ---\n{}", self.name, self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("node {}: the admin socket did not answer within 60 s\n--- log ---\n{}", self.name, self.log());
    }

    /// The node's log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("node.log")
    }

    /// The node's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Runs `weft ctl --socket S --json ARGS`; returns (exit code, parsed JSON or Null, stderr).
    pub fn ctl(&self, args: &[&str]) -> (i32, Value, String) {
        let socket = self.socket();
        let mut full = vec!["ctl", "--socket", socket.to_str().expect("utf-8 path"), "--json"];
        full.extend_from_slice(args);
        let (code, out, err) = weft(&full);
        (code, serde_json::from_str(&out).unwrap_or(Value::Null), err)
    }

    /// `weft ctl peers` rows.
    pub fn peers(&self) -> Vec<Value> {
        let (_, json, _) = self.ctl(&["peers"]);
        json["result"].as_array().cloned().unwrap_or_default()
    }

    /// The `peers` row for `node`, if any.
    pub fn peer_row(&self, node: &TestNode) -> Option<Value> {
        self.peers().into_iter().find(|r| r["node"] == node.address.as_str())
    }

    /// Whether the link to `node` is up.
    pub fn linked_to(&self, node: &TestNode) -> bool {
        self.peer_row(node).is_some_and(|r| r["state"] == "up")
    }

    /// Waits (bounded by `limit`) until this node and `other` both see their link up.
    pub fn linked_with(&self, other: &TestNode, limit: Duration) {
        self.wait_until(&format!("linked to {}", other.name), limit, |n| n.linked_to(other));
        other.wait_until(&format!("linked to {}", self.name), limit, |n| n.linked_to(self));
    }

    /// Waits (bounded) until `condition` holds; panics with the log otherwise.
    pub fn wait_until(&self, what: &str, limit: Duration, mut condition: impl FnMut(&Self) -> bool) {
        let start = Instant::now();
        while start.elapsed() < limit {
            if condition(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("node {}: timed out after {limit:?} waiting until {what}\n--- log ---\n{}", self.name, self.log());
    }

    /// `weft ctl call echo ping` to `to`; returns (exit code, JSON, stderr).
    pub fn ping(&self, to: &TestNode, text: &str) -> (i32, Value, String) {
        let args = serde_json::json!({ "to": to.address, "text": text }).to_string();
        self.ctl(&["call", "echo", "ping", &args])
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// Sends a signal (`HUP`, `TERM`, ...) to the running process.
    pub fn signal(&self, name: &str) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill").args([&format!("-{name}"), &child.id().to_string()]).status();
        }
    }

    /// The process's resident memory, bytes (from `/proc`), if it runs.
    pub fn rss_bytes(&self) -> Option<u64> {
        let pid = self.child.as_ref()?.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// CPU time the process has used (user + system), seconds, if it runs
    /// (from `/proc`, in the kernel's fixed 100 ticks a second).
    pub fn cpu_seconds(&self) -> Option<f64> {
        let pid = self.child.as_ref()?.id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The fields after the command name (which may hold spaces).
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(ticks as f64 / 100.0)
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether a multicast datagram sent on 127.0.0.1 comes back to a member of
/// the group, as discovery needs. The error says why not.
pub fn multicast_works(port: u16) -> Result<(), String> {
    use std::net::Ipv4Addr;
    let group = Ipv4Addr::new(239, 255, 87, 70);
    let receiver = UdpSocket::bind(("0.0.0.0", port)).map_err(|e| format!("bind: {e}"))?;
    receiver.join_multicast_v4(&group, &Ipv4Addr::LOCALHOST).map_err(|e| format!("join: {e}"))?;
    receiver.set_read_timeout(Some(Duration::from_secs(2))).map_err(|e| e.to_string())?;
    let sender = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    sender.set_multicast_loop_v4(true).map_err(|e| e.to_string())?;
    sender.send_to(b"probe", (group, port)).map_err(|e| format!("send: {e}"))?;
    let mut buf = [0u8; 16];
    receiver.recv_from(&mut buf).map(|_| ()).map_err(|e| format!("no multicast delivery on loopback: {e}"))
}

/// Whether a `weft ctl links` row lists `address` as a neighbour that is up.
pub fn radio_hears(row: &serde_json::Value, address: &str) -> bool {
    row["neighbours"].as_array().is_some_and(|list| list.iter().any(|n| n["address"] == address && n["up"] == true))
}
