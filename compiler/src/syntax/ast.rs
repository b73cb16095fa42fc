//! The abstract syntax tree: what a file says, with a span on every node,
//! before any name is resolved. Literals keep their source text so that the
//! formatter prints `0.80` as written.

use crate::source::Span;
use crate::types::StepKind;

#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// One parsed file: its items in order, and every comment with its position.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Module {
    pub items: Vec<Item>,
    pub comments: Vec<Comment>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    /// The text including the leading `#`, without the line break.
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Import(Import),
    Pipeline(PipelineDecl),
    Target(TargetDecl),
    Template(TemplateDecl),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Import(i) => i.span,
            Item::Pipeline(p) => p.span,
            Item::Target(t) => t.span,
            Item::Template(t) => t.span,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Import {
    pub path: String,
    pub path_span: Span,
    pub alias: Option<Ident>,
    pub span: Span,
}

impl Import {
    /// The name the file's templates are reached by: the alias, else the file stem.
    pub fn name(&self) -> String {
        match &self.alias {
            Some(alias) => alias.name.clone(),
            None => {
                let last = self.path.rsplit('/').next().unwrap_or(&self.path);
                last.trim_end_matches(".wharf").to_string()
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PipelineDecl {
    pub name: Ident,
    pub body: Vec<Stmt>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    Param(ParamDecl),
    Step(StepDecl),
    For(ForLoop),
}

impl Stmt {
    pub fn span(&self) -> Span {
        match self {
            Stmt::Param(p) => p.span,
            Stmt::Step(s) => s.span,
            Stmt::For(f) => f.span,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TypeExpr {
    pub name: Ident,
    pub element: Option<Ident>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParamDecl {
    pub name: Ident,
    pub ty: TypeExpr,
    pub default: Option<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepDecl {
    pub kind: StepKind,
    pub kind_span: Span,
    pub name: Ident,
    pub def: StepDef,
    pub when: Option<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepDef {
    /// `{ key = value ... }`
    Body(Vec<Entry>),
    /// `= template(args)`
    Call(Expr),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ForLoop {
    pub var: Ident,
    pub iter: Expr,
    pub body: Vec<Stmt>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TargetDecl {
    pub name: Ident,
    pub items: Vec<TargetItem>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TargetItem {
    Entry(Entry),
    /// `step NAME { ... }`: settings for one step under this target.
    Step {
        name: Ident,
        entries: Vec<Entry>,
        span: Span,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct TemplateDecl {
    pub kind: Option<(StepKind, Span)>,
    pub name: Ident,
    pub params: Vec<TemplateParam>,
    pub body: Vec<Entry>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TemplateParam {
    pub name: Ident,
    pub ty: Option<TypeExpr>,
    pub default: Option<Expr>,
    pub span: Span,
}

/// `key = value`, or `key { ... }` (then `block` is true and `value` is a map).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: Key,
    pub value: Expr,
    pub block: bool,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    /// Written as a string (`"validation:auc" = ...`) rather than an identifier.
    pub quoted: bool,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub const ALL: [CmpOp; 6] = [CmpOp::Eq, CmpOp::Ne, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge];

    /// The operator `text` spells (`<=`), as both parsers read it.
    pub fn parse(text: &str) -> Option<CmpOp> {
        CmpOp::ALL.into_iter().find(|op| op.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogicOp {
    And,
    Or,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StrPart {
    Text(String),
    Interp(Expr),
}

/// What a number, duration or size literal means (its text is its span).
#[derive(Debug, Clone, PartialEq)]
pub enum NumberValue {
    Int(i64),
    Float(f64),
    /// Milliseconds.
    Duration(u64),
    /// Bytes.
    Size(u64),
    /// Malformed; the parser has reported it.
    Invalid,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A literal as written is the source text under its span (the
    /// formatter prints that); the tree keeps only the meaning, which makes
    /// a large file's tree much smaller.
    Number {
        value: NumberValue,
    },
    Str {
        parts: Vec<StrPart>,
    },
    Bool {
        value: bool,
    },
    List(Vec<Expr>),
    Map(Vec<Entry>),
    Ident(String),
    Field(Box<Expr>, Ident),
    Index(Box<Expr>, Box<Expr>),
    /// `*` inside `[...]`: every instance of a fanned-out step.
    Star,
    Call(Box<Expr>, Vec<Arg>),
    Compare(CmpOp, Box<Expr>, Box<Expr>),
    Logic(LogicOp, Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Paren(Box<Expr>),
}
