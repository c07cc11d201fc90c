//! The invariants of docs/architecture.md, checked against the source tree. Each test names the
//! invariant it keeps and says what to do when it fails.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("list {}: {e}", d.display())).flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The source before its `#[cfg(test)]` module: tests may do what production code may not.
fn without_tests(src: &str) -> &str {
    src.find("#[cfg(test)]").map_or(src, |i| &src[..i])
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string().replace("/crates/testkit/../../", "")
}

/// Architecture invariant: only `store` knows SQL. No other production crate depends on sqlx or
/// names it. (`testkit` creates and drops test databases, so it may.)
#[test]
fn no_sqlx_outside_store() {
    for krate in ["core", "checks", "notify", "web", "opsdeck"] {
        let dir = root().join("crates").join(krate);
        let manifest = read(&dir.join("Cargo.toml"));
        let deps = manifest.split("[dev-dependencies]").next().unwrap_or("");
        for driver in ["sqlx", "rusqlite"] {
            assert!(
                !deps.lines().any(|l| l.trim_start().starts_with(driver)),
                "crates/{krate}/Cargo.toml depends on {driver}: move the query into crates/store"
            );
            for f in rust_files(&dir.join("src")) {
                assert!(
                    !read(&f).contains(&format!("{driver}::")),
                    "{} uses {driver}: move the query into crates/store",
                    rel(&f)
                );
            }
        }
    }
}

/// Architecture invariant: `core` reads no clock outside `clock.rs` (time arrives as an
/// argument or through the `Clock` trait, so fake clocks drive every rule).
#[test]
fn no_clock_reads_in_core() {
    let reads = ["Utc::now(", "Local::now(", "SystemTime::now(", "Instant::now(", "Timestamp::now("];
    for f in rust_files(&root().join("crates/core/src")) {
        if f.ends_with("clock.rs") {
            continue; // SystemClock: the one sanctioned read, injected by the binary.
        }
        let src = read(&f);
        for r in reads {
            assert!(!without_tests(&src).contains(r), "{} calls {r}…): take `now` as an argument", rel(&f));
        }
    }
}

/// Store functions that take an actor but write no audit row, each with the reason.
const AUDIT_EXEMPT: &[(&str, &str)] = &[];

/// Architecture invariant: every store function that acts for someone (takes `actor: &Actor`)
/// writes an audit row in its transaction (`audit!`), or delegates to one that does.
#[test]
fn actor_functions_write_audit() {
    let mut missing = Vec::new();
    for f in rust_files(&root().join("crates/store/src")) {
        let src = read(&f);
        let src = without_tests(&src);
        let mut rest = src;
        while let Some(i) = rest.find("pub async fn ") {
            let after = &rest[i + "pub async fn ".len()..];
            let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let Some(open) = after.find('{') else { break };
            let signature = &after[..open];
            let body = body_of(&after[open..]);
            if signature.contains("actor: &Actor")
                && !body.contains("audit!(")
                && !body.contains("audit_many!(")
                && !delegates(body)
                && !AUDIT_EXEMPT.iter().any(|(n, _)| *n == name)
            {
                missing.push(format!("{}: {name}", rel(&f)));
            }
            rest = &after[open..];
        }
    }
    assert!(
        missing.is_empty(),
        "these store functions take an actor but write no audit row (add `audit!` in the \
         transaction, or list them in AUDIT_EXEMPT with the reason): {missing:?}"
    );
}

/// The text of a `{ … }` block that starts at `s[0]`.
fn body_of(s: &str) -> &str {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return &s[..=i];
                }
            }
            _ => {}
        }
    }
    s
}

/// Passes its actor on to another store function (which is checked itself).
fn delegates(body: &str) -> bool {
    body.contains("self.") && body.contains("(actor,") || body.contains("(actor, now")
}

/// Architecture invariant: the embedded migration lists name exactly the files of the
/// migration directories, in the same order, for both backends.
#[test]
fn migration_lists_equal_directories() {
    let dialect = read(&root().join("crates/store/src/dialect.rs"));
    for backend in ["sqlite", "postgres"] {
        let marker = format!("include_str!(\"../migrations/{backend}/");
        let listed: Vec<String> = dialect
            .match_indices(&marker)
            .filter_map(|(i, _)| dialect[i + marker.len()..].split('"').next().map(str::to_owned))
            .collect();
        let dir = root().join("crates/store/migrations").join(backend);
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("list {}: {e}", dir.display()))
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        assert_eq!(listed, files, "dialect.rs lists other {backend} migrations than migrations/{backend}/ holds");
    }
}

