//! A `tracing-subscriber` layer that turns stage spans and syscall events
//! into [`Event`]s for the current sink.

use std::fmt::Debug;
use std::time::Instant;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

use super::{catalog, sink, Event};

struct StageData {
    id: String,
    start: Instant,
    failed: bool,
}

#[derive(Default)]
struct Fields {
    id: String,
    from: String,
    syscall: String,
    args: String,
    ret: String,
    errno: Option<String>,
    dur_us: u64,
    text: String,
    failed: bool,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        let v = value.to_string();
        match field.name() {
            "id" => self.id = v,
            "from" => self.from = v,
            "syscall" => self.syscall = v,
            "args" => self.args = v,
            "ret" => self.ret = v,
            "errno" => self.errno = Some(v),
            "text" => self.text = v,
            _ => {}
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "dur_us" {
            self.dur_us = value;
        }
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == "failed" {
            self.failed = value;
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

fn pid() -> i32 {
    std::process::id() as i32
}

pub struct ExplainLayer;

impl<S> Layer<S> for ExplainLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut f = Fields::default();
        attrs.record(&mut f);
        let Some(span) = ctx.span(id) else { return };
        let step = catalog::find(&f.id);
        span.extensions_mut().insert(StageData {
            id: f.id.clone(),
            start: Instant::now(),
            failed: false,
        });
        sink::emit(Event::StageStart {
            n: step.map_or(0, |s| s.stage),
            of: super::STAGES,
            title: step.map_or(String::new(), |s| s.title.to_string()),
            actor: if sink::is_init() { "init" } else { "runtime" }.into(),
            stage: f.id,
            pid: pid(),
            ns_pid: None,
            from: if f.from.is_empty() {
                vec![]
            } else {
                f.from.split(", ").map(str::to_string).collect()
            },
        });
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let mut f = Fields::default();
        event.record(&mut f);
        let stage = ctx
            .event_span(event)
            .and_then(|s| s.extensions().get::<StageData>().map(|d| d.id.clone()))
            .unwrap_or_default();
        let target = event.metadata().target();
        let ev = match target {
            "learnrt::sys" => Event::Syscall {
                stage,
                syscall: f.syscall,
                args: f.args,
                ret: f.ret,
                errno: f.errno,
                dur_us: f.dur_us,
                pid: pid(),
                ns_pid: None,
            },
            "learnrt::note" => Event::Note {
                stage,
                text: f.text,
                pid: pid(),
                ns_pid: None,
            },
            "learnrt::failed" => {
                if let Some(s) = ctx.event_span(event) {
                    if let Some(d) = s.extensions_mut().get_mut::<StageData>() {
                        d.failed = true;
                    }
                }
                return;
            }
            _ => return,
        };
        sink::emit(ev);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let ext = span.extensions();
        let Some(d) = ext.get::<StageData>() else {
            return;
        };
        sink::emit(Event::StageEnd {
            stage: d.id.clone(),
            ok: !d.failed,
            dur_us: d.start.elapsed().as_micros() as u64,
            pid: pid(),
            ns_pid: None,
        });
    }
}

/// Install the layer as the global subscriber (once per process).
pub fn install() {
    let sub = tracing_subscriber::registry().with(ExplainLayer);
    let _ = tracing::subscriber::set_global_default(sub);
}
