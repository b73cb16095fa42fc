//! Output formats for diagnostics and plans. One renderer per format; the
//! commands choose, the compiler never prints.

pub mod diagnostics;
pub mod plan;
