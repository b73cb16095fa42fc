//! Text to [`Module`]: runs the pest grammar (`wharf.pest`) and builds the AST.
//! Syntax errors become `syntax-error` diagnostics that name the tokens that
//! would have been accepted; bad literals become `invalid-literal`.

use super::ast::*;
use super::literal;
use super::precedence::{Op, Token, parse_or};
use super::trivia::{Trivia, scan};
use crate::code::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::source::{FileId, Span};
use crate::types::StepKind;
use pest::Parser as _;
use pest::iterators::Pair;

#[derive(pest_derive::Parser)]
#[grammar = "wharf.pest"]
struct Grammar;

/// Deeper nesting than this is refused before parsing, so that no input can
/// exhaust the stack of the parser or of any later recursive stage.
pub const MAX_NESTING: usize = 64;

/// The most operators (`and`, `or`, comparisons, `not`, `.x`, `[i]`, `(..)`)
/// one expression may chain; each adds a level to the expression tree.
pub const MAX_OPERATORS: usize = 256;

/// Parses one file. On a syntax error the module is `None` and the error is in `diags`.
///
/// Well-formed files go through the fast hand-written parser (`fast.rs`);
/// anything it declines goes through pest, the grammar of record, which
/// reports the errors.
pub fn parse(file: FileId, text: &str, diags: &mut Diagnostics) -> Option<Module> {
    let trivia = scan(file, text);
    if trivia.too_deep_at.is_none()
        && let Some(items) = super::fast::parse(file, text)
    {
        return Some(Module {
            items,
            comments: trivia.comments,
        });
    }
    pest_path(file, text, trivia, diags)
}

/// Parses one file with the pest grammar only (tests compare it with the fast path).
pub fn parse_with_pest(file: FileId, text: &str, diags: &mut Diagnostics) -> Option<Module> {
    pest_path(file, text, scan(file, text), diags)
}

fn pest_path(file: FileId, text: &str, trivia: Trivia, diags: &mut Diagnostics) -> Option<Module> {
    if let Some(offset) = trivia.too_deep_at {
        diags.push(
            Diagnostic::error(
                Code::TooDeeplyNested,
                Span::new(file, offset, offset + 1),
                format!("brackets nest more than {MAX_NESTING} levels deep here"),
            )
            .with_hint("split the expression or block into smaller pieces"),
        );
        return None;
    }
    let pairs = match Grammar::parse(Rule::file, text) {
        Ok(pairs) => pairs,
        Err(_) => {
            report_syntax_errors(file, text, diags);
            return None;
        }
    };
    let comments = trivia.comments;
    let mut builder = Builder {
        file,
        text,
        diags,
        comment_ranges: comments
            .iter()
            .map(|c| (c.span.start as usize, c.span.end as usize))
            .collect(),
    };
    let mut items = Vec::new();
    let root = pairs.into_iter().next()?;
    for pair in children(root) {
        match pair.as_rule() {
            Rule::import => items.push(Item::Import(builder.import(pair))),
            Rule::pipeline => items.push(Item::Pipeline(builder.pipeline(pair))),
            Rule::target => items.push(Item::Target(builder.target(pair))),
            Rule::template => items.push(Item::Template(builder.template(pair))),
            _ => {}
        }
    }
    Some(Module { items, comments })
}

/// Reports the first syntax error, then looks for more: the statement that
/// holds an error is blanked out and the file parsed again (`recovery.rs`),
/// as long as each round moves forward.
fn report_syntax_errors(file: FileId, text: &str, diags: &mut Diagnostics) {
    let mut current = text.to_string();
    let mut last = syntax_error(file, &current);
    for _ in 1..super::recovery::MAX_SYNTAX_ERRORS {
        let offset = last.span.map_or(0, |s| s.start as usize);
        diags.push(last);
        let Some(region) = super::recovery::statement_around(&current, offset) else {
            return;
        };
        current = super::recovery::blank(&current, region);
        if Grammar::parse(Rule::file, &current).is_ok() {
            return;
        }
        let next = syntax_error(file, &current);
        if next.span.is_none_or(|s| (s.start as usize) <= offset) {
            return;
        }
        last = next;
    }
    diags.push(last);
}

