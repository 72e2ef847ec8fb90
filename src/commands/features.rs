//! `learnrt features`: what this runtime supports, as JSON.

use crate::error::Result;

pub fn run() -> Result<i32> {
    print!(
        "{}",
        crate::spec_default::render_features(&crate::spec_default::features_json())
    );
    Ok(0)
}