/// Architecture invariant: API responses are DTOs declared in `web` (with `ToSchema`), never
/// store or core structs serialised as they are, nor untyped JSON.
#[test]
fn api_responses_are_dtos() {
    let web = root().join("crates/web/src");
    let mut schemas = BTreeSet::new();
    for f in rust_files(&web) {
        let src = read(&f);
        for (i, _) in src.match_indices("ToSchema") {
            // The struct or enum after this derive.
            let tail = &src[i..];
            let decl = ["pub struct ", "pub enum ", "struct ", "enum "]
                .iter()
                .filter_map(|k| tail.find(k).map(|j| (j, k.len())))
                .min_by_key(|(j, _)| *j);
            if let Some((j, k)) = decl {
                let name: String = tail[j + k..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                schemas.insert(name);
            }
        }
    }
    let mut bad = Vec::new();
    for f in rust_files(&web.join("api")) {
        let src = read(&f);
        for (i, _) in src.match_indices(") -> Result<") {
            let sig = &src[i..];
            let sig = &sig[..sig.find('{').unwrap_or(sig.len())];
            for (j, _) in sig.match_indices("Json<") {
                let inner: String = sig[j + 5..].chars().take_while(|c| *c != ',' && *c != ')').collect();
                let names = inner.split(['<', '>', ':', ' ']).filter(|n| !n.is_empty());
                for n in names {
                    let wrapper = ["List", "Vec", "Option", "super", "crate", "api"].contains(&n);
                    if !wrapper && !schemas.contains(n) {
                        bad.push(format!("{}: Json<{inner}>", rel(&f)));
                    }
                }
            }
        }
    }
    assert!(bad.is_empty(), "API handlers must answer with DTOs that derive ToSchema in crates/web: {bad:?}");
}

/// Architecture invariant: every schema the OpenAPI document publishes has a name of its own.
/// utoipa names a component after its type, so two `ToSchema` types of one name (a maintenance
/// `WindowBody` and an SLO's) silently share one schema and the document lies about one of them.
#[test]
fn schema_names_are_unique() {
    let mut seen: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    let mut twice = Vec::new();
    for f in rust_files(&root().join("crates/web/src")) {
        let src = read(&f);
        for (i, _) in src.match_indices("ToSchema") {
            let tail = &src[i..];
            let decl = ["pub struct ", "pub enum ", "struct ", "enum "]
                .iter()
                .filter_map(|k| tail.find(k).map(|j| (j, k.len())))
                .min_by_key(|(j, _)| *j);
            let Some((j, k)) = decl else { continue };
            let name: String = tail[j + k..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if let Some(first) = seen.insert(name.clone(), rel(&f))
                && first != rel(&f)
            {
                twice.push(format!("{name} ({first} and {})", rel(&f)));
            }
        }
    }
    assert!(twice.is_empty(), "rename one of each pair (the OpenAPI schema is named after the type): {twice:?}");
}

/// Architecture invariant: pages and the API share code only through `operations/`: `ui/*`
/// may render the API's read shapes (`…Dto`) but calls no function of `api/*`.
#[test]
fn pages_call_no_api_functions() {
    let web = root().join("crates/web/src");
    let mut files = rust_files(&web.join("ui"));
    files.push(web.join("links.rs"));
    let mut bad = Vec::new();
    for f in files {
        let src = read(&f);
        for (i, _) in src.match_indices("crate::api::") {
            let path: String =
                src[i..].chars().take_while(|c| c.is_alphanumeric() || "_:{}, \n".contains(*c)).collect();
            let last = path.trim_end_matches(|c: char| !c.is_alphanumeric()).rsplit([':', '{', ',', ' ']).next();
            let items: Vec<&str> = match path.find('{') {
                Some(b) => path[b + 1..].split([',', '}']).map(str::trim).filter(|s| !s.is_empty()).collect(),
                None => last.into_iter().collect(),
            };
            for item in items {
                if !item.ends_with("Dto") {
                    bad.push(format!("{}: {item}", rel(&f)));
                }
            }
        }
    }
    assert!(bad.is_empty(), "pages import from api/ more than DTO types; move it to operations/: {bad:?}");
}

/// No source file over 600 lines unless docs/architecture.md names it with the reason.
#[test]
fn source_files_stay_small() {
    let doc = read(&root().join("docs/architecture.md"));
    let mut big = Vec::new();
    for krate in std::fs::read_dir(root().join("crates")).expect("crates").flatten() {
        for f in rust_files(&krate.path()) {
            let lines = read(&f).lines().count();
            let name = rel(&f);
            if lines > 600 && !doc.contains(&format!("`{name}`")) {
                big.push(format!("{name} ({lines} lines)"));
            }
        }
    }
    assert!(big.is_empty(), "split these files, or say in docs/architecture.md why they are long: {big:?}");
}

/// rustfmt leaves long string literals and macro bodies alone; no line may pass 120 columns.
#[test]
fn no_line_is_over_120_columns() {
    let mut long = Vec::new();
    for krate in std::fs::read_dir(root().join("crates")).expect("crates").flatten() {
        for f in rust_files(&krate.path()) {
            for (i, line) in read(&f).lines().enumerate() {
                if line.chars().count() > 120 {
                    long.push(format!("{}:{}", rel(&f), i + 1));
                }
            }
        }
    }
    assert!(long.is_empty(), "wrap these lines (strings continue with `\\`): {long:?}");
}