/// Re-parses with pest's error detail on, so the message can list the literal
/// tokens that were expected (`}`, `=`) rather than internal rule names.
fn syntax_error(file: FileId, text: &str) -> Diagnostic {
    pest::set_error_detail(true);
    let result = Grammar::parse(Rule::file, text);
    pest::set_error_detail(false);
    let Err(error) = result else {
        return Diagnostic::error(Code::SyntaxError, Span::new(file, 0, 0), "syntax error");
    };
    let mut offset = match error.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    if let Some(attempts) = error.parse_attempts()
        && attempts.max_position >= offset
    {
        offset = attempts.max_position.min(text.len());
    }
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let mut expected: Vec<String> = Vec::new();
    if let Some(attempts) = error.parse_attempts() {
        for token in attempts.expected_tokens() {
            let token = token.to_string();
            // Ranges (`a..z`) and built-ins come from inside names and numbers,
            // which the rule names below describe better.
            if !token.contains("..") && token != "BUILTIN_RULE" && !token.trim().is_empty() {
                expected.push(format!("`{token}`"));
            }
        }
        for stack in attempts.call_stacks() {
            let rule = stack.parent.or(stack.deepest.get_rule().copied());
            if let Some(rule) = rule.and_then(rule_name) {
                expected.push(rule.to_string());
            }
        }
    }
    if let pest::error::ErrorVariant::ParsingError { positives, .. } = &error.variant {
        expected.extend(positives.iter().filter_map(|r| rule_name(*r)).map(String::from));
    }
    expected.sort();
    expected.dedup();
    // Comments and the byte-order mark can go anywhere: naming them is noise.
    // So are the first characters of an expression once "an expression" is said.
    let says_expression = expected.iter().any(|e| e == "an expression");
    expected.retain(|e| {
        let starts_expression = ["`\"`", "`(`", "`-`", "`[`", "`{`", "`not`"].contains(&e.as_str());
        e != "`_`" && e != "`#`" && e != "`\u{feff}`" && !(says_expression && starts_expression)
    });
    // After a complete operand, pest lists every operator that could
    // continue the expression; when a separator or a closing bracket is also
    // possible, that is almost always what was missing.
    let closes = ["`,`", "`]`", "`)`", "`}`"];
    if expected.iter().any(|e| closes.contains(&e.as_str())) {
        let continues = [
            "`!=`",
            "`(`",
            "`.`",
            "`[`",
            "`and`",
            "`or`",
            "a comparison",
            "`=`",
            "`{`",
        ];
        expected.retain(|e| !continues.contains(&e.as_str()));
    }
    let found = describe_found(&text[offset..]);
    let message = if expected.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {}, found {found}", join_or(&expected))
    };
    let end = offset + text[offset..].chars().next().map_or(0, char::len_utf8);
    let mut diag = Diagnostic::error(Code::SyntaxError, Span::new(file, offset, end), message);
    let word: String = text[offset..]
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    let keywords = super::recovery::STARTERS;
    if !word.is_empty()
        && let Some(hint) = crate::suggest::did_you_mean(&word, keywords)
    {
        diag = diag.with_hint(hint);
    }
    if expected.iter().any(|e| e == "`,`") && !text[offset..].starts_with([',', ']', ')', '}']) {
        diag = diag.with_hint("separate items with a comma");
    }
    if text[offset..].starts_with(':') {
        diag = diag.with_hint("attributes are set with `=`, as in `image = \"name:tag\"`");
    }
    diag
}

fn describe_found(rest: &str) -> String {
    match rest.chars().next() {
        None => "the end of the file".into(),
        Some('\n') | Some('\r') => "the end of the line".into(),
        Some(c) if c.is_alphanumeric() || c == '_' => {
            let word: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .take(40)
                .collect();
            format!("`{word}`")
        }
        Some(c) => format!("`{c}`"),
    }
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Readable names for the rules a user can be told were expected.
fn rule_name(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::ident => "a name",
        Rule::string => "a string",
        Rule::number => "a number",
        Rule::expr | Rule::operand => "an expression",
        Rule::kind => "a step kind (step, train, tune, transform, deploy, monitor, build)",
        Rule::item | Rule::import | Rule::pipeline | Rule::target | Rule::template => {
            "`import`, `pipeline`, `target` or `template`"
        }
        Rule::param => "`param`",
        Rule::for_loop => "`for`",
        Rule::step_decl => "a step",
        Rule::entry => "an attribute (`name = value`)",
        Rule::type_expr => "a type",
        Rule::cmp_op => "a comparison",
        Rule::when_clause => "`when`",
        Rule::EOI => "the end of the file",
        _ => return None,
    })
}

