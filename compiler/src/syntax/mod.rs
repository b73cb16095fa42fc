//! Syntax: the grammar, the AST and the parser. Knows nothing of names,
//! types or steps beyond their shape.

pub mod ast;
mod fast;
pub mod format;
mod lexer;
mod limits;
pub mod literal;
pub mod parser;
mod precedence;
mod recovery;
mod trivia;

pub use parser::parse;

#[cfg(test)]
mod tests;
