//! Turning events into text: the human `--explain` view (colours with
//! owo-colors) and one JSON object per line for `--trace`.

use std::io::IsTerminal;

use owo_colors::OwoColorize;
use serde_json::json;

use super::{catalog, Event, Step, STAGES};

/// Colours only when stderr is a terminal and NO_COLOR is not set.
pub fn color_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
}

/// Colours for stdout (`learnrt explain`).
pub fn color_wanted_stdout() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}

fn who(pid: i32, ns_pid: Option<i32>) -> String {
    match ns_pid {
        Some(1) => format!("container init: pid {pid} on the host, 1 inside"),
        Some(n) => format!("container process: pid {pid} on the host, {n} inside"),
        None => format!("learnrt: pid {pid}"),
    }
}

/// Wrap `text` at ~76 columns with an indent.
fn wrap(text: &str, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for w in text.split_whitespace() {
        if !line.is_empty() && line.len() + w.len() + 1 > 76 {
            out.push_str(indent);
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(w);
    }
    if !line.is_empty() {
        out.push_str(indent);
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The stage header with its explanation, as `--explain` and `learnrt
/// explain STAGE` show it.
pub fn stage_text(step: &Step, color: bool, with_why: bool) -> String {
    let head = format!("[{}/{}] {} — {}", step.stage, STAGES, step.id, step.title);
    let mut s = String::new();
    if color {
        s.push_str(&format!("{}\n", head.bold().cyan()));
    } else {
        s.push_str(&head);
        s.push('\n');
    }
    if with_why {
        let why = wrap(step.why, "        ");
        let why = why.trim_start().to_string();
        if color {
            s.push_str(&format!("  {}  {}", "why:".yellow(), why.italic()));
        } else {
            s.push_str(&format!("  why:  {why}"));
        }
        let man = step.man.join(", ");
        let shell = step.shell.replace('\n', "\n         ");
        if color {
            s.push_str(&format!("  {}  {}\n", "man:".yellow(), man));
            s.push_str(&format!("  {} {}\n", "shell:".yellow(), shell.green()));
        } else {
            s.push_str(&format!("  man:  {man}\n"));
            s.push_str(&format!("  shell: {shell}\n"));
        }
    }
    s
}

/// One event as text for a person.
pub fn human(ev: &Event, color: bool) -> String {
    match ev {
        Event::StageStart {
            stage,
            pid,
            ns_pid,
            from,
            ..
        } => {
            let mut s = String::from("\n");
            match catalog::find(stage) {
                Some(step) => s.push_str(&stage_text(step, color, true)),
                None => s.push_str(&format!("[?] {stage}\n")),
            }
            let w = format!("  by:   {}\n", who(*pid, *ns_pid));
            if color {
                s.push_str(&w.dimmed().to_string());
            } else {
                s.push_str(&w);
            }
            if !from.is_empty() {
                s.push_str(&format!("  from: config.json {}\n", from.join(", ")));
            }
            s
        }
        Event::Syscall {
            syscall,
            args,
            ret,
            errno,
            ..
        } => {
            let result = match errno {
                Some(e) => format!("= -1 {e}"),
                None => format!("= {ret}"),
            };
            if color {
                let res = if errno.is_some() {
                    result.red().bold().to_string()
                } else {
                    result.green().to_string()
                };
                format!("    {}({args}) {res}\n", syscall.bold())
            } else {
                format!("    {syscall}({args}) {result}\n")
            }
        }
        Event::Note { text, .. } => {
            let text = text.replace('\n', "\n      ");
            if color {
                format!("    {} {}\n", "·".blue(), text.blue())
            } else {
                format!("    · {text}\n")
            }
        }
        Event::StageEnd {
            ok: false, stage, ..
        } => {
            let t = format!("  ✗ {stage} failed\n");
            if color {
                t.red().bold().to_string()
            } else {
                t
            }
        }
        Event::StageEnd { .. } => String::new(),
    }
}

/// One event as a JSON line (`--trace`). Field names are part of the
/// interface: see the book's "Explain, step and trace" chapter.
pub fn json_line(ev: &Event, seq: u64) -> String {
    let mut v = serde_json::to_value(ev).unwrap_or_else(|_| json!({}));
    if let Some(o) = v.as_object_mut() {
        o.insert("seq".into(), json!(seq));
        if let Event::StageStart { stage, .. } = ev {
            if let Some(step) = catalog::find(stage) {
                o.insert("man".into(), json!(step.man));
            }
        }
    }
    v.to_string()
}

/// The `--step` prompt, with the real pid filled into the hints.
pub fn prompt(step: &Step, pid: i32, color: bool) -> String {
    let mut s = String::new();
    let head = format!(
        "\n── paused before [{}/{}] {} — {}\n",
        step.stage, STAGES, step.id, step.title
    );
    if color {
        s.push_str(&head.magenta().bold().to_string());
    } else {
        s.push_str(&head);
    }
    if !step.look.is_empty() {
        s.push_str("   look now, from another terminal:\n");
        for l in step.look {
            s.push_str(&format!("     {}\n", l.replace("{pid}", &pid.to_string())));
        }
    }
    s.push_str("   Enter: run this stage    q then Enter: abort (nothing is left behind) ");
    s
}
