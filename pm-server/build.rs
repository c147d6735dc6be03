//! Release builds embed `frontend/dist` (see `src/web.rs`); rebuild them when it changes, including
//! when it first appears. Debug builds read it from disk, so they need no rebuild for it.

fn main() {
    if std::env::var("PROFILE").as_deref() == Ok("release") {
        println!("cargo:rerun-if-changed=../frontend/dist");
    } else {
        println!("cargo:rerun-if-changed=build.rs");
    }
}
