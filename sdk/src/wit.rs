//! The generated bindings. Private: authors use the re-exports and traits at
//! the crate root, so the generated layout can change without breaking them.

#![allow(missing_docs, clippy::all)]

pub mod base {
    wit_bindgen::generate!({
        path: "../wit/v0.4",
        world: "plugin",
        runtime_path: "::switchboard_sdk::__private::wit_bindgen::rt",
        generate_all,
    });
}

pub mod router {
    wit_bindgen::generate!({
        path: "../wit/v0.4",
        world: "router",
        runtime_path: "::switchboard_sdk::__private::wit_bindgen::rt",
        with: {
            "switchboard:plugin/types@0.4.1": crate::wit::base::switchboard::plugin::types,
            "switchboard:plugin/host@0.4.1": crate::wit::base::switchboard::plugin::host,
            "switchboard:plugin/routing@0.4.1": generate,
        },
        pub_export_macro: true,
        export_macro_name: "export_router",
        default_bindings_module: "::switchboard_sdk::__private::router",
    });
}

pub mod channel {
    wit_bindgen::generate!({
        path: "../wit/v0.4",
        world: "channel",
        runtime_path: "::switchboard_sdk::__private::wit_bindgen::rt",
        with: {
            "switchboard:plugin/types@0.4.1": crate::wit::base::switchboard::plugin::types,
            "switchboard:plugin/host@0.4.1": crate::wit::base::switchboard::plugin::host,
            "switchboard:plugin/channeling@0.4.1": generate,
        },
        pub_export_macro: true,
        export_macro_name: "export_channel",
        default_bindings_module: "::switchboard_sdk::__private::channel",
    });
}

pub mod bot {
    wit_bindgen::generate!({
        path: "../wit/v0.4",
        world: "bot",
        runtime_path: "::switchboard_sdk::__private::wit_bindgen::rt",
        with: {
            "switchboard:plugin/types@0.4.1": crate::wit::base::switchboard::plugin::types,
            "switchboard:plugin/host@0.4.1": crate::wit::base::switchboard::plugin::host,
            "switchboard:plugin/botting@0.4.1": generate,
        },
        pub_export_macro: true,
        export_macro_name: "export_bot",
        default_bindings_module: "::switchboard_sdk::__private::bot",
    });
}

pub mod crm {
    wit_bindgen::generate!({
        path: "../wit/v0.4",
        world: "crm",
        runtime_path: "::switchboard_sdk::__private::wit_bindgen::rt",
        with: {
            "switchboard:plugin/types@0.4.1": crate::wit::base::switchboard::plugin::types,
            "switchboard:plugin/host@0.4.1": crate::wit::base::switchboard::plugin::host,
            "switchboard:plugin/crm-sync@0.4.1": generate,
        },
        pub_export_macro: true,
        export_macro_name: "export_crm",
        default_bindings_module: "::switchboard_sdk::__private::crm",
    });
}

pub mod automation {
    wit_bindgen::generate!({
        path: "../wit/v0.4",
        world: "automation",
        runtime_path: "::switchboard_sdk::__private::wit_bindgen::rt",
        with: {
            "switchboard:plugin/types@0.4.1": crate::wit::base::switchboard::plugin::types,
            "switchboard:plugin/host@0.4.1": crate::wit::base::switchboard::plugin::host,
            "switchboard:plugin/automating@0.4.1": generate,
        },
        pub_export_macro: true,
        export_macro_name: "export_automation",
        default_bindings_module: "::switchboard_sdk::__private::automation",
    });
}
