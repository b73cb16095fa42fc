//! Loads the entry file and, depth first, every file it imports: user files
//! through the [`World`] (paths relative to the importing file) and `std/...`
//! from the embedded standard library. Reports missing files and import cycles.

use crate::code::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::source::{FileId, SourceFile, SourceMap, Span};
use crate::stdlib;
use crate::syntax::{self, ast};
use crate::world::{World, normalize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Index of a loaded module in [`Program::modules`]; the entry file is 0.
pub type ModuleId = usize;

/// Every file one compilation reads, parsed.
#[derive(Debug, Default)]
pub struct Program {
    pub sources: SourceMap,
    pub modules: Vec<LoadedModule>,
}

#[derive(Debug)]
pub struct LoadedModule {
    pub file: FileId,
    pub ast: ast::Module,
    /// Import name (alias or stem) -> module, for the imports that loaded.
    pub imports: HashMap<String, ModuleId>,
}

/// Loads `entry` and its imports. A file with a syntax error is still
/// recorded (with an empty AST) so that other files' errors are reported too.
pub fn load(world: &dyn World, entry: &Path, diags: &mut Diagnostics) -> Program {
    let mut loader = Loader {
        world,
        program: Program::default(),
        by_key: HashMap::new(),
        stack: Vec::new(),
        diags,
    };
    match world.read(entry) {
        Ok(text) => {
            let name = entry.display().to_string();
            loader.load_text(name, text, Key::User(normalize(entry)));
        }
        Err(err) => loader.diags.push(
            Diagnostic::error(
                Code::ImportNotFound,
                None,
                format!("cannot read `{}`: {err}", entry.display()),
            )
            .with_hint("check the path; pipeline files usually live under pipelines/"),
        ),
    }
    loader.program
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(PathBuf),
    Std(String),
}

impl Key {
    fn display(&self) -> String {
        match self {
            Key::User(p) => p.display().to_string(),
            Key::Std(name) => format!("std/{name}"),
        }
    }
}

struct Loader<'a> {
    world: &'a dyn World,
    program: Program,
    by_key: HashMap<Key, ModuleId>,
    /// Files being loaded, outermost first, for cycle detection.
    stack: Vec<(Key, Span)>,
    diags: &'a mut Diagnostics,
}

impl Loader<'_> {
    fn load_text(&mut self, name: String, text: String, key: Key) -> ModuleId {
        let file = self.program.sources.add(SourceFile::new(name, text));
        let ast = syntax::parse(file, &self.program.sources.get(file).text, self.diags).unwrap_or_default();
        let id = self.program.modules.len();
        self.program.modules.push(LoadedModule {
            file,
            ast,
            imports: HashMap::new(),
        });
        self.by_key.insert(key.clone(), id);
        let imports: Vec<ast::Import> = self.program.modules[id]
            .ast
            .items
            .iter()
            .filter_map(|item| match item {
                ast::Item::Import(i) => Some(i.clone()),
                _ => None,
            })
            .collect();
        let base = match &key {
            Key::User(path) => path.parent().map(Path::to_path_buf),
            Key::Std(_) => None,
        };
        self.stack.push((key, Span::new(file, 0, 0)));
        for import in imports {
            let name = import.name();
            if self.program.modules[id].imports.contains_key(&name) {
                self.diags.push(
                    Diagnostic::error(Code::DuplicateName, import.span, format!("`{name}` is imported twice"))
                        .with_hint("give one of the imports another name with `as`"),
                );
                continue;
            }
            if let Some(child) = self.import(&import, base.as_deref()) {
                self.program.modules[id].imports.insert(name, child);
            }
        }
        self.stack.pop();
        id
    }

    fn import(&mut self, import: &ast::Import, base: Option<&Path>) -> Option<ModuleId> {
        let (key, text) = if let Some(name) = import.path.strip_prefix("std/") {
            let key = Key::Std(name.to_string());
            match stdlib::get(name) {
                Some(text) => (key, text.to_string()),
                None => {
                    let known: Vec<String> = stdlib::names().map(|n| format!("`std/{n}`")).collect();
                    self.diags.push(
                        Diagnostic::error(
                            Code::ImportNotFound,
                            import.path_span,
                            format!("the standard library has no module `{}`", import.path),
                        )
                        .with_hint_opt(
                            crate::suggest::did_you_mean(name, stdlib::names()).map(|h| format!("{h} (std/...)")),
                        )
                        .with_hint(format!("the standard library has {}", known.join(", "))),
                    );
                    return None;
                }
            }
        } else {
            let Some(base) = base else {
                self.diags.push(Diagnostic::error(
                    Code::ImportNotFound,
                    import.path_span,
                    "a standard library module can only import other `std/...` modules",
                ));
                return None;
            };
            let mut relative = PathBuf::from(&import.path);
            if relative.extension().is_none() {
                relative.set_extension("wharf");
            }
            let path = normalize(&base.join(relative));
            let key = Key::User(path.clone());
            if self.by_key.contains_key(&key) || self.stack.iter().any(|(k, _)| *k == key) {
                (key, String::new())
            } else {
                match self.world.read(&path) {
                    Ok(text) => (key, text),
                    Err(err) => {
                        self.diags.push(
                            Diagnostic::error(
                                Code::ImportNotFound,
                                import.path_span,
                                format!("cannot read `{}`: {err}", path.display()),
                            )
                            .with_hint(
                                "import paths are relative to the importing file; `std/...` names the standard library",
                            ),
                        );
                        return None;
                    }
                }
            }
        };
        if let Some(pos) = self.stack.iter().position(|(k, _)| *k == key) {
            let mut chain: Vec<String> = self.stack[pos..].iter().map(|(k, _)| k.display()).collect();
            chain.push(key.display());
            self.diags.push(
                Diagnostic::error(
                    Code::ImportCycle,
                    import.span,
                    format!("import cycle: {}", chain.join(" -> ")),
                )
                .with_hint("move what both files need into a third file that imports neither"),
            );
            return None;
        }
        if let Some(&id) = self.by_key.get(&key) {
            return Some(id);
        }
        Some(self.load_text(key.display(), text, key))
    }
}
