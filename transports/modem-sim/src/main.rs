//! `weft-modem-sim`: runs virtual LoRa modems on pseudo-terminals until
//! SIGINT or SIGTERM.
//!
//! ```text
//! weft-modem-sim --device NAME:rnode:/path/to/link --device NAME2:rak3172:/path2
//!                [--loss FROM:TO:PROBABILITY] [--time-scale X] [--seed N]
//! ```
//!
//! Prints `NAME PROTOCOL PATH` per device, then `ready`, on stdout; on exit
//! prints each device's counters on stderr. Bad arguments exit with code 2.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use weft_modem_sim::rak3172::Rui3Behaviour;
use weft_modem_sim::{DeviceSpec, LinkQuality, RxFormat, Sim, SimConfig};

const USAGE: &str = "\
usage: weft-modem-sim --device NAME:PROTOCOL[:LINK] [--device ...] [--loss FROM:TO:P] [--time-scale X] [--seed N]

  --device NAME:PROTOCOL[:LINK]  a virtual modem; PROTOCOL is rnode, rak3172 or rak3172-old (RAK3172 with the
                                 older two-line RX event format); LINK is a symlink to create, pointing at the
                                 device's /dev/pts/N (without it the PTY path is printed). A RAK3172 follows
                                 RUI 4.2.1 as documented; options after a + change that, e.g.
                                 rak3172+v3.4.11+bw-khz: vX.Y.Z (release), bw-khz or bw-index-only (how AT+P2P
                                 writes the bandwidth), lenient (sends and setters accepted while receiving)
  --loss FROM:TO:P               frames from FROM are lost at TO with probability P (0..=1; one direction)
  --time-scale X                 run radio time X times faster than real time (default 1.0)
  --seed N                       seed for loss, CSMA and sequence numbers (default 1)

Prints `NAME PROTOCOL PATH` per device, then `ready`; runs until SIGINT or SIGTERM.";

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

#[derive(Debug)]
struct Args {
    config: SimConfig,
    devices: Vec<DeviceSpec>,
    losses: Vec<(String, String, f64)>,
}

fn parse_device(value: &str) -> Result<DeviceSpec, String> {
    let mut parts = value.splitn(3, ':');
    let name = parts.next().unwrap_or_default();
    let protocol = parts.next().ok_or_else(|| {
        format!("--device {value:?}: expected NAME:PROTOCOL[:LINK] (PROTOCOL rnode, rak3172 or rak3172-old)")
    })?;
    if name.is_empty() {
        return Err(format!("--device {value:?}: the device name is empty"));
    }
    let link = parts.next().filter(|l| !l.is_empty()).map(PathBuf::from);
    let (protocol, options) = protocol.split_once('+').unwrap_or((protocol, ""));
    let rak = |spec: DeviceSpec| -> Result<DeviceSpec, String> {
        let rak = Rui3Behaviour::parse_options(options).map_err(|e| format!("--device {value:?}: {e}"))?;
        Ok(DeviceSpec { rak, ..spec })
    };
    match protocol {
        "rnode" if options.is_empty() => Ok(DeviceSpec::rnode(name, link)),
        "rak3172" => rak(DeviceSpec::rak3172(name, link)),
        "rak3172-old" => rak(DeviceSpec { rx_format: RxFormat::Old, ..DeviceSpec::rak3172(name, link) }),
        other => Err(format!(
            "--device {value:?}: unknown protocol {other:?} (expected rnode, rak3172 or rak3172-old, \
             the RAK3172 ones with +options)"
        )),
    }
}

