//! runc's `--log`, `--log-format` and `--debug`.
//!
//! Errors and warnings always go to stderr for the person at the terminal.
//! With `--log FILE` they also go to FILE, one line each, as runc writes
//! them: JSON `{"level":"error","msg":"…","time":"…"}` or logfmt text.
//! Docker and containerd read that file and show its last error.

use std::io::Write;
use std::sync::Mutex;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Text,
    Json,
}

struct Log {
    file: Option<std::fs::File>,
    format: Format,
    debug: bool,
}

static LOG: Mutex<Log> = Mutex::new(Log {
    file: None,
    format: Format::Text,
    debug: false,
});

fn lock() -> std::sync::MutexGuard<'static, Log> {
    LOG.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn init(path: Option<&std::path::Path>, format: Format, debug: bool) -> Result<(), String> {
    let mut l = lock();
    l.format = format;
    l.debug = debug;
    if let Some(p) = path {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .map_err(|e| format!("cannot open log file {}: {e}", p.display()))?;
        l.file = Some(f);
    }
    Ok(())
}

pub fn line(format: Format, level: &str, msg: &str, time: &str) -> String {
    match format {
        Format::Json => serde_json::json!({"level": level, "msg": msg, "time": time}).to_string(),
        Format::Text => format!("time={time:?} level={level} msg={msg:?}"),
    }
}

fn write(level: &str, msg: &str) {
    let mut l = lock();
    let fmt = l.format;
    if let Some(f) = l.file.as_mut() {
        let _ = writeln!(f, "{}", line(fmt, level, msg, &crate::state::now_rfc3339()));
    }
}

pub fn error(msg: &str) {
    eprintln!("learnrt: {msg}");
    write("error", msg);
}

pub fn warn(msg: &str) {
    eprintln!("learnrt: warning: {msg}");
    write("warning", msg);
}

pub fn debug(msg: impl FnOnce() -> String) {
    if !lock().debug {
        return;
    }
    let m = msg();
    eprintln!("learnrt: debug: {m}");
    write("debug", &m);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_look_like_runc() {
        let l = line(Format::Json, "error", "boom \"x\"", "2021-02-13T03:13:32Z");
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "boom \"x\"");
        assert_eq!(
            line(Format::Text, "warning", "a b", "t"),
            "time=\"t\" level=warning msg=\"a b\""
        );
    }
}
