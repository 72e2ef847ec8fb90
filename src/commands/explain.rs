//! `learnrt explain [STAGE]`: the stage catalog, without running anything.

use crate::error::{Error, Result};
use crate::explain::{catalog, render};

pub fn run(stage: Option<&str>) -> Result<i32> {
    let color = render::color_wanted_stdout();
    match stage {
        None => {
            println!(
                "The stages of `learnrt create` + `start`, in the order the kernel sees them:\n"
            );
            let mut last = 0;
            for s in catalog::ALL {
                let n = if s.stage != last {
                    format!("{:>2}.", s.stage)
                } else {
                    "   ".into()
                };
                last = s.stage;
                let who = match s.actor {
                    crate::explain::Actor::Runtime => "runtime",
                    crate::explain::Actor::Init => "init",
                };
                println!("{n} {:<24} {:<8} {}", s.id, who, s.title);
            }
            println!("\n`learnrt explain STAGE` tells one stage in full; `learnrt --explain create ID` shows them as they run.");
        }
        Some(id) => {
            let s = catalog::find(id).ok_or_else(|| {
                Error::new("explain", format!("no stage {id:?}"))
                    .hint("`learnrt explain` lists the stage ids")
            })?;
            print!("{}", render::stage_text(s, color, true));
            if !s.config.is_empty() {
                println!("  config.json: {}", s.config.join(", "));
            }
            if !s.look.is_empty() {
                println!("  look (with --step, {{pid}} is the init's pid):");
                for l in s.look {
                    println!("    {l}");
                }
            }
            println!(
                "  run by: {}",
                match s.actor {
                    crate::explain::Actor::Runtime => "the learnrt command (runtime side)",
                    crate::explain::Actor::Init => "the container's init, inside its namespaces",
                }
            );
        }
    }
    Ok(0)
}
