//! Syntax: the grammar, the AST and the parser. Knows nothing of names,
//! types or steps beyond their shape.

pub mod ast;
pub mod format;
pub mod literal;
pub mod parser;

pub use parser::parse;

#[cfg(test)]
mod tests;
