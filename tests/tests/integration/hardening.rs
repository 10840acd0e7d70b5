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
