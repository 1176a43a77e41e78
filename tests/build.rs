//! Finds the compiled plugins: `switchboard`'s build script builds the whole
//! `plugins/` workspace (test-only plugins included) and publishes the output
//! directory through its `links` metadata.

fn main() {
    let dir = std::env::var("DEP_SWITCHBOARD_PLUGINS_WASM_DIR")
        .expect("switchboard's build script publishes the plugin artifact directory");
    println!("cargo:rustc-env=SWITCHBOARD_WASM_DIR={dir}");
}
