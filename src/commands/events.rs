//! `learnrt events`: runc's event stream — `stats` every interval, `oom`
//! when the kernel's OOM killer strikes in the container.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::state::{Root, Status};

fn parse_interval(s: &str) -> Result<Duration> {
    let bad =
        || Error::new("events", format!("bad --interval {s:?}")).hint("use e.g. 5s, 500ms, 1m");
    let (num, unit) = s.trim().split_at(
        s.trim()
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len()),
    );
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(bad()),
    };
    if secs <= 0.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

pub fn run(root: &Root, id: &str, stats: bool, interval: &str) -> Result<i32> {
    let every = parse_interval(interval)?;
    let stat_event = || -> Result<serde_json::Value> {
        let (_l, st) = root.open(id)?;
        let cg = crate::stages::cgroups::of(&st)
            .ok_or_else(|| Error::new("events", format!("container {id} has no cgroup")))?;
        let data = cg
            .stats()
            .map_err(|e| Error::new("events", e.to_string()))?;
        Ok(serde_json::json!({"type": "stats", "id": id, "data": data}))
    };
    if stats {
        println!("{}", stat_event()?);
        return Ok(0);
    }
    let mut ooms = {
        let (_l, st) = root.open(id)?;
        crate::stages::cgroups::of(&st).map_or(0, |c| c.oom_kill_count())
    };
    loop {
        let (_l, st) = root.open(id)?;
        let stopped = st.status(&root.container_dir(id)) == Status::Stopped;
        let cg = crate::stages::cgroups::of(&st);
        drop(_l);
        // OOM first: a container the OOM killer just stopped still gets
        // its event.
        if let Some(cg) = &cg {
            let n = cg.oom_kill_count();
            if n > ooms {
                println!("{}", serde_json::json!({"type": "oom", "id": id}));
                ooms = n;
            }
        }
        if stopped {
            return Ok(0);
        }
        println!("{}", stat_event()?);
        std::thread::sleep(every);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn intervals() {
        assert_eq!(super::parse_interval("5s").unwrap().as_secs(), 5);
        assert_eq!(super::parse_interval("250ms").unwrap().as_millis(), 250);
        assert!(super::parse_interval("x").is_err());
    }
}
