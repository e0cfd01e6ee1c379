//! The layering of the style guide, enforced: every reference from one module of the crate to
//! another (`use crate::…`, inline `crate::x::y`, `super::…`, `self::…` and a `mod.rs` naming its
//! own children) must follow the allowed dependencies below, no two modules may depend on each
//! other in a cycle (at file granularity), and the crates that talk to the outside world stay in
//! the layer that owns them.
//!
//! The checker is plain std: a small lexer blanks out comments, strings and character literals
//! (line numbers kept), then paths are read from the tokens, `use` groups expanded. Inline
//! `#[cfg(test)] mod tests` blocks are checked like the rest of their file (a unit test reaching
//! across layers is still a layering smell, and `use super::*` inside one resolves to the file's
//! own module, so it costs nothing); their references count in the cycle graph too. Macros called
//! through the crate root (`crate::text_enum!`) are allowed everywhere.
//!
//! What a text scan cannot see: a layer reaching another through a value, e.g. a controller
//! calling `state.db` or `state.redis` directly (only a `sqlx::`/`redis::` path gives it away),
//! and what a macro expands to at its call site (it is checked where the macro is written).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Who may use whom. A layer may always use itself (the cycle rule still applies). `*`: anything.
const LAYERS: &[(&str, &[&str])] = &[
    ("domain", &["error"]),
    ("error", &[]),
    ("config", &["domain"]),
    ("telemetry", &["config"]),
    ("repositories", &["domain", "error"]),
    ("clients", &["domain", "error", "config"]),
    ("services", &["repositories", "clients", "domain", "error", "config"]),
    ("controllers", &["services", "domain", "error", "config", "state", "telemetry"]),
    ("workers", &["services", "domain", "error", "config", "state"]),
    ("state", &["services", "clients", "config", "domain", "error"]),
    ("router", &["controllers", "state", "error", "config", "telemetry", "domain"]),
    ("startup", &["*"]),
    ("lib", &["*"]),
    ("main", &["*"]),
];

/// External crates that belong to one layer: (crate, layers that may name it).
///
/// `sqlx` in `error.rs`: `From<sqlx::Error> for AppError` and the constraint-name → 409 table
/// (the style guide puts both there). `deadpool_redis` is *not* allowed there: its two `From` impls can
/// live in `clients/redis.rs`, next to the only code that produces those errors. Nor is `sqlx`
/// allowed in `domain/text_enum.rs`: the `sqlx::Type`/`Encode`/`Decode` impls of the text enums
/// can be generated on the repositories' side.
const EXTERNAL_CRATES: &[(&str, &[&str])] = &[
    ("lapin", &["clients"]),
    ("redis", &["clients"]),
    ("deadpool_redis", &["clients"]),
    ("lettre", &["clients"]),
    ("sqlx", &["repositories", "startup", "state", "error"]),
];

/// Services own transactions (the style guide: `pool.begin()`, then repository calls with `&mut tx`),
/// so they may name sqlx's pool, connection and transaction types; queries stay in repositories.
const SQLX_HANDLES_IN_SERVICES: &[&str] =
    &["PgPool", "PgConnection", "PgTransaction", "Transaction", "Postgres", "Acquire"];

/// At most this many cycles are spelled out (a tangle can have very many); then a note says so.
const MAX_CYCLES: usize = 100;

// ---------------------------------------------------------------------------------------------
// The real test.

#[test]
fn architecture_layers_hold_and_no_cycles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    collect_rs_files(&root.join("src"), root, &mut files);
    files.sort();
    assert!(files.len() > 10, "found only {} source files under src/", files.len());
    let violations = check(&files);
    assert!(
        violations.is_empty(),
        "{} architecture violation(s) (rules: the tables at the top of tests/architecture.rs):\n{}\n",
        violations.len(),
        violations.join("\n")
    );
}