/// The children of a pair that carry meaning: keywords dropped.
fn children<'i>(pair: Pair<'i, Rule>) -> impl Iterator<Item = Pair<'i, Rule>> {
    pair.into_inner().filter(|p| {
        !matches!(
            p.as_rule(),
            Rule::EOI
                | Rule::kw_import
                | Rule::kw_as
                | Rule::kw_pipeline
                | Rule::kw_param
                | Rule::kw_target
                | Rule::kw_template
                | Rule::kw_for
                | Rule::kw_in
                | Rule::kw_when
                | Rule::kw_step
        )
    })
}

struct Builder<'d> {
    file: FileId,
    text: &'d str,
    diags: &'d mut Diagnostics,
    /// Byte ranges of comments, sorted, for trimming spans.
    comment_ranges: Vec<(usize, usize)>,
}

impl Builder<'_> {
    /// The pair's span without the whitespace and comments pest lets a rule
    /// swallow after its last token (when an optional tail did not match).
    fn span(&self, pair: &Pair<Rule>) -> Span {
        let s = pair.as_span();
        let (start, mut end) = (s.start(), s.end());
        let bytes = self.text.as_bytes();
        while end > start {
            if bytes[end - 1].is_ascii_whitespace() {
                end -= 1;
                continue;
            }
            // Inside a comment? Comments are sorted and do not overlap.
            let i = self.comment_ranges.partition_point(|&(cs, _)| cs < end);
            match i.checked_sub(1).map(|i| self.comment_ranges[i]) {
                Some((cs, ce)) if end <= ce && cs >= start => end = cs,
                _ => break,
            }
        }
        Span::new(self.file, start, end)
    }

    fn ident(&self, pair: Pair<Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: self.span(&pair),
        }
    }

    fn import(&mut self, pair: Pair<Rule>) -> Import {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let path_pair = inner.next().expect("grammar: import has a string");
        let path_span = self.span(&path_pair);
        let path = self.plain_string(path_pair);
        let alias = inner.next().map(|p| self.ident(p));
        Import {
            path,
            path_span,
            alias,
            span,
        }
    }

    /// A string used as a name (an import path): interpolation is not allowed there.
    fn plain_string(&mut self, pair: Pair<Rule>) -> String {
        let span = self.span(&pair);
        match self.string(pair) {
            ExprKind::Str { parts, .. } => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        StrPart::Text(t) => out.push_str(&t),
                        StrPart::Interp(_) => self.diags.push(
                            Diagnostic::error(Code::CannotInterpolate, span, "an import path cannot use `${...}`")
                                .with_hint("write the path out in full"),
                        ),
                    }
                }
                out
            }
            _ => String::new(),
        }
    }

    fn pipeline(&mut self, pair: Pair<Rule>) -> PipelineDecl {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let name = self.ident(inner.next().expect("grammar: pipeline name"));
        let body = inner.map(|p| self.stmt(p)).collect();
        PipelineDecl { name, body, span }
    }

    fn stmt(&mut self, pair: Pair<Rule>) -> Stmt {
        match pair.as_rule() {
            Rule::param => Stmt::Param(self.param(pair)),
            Rule::for_loop => {
                let span = self.span(&pair);
                let mut inner = children(pair);
                let var = self.ident(inner.next().expect("grammar: loop variable"));
                let iter = self.expr(inner.next().expect("grammar: loop list"));
                let body = inner.map(|p| self.stmt(p)).collect();
                Stmt::For(ForLoop { var, iter, body, span })
            }
            _ => Stmt::Step(self.step_decl(pair)),
        }
    }

    fn param(&mut self, pair: Pair<Rule>) -> ParamDecl {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let name = self.ident(inner.next().expect("grammar: param name"));
        let ty = self.type_expr(inner.next().expect("grammar: param type"));
        let default = inner.next().map(|p| self.expr(p));
        ParamDecl {
            name,
            ty,
            default,
            span,
        }
    }

    fn type_expr(&mut self, pair: Pair<Rule>) -> TypeExpr {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let name = self.ident(inner.next().expect("grammar: type name"));
        let element = inner.next().map(|p| self.ident(p));
        TypeExpr { name, element, span }
    }

    fn kind(&mut self, pair: &Pair<Rule>) -> StepKind {
        let word = pair.as_str();
        StepKind::parse(word).unwrap_or_else(|| {
            let kinds = StepKind::ALL.map(StepKind::as_str);
            let span = self.span(pair);
            self.diags.push(
                Diagnostic::error(Code::UnknownKind, span, format!("`{word}` is not a step kind")).with_hint(
                    crate::suggest::did_you_mean(word, kinds)
                        .unwrap_or_else(|| format!("steps are declared as {}, followed by a name", kinds.join(", "))),
                ),
            );
            StepKind::Step
        })
    }

    fn step_decl(&mut self, pair: Pair<Rule>) -> StepDecl {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let kind_pair = inner.next().expect("grammar: step kind");
        let kind = self.kind(&kind_pair);
        let kind_span = self.span(&kind_pair);
        let name = self.ident(inner.next().expect("grammar: step name"));
        let def_pair = inner.next().expect("grammar: step body or call");
        let def = match def_pair.as_rule() {
            Rule::step_body => StepDef::Body(self.entries(def_pair)),
            _ => {
                let expr = children(def_pair).next().expect("grammar: call expression");
                StepDef::Call(self.expr(expr))
            }
        };
        let when = inner.next().and_then(|p| children(p).next()).map(|p| self.expr(p));
        StepDecl {
            kind,
            kind_span,
            name,
            def,
            when,
            span,
        }
    }

    fn entries(&mut self, pair: Pair<Rule>) -> Vec<Entry> {
        let pairs: Vec<_> = children(pair).collect();
        pairs.into_iter().map(|p| self.entry(p)).collect()
    }

    fn entry(&mut self, pair: Pair<Rule>) -> Entry {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let key_pair = inner.next().expect("grammar: entry key");
        let key_span = self.span(&key_pair);
        let key = match key_pair.as_rule() {
            Rule::string => Key {
                name: self.plain_string(key_pair),
                quoted: true,
                span: key_span,
            },
            _ => Key {
                name: key_pair.as_str().to_string(),
                quoted: false,
                span: key_span,
            },
        };
        let value_pair = inner.next().expect("grammar: entry value");
        let block = value_pair.as_rule() == Rule::map;
        let value = self.expr(value_pair);
        Entry {
            key,
            value,
            block,
            span,
        }
    }

    fn target(&mut self, pair: Pair<Rule>) -> TargetDecl {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let name = self.ident(inner.next().expect("grammar: target name"));
        let mut items = Vec::new();
        for p in inner {
            if p.as_rule() == Rule::target_step {
                let span = self.span(&p);
                let mut parts = children(p);
                let name = self.ident(parts.next().expect("grammar: step name"));
                let entries = self.entries(parts.next().expect("grammar: step settings"));
                items.push(TargetItem::Step { name, entries, span });
            } else {
                items.push(TargetItem::Entry(self.entry(p)));
            }
        }
        TargetDecl { name, items, span }
    }

    fn template(&mut self, pair: Pair<Rule>) -> TemplateDecl {
        let span = self.span(&pair);
        let mut inner = children(pair).peekable();
        let kind = match inner.peek() {
            Some(p) if p.as_rule() == Rule::kind => {
                let p = inner.next().expect("peeked");
                Some((self.kind(&p), self.span(&p)))
            }
            _ => None,
        };
        let name = self.ident(inner.next().expect("grammar: template name"));
        let params_pair = inner.next().expect("grammar: template params");
        let mut params = Vec::new();
        for p in children(params_pair) {
            let span = self.span(&p);
            let mut parts = children(p);
            let name = self.ident(parts.next().expect("grammar: template param name"));
            let mut ty = None;
            let mut default = None;
            for part in parts {
                if part.as_rule() == Rule::type_expr {
                    ty = Some(self.type_expr(part));
                } else {
                    default = Some(self.expr(part));
                }
            }
            params.push(TemplateParam {
                name,
                ty,
                default,
                span,
            });
        }
        let body = self.entries(inner.next().expect("grammar: template body"));
        TemplateDecl {
            kind,
            name,
            params,
            body,
            span,
        }
    }

    fn expr(&mut self, pair: Pair<Rule>) -> Expr {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::expr => self.expr_run(pair),
            Rule::paren => {
                let inner = children(pair).next().expect("grammar: parenthesised expression");
                Expr {
                    kind: ExprKind::Paren(Box::new(self.expr(inner))),
                    span,
                }
            }
            Rule::number => {
                let text = pair.as_str().to_string();
                let value = match literal::classify(&text) {
                    Ok(v) => v,
                    Err(message) => {
                        self.diags.push(
                            Diagnostic::error(Code::InvalidLiteral, span, message).with_hint(literal::LITERAL_HINT),
                        );
                        NumberValue::Invalid
                    }
                };
                Expr {
                    kind: ExprKind::Number { value },
                    span,
                }
            }
            Rule::string => Expr {
                kind: self.string(pair),
                span,
            },
            Rule::list => {
                let items: Vec<_> = children(pair).collect();
                Expr {
                    kind: ExprKind::List(items.into_iter().map(|p| self.expr(p)).collect()),
                    span,
                }
            }
            Rule::map => Expr {
                kind: ExprKind::Map(self.entries(pair)),
                span,
            },
            _ => {
                let text = pair.as_str();
                let kind = match text {
                    "true" | "false" | "on" | "off" => ExprKind::Bool {
                        value: matches!(text, "true" | "on"),
                    },
                    _ => ExprKind::Ident(text.to_string()),
                };
                Expr { kind, span }
            }
        }
    }

    /// Applies precedence to the flat run `operand (op operand)*` of an `expr`.
    fn expr_run(&mut self, pair: Pair<Rule>) -> Expr {
        let span = self.span(&pair);
        let operators = pair
            .clone()
            .into_inner()
            .filter(|p| {
                !matches!(
                    p.as_rule(),
                    Rule::number | Rule::string | Rule::list | Rule::map | Rule::paren | Rule::ident
                )
            })
            .count();
        if operators > MAX_OPERATORS {
            self.diags.push(
                Diagnostic::error(
                    Code::TooDeeplyNested,
                    span,
                    format!("this expression chains {operators} operators; the limit is {MAX_OPERATORS}"),
                )
                .with_hint("split it into smaller pieces"),
            );
            return Expr {
                kind: ExprKind::Bool { value: false },
                span,
            };
        }
        let mut tokens: Vec<Token> = Vec::new();
        let mut operand: Option<Expr> = None;
        let mut nots: Vec<Span> = Vec::new();
        for p in children(pair) {
            match p.as_rule() {
                Rule::kw_not => nots.push(self.span(&p)),
                Rule::field | Rule::index | Rule::args => {
                    if let Some(base) = operand.take() {
                        operand = Some(self.postfix(base, p));
                    }
                }
                Rule::cmp_op | Rule::kw_and | Rule::kw_or => {
                    if let Some(e) = operand.take() {
                        tokens.push(Token::Operand(std::mem::take(&mut nots), e));
                    }
                    if p.as_str() == "=" {
                        let span = self.span(&p);
                        self.diags.push(
                            Diagnostic::error(Code::SyntaxError, span, "`=` cannot appear inside an expression")
                                .with_hint(
                                    "compare with `==`; a new attribute starts on its own line as `name = value`",
                                ),
                        );
                    }
                    let op = match p.as_str() {
                        "and" => Op::And,
                        "or" => Op::Or,
                        "==" => Op::Cmp(CmpOp::Eq),
                        "!=" => Op::Cmp(CmpOp::Ne),
                        "<" => Op::Cmp(CmpOp::Lt),
                        "<=" => Op::Cmp(CmpOp::Le),
                        ">" => Op::Cmp(CmpOp::Gt),
                        _ => Op::Cmp(CmpOp::Ge),
                    };
                    tokens.push(Token::Op(op));
                }
                _ => operand = Some(self.expr(p)),
            }
        }
        if let Some(e) = operand.take() {
            tokens.push(Token::Operand(nots, e));
        }
        let mut tokens = tokens.into_iter().peekable();
        parse_or(&mut tokens).unwrap_or(Expr {
            kind: ExprKind::Bool { value: false },
            span: Span::new(self.file, 0, 0),
        })
    }

    fn postfix(&mut self, base: Expr, op: Pair<Rule>) -> Expr {
        let op_span = self.span(&op);
        let whole = base.span.to(op_span);
        let kind = match op.as_rule() {
            Rule::field => {
                let name = self.ident(children(op).next().expect("grammar: field name"));
                ExprKind::Field(Box::new(base), name)
            }
            Rule::index => {
                let inner = children(op).next().expect("grammar: index");
                let index = if inner.as_rule() == Rule::star {
                    Expr {
                        kind: ExprKind::Star,
                        span: self.span(&inner),
                    }
                } else {
                    self.expr(inner)
                };
                ExprKind::Index(Box::new(base), Box::new(index))
            }
            _ => {
                let mut args = Vec::new();
                for arg in children(op) {
                    let mut parts: Vec<_> = children(arg).collect();
                    let value = self.expr(parts.pop().expect("grammar: argument"));
                    let name = parts.pop().map(|p| self.ident(p));
                    args.push(Arg { name, value });
                }
                ExprKind::Call(Box::new(base), args)
            }
        };
        Expr { kind, span: whole }
    }

    fn string(&mut self, pair: Pair<Rule>) -> ExprKind {
        let mut parts: Vec<StrPart> = Vec::new();
        let mut text = String::new();
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::text | Rule::dollar => text.push_str(part.as_str()),
                Rule::dollar_escape => text.push_str("${"),
                Rule::escape => match literal::unescape(part.as_str()) {
                    Some(c) => text.push(c),
                    None => {
                        let span = self.span(&part);
                        self.diags.push(
                            Diagnostic::error(
                                Code::InvalidEscape,
                                span,
                                format!("unknown escape sequence `{}`", part.as_str()),
                            )
                            .with_hint("strings know `\\\"`, `\\\\`, `\\n`, `\\t`, `\\r` and `\\$`; write `$${` for a literal `${`"),
                        );
                    }
                },
                Rule::interp => {
                    if !text.is_empty() {
                        parts.push(StrPart::Text(std::mem::take(&mut text)));
                    }
                    let inner = children(part).next().expect("grammar: interpolated expression");
                    parts.push(StrPart::Interp(self.expr(inner)));
                }
                _ => {}
            }
        }
        if !text.is_empty() || parts.is_empty() {
            parts.push(StrPart::Text(text));
        }
        ExprKind::Str { parts }
    }
}

/// Compares the fast parser with pest on `text`: `Ok(true)` when the fast
/// parser accepted it and pest built the same tree without diagnostics,
/// `Ok(false)` when the fast parser declined (pest then decides), `Err` on
/// any disagreement. Used by the tests and the fuzzer.
#[doc(hidden)]
pub fn parsers_agree(text: &str) -> Result<bool, String> {
    let file = FileId(0);
    if scan(file, text).too_deep_at.is_some() {
        return Ok(false);
    }
    let Some(fast) = super::fast::parse(file, text) else {
        return Ok(false);
    };
    let mut diags = Diagnostics::default();
    match parse_with_pest(file, text, &mut diags) {
        Some(module) if diags.is_empty() && module.items == fast => Ok(true),
        Some(module) if diags.is_empty() => Err(format!(
            "the parsers built different trees:\nfast: {fast:#?}\npest: {:#?}",
            module.items
        )),
        _ => Err(format!(
            "the fast parser accepted what pest rejects: {:?}",
            diags.iter().map(|d| d.message.clone()).collect::<Vec<_>>()
        )),
    }
}
