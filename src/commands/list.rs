//! `learnrt list`: every container under --root, as runc prints them.

use crate::cli::ListFormat;
use crate::error::Result;
use crate::state::{self, Root};

pub fn run(root: &Root, format: ListFormat, quiet: bool) -> Result<i32> {
    let mut rows = Vec::new();
    for id in root.ids() {
        let dir = root.container_dir(&id);
        let Ok(st) = state::read(&dir) else { continue };
        let status = st.status(&dir);
        rows.push((st, status));
    }
    if quiet {
        for (st, _) in &rows {
            println!("{}", st.id);
        }
        return Ok(0);
    }
    match format {
        ListFormat::Json => {
            let v: Vec<_> = rows
                .iter()
                .map(|(st, s)| {
                    let mut j = st.oci_json(*s);
                    j["status"] = serde_json::json!(s.as_str());
                    j
                })
                .collect();
            println!("{}", serde_json::to_string(&v).unwrap_or_default());
        }
        ListFormat::Table => {
            let mut table = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
                .map(String::from)
                .to_vec()];
            for (st, s) in &rows {
                let pid = if *s == state::Status::Stopped {
                    0
                } else {
                    st.pid
                };
                table.push(vec![
                    st.id.clone(),
                    pid.to_string(),
                    s.as_str().to_string(),
                    st.bundle.display().to_string(),
                    st.created.clone(),
                    st.owner.clone(),
                ]);
            }
            print!("{}", tabulate(&table));
        }
    }
    Ok(0)
}

/// Columns padded like runc's tabwriter (min width 12, padding 3).
pub fn tabulate(rows: &[Vec<String>]) -> String {
    let cols = rows.first().map_or(0, |r| r.len());
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .map(|w| (w + 3).max(12))
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == cols {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}", w = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_like_runc() {
        let t = super::tabulate(&[
            vec!["ID".into(), "PID".into(), "STATUS".into()],
            vec!["c1".into(), "2741".into(), "created".into()],
        ]);
        assert_eq!(
            t,
            "ID          PID         STATUS\nc1          2741        created\n"
        );
    }
}
