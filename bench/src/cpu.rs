//! CPU time of processes, read from /proc (Linux): the server's own, and
//! PostgreSQL's over all its processes, for "CPU-seconds per 1,000
//! executions".

use std::time::Duration;

/// Clock ticks per second of /proc's CPU fields.
fn ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}

/// (name, parent pid, user+system ticks, ticks of waited-for children) of one process.
fn stat(pid: u32) -> Option<(String, u32, u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name is in parentheses and may hold spaces; the fields follow it.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text[open + 1..close].to_owned();
    let fields: Vec<&str> = text[close + 2..].split_whitespace().collect();
    let number = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    // After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
    let parent = number(1)? as u32;
    Some((
        name,
        parent,
        number(11)? + number(12)?,
        number(13)? + number(14)?,
    ))
}

/// CPU time used so far by the process `pid`.
pub fn of_process(pid: u32) -> Duration {
    let ticks = stat(pid).map(|(_, _, own, _)| own).unwrap_or(0);
    Duration::from_secs_f64(ticks as f64 / ticks_per_second())
}

/// CPU time used so far by every `postgres` process on this machine: the
/// live ones, plus what the postmaster has collected from backends that
/// ended. None when no PostgreSQL runs here (a remote database).
pub fn of_postgres() -> Option<Duration> {
    let mut ticks = 0u64;
    let mut found = false;
    let processes = std::fs::read_dir("/proc").ok()?;
    let stats: Vec<(u32, (String, u32, u64, u64))> = processes
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, stat(pid)?)))
        .filter(|(_, (name, ..))| name == "postgres")
        .collect();
    let pids: std::collections::HashSet<u32> = stats.iter().map(|(pid, _)| *pid).collect();
    for (_, (_, parent, own, children)) in &stats {
        found = true;
        ticks += own;
        if !pids.contains(parent) {
            ticks += children;
        }
    }
    found.then(|| Duration::from_secs_f64(ticks as f64 / ticks_per_second()))
}
