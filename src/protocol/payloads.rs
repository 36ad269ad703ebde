//! The `payloads!` macro of the adapters' typed messages (its own file, so that the fuzz crate
//! compiles it by path with the messages).

/// Payload types read from JSON with camelCase names: each struct given gets `Debug` and
/// `Deserialize` with `rename_all = "camelCase"`.
macro_rules! payloads {
    ($($(#[$meta:meta])* pub struct $name:ident { $($body:tt)* })*) => {
        $(
            #[derive(Debug, serde::Deserialize)]
            #[serde(rename_all = "camelCase")]
            $(#[$meta])*
            pub struct $name { $($body)* }
        )*
    };
}
pub(crate) use payloads;
