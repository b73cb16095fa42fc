//! The standard library: `.wharf` files under `stdlib/`, written in the
//! language itself and compiled into the binary, reached as `import "std/NAME"`.

const FILES: &[(&str, &str)] = &[
    ("sagemaker", include_str!("../../stdlib/sagemaker.wharf")),
    ("local", include_str!("../../stdlib/local.wharf")),
];

/// The text of `std/NAME`, if the standard library has it.
pub fn get(name: &str) -> Option<&'static str> {
    FILES.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
}

/// Every standard library module name, for hints.
pub fn names() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|(n, _)| *n)
}
