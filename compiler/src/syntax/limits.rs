//! The limits every parser and later stage relies on: how deep brackets may
//! nest and how many operators one expression may chain. `trivia.rs` checks
//! the first before any parser runs; both parsers check the second.

/// Deeper nesting than this is refused before parsing, so that no input can
/// exhaust the stack of the parser or of any later recursive stage.
pub const MAX_NESTING: usize = 64;

/// The most operators (`and`, `or`, comparisons, `not`, `.x`, `[i]`, `(..)`)
/// one expression may chain; each adds a level to the expression tree.
pub const MAX_OPERATORS: usize = 256;
