//! `learnrt state`: the OCI state of one container.

use crate::error::Result;
use crate::state::Root;

pub fn run(root: &Root, id: &str) -> Result<i32> {
    let (_lock, st) = root.open(id)?;
    let status = st.status(&root.container_dir(id));
    let v = st.oci_json(status);
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    Ok(0)
}