fn parse_loss(value: &str) -> Result<(String, String, f64), String> {
    let parts: Vec<&str> = value.split(':').collect();
    let [from, to, p] = parts[..] else {
        return Err(format!("--loss {value:?}: expected FROM:TO:PROBABILITY, e.g. a:b:0.1"));
    };
    let p: f64 = p.parse().map_err(|_| format!("--loss {value:?}: {p:?} is not a number"))?;
    if !(0.0..=1.0).contains(&p) {
        return Err(format!("--loss {value:?}: the probability must be within 0..=1"));
    }
    Ok((from.to_string(), to.to_string(), p))
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
    let mut parsed = Args { config: SimConfig::default(), devices: Vec::new(), losses: Vec::new() };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_string(), Some(value.to_string())),
            _ => (arg.clone(), None),
        };
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        let mut value = || inline.clone().or_else(|| args.next()).ok_or_else(|| format!("{flag} expects a value"));
        match flag.as_str() {
            "--device" => parsed.devices.push(parse_device(&value()?)?),
            "--loss" => parsed.losses.push(parse_loss(&value()?)?),
            "--time-scale" => {
                let v = value()?;
                let scale: f64 = v.parse().map_err(|_| format!("--time-scale {v:?}: expected a positive number"))?;
                if !(scale.is_finite() && scale > 0.0) {
                    return Err(format!("--time-scale {v:?}: expected a positive number"));
                }
                parsed.config.time_scale = scale;
            }
            "--seed" => {
                let v = value()?;
                parsed.config.seed = v.parse().map_err(|_| format!("--seed {v:?}: expected an unsigned integer"))?;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if parsed.devices.is_empty() {
        return Err("at least one --device is required".into());
    }
    for (from, to, _) in &parsed.losses {
        for name in [from, to] {
            if !parsed.devices.iter().any(|d| &d.name == name) {
                return Err(format!("--loss {from}:{to}: no device named {name:?}"));
            }
        }
    }
    Ok(Some(parsed))
}

fn main() {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return;
        }
        Err(message) => {
            eprintln!("weft-modem-sim: {message}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    let specs = args.devices.clone();
    let sim = match Sim::start(args.config, args.devices) {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("weft-modem-sim: {e}");
            std::process::exit(1);
        }
    };
    for (from, to, loss) in &args.losses {
        sim.set_link(from, to, LinkQuality { loss: *loss, ..LinkQuality::default() });
    }
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    let mut stdout = std::io::stdout().lock();
    for spec in &specs {
        let path = sim.path(&spec.name).map(|p| p.display().to_string()).unwrap_or_default();
        let _ = writeln!(stdout, "{} {} {}", spec.name, spec.protocol.name(), path);
    }
    let _ = writeln!(stdout, "ready");
    let _ = stdout.flush();
    drop(stdout);
    while !STOP.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
    for spec in &specs {
        if let Some(stats) = sim.stats(&spec.name) {
            eprintln!("{} {}: {stats}", spec.name, spec.protocol.name());
        }
    }
    sim.stop();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn good_arguments_parse() {
        let parsed = parse(args(
            "--device a:rnode:/tmp/a --device b:rak3172 --device c:rak3172-old:/x:y --loss a:b:0.25 --time-scale=10 --seed 7",
        ))
        .expect("valid")
        .expect("not help");
        assert_eq!(parsed.devices.len(), 3);
        assert_eq!(parsed.devices[0], DeviceSpec::rnode("a", PathBuf::from("/tmp/a")));
        assert_eq!(parsed.devices[1], DeviceSpec::rak3172("b", None));
        assert_eq!(parsed.devices[2].rx_format, RxFormat::Old);
        assert_eq!(parsed.devices[2].link, Some(PathBuf::from("/x:y")));
        let old = parse(args("--device d:rak3172+v3.4.11+bw-khz+lenient")).expect("valid").expect("not help");
        let rak = old.devices[0].rak;
        assert_eq!(rak.version, weft_modem_sim::rak3172::FirmwareVersion::new(3, 4, 11));
        assert_eq!(rak.bandwidth, weft_modem_sim::rak3172::BandwidthForm::Khz);
        assert!(rak.lenient);
        assert_eq!(parsed.losses, vec![("a".into(), "b".into(), 0.25)]);
        assert_eq!(parsed.config, SimConfig { time_scale: 10.0, seed: 7 });
        assert!(parse(args("--help")).expect("help").is_none());
    }

    #[test]
    fn bad_arguments_say_which_and_what_was_expected() {
        let cases = [
            ("", "at least one --device"),
            ("--device a", "NAME:PROTOCOL"),
            ("--device :rnode", "name is empty"),
            ("--device a:lora", "unknown protocol"),
            ("--device a:rnode+lenient", "unknown protocol"),
            ("--device a:rak3172+fast", "unknown RAK3172 option \"fast\""),
            ("--device a:rak3172+v4.x", "vMAJOR.MINOR.PATCH"),
            ("--device a:rnode --loss a:b:0.1", "no device named \"b\""),
            ("--device a:rnode --loss a:a", "FROM:TO:PROBABILITY"),
            ("--device a:rnode --loss a:a:2", "within 0..=1"),
            ("--device a:rnode --time-scale 0", "--time-scale"),
            ("--device a:rnode --time-scale", "expects a value"),
            ("--device a:rnode --seed -1", "--seed"),
            ("--device a:rnode --frobnicate", "unknown argument"),
        ];
        for (line, expected) in cases {
            let error = parse(args(line)).expect_err(line);
            assert!(error.contains(expected), "{line:?}: {error}");
        }
    }
}
