//! A hand-written recursive-descent parser for well-formed files: the fast
//! path of [`parse`](super::parse). It accepts the language of `wharf.pest`
//! and builds the very same AST, spans included; on anything unusual (a
//! syntax error, a literal to report, a construct it leaves to pest) it
//! returns `None`, and the pest parser, which is the grammar of record and
//! gives the precise error messages, runs instead.
//!
//! Why two parsers: pest spends several hundred instructions per byte on
//! this grammar, which made `wharf check` of a 10,000-step file take close
//! to a second. Tests (`syntax/tests.rs`, `tests/no_panic.rs`) and the
//! fuzzer compare the two on every input: when the fast parser succeeds,
//! pest must give an equal tree.

use super::ast::*;
use super::lexer::{Lexer, Tok, Token};
use super::limits::{MAX_NESTING, MAX_OPERATORS};
use super::literal;
use super::precedence::{Op, Token as PrecToken, parse_or};
use crate::source::{FileId, Span};
use crate::types::StepKind;

mod chunks;

/// Parses `text`, or returns `None` to hand the file to pest.
pub(super) fn parse(file: FileId, text: &str) -> Option<Vec<Item>> {
    let start = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let mut p = Parser::new(file, text, start, text.len());
    let mut items = Vec::new();
    loop {
        match p.tok.kind {
            Tok::Eof => return Some(items),
            Tok::Ident => items.push(match p.word() {
                "import" => Item::Import(p.import()?),
                "pipeline" => Item::Pipeline(p.pipeline()?),
                "target" => Item::Target(p.target()?),
                "template" => Item::Template(p.template()?),
                _ => return None,
            }),
            _ => return None,
        }
    }
}

struct Parser<'t> {
    file: FileId,
    text: &'t str,
    lex: Lexer<'t>,
    tok: Token,
    /// The end of the last token consumed.
    prev_end: usize,
    /// Blocks and expressions open around the position. The parser gives
    /// up when they nest too deep on its own, so that it may run beside the
    /// scan in `trivia.rs` that refuses such files before any other stage.
    depth: usize,
    /// Scratch stacks that lists are gathered on before they are moved into
    /// a vector of their exact length: pushing onto a fresh `Vec` would
    /// allocate room for four (a one-entry map or a one-part string then
    /// costs four times its size) and reallocate as it grows.
    scratch: Scratch,
}

#[derive(Default)]
struct Scratch {
    stmts: Vec<Stmt>,
    entries: Vec<Entry>,
    exprs: Vec<Expr>,
    args: Vec<Arg>,
}

/// Moves the items pushed on `stack` since `mark` into a vector of their exact length.
fn take_from<T>(stack: &mut Vec<T>, mark: usize) -> Vec<T> {
    stack.drain(mark..).collect()
}

const KEYWORDS: [&str; 3] = ["and", "or", "not"];

impl<'t> Parser<'t> {
    fn new(file: FileId, text: &'t str, start: usize, limit: usize) -> Parser<'t> {
        let mut lex = Lexer::new(text, start, limit);
        let tok = lex.next();
        Parser {
            file,
            text,
            lex,
            tok,
            prev_end: start,
            depth: 0,
            scratch: Scratch::default(),
        }
    }

    fn word(&self) -> &'t str {
        &self.text[self.tok.start..self.tok.end]
    }

    fn is_word(&self, w: &str) -> bool {
        self.tok.kind == Tok::Ident && self.word() == w
    }

    fn bump(&mut self) -> Token {
        let t = self.tok;
        self.prev_end = t.end;
        self.tok = self.lex.next();
        t
    }

    fn eat(&mut self, kind: Tok) -> Option<Token> {
        (self.tok.kind == kind).then(|| self.bump())
    }

    fn eat_word(&mut self, w: &str) -> Option<Token> {
        self.is_word(w).then(|| self.bump())
    }

