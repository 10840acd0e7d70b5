//! `cargo xtask fuzz`: the cargo-fuzz targets in `fuzz/` (issue 18).
//!
//! - `cargo xtask fuzz [--seconds N] [--runs N] [--parallel N] [TARGET...] [-- LIBFUZZER_ARGS]`:
//!   runs each target (all without names) for `N` seconds (default 60), at
//!   most `--runs` executions, `--parallel` at once (default 1), and prints
//!   per target the executions, coverage (`cov`/`ft` from libFuzzer's
//!   final stats) and whether it crashed. Fails if any crashed.
//! - `cargo xtask fuzz --build`: only builds every target (for CI).
//!
//! cargo-fuzz is installed when missing (`cargo install cargo-fuzz
//! --locked`). It runs on the stable toolchain with `RUSTC_BOOTSTRAP=1` (the
//! sanitizer flags are unstable). Each run reads the seeds in
//! `fuzz/corpus/<target>/` and the crash reproducers in
//! `fuzz/regressions/<target>/` (so every fixed crash is replayed first),
//! and writes what it finds to `fuzz/work/<target>/` (not committed), its
//! log to `fuzz/work/<target>.log` and crashes to `fuzz/artifacts/<target>/`.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const USAGE: &str =
    "usage: cargo xtask fuzz [--build] [--seconds N] [--runs N] [--parallel N] [TARGET...] [-- LIBFUZZER_ARGS]";

struct Options {
    build_only: bool,
    seconds: u64,
    runs: Option<u64>,
    parallel: usize,
    targets: Vec<String>,
    libfuzzer: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut o =
        Options { build_only: false, seconds: 60, runs: None, parallel: 1, targets: Vec::new(), libfuzzer: Vec::new() };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> Result<u64> {
            let value = it.next().with_context(|| format!("{name} needs a number\n{USAGE}"))?;
            value.parse().with_context(|| format!("{name} {value}: not a number\n{USAGE}"))
        };
        match arg.as_str() {
            "--build" => o.build_only = true,
            "--seconds" => o.seconds = number("--seconds")?,
            "--runs" => o.runs = Some(number("--runs")?),
            "--parallel" => o.parallel = number("--parallel")?.max(1) as usize,
            "--" => {
                o.libfuzzer = it.by_ref().cloned().collect();
            }
            flag if flag.starts_with('-') => bail!("unknown option {flag}\n{USAGE}"),
            target => o.targets.push(target.to_string()),
        }
    }
    Ok(o)
}

/// `cargo fuzz` with the environment every invocation needs.
fn cargo_fuzz(root: &Path) -> Command {
    let mut cmd = crate::cargo();
    cmd.current_dir(root).env("RUSTC_BOOTSTRAP", "1").arg("fuzz");
    cmd
}

/// Installs cargo-fuzz unless `cargo fuzz` already runs.
fn ensure_cargo_fuzz(root: &Path) -> Result<()> {
    let present = cargo_fuzz(root).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if present.is_ok_and(|s| s.success()) {
        return Ok(());
    }
    eprintln!("xtask: cargo-fuzz is missing; installing it (cargo install cargo-fuzz --locked)");
    crate::run(crate::cargo().args(["install", "cargo-fuzz", "--locked"]))
}

