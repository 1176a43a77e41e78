//! Finds the compiled plugins: `switchboard`'s build script builds the whole
//! `plugins/` workspace (test-only plugins included) and publishes the output
//! directory through its `links` metadata.

fn main() {
    let dir = std::env::var("DEP_SWITCHBOARD_PLUGINS_WASM_DIR")
        .expect("switchboard's build script publishes the plugin artifact directory");
    println!("cargo:rustc-env=PLUGINS_WASM_DIR={dir}");
    // <target>/wasm-plugins: tests that build plugins the way an author does
    // reuse it, so the SDK and its dependencies are already compiled.
    let target_dir = std::path::Path::new(&dir).ancestors().nth(2).unwrap();
    println!(
        "cargo:rustc-env=SWITCHBOARD_WASM_TARGET_DIR={}",
        target_dir.display()
    );
}
