//! `learnrt state`: the OCI state of one container.

use crate::error::Result;
use crate::state::Root;

pub fn run(root: &Root, id: &str) -> Result<i32> {
    let (_lock, st) = root.open(id)?;
    let dir = root.container_dir(id);
    let _g = crate::explain::stage(&crate::stages::teardown::STATE, &[])?;
    let status = st.status(&dir);
    crate::explain::note(|| {
        let alive = st.alive();
        format!(
            "{}: pid {} start time {} → {}; notify.sock {}; → {}",
            dir.join("state.json").display(),
            st.pid,
            st.pid_start,
            if alive { "alive" } else { "gone" },
            if dir.join("notify.sock").exists() {
                "present (init waits for start)"
            } else {
                "absent"
            },
            status.as_str()
        )
    });
    let v = st.oci_json(status);
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    Ok(0)
}