fn collect_rs_files(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            collect_rs_files(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(&path).expect("read a source file");
            out.push((rel, text));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The checker: (path, source) pairs in, violations out.

/// Checks `(path relative to the crate, source text)` pairs, e.g. `("src/services/users.rs", …)`.
/// Returns one line per violation, sorted by file and line, then one per cycle.
pub fn check(files: &[(String, String)]) -> Vec<String> {
    let modules: Vec<(usize, Vec<String>)> = files
        .iter()
        .enumerate()
        .filter_map(|(i, (path, _))| module_of(path).map(|m| (i, m)))
        .collect();
    let known: BTreeSet<Vec<String>> = modules.iter().map(|(_, m)| m.clone()).collect();

    let mut violations: Vec<(String, usize, String)> = Vec::new();
    let mut seen = BTreeSet::new();
    // (file, crate) → its uses, for external crates used out of their layer.
    let mut extern_uses: BTreeMap<(String, String), ExternUse> = BTreeMap::new();
    // module → module it uses → where (first reference).
    let mut graph: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();

    for (i, module) in &modules {
        let (path, text) = &files[*i];
        let from_layer = layer_of(module);
        graph.entry(module_name(module)).or_default();
        if allowed_targets(&from_layer).is_none() {
            violations.push((
                path.clone(),
                0,
                format!("{path}: module `{from_layer}` has no layer in tests/architecture.rs"),
            ));
            continue;
        }
        let is_main = path == "src/main.rs";
        for r in scan(module, text, is_main) {
            match r.target {
                Target::Module { path: abs, is_macro } => {
                    if is_macro {
                        continue; // `crate::text_enum!`: macros live at the crate root
                    }
                    let Some(to) = resolve(&abs, &known) else { continue };
                    if &to == module {
                        continue;
                    }
                    let to_layer = layer_of(&to);
                    let shown = format!("crate::{}", to.join("::"));
                    if !layer_may_use(&from_layer, &to_layer) {
                        let msg = format!(
                            "{path}:{}: {from_layer} may not use {to_layer} ({shown})",
                            r.line
                        );
                        if seen.insert(msg.clone()) {
                            violations.push((path.clone(), r.line, msg));
                        }
                    }
                    graph
                        .entry(module_name(module))
                        .or_default()
                        .entry(module_name(&to))
                        .or_insert_with(|| format!("{path}:{}", r.line));
                }
                Target::Extern { krate, path: segs } => {
                    let Some((_, owners)) = EXTERNAL_CRATES.iter().find(|(c, _)| *c == krate)
                    else {
                        continue;
                    };
                    if owners.contains(&from_layer.as_str()) {
                        continue;
                    }
                    if from_layer == "services"
                        && krate == "sqlx"
                        && segs
                            .last()
                            .is_some_and(|l| SQLX_HANDLES_IN_SERVICES.contains(&l.as_str()))
                    {
                        continue;
                    }
                    extern_uses
                        .entry((path.clone(), krate.clone()))
                        .or_insert_with(|| ExternUse {
                            layer: from_layer.clone(),
                            owners: owners.join(", "),
                            first: segs.join("::"),
                            lines: Vec::new(),
                        })
                        .lines
                        .push(r.line);
                }
            }
        }
    }

    // One violation per file and crate: a grouped `use lapin::{…}` is one thing to move.
    for ((path, krate), ExternUse { layer, owners, first, mut lines }) in extern_uses {
        lines.dedup();
        let also = match &lines[1..] {
            [] => String::new(),
            rest => {
                let rest: Vec<String> = rest.iter().map(usize::to_string).collect();
                format!("; also line{} {}", if rest.len() > 1 { "s" } else { "" }, rest.join(", "))
            }
        };
        let msg = format!(
            "{path}:{}: {layer} may not use {krate} ({first}{also}); only {owners} may",
            lines[0]
        );
        violations.push((path, lines[0], msg));
    }

    violations.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let mut out: Vec<String> = violations.into_iter().map(|(_, _, m)| m).collect();
    out.extend(cycles(&graph));
    out
}

struct ExternUse {
    layer: String,
    owners: String,
    first: String,
    lines: Vec<usize>,
}

fn allowed_targets(layer: &str) -> Option<&'static [&'static str]> {
    LAYERS.iter().find(|(l, _)| *l == layer).map(|(_, a)| *a)
}

fn layer_may_use(from: &str, to: &str) -> bool {
    from == to || allowed_targets(from).is_some_and(|a| a.contains(&"*") || a.contains(&to))
}

/// `src/services/users.rs` → `[services, users]`; `src/services/mod.rs` → `[services]`;
/// `src/error.rs` → `[error]`; `src/lib.rs` → `[]` (the crate root); `src/main.rs` → `[main]`.
fn module_of(path: &str) -> Option<Vec<String>> {
    let rel = path.strip_prefix("src/")?.strip_suffix(".rs")?;
    let mut segs: Vec<String> = rel.split('/').map(str::to_owned).collect();
    if segs.last().is_some_and(|s| s == "mod") || segs == ["lib"] {
        segs.pop();
    }
    Some(segs)
}

fn layer_of(module: &[String]) -> String {
    module.first().cloned().unwrap_or_else(|| "lib".to_owned())
}

fn module_name(module: &[String]) -> String {
    if module.is_empty() { "lib".to_owned() } else { module.join("::") }
}

/// The longest prefix of a crate-absolute path that is a module file. A path whose first segment
/// is no module (a `#[macro_export]` macro, a re-export in lib.rs) names the crate root: `None`.
fn resolve(abs: &[String], known: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    (1..=abs.len()).rev().map(|n| abs[..n].to_vec()).find(|p| known.contains(p)).or_else(|| {
        // A layer that has no file in this set (small synthetic sets): still a layer.
        let first = abs.first()?;
        allowed_targets(first).map(|_| vec![first.clone()])
    })
}

// ---------------------------------------------------------------------------------------------
// Cycles: every elementary cycle, each found once from its smallest module.

fn cycles(graph: &BTreeMap<String, BTreeMap<String, String>>) -> Vec<String> {
    let nodes: Vec<&String> = graph.keys().collect();
    let mut found = Vec::new();
    let mut truncated = false;
    for start in &nodes {
        let mut path: Vec<&String> = vec![start];
        let mut on_path: BTreeSet<&String> = BTreeSet::from([*start]);
        find_cycles(graph, start, &mut path, &mut on_path, &mut found, &mut truncated);
    }
    let mut out: Vec<String> = found
        .iter()
        .map(|cycle: &Vec<&String>| {
            let mut names: Vec<&str> = cycle.iter().map(|s| s.as_str()).collect();
            names.push(cycle[0]);
            let wheres: Vec<&str> = names.windows(2).map(|w| graph[w[0]][w[1]].as_str()).collect();
            format!("cycle: {} (at {})", names.join(" -> "), wheres.join(", "))
        })
        .collect();
    if truncated {
        out.push(format!("… more than {MAX_CYCLES} cycles; the first ones are listed above"));
    }
    out
}

fn find_cycles<'a>(
    graph: &'a BTreeMap<String, BTreeMap<String, String>>,
    start: &'a String,
    path: &mut Vec<&'a String>,
    on_path: &mut BTreeSet<&'a String>,
    found: &mut Vec<Vec<&'a String>>,
    truncated: &mut bool,
) {
    let last = *path.last().unwrap();
    for next in graph.get(last).into_iter().flat_map(|m| m.keys()) {
        if found.len() >= MAX_CYCLES {
            *truncated = true;
            return;
        }
        if next == start {
            found.push(path.clone());
        } else if next > start && !on_path.contains(next) {
            path.push(next);
            on_path.insert(next);
            find_cycles(graph, start, path, on_path, found, truncated);
            on_path.remove(next);
            path.pop();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading references out of source text.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    PathSep,
    Open,
    Close,
    Comma,
    Star,
    Gt,
    Bang,
    Other(char),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
}

/// Tokens of the code, without comments, strings, character literals and lifetimes.
fn lex(src: &str) -> Vec<Token> {
    let c: Vec<char> = src.chars().collect();
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    // Skips a (possibly raw) string whose opening `"` or `r#…"` starts at `i`; returns the
    // index after it and counts its newlines.
    let skip_string = |mut i: usize, line: &mut usize| -> usize {
        if at(i) == 'r' {
            i += 1;
            let mut hashes = 0;
            while at(i) == '#' {
                hashes += 1;
                i += 1;
            }
            i += 1; // the opening quote
            while i < c.len() {
                if c[i] == '\n' {
                    *line += 1;
                }
                if c[i] == '"' && (1..=hashes).all(|k| at(i + k) == '#') {
                    return i + 1 + hashes;
                }
                i += 1;
            }
            return i;
        }
        i += 1;
        while i < c.len() {
            match c[i] {
                '\\' => {
                    if at(i + 1) == '\n' {
                        *line += 1;
                    }
                    i += 2;
                    continue;
                }
                '\n' => *line += 1,
                '"' => return i + 1,
                _ => {}
            }
            i += 1;
        }
        i
    };
    while i < c.len() {
        let ch = c[i];
        match ch {
            '\n' => {
                line += 1;
                i += 1;
            }
            _ if ch.is_whitespace() => i += 1,
            '/' if at(i + 1) == '/' => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            '/' if at(i + 1) == '*' => {
                let mut depth = 0;
                while i < c.len() {
                    if c[i] == '/' && at(i + 1) == '*' {
                        depth += 1;
                        i += 2;
                    } else if c[i] == '*' && at(i + 1) == '/' {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        if c[i] == '\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                }
            }
            '"' => i = skip_string(i, &mut line),
            '\'' => {
                if at(i + 1) == '\\' {
                    // An escaped character literal: '\n', '\'', '\u{1F600}'.
                    i += 3;
                    while i < c.len() && c[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                } else if at(i + 2) == '\'' {
                    i += 3; // 'x'
                } else {
                    i += 1; // a lifetime or label: its name lexes as an identifier
                }
            }
            _ if ch.is_alphabetic() || ch == '_' => {
                // String and character literal prefixes: b"", br#""#, r"", c"", cr"", b'x'.
                let prefixed_raw = |p: usize| {
                    at(p) == 'r'
                        && (at(p + 1) == '"'
                            || (at(p + 1) == '#' && (at(p + 2) == '"' || at(p + 2) == '#')))
                };
                if prefixed_raw(i) {
                    i = skip_string(i, &mut line);
                    continue;
                }
                if (ch == 'b' || ch == 'c') && prefixed_raw(i + 1) {
                    i = skip_string(i + 1, &mut line);
                    continue;
                }
                if (ch == 'b' || ch == 'c') && at(i + 1) == '"' {
                    i = skip_string(i + 1, &mut line);
                    continue;
                }
                if ch == 'b' && at(i + 1) == '\'' {
                    i += 1;
                    continue; // the quote branch skips the literal
                }
                if ch == 'r' && at(i + 1) == '#' {
                    i += 2; // a raw identifier, r#type
                }
                let start = i;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
                out.push(Token { tok: Tok::Ident(c[start..i].iter().collect()), line });
            }
            _ if ch.is_ascii_digit() => {
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
            }
            _ => {
                let tok = match ch {
                    ':' if at(i + 1) == ':' => {
                        i += 1;
                        Tok::PathSep
                    }
                    '{' => Tok::Open,
                    '}' => Tok::Close,
                    ',' => Tok::Comma,
                    '*' => Tok::Star,
                    '>' => Tok::Gt,
                    '!' => Tok::Bang,
                    other => Tok::Other(other),
                };
                out.push(Token { tok, line });
                i += 1;
            }
        }
    }
    out
}

/// One leaf of a path as written: `use crate::{a::b, c}` has two.
#[derive(Debug, Clone)]
struct Leaf {
    segs: Vec<String>,
    line: usize,
    glob: bool,
    /// The name it brings into scope (`as` alias or last segment), for a `use`.
    binds: Option<String>,
    /// `path!(…)`: a macro call.
    is_macro: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Target {
    /// A crate-absolute path (`[services, tokens, hex]`), or a macro called through one.
    Module { path: Vec<String>, is_macro: bool },
    /// A path into an external crate.
    Extern { krate: String, path: Vec<String> },
}

#[derive(Debug, Clone, PartialEq)]
struct Ref {
    line: usize,
    target: Target,
}

const KEYWORDS: &[&str] = &[
    "use", "pub", "in", "as", "return", "let", "mut", "ref", "dyn", "impl", "where", "for", "if",
    "match", "else", "move", "const", "static", "type", "fn", "struct", "enum", "break", "while",
];

fn ident(t: &[Token], i: usize) -> Option<&str> {
    match t.get(i).map(|t| &t.tok) {
        Some(Tok::Ident(s)) => Some(s),
        _ => None,
    }
}

fn is(t: &[Token], i: usize, tok: &Tok) -> bool {
    t.get(i).is_some_and(|t| &t.tok == tok)
}

/// Whether the identifier at `i` starts a path (is not a later segment of one).
fn starts_path(t: &[Token], i: usize) -> bool {
    if i == 0 || !is(t, i - 1, &Tok::PathSep) {
        return true;
    }
    // `::name` is a leading (absolute) separator unless something that continues a path is
    // before it: `a::name`, `Vec<T>::name`, `f()::`.
    match t.get(i.wrapping_sub(2)).map(|t| &t.tok) {
        None => true,
        Some(Tok::Ident(s)) => KEYWORDS.contains(&s.as_str()),
        Some(Tok::Gt) | Some(Tok::Other(')')) => false,
        Some(_) => true,
    }
}

/// Reads a path tree starting at `i` (an identifier, `{` or `*`), expanding groups; returns the
/// index after it.
fn read_tree(t: &[Token], mut i: usize, mut prefix: Vec<String>, out: &mut Vec<Leaf>) -> usize {
    let mut line = t.get(i).map_or(0, |t| t.line);
    loop {
        match t.get(i).map(|t| &t.tok) {
            Some(Tok::Ident(s)) => {
                line = t[i].line;
                let is_group_self = s == "self" && !prefix.is_empty();
                if !is_group_self {
                    prefix.push(s.clone());
                }
                i += 1;
                if is(t, i, &Tok::PathSep) && !is_group_self {
                    match t.get(i + 1).map(|t| &t.tok) {
                        Some(Tok::Ident(_)) | Some(Tok::Open) | Some(Tok::Star) => {
                            i += 1;
                            continue;
                        }
                        _ => {} // `::<T>` turbofish: the path ends here
                    }
                }
                let mut binds = prefix.last().cloned();
                if ident(t, i) == Some("as") {
                    binds = ident(t, i + 1).map(str::to_owned);
                    i += 2;
                }
                let is_macro = is(t, i, &Tok::Bang);
                out.push(Leaf { segs: prefix, line, glob: false, binds, is_macro });
                return i;
            }
            Some(Tok::Star) => {
                out.push(Leaf {
                    segs: prefix,
                    line: t[i].line,
                    glob: true,
                    binds: None,
                    is_macro: false,
                });
                return i + 1;
            }
            Some(Tok::Open) => {
                i += 1;
                loop {
                    match t.get(i).map(|t| &t.tok) {
                        None => return i,
                        Some(Tok::Close) => return i + 1,
                        Some(Tok::Comma) => i += 1,
                        Some(Tok::Ident(_)) | Some(Tok::Open) | Some(Tok::Star) => {
                            i = read_tree(t, i, prefix.clone(), out);
                        }
                        // Not a use tree after all: leave the tokens to the caller.
                        Some(_) => return i,
                    }
                }
            }
            _ => {
                if !prefix.is_empty() {
                    out.push(Leaf {
                        segs: prefix,
                        line,
                        glob: false,
                        binds: None,
                        is_macro: false,
                    });
                }
                return i;
            }
        }
    }
}

/// Every reference to a crate module or an external crate in one file. `module` is the file's
/// module path; `super` and `self` resolve against it plus any inline `mod x { … }` around them.
fn scan(module: &[String], src: &str, is_main: bool) -> Vec<Ref> {
    let t = lex(src);
    // Inline modules: (name, brace depth inside it).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut children = BTreeSet::new();
    // (leaf, module path where it was written)
    let mut leaves: Vec<(Leaf, Vec<String>)> = Vec::new();
    let mut i = 0;
    while i < t.len() {
        match &t[i].tok {
            Tok::Open => {
                depth += 1;
                i += 1;
            }
            Tok::Close => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            Tok::Ident(s) if s == "mod" && ident(&t, i + 1).is_some() => {
                let name = ident(&t, i + 1).unwrap().to_owned();
                if is(&t, i + 2, &Tok::Open) {
                    depth += 1;
                    inline.push((name, depth));
                    i += 3;
                } else {
                    if inline.is_empty() {
                        children.insert(name);
                    }
                    i += 2;
                }
            }
            Tok::Ident(_) if starts_path(&t, i) && is(&t, i + 1, &Tok::PathSep) => {
                let here: Vec<String> =
                    module.iter().cloned().chain(inline.iter().map(|(n, _)| n.clone())).collect();
                let mut found = Vec::new();
                i = read_tree(&t, i, Vec::new(), &mut found);
                leaves.extend(found.into_iter().map(|l| (l, here.clone())));
            }
            _ => i += 1,
        }
    }

    // Names brought into scope from our own modules shadow external crates of the same name
    // (`use crate::clients::redis;` then `redis::RedisClient`).
    let local: BTreeSet<String> = leaves
        .iter()
        .filter(|(l, _)| {
            matches!(l.segs.first().map(String::as_str), Some("crate" | "super" | "self"))
                || l.segs.first().is_some_and(|s| children.contains(s))
        })
        .filter_map(|(l, _)| l.binds.clone())
        .chain(children.iter().cloned())
        .collect();

    let mut refs = Vec::new();
    for (leaf, here) in leaves {
        let Some(head) = leaf.segs.first() else { continue };
        let abs: Option<Vec<String>> = match head.as_str() {
            "crate" => Some(leaf.segs[1..].to_vec()),
            "ticketing" if is_main => Some(leaf.segs[1..].to_vec()),
            "super" | "self" => {
                let mut cur = here.clone();
                let mut rest = &leaf.segs[..];
                let mut ok = true;
                while let Some(first) = rest.first() {
                    match first.as_str() {
                        "super" => ok &= cur.pop().is_some(),
                        "self" => {}
                        _ => break,
                    }
                    rest = &rest[1..];
                }
                ok.then(|| cur.into_iter().chain(rest.iter().cloned()).collect())
            }
            name if children.contains(name) => {
                Some(here.iter().cloned().chain(leaf.segs.iter().cloned()).collect())
            }
            _ => None,
        };
        if let Some(path) = abs {
            refs.push(Ref {
                line: leaf.line,
                target: Target::Module { path, is_macro: leaf.is_macro },
            });
        } else if !local.contains(head) && EXTERNAL_CRATES.iter().any(|(c, _)| c == head) {
            let mut path = leaf.segs.clone();
            if leaf.glob {
                path.push("*".into());
            }
            refs.push(Ref {
                line: leaf.line,
                target: Target::Extern { krate: head.clone(), path },
            });
        }
    }
    refs
}

// ---------------------------------------------------------------------------------------------
// Tests of the checker, on small in-memory source sets.

fn set(files: &[(&str, &str)]) -> Vec<(String, String)> {
    files.iter().map(|(p, s)| (p.to_string(), s.to_string())).collect()
}

/// A small crate that follows every rule.
fn clean_crate() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "src/lib.rs",
            "pub mod controllers;\npub mod services;\npub mod repositories;\npub mod domain;\npub mod error;\npub mod state;\n",
        ),
        (
            "src/error.rs",
            "pub struct AppError;\nimpl From<sqlx::Error> for AppError { fn from(_: sqlx::Error) -> Self { AppError } }\n",
        ),
        (
            "src/state.rs",
            "use sqlx::PgPool;\nuse crate::services::seats::Seats;\npub struct AppState { pub db: PgPool, pub seats: Seats }\n",
        ),
        ("src/domain/mod.rs", "pub mod seat;\n"),
        (
            "src/domain/seat.rs",
            "use crate::error::AppError;\ncrate::text_enum! { pub enum S { A = \"A\", } }\n",
        ),
        ("src/repositories/mod.rs", "pub mod seats;\n"),
        (
            "src/repositories/seats.rs",
            "use sqlx::PgConnection;\nuse crate::{domain::seat::S, error::AppError};\npub async fn find(c: &mut PgConnection) { sqlx::query!(\"select 1\"); }\n",
        ),
        ("src/services/mod.rs", "pub mod seats;\npub mod holds;\n"),
        ("src/services/holds.rs", "pub fn hold() {}\n"),
        (
            "src/services/seats.rs",
            "use sqlx::{PgConnection, PgPool};\nuse super::holds;\nuse crate::repositories::seats as repo;\npub struct Seats;\npub async fn list(pool: &PgPool) { let mut tx = pool.begin().await; repo::find(&mut tx).await; holds::hold(); }\n",
        ),
        ("src/controllers/mod.rs", "pub mod extract;\npub mod seats;\n"),
        ("src/controllers/extract.rs", "pub struct AppJson;\n"),
        (
            "src/controllers/seats.rs",
            "use super::extract::AppJson;\nuse crate::{\n    services::seats,\n    state::AppState,\n};\npub async fn list_seats(s: AppState) { crate::services::seats::list(&s.db).await; }\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n",
        ),
    ]
}

fn with(
    mut base: Vec<(&'static str, &'static str)>,
    extra: &[(&'static str, &'static str)],
) -> Vec<(String, String)> {
    for (p, s) in extra {
        base.retain(|(q, _)| q != p);
        base.push((p, s));
    }
    set(&base)
}

#[test]
fn a_clean_set_reports_nothing() {
    assert_eq!(check(&set(&clean_crate())), Vec::<String>::new());
}

#[test]
fn a_controller_using_a_repository_is_reported_with_file_line_and_rule() {
    let files = with(
        clean_crate(),
        &[("src/controllers/idempotency.rs", "//! Keys.\n\nuse crate::repositories::seats;\n")],
    );
    assert_eq!(
        check(&files),
        vec![
            "src/controllers/idempotency.rs:3: controllers may not use repositories (crate::repositories::seats)"
        ]
    );
}

#[test]
fn a_grouped_multi_line_use_is_caught() {
    let src = "use crate::{\n    error::AppError,\n    repositories::{\n        seats::{self, find},\n    },\n    state::AppState,\n};\n";
    let files = with(clean_crate(), &[("src/controllers/idempotency.rs", src)]);
    assert_eq!(
        check(&files),
        vec![
            "src/controllers/idempotency.rs:4: controllers may not use repositories (crate::repositories::seats)"
        ]
    );
}

#[test]
fn an_inline_crate_path_is_caught() {
    let src = "pub async fn f(tx: &mut T) {\n    let x = 1;\n    crate::repositories::outbox::insert(tx, \"welcome\").await;\n}\n";
    let files = with(
        clean_crate(),
        &[("src/repositories/outbox.rs", "pub fn insert() {}\n"), ("src/workers/email.rs", src)],
    );
    assert_eq!(
        check(&files),
        vec![
            "src/workers/email.rs:3: workers may not use repositories (crate::repositories::outbox)"
        ]
    );
}

#[test]
fn super_paths_resolve_against_the_files_module() {
    // In src/services/users.rs, `super::tokens` is services::tokens; in src/controllers/seats.rs
    // `super::extract` is controllers::extract; `super::super::` climbs two levels.
    let m = |p: &str| module_of(p).unwrap();
    let targets = |path: &str, src: &str| -> Vec<Vec<String>> {
        scan(&m(path), src, false)
            .into_iter()
            .filter_map(|r| match r.target {
                Target::Module { path, .. } => Some(path),
                Target::Extern { .. } => None,
            })
            .collect()
    };
    let v = |s: &str| s.split("::").map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(
        targets("src/services/users.rs", "use super::{passwords, tokens::{self, Tokens}};"),
        vec![v("services::passwords"), v("services::tokens"), v("services::tokens::Tokens")]
    );
    assert_eq!(
        targets("src/controllers/seats.rs", "fn f() { super::extract::parse_json(&b)?; }"),
        vec![v("controllers::extract::parse_json")]
    );
    assert_eq!(
        targets("src/services/mod.rs", "use super::state::AppState;"),
        vec![v("state::AppState")]
    );
    assert_eq!(
        targets("src/domain/seat.rs", "mod tests { use super::*; use super::super::money::M; }"),
        vec![v("domain::seat"), v("domain::money::M")]
    );
    assert_eq!(
        targets("src/workers/mod.rs", "mod outbox;\nfn f() { outbox::run(); }"),
        vec![v("workers::outbox::run")]
    );

    // And the rule is checked on the resolved module: services::x → super::super::state.
    let files = with(
        clean_crate(),
        &[(
            "src/services/holds.rs",
            "use super::super::state::AppState;\nuse super::super::domain::seat::S;\n",
        )],
    );
    assert_eq!(
        check(&files),
        vec![
            "src/services/holds.rs:1: services may not use state (crate::state)",
            "cycle: services::holds -> state -> services::seats -> services::holds (at src/services/holds.rs:1, src/state.rs:2, src/services/seats.rs:2)",
        ]
    );
}

#[test]
fn a_two_module_cycle_is_reported() {
    let files = with(
        clean_crate(),
        &[
            ("src/services/payments.rs", "fn f() {\n    crate::services::refunds::go();\n}\n"),
            ("src/services/refunds.rs", "use super::payments;\n"),
        ],
    );
    assert_eq!(
        check(&files),
        vec![
            "cycle: services::payments -> services::refunds -> services::payments (at src/services/payments.rs:2, src/services/refunds.rs:1)"
        ]
    );
}

#[test]
fn a_three_module_cycle_is_reported() {
    let files = with(
        clean_crate(),
        &[
            ("src/domain/a.rs", "use super::b::B;\n"),
            ("src/domain/b.rs", "use crate::domain::c;\n"),
            ("src/domain/c.rs", "\nuse crate::domain::{a::A};\n"),
        ],
    );
    assert_eq!(
        check(&files),
        vec![
            "cycle: domain::a -> domain::b -> domain::c -> domain::a (at src/domain/a.rs:1, src/domain/b.rs:1, src/domain/c.rs:2)"
        ]
    );
}

#[test]
fn a_cross_layer_cycle_reports_both_the_layer_break_and_the_cycle() {
    let files = with(clean_crate(), &[("src/services/holds.rs", "use crate::state::AppState;\n")]);
    assert_eq!(
        check(&files),
        vec![
            "src/services/holds.rs:1: services may not use state (crate::state)",
            "cycle: services::holds -> state -> services::seats -> services::holds (at src/services/holds.rs:1, src/state.rs:2, src/services/seats.rs:2)",
        ]
    );
}

#[test]
fn lapin_in_a_worker_is_reported() {
    let src = "use std::time::Duration;\nuse lapin::{\n    BasicProperties,\n    options::BasicPublishOptions,\n};\nfn f() { let c = lapin::Connection::connect(); }\n";
    let files = with(clean_crate(), &[("src/workers/outbox.rs", src)]);
    assert_eq!(
        check(&files),
        vec![
            "src/workers/outbox.rs:3: workers may not use lapin (lapin::BasicProperties; also lines 4, 6); only clients may",
        ]
    );
}

#[test]
fn services_may_hold_a_pool_but_not_run_sql() {
    let src = "use sqlx::PgPool;\nasync fn f(c: &mut sqlx::PgConnection) {\n    sqlx::query(\"select 1\").execute(c).await;\n}\n";
    let files = with(clean_crate(), &[("src/services/holds.rs", src)]);
    assert_eq!(
        check(&files),
        vec![
            "src/services/holds.rs:3: services may not use sqlx (sqlx::query); only repositories, startup, state, error may"
        ]
    );
}

#[test]
fn our_own_redis_module_is_not_the_redis_crate() {
    let src = "use crate::clients::{\n    redis::RedisClient,\n};\nuse crate::clients::redis;\nfn f() -> redis::RedisClient { todo!() }\n";
    let files = with(
        clean_crate(),
        &[
            ("src/clients/mod.rs", "pub mod redis;\n"),
            ("src/clients/redis.rs", "pub struct RedisClient;\n"),
            ("src/state.rs", src),
        ],
    );
    assert_eq!(check(&files), Vec::<String>::new());
    let in_services =
        with(clean_crate(), &[("src/services/holds.rs", "fn f() { redis::cmd(\"GET\"); }\n")]);
    assert_eq!(
        check(&in_services),
        vec!["src/services/holds.rs:1: services may not use redis (redis::cmd); only clients may"]
    );
}

#[test]
fn comments_and_strings_are_not_reported() {
    let src = r####"//! Uses crate::repositories::seats in a doc comment.
/// And crate::repositories::seats here, and `lapin::Channel`.
// use crate::repositories::seats;
/* use crate::repositories::seats;
   /* nested: crate::repositories::seats */ still lapin::x */
fn f<'a>(x: &'a str) -> char {
    let s = "use crate::repositories::seats; lapin::x";
    let r = r#"crate::repositories::seats "quoted" lapin::x"#;
    let b = b"crate::repositories::seats";
    let q = '"';
    let e = '\'';
    let t = "escaped \" crate::repositories::seats";
    let m = "a string over
        two lines: crate::repositories::seats";
    tracing::info!("{}", "crate::repositories::seats");
    'outer: loop { break 'outer; }
    q
}
"####;
    let files = with(clean_crate(), &[("src/controllers/health.rs", src)]);
    assert_eq!(check(&files), Vec::<String>::new());

    // The lexer is back in code after all that, and still counts lines.
    let src = format!("{src}fn g() {{ crate::repositories::seats::find(); }}\n");
    let files = with(clean_crate(), &[("src/controllers/health.rs", src.leak())]);
    assert_eq!(
        check(&files),
        vec![
            "src/controllers/health.rs:19: controllers may not use repositories (crate::repositories::seats)"
        ]
    );
}

#[test]
fn crate_root_macros_are_allowed_everywhere() {
    let files = with(
        clean_crate(),
        &[(
            "src/repositories/seats.rs",
            "crate::text_enum! { pub enum K { A = \"A\", } }\nuse crate::text_enum;\n",
        )],
    );
    assert_eq!(check(&files), Vec::<String>::new());
}

#[test]
fn a_module_outside_the_layer_table_is_reported() {
    let files = with(clean_crate(), &[("src/metrics.rs", "pub fn f() {}\n")]);
    assert_eq!(
        check(&files),
        vec!["src/metrics.rs: module `metrics` has no layer in tests/architecture.rs"]
    );
}
