#!/usr/bin/env python3
"""Reticulum in the shape of Weft's relay benchmark (`cargo xtask bench-ops relay`).

A -> B -> C as three Reticulum instances in three processes on 127.0.0.1:
B runs transport (it relays) with a TCP server; A and C connect to it as
TCP clients. C announces a SINGLE destination; A finds the path and sends
N packets of P bytes to it (each encrypted to C, as Reticulum does for
every single packet), as fast as `Packet.send()` takes them. We report
packets delivered per second at C (first send to last arrival) and B's CPU
per packet delivered, like the Weft figures printed just before.

Run by the benchmark when `python3 -c "import RNS"` works; by hand:
  python3 reticulum_relay.py --dir /tmp/rns-bench --messages 20000 --payload 100
"""

import argparse
import os
import subprocess
import sys
import time

APP = "weftbench"
# RETICULUM_BENCH_LOG=1: each instance logs verbosely to <its dir>/logfile.
LOGGING = {"loglevel": 6, "logdest": 146} if os.environ.get("RETICULUM_BENCH_LOG") else {}
PORT_BASE = 42_000 + (os.getpid() % 1000) * 4


def config(directory, transport, interface):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config"), "w") as f:
        f.write(
            "[reticulum]\n"
            f"  enable_transport = {'Yes' if transport else 'No'}\n"
            "  share_instance = No\n"
            "  panic_on_interface_error = Yes\n"
            "[logging]\n"
            "  loglevel = 1\n"
            "[interfaces]\n" + interface
        )


def server(port):
    return (
        "  [[Bench Server]]\n"
        "    type = TCPServerInterface\n"
        "    enabled = yes\n"
        "    listen_ip = 127.0.0.1\n"
        f"    listen_port = {port}\n"
    )


def client(port):
    return (
        "  [[Bench Client]]\n"
        "    type = TCPClientInterface\n"
        "    enabled = yes\n"
        "    target_host = 127.0.0.1\n"
        f"    target_port = {port}\n"
    )


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_relay(directory):
    import RNS

    RNS.Reticulum(directory, **LOGGING)
    print("READY", flush=True)
    sys.stdin.readline()  # until the parent closes stdin


def run_sink(directory, identity_path, expected, out_path):
    import RNS

    RNS.Reticulum(directory, **LOGGING)
    identity = RNS.Identity.from_file(identity_path)
    destination = RNS.Destination(identity, RNS.Destination.IN, RNS.Destination.SINGLE, APP, "sink")
    state = {"count": 0, "first": None, "last": None}

    def received(data, packet):
        now = time.time()
        state["count"] += 1
        state["first"] = state["first"] or now
        state["last"] = now

    destination.set_packet_callback(received)
    print("SINK", destination.hash.hex(), flush=True)
    deadline = time.time() + 300
    quiet_since = time.time()
    last_count = 0
    next_announce = 0.0
    while time.time() < deadline:
        # Announced again now and then (Reticulum's ingress control holds
        # back a destination that announces too often).
        if time.time() >= next_announce:
            destination.announce()
            next_announce = time.time() + 5
        time.sleep(0.2)
        if state["count"] != last_count:
            last_count, quiet_since = state["count"], time.time()
        if state["count"] >= expected or time.time() - quiet_since > (10 if state["count"] else 120):
            break
    with open(out_path, "w") as f:
        f.write(f"{state['count']} {state['first'] or 0} {state['last'] or 0}\n")


def run_sender(directory, destination_hex, messages, payload, out_path):
    import RNS

    RNS.Reticulum(directory, **LOGGING)
    destination_hash = bytes.fromhex(destination_hex)
    deadline = time.time() + 60
    while not RNS.Transport.has_path(destination_hash):
        if time.time() > deadline:
            sys.exit("no path to the sink within 60 s")
        RNS.Transport.request_path(destination_hash)
        time.sleep(0.5)
    identity = RNS.Identity.recall(destination_hash)
    destination = RNS.Destination(identity, RNS.Destination.OUT, RNS.Destination.SINGLE, APP, "sink")
    started = time.time()
    for i in range(messages):
        RNS.Packet(destination, str(i).zfill(payload).encode()).send()
    with open(out_path, "w") as f:
        f.write(f"{started} {time.time()}\n")
    time.sleep(15)  # let the interface drain before the process ends


def tagged(process, tag):
    """The rest of the first line `process` prints that starts with `tag`
    (Reticulum may log to the same stdout)."""
    for line in process.stdout:
        if line.startswith(tag):
            return line[len(tag):].strip()
    sys.exit(f"{tag}: the process ended without saying it")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--payload", type=int, default=100)
    parser.add_argument("--role", choices=["relay", "sink", "sender"])
    parser.add_argument("--destination")
    parser.add_argument("--identity")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.role == "relay":
        return run_relay(args.dir)
    if args.role == "sink":
        return run_sink(args.dir, args.identity, args.messages, args.out)
    if args.role == "sender":
        return run_sender(args.dir, args.destination, args.messages, args.payload, args.out)

    import RNS

    base = os.path.abspath(args.dir)
    dirs = {name: os.path.join(base, name) for name in ("a", "b", "c")}
    config(dirs["b"], True, server(PORT_BASE))
    config(dirs["a"], False, client(PORT_BASE))
    config(dirs["c"], False, client(PORT_BASE))
    me = os.path.abspath(__file__)
    common = ["--messages", str(args.messages), "--payload", str(args.payload)]
    relay = subprocess.Popen(
        [sys.executable, me, "--role", "relay", "--dir", dirs["b"]] + common,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    tagged(relay, "READY")
    sink_out, sender_out = os.path.join(base, "sink.txt"), os.path.join(base, "sender.txt")
    # The sink's identity is made here, so the sender can be started (and
    # connected to the relay) before the sink's first announce goes out:
    # the relay rebroadcasts it to the sender at once, where later ones are
    # held back by Reticulum's announce rate control.
    identity_path = os.path.join(base, "sink.identity")
    identity = RNS.Identity()
    identity.to_file(identity_path)
    destination = RNS.Destination.hash(identity, APP, "sink").hex()
    sender = subprocess.Popen(
        [sys.executable, me, "--role", "sender", "--dir", dirs["a"], "--destination", destination, "--out", sender_out]
        + common
    )
    time.sleep(3)
    cpu_before = cpu_seconds(relay.pid)
    sink = subprocess.Popen(
        [sys.executable, me, "--role", "sink", "--dir", dirs["c"], "--identity", identity_path, "--out", sink_out]
        + common,
        stdout=subprocess.PIPE,
        text=True,
    )
    if tagged(sink, "SINK") != destination:
        sys.exit("the sink's destination is not the one the sender looks for")
    sink.wait(timeout=700)
    relay_cpu = cpu_seconds(relay.pid) - cpu_before
    sender.wait(timeout=120)
    relay.stdin.close()
    relay.terminate()
    relay.wait(timeout=30)
    count, first, last = open(sink_out).read().split()
    started, _sent = open(sender_out).read().split()
    count, elapsed = int(count), float(last) - float(started)
    print(
        f"reticulum {getattr(RNS, '__version__', '?')} relay A -> B -> C, three RNS processes, TCP on 127.0.0.1: "
        f"{count} of {args.messages} {args.payload}-byte single packets (each encrypted to C) "
        f"in {elapsed:.2f} s = {count / max(elapsed, 1e-9):.0f} pkt/s delivered; "
        f"relay CPU {relay_cpu * 1e6 / max(count, 1):.1f} µs/pkt"
    )


if __name__ == "__main__":
    main()