/// Every target `fuzz/Cargo.toml` declares, as `cargo fuzz list` prints them.
fn all_targets(root: &Path) -> Result<Vec<String>> {
    let out = cargo_fuzz(root).arg("list").output().context("cannot run cargo fuzz list")?;
    if !out.status.success() {
        bail!("cargo fuzz list failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// What one run of one target did.
struct Report {
    target: String,
    executions: Option<u64>,
    cov: Option<u64>,
    ft: Option<u64>,
    elapsed: Duration,
    crashed: bool,
    artifact: Option<String>,
    log: PathBuf,
}

/// The number after `key` on `line` (`cov: 123`, `ft: 45`).
fn field(line: &str, key: &str) -> Option<u64> {
    let mut words = line.split_whitespace();
    words.find(|w| *w == key)?;
    words.next()?.parse().ok()
}

/// Reads libFuzzer's log: executions from the final stats (or the "Done"
/// line, or the last status line), cov and ft from the last line that has them, and a crash
/// from the artifact it wrote. A `slow-unit-` artifact is not a failure:
/// libFuzzer writes one for any input that took over 10 s of wall time,
/// which a paused or starved process produces too (check it by hand).
fn read_log(text: &str) -> (Option<u64>, Option<u64>, Option<u64>, Option<String>) {
    // In order of trust: the final stats, the "Done" line, the last status line.
    let (mut stat, mut done, mut status) = (None, None, None);
    let (mut cov, mut ft) = (None, None);
    let mut artifact = None;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("stat::number_of_executed_units:") {
            stat = n.trim().parse().ok();
        } else if let Some(rest) = line.strip_prefix("Done ") {
            done = rest.split_whitespace().next().and_then(|n| n.parse().ok());
        }
        if line.starts_with('#') && line.contains(" cov: ") {
            cov = field(line, "cov:").or(cov);
            ft = field(line, "ft:").or(ft);
            status = line[1..].split_whitespace().next().and_then(|n| n.parse().ok()).or(status);
        }
        if let Some((_, path)) = line.split_once("Test unit written to ") {
            let path = path.trim();
            let name = path.rsplit('/').next().unwrap_or(path);
            if !name.starts_with("slow-unit-") {
                artifact = Some(path.to_string());
            }
        }
    }
    (stat.or(done).or(status), cov, ft, artifact)
}

fn run_one(root: &Path, target: &str, o: &Options) -> Result<Report> {
    let fuzz = root.join("fuzz");
    let work = fuzz.join("work").join(target);
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let log = fuzz.join("work").join(format!("{target}.log"));
    let log_file = std::fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
    let mut cmd = cargo_fuzz(root);
    cmd.args(["run", target]).arg(&work);
    for seeds in [fuzz.join("corpus").join(target), fuzz.join("regressions").join(target)] {
        if seeds.is_dir() {
            cmd.arg(seeds);
        }
    }
    cmd.arg("--").arg(format!("-max_total_time={}", o.seconds)).arg("-print_final_stats=1");
    if let Some(runs) = o.runs {
        cmd.arg(format!("-runs={runs}"));
    }
    cmd.args(&o.libfuzzer);
    cmd.stdout(log_file.try_clone()?).stderr(log_file);
    let started = Instant::now();
    let status = cmd.status().with_context(|| format!("cannot run cargo fuzz run {target}"))?;
    let elapsed = started.elapsed();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let (executions, cov, ft, artifact) = read_log(&text);
    Ok(Report {
        target: target.to_string(),
        executions,
        cov,
        ft,
        elapsed,
        crashed: !status.success() || artifact.is_some(),
        artifact,
        log,
    })
}

fn show(n: Option<u64>) -> String {
    n.map_or_else(|| "?".to_string(), |n| n.to_string())
}

/// Runs `cargo xtask fuzz ARGS`.
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let o = parse(args)?;
    ensure_cargo_fuzz(root)?;
    if o.build_only {
        eprintln!("xtask: cargo fuzz build (every target)");
        let started = Instant::now();
        crate::run(cargo_fuzz(root).arg("build"))?;
        eprintln!("xtask: built every fuzz target in {:.0} s", started.elapsed().as_secs_f64());
        return Ok(());
    }
    let known = all_targets(root)?;
    let targets = if o.targets.is_empty() { known.clone() } else { o.targets.clone() };
    if let Some(unknown) = targets.iter().find(|t| !known.contains(t)) {
        bail!("no fuzz target `{unknown}`; there are: {}", known.join(", "));
    }
    eprintln!(
        "xtask: fuzzing {} target(s) for {} s each{}, {} at once",
        targets.len(),
        o.seconds,
        o.runs.map(|r| format!(" (at most {r} runs)")).unwrap_or_default(),
        o.parallel
    );
    // Build first, once, so parallel runs do not wait on each other's build.
    let mut build = cargo_fuzz(root);
    build.arg("build");
    if let [one] = targets.as_slice() {
        build.arg(one);
    }
    crate::run(&mut build)?;
    let queue = Mutex::new(targets.iter());
    let reports = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..o.parallel.min(targets.len()) {
            s.spawn(|| {
                // The lock is taken and dropped in `next`, not held during the run.
                let next = || queue.lock().map(|mut q| q.next()).ok().flatten();
                while let Some(target) = next() {
                    eprintln!("xtask: fuzz {target}: running (log: fuzz/work/{target}.log)");
                    let report = run_one(root, target, &o);
                    match &report {
                        Ok(r) => eprintln!(
                            "xtask: fuzz {target}: {} executions, cov {}, ft {}, {:.0} s{}",
                            show(r.executions),
                            show(r.cov),
                            show(r.ft),
                            r.elapsed.as_secs_f64(),
                            if r.crashed { ", CRASHED" } else { "" }
                        ),
                        Err(e) => eprintln!("xtask: fuzz {target}: {e:#}"),
                    }
                    if let Ok(mut all) = reports.lock() {
                        all.push((target.clone(), report));
                    }
                }
            });
        }
    });
    let mut reports = reports.into_inner().unwrap_or_default();
    reports.sort_by_key(|(t, _)| targets.iter().position(|x| x == t));
    println!("\n| target | executions | cov | ft | time (s) | crashes |");
    println!("|---|---:|---:|---:|---:|---|");
    let mut failed = Vec::new();
    for (target, report) in &reports {
        match report {
            Ok(r) => {
                println!(
                    "| {} | {} | {} | {} | {:.0} | {} |",
                    r.target,
                    show(r.executions),
                    show(r.cov),
                    show(r.ft),
                    r.elapsed.as_secs_f64(),
                    match (&r.crashed, &r.artifact) {
                        (false, _) => "none".to_string(),
                        (true, Some(a)) => format!("yes: {a}"),
                        (true, None) => format!("yes (see {})", r.log.display()),
                    }
                );
                if r.crashed {
                    failed.push(target.clone());
                }
            }
            Err(e) => {
                println!("| {target} | ? | ? | ? | ? | not run: {e} |");
                failed.push(target.clone());
            }
        }
    }
    if !failed.is_empty() {
        bail!("fuzz target(s) crashed or did not run: {}", failed.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libfuzzer_final_stats_and_crashes() {
        let log = "INFO: Seed: 1\n#2\tINITED cov: 10 ft: 11 corp: 1/1b exec/s: 0 rss: 30Mb\n\
                   #1000\tNEW    cov: 40 ft: 52 corp: 9/99b lim: 4 exec/s: 0 rss: 31Mb\n\
                   #5000\tDONE   cov: 41 ft: 60 corp: 10/120b lim: 43 exec/s: 2500 rss: 31Mb\n\
                   Done 5000 runs in 2 second(s)\nstat::number_of_executed_units: 5000\n";
        assert_eq!(read_log(log), (Some(5000), Some(41), Some(60), None));
        let crash = "#77\tNEW    cov: 5 ft: 6 corp: 2/3b\n==1== ERROR: libFuzzer: deadly signal\n\
                     artifact_prefix='a/'; Test unit written to a/crash-abc\n";
        assert_eq!(read_log(crash), (Some(77), Some(5), Some(6), Some("a/crash-abc".into())));
        let slow = "#77\tNEW    cov: 5 ft: 6 corp: 2/3b\nartifact_prefix='a/'; Test unit written to a/slow-unit-abc\n\
                    Done 90 runs in 2 second(s)\n";
        assert_eq!(read_log(slow), (Some(90), Some(5), Some(6), None), "a slow unit is no crash");
    }
}