    /// Enters a block or an expression; `None` when that nests too deep.
    /// A bracket opens at most two levels (a map's block and its value), so
    /// every file the scan accepts stays within twice its limit.
    fn open(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= 2 * MAX_NESTING).then_some(())
    }

    fn close(&mut self) {
        self.depth -= 1;
    }

    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, start, end)
    }

    fn ident(&mut self) -> Option<Ident> {
        let t = self.eat(Tok::Ident)?;
        Some(Ident {
            name: self.text[t.start..t.end].to_string(),
            span: self.span(t.start, t.end),
        })
    }

    fn import(&mut self) -> Option<Import> {
        let start = self.bump().start;
        let path_tok = self.eat(Tok::Str)?;
        let ExprKind::Str { parts, .. } = self.string(path_tok)? else {
            return None;
        };
        let path = match parts.as_slice() {
            [StrPart::Text(t)] => t.clone(),
            _ => return None,
        };
        let alias = if self.eat_word("as").is_some() {
            Some(self.ident()?)
        } else {
            None
        };
        Some(Import {
            path,
            path_span: self.span(path_tok.start, path_tok.end),
            alias,
            span: self.span(start, self.prev_end),
        })
    }

    fn pipeline(&mut self) -> Option<PipelineDecl> {
        let start = self.bump().start;
        let name = self.ident()?;
        self.eat(Tok::LBrace)?;
        let body = chunks::stmts(self)?;
        self.eat(Tok::RBrace)?;
        Some(PipelineDecl {
            name,
            body,
            span: self.span(start, self.prev_end),
        })
    }

    fn stmts(&mut self) -> Option<Vec<Stmt>> {
        Some(self.stmts_until(None)?.0)
    }

    /// The statements up to the end of the block, or up to the first
    /// statement that starts at `stop`: then the flag is true.
    fn stmts_until(&mut self, stop: Option<usize>) -> Option<(Vec<Stmt>, bool)> {
        let mark = self.scratch.stmts.len();
        let mut stopped = false;
        while self.tok.kind == Tok::Ident {
            if Some(self.tok.start) == stop {
                stopped = true;
                break;
            }
            let stmt = match self.word() {
                "param" => Stmt::Param(self.param()?),
                "for" => Stmt::For(self.for_loop()?),
                _ => Stmt::Step(self.step_decl()?),
            };
            self.scratch.stmts.push(stmt);
        }
        Some((take_from(&mut self.scratch.stmts, mark), stopped))
    }

    fn param(&mut self) -> Option<ParamDecl> {
        let start = self.bump().start;
        let name = self.ident()?;
        self.eat(Tok::Colon)?;
        let ty = self.type_expr()?;
        let default = if self.eat(Tok::Assign).is_some() {
            Some(self.expr()?)
        } else {
            None
        };
        Some(ParamDecl {
            name,
            ty,
            default,
            span: self.span(start, self.prev_end),
        })
    }

    fn type_expr(&mut self) -> Option<TypeExpr> {
        let name = self.ident()?;
        let element = if self.eat(Tok::LBracket).is_some() {
            let el = self.ident()?;
            self.eat(Tok::RBracket)?;
            Some(el)
        } else {
            None
        };
        Some(TypeExpr {
            span: self.span(name.span.start as usize, self.prev_end),
            name,
            element,
        })
    }

    fn for_loop(&mut self) -> Option<ForLoop> {
        let start = self.bump().start;
        let var = self.ident()?;
        self.eat_word("in")?;
        let iter = self.expr()?;
        self.eat(Tok::LBrace)?;
        self.open()?;
        let body = self.stmts()?;
        self.close();
        self.eat(Tok::RBrace)?;
        Some(ForLoop {
            var,
            iter,
            body,
            span: self.span(start, self.prev_end),
        })
    }

    fn kind(&mut self) -> Option<(StepKind, Span)> {
        let t = self.eat(Tok::Ident)?;
        let kind = StepKind::parse(&self.text[t.start..t.end])?;
        Some((kind, self.span(t.start, t.end)))
    }

    fn step_decl(&mut self) -> Option<StepDecl> {
        let start = self.tok.start;
        let (kind, kind_span) = self.kind()?;
        let name = self.ident()?;
        let def = match self.tok.kind {
            Tok::LBrace => StepDef::Body(self.body()?),
            Tok::Assign => {
                self.bump();
                StepDef::Call(self.expr()?)
            }
            _ => return None,
        };
        let when = if self.eat_word("when").is_some() {
            Some(self.expr()?)
        } else {
            None
        };
        Some(StepDecl {
            kind,
            kind_span,
            name,
            def,
            when,
            span: self.span(start, self.prev_end),
        })
    }

    /// `{ (entry ,?)* }`, the braces consumed.
    fn body(&mut self) -> Option<Vec<Entry>> {
        self.eat(Tok::LBrace)?;
        self.open()?;
        let mark = self.scratch.entries.len();
        while self.tok.kind != Tok::RBrace {
            let entry = self.entry()?;
            self.scratch.entries.push(entry);
            self.eat(Tok::Comma);
        }
        self.bump();
        self.close();
        Some(take_from(&mut self.scratch.entries, mark))
    }

    fn entry(&mut self) -> Option<Entry> {
        let key_tok = self.tok;
        let key = match key_tok.kind {
            Tok::Ident => {
                self.bump();
                Key {
                    name: self.text[key_tok.start..key_tok.end].to_string(),
                    quoted: false,
                    span: self.span(key_tok.start, key_tok.end),
                }
            }
            Tok::Str => {
                self.bump();
                let ExprKind::Str { parts, .. } = self.string(key_tok)? else {
                    return None;
                };
                let name = match parts.as_slice() {
                    [StrPart::Text(t)] => t.clone(),
                    _ => return None,
                };
                Key {
                    name,
                    quoted: true,
                    span: self.span(key_tok.start, key_tok.end),
                }
            }
            _ => return None,
        };
        let (value, block) = match self.tok.kind {
            Tok::Assign => {
                self.bump();
                (self.expr()?, false)
            }
            Tok::LBrace => (self.map()?, true),
            _ => return None,
        };
        Some(Entry {
            span: self.span(key_tok.start, self.prev_end),
            key,
            value,
            block,
        })
    }

    fn map(&mut self) -> Option<Expr> {
        let start = self.tok.start;
        let entries = self.body()?;
        Some(Expr {
            kind: ExprKind::Map(entries),
            span: self.span(start, self.prev_end),
        })
    }

    fn target(&mut self) -> Option<TargetDecl> {
        let start = self.bump().start;
        let name = self.ident()?;
        self.eat(Tok::LBrace)?;
        let mut items = Vec::new();
        while self.tok.kind != Tok::RBrace {
            if self.is_word("step") {
                let step_start = self.bump().start;
                let step_name = self.ident()?;
                let map = self.map()?;
                let ExprKind::Map(entries) = map.kind else { return None };
                items.push(TargetItem::Step {
                    name: step_name,
                    entries,
                    span: self.span(step_start, self.prev_end),
                });
            } else {
                items.push(TargetItem::Entry(self.entry()?));
            }
            self.eat(Tok::Comma);
        }
        self.bump();
        Some(TargetDecl {
            name,
            items,
            span: self.span(start, self.prev_end),
        })
    }

    fn template(&mut self) -> Option<TemplateDecl> {
        let start = self.bump().start;
        let first = self.eat(Tok::Ident)?;
        let (kind, name) = if self.tok.kind == Tok::Ident {
            let kind = StepKind::parse(&self.text[first.start..first.end])?;
            (Some((kind, self.span(first.start, first.end))), self.ident()?)
        } else {
            let name = Ident {
                name: self.text[first.start..first.end].to_string(),
                span: self.span(first.start, first.end),
            };
            (None, name)
        };
        self.eat(Tok::LParen)?;
        let mut params = Vec::new();
        while self.tok.kind != Tok::RParen {
            let p_start = self.tok.start;
            let p_name = self.ident()?;
            let ty = if self.eat(Tok::Colon).is_some() {
                Some(self.type_expr()?)
            } else {
                None
            };
            let default = if self.eat(Tok::Assign).is_some() {
                Some(self.expr()?)
            } else {
                None
            };
            params.push(TemplateParam {
                name: p_name,
                ty,
                default,
                span: self.span(p_start, self.prev_end),
            });
            if self.eat(Tok::Comma).is_none() {
                break;
            }
        }
        self.eat(Tok::RParen)?;
        let body = self.body()?;
        Some(TemplateDecl {
            kind,
            name,
            params,
            body,
            span: self.span(start, self.prev_end),
        })
    }

    /// `operand (op operand)*`, with precedence applied as pest's path does.
    fn expr(&mut self) -> Option<Expr> {
        self.open()?;
        let expr = self.operators()?;
        self.close();
        Some(expr)
    }

    fn operators(&mut self) -> Option<Expr> {
        let mut tokens: Vec<PrecToken> = Vec::new();
        let mut operators = 0;
        loop {
            let mut nots = Vec::new();
            while self.tok.kind == Tok::Ident && self.is_word("not") {
                let t = self.bump();
                nots.push(self.span(t.start, t.end));
            }
            operators += nots.len();
            let mut operand = self.primary()?;
            loop {
                operand = match self.tok.kind {
                    Tok::Dot => {
                        let dot = self.bump().start;
                        let name = self.ident()?;
                        let span = operand.span.to(self.span(dot, self.prev_end));
                        Expr {
                            kind: ExprKind::Field(Box::new(operand), name),
                            span,
                        }
                    }
                    Tok::LBracket => {
                        let open = self.bump().start;
                        let index = if let Some(star) = self.eat(Tok::Star) {
                            Expr {
                                kind: ExprKind::Star,
                                span: self.span(star.start, star.end),
                            }
                        } else {
                            self.expr()?
                        };
                        self.eat(Tok::RBracket)?;
                        let span = operand.span.to(self.span(open, self.prev_end));
                        Expr {
                            kind: ExprKind::Index(Box::new(operand), Box::new(index)),
                            span,
                        }
                    }
                    Tok::LParen => {
                        let open = self.bump().start;
                        let args = self.args()?;
                        let span = operand.span.to(self.span(open, self.prev_end));
                        Expr {
                            kind: ExprKind::Call(Box::new(operand), args),
                            span,
                        }
                    }
                    _ => break,
                };
                operators += 1;
            }
            let op = match self.tok.kind {
                // The lexer makes a `Cmp` token of these six spellings only.
                Tok::Cmp => Op::Cmp(CmpOp::parse(&self.text[self.tok.start..self.tok.end]).unwrap_or(CmpOp::Ge)),
                Tok::Ident if self.word() == "and" => Op::And,
                Tok::Ident if self.word() == "or" => Op::Or,
                _ => {
                    // Most expressions are one operand: no precedence to apply.
                    if tokens.is_empty() && nots.is_empty() {
                        return (operators <= MAX_OPERATORS).then_some(operand);
                    }
                    tokens.push(PrecToken::Operand(nots, operand));
                    break;
                }
            };
            tokens.push(PrecToken::Operand(nots, operand));
            self.bump();
            operators += 1;
            tokens.push(PrecToken::Op(op));
        }
        if operators > MAX_OPERATORS {
            return None;
        }
        parse_or(&mut tokens.into_iter().peekable())
    }

    /// `( (name = !=)? expr , ... )` after the `(`, the `)` consumed.
    fn args(&mut self) -> Option<Vec<Arg>> {
        let mark = self.scratch.args.len();
        while self.tok.kind != Tok::RParen {
            // A named argument is `name =` but not `name ==`; the lexer makes
            // `==` one token, so a lone `=` after a name decides it.
            let saved = (self.lex.clone_state(), self.tok, self.prev_end);
            let name = match self.tok.kind {
                Tok::Ident => {
                    let id = self.ident()?;
                    if self.eat(Tok::Assign).is_some() {
                        Some(id)
                    } else {
                        self.lex.restore(saved.0);
                        self.tok = saved.1;
                        self.prev_end = saved.2;
                        None
                    }
                }
                _ => None,
            };
            let value = self.expr()?;
            self.scratch.args.push(Arg { name, value });
            if self.eat(Tok::Comma).is_none() {
                break;
            }
        }
        self.eat(Tok::RParen)?;
        Some(take_from(&mut self.scratch.args, mark))
    }

    fn primary(&mut self) -> Option<Expr> {
        let t = self.tok;
        let span = self.span(t.start, t.end);
        let kind = match t.kind {
            Tok::Number => {
                self.bump();
                let text = &self.text[t.start..t.end];
                // A literal that needs a diagnostic is left to the pest path.
                let value = literal::classify(text).ok()?;
                ExprKind::Number { value }
            }
            Tok::Str => {
                self.bump();
                self.string(t)?
            }
            Tok::Ident => {
                self.bump();
                let text = &self.text[t.start..t.end];
                match text {
                    "true" | "false" | "on" | "off" => ExprKind::Bool {
                        value: matches!(text, "true" | "on"),
                    },
                    // `and`/`or`/`not` cannot start an operand in the grammar either.
                    _ if KEYWORDS.contains(&text) => return None,
                    _ => ExprKind::Ident(text.to_string()),
                }
            }
            Tok::LBracket => {
                self.bump();
                let mark = self.scratch.exprs.len();
                while self.tok.kind != Tok::RBracket {
                    let item = self.expr()?;
                    self.scratch.exprs.push(item);
                    if self.eat(Tok::Comma).is_none() {
                        break;
                    }
                }
                self.eat(Tok::RBracket)?;
                return Some(Expr {
                    kind: ExprKind::List(take_from(&mut self.scratch.exprs, mark)),
                    span: self.span(t.start, self.prev_end),
                });
            }
            Tok::LBrace => return self.map(),
            Tok::LParen => {
                self.bump();
                let inner = self.expr()?;
                self.eat(Tok::RParen)?;
                return Some(Expr {
                    kind: ExprKind::Paren(Box::new(inner)),
                    span: self.span(t.start, self.prev_end),
                });
            }
            _ => return None,
        };
        Some(Expr { kind, span })
    }

    /// The parts of a string token: text, escapes, `$${` and `${expr}`.
    fn string(&mut self, t: Token) -> Option<ExprKind> {
        let bytes = self.text.as_bytes();
        let end = t.end - 1;
        let inner = &self.text[t.start + 1..end];
        // Most strings are plain text: one part, allocated at its size.
        let special = |w: &[u8]| w[0] == b'\\' || (w[0] == b'$' && w[1] == b'{');
        if !inner.as_bytes().windows(2).any(special) && !inner.ends_with('\\') {
            return Some(ExprKind::Str {
                parts: vec![StrPart::Text(inner.to_string())],
            });
        }
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut i = t.start + 1;
        let mut run = i;
        while i < end {
            match bytes[i] {
                b'\\' => {
                    text.push_str(&self.text[run..i]);
                    let len = self.text[i + 1..].chars().next().map_or(1, char::len_utf8);
                    text.push(literal::unescape(&self.text[i..i + 1 + len])?);
                    i += 1 + len;
                    run = i;
                }
                b'$' if bytes.get(i + 1) == Some(&b'$') && bytes.get(i + 2) == Some(&b'{') => {
                    text.push_str(&self.text[run..i]);
                    text.push_str("${");
                    i += 3;
                    run = i;
                }
                b'$' if bytes.get(i + 1) == Some(&b'{') => {
                    text.push_str(&self.text[run..i]);
                    let close = self.lex.interp_end(i + 2)?;
                    let mut inner = Parser::new(self.file, self.text, i + 2, close);
                    inner.depth = self.depth;
                    let expr = inner.expr()?;
                    if inner.tok.kind != Tok::Eof {
                        return None;
                    }
                    if !text.is_empty() {
                        parts.push(StrPart::Text(std::mem::take(&mut text)));
                    }
                    parts.push(StrPart::Interp(expr));
                    i = close + 1;
                    run = i;
                }
                _ => i += 1,
            }
        }
        text.push_str(&self.text[run..end]);
        if !text.is_empty() || parts.is_empty() {
            parts.push(StrPart::Text(text));
        }
        parts.shrink_to_fit();
        Some(ExprKind::Str { parts })
    }
}
