//! The CSV import: a header row, then one CI per line.
//!
//! Columns (names case-insensitive, trimmed): `identity` and `class` (both required), `name`
//! (the identity when empty), `status`, `environment`, `location`, `owner_team` (a team slug),
//! `service` (a service slug), `tags` (split on `;`, `,` or spaces), `description`, `min_up`, and
//! the relation columns `depends_on`, `runs_on`, `hosted_on`, `contains`, `connects_to` and
//! `member_of`, whose cells list target identities separated by `;`. Any other column, bare or
//! as `attr.<key>`, is an attribute; CSV has no types, so attribute values stay text.
//!
//! A row's number is its line in the file (the header is line 1), which is what a spreadsheet
//! shows. The separator is `,` unless the header has none and has `;` or tabs (spreadsheets in
//! many locales save with `;`). Rows whose cells are all empty are skipped (spreadsheets leave
//! them behind).

use super::json::attribute_key;
use super::{ImportItem, ImportRelation, ImportSet, RowError, RowErrors};
use crate::cmdb::{CiInput, RelationType};
use csv::{Position, ReaderBuilder, StringRecord};
use serde_json::Value;
use std::collections::HashSet;

/// What a column holds.
#[derive(Debug, Clone, PartialEq)]
enum Column {
    Identity,
    Name,
    Class,
    Status,
    Environment,
    Location,
    OwnerTeam,
    Service,
    Tags,
    Description,
    MinUp,
    /// A lifecycle date (`purchase_date`, `warranty_end`, `end_of_support`, `end_of_life`).
    Date(&'static str),
    Cost,
    Relation(RelationType),
    Attribute(String),
}

/// Parses a CSV import.
pub fn parse(bytes: &[u8]) -> Result<ImportSet, RowErrors> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes.get(..e.valid_up_to()).map_or(0, |ok| ok.iter().filter(|b| **b == b'\n').count()) + 1;
        file(format!("the file is not UTF-8 text (line {line}); save it as CSV UTF-8"))
    })?;
    if text.trim().is_empty() {
        return Err(file("the file is empty"));
    }
    let mut reader =
        ReaderBuilder::new().delimiter(delimiter(text)).flexible(true).has_headers(true).from_reader(text.as_bytes());
    let header = reader.headers().map_err(|e| file(format!("the header row cannot be read: {e}")))?;
    let columns = columns(header)?;
    let mut set = ImportSet::default();
    let mut errors = RowErrors::default();
    for record in reader.records() {
        match record {
            Ok(record) => row(&columns, &record, line_of_record(text, &record), &mut set, &mut errors),
            Err(e) => {
                let line = e.position().map_or(0, |p| line_of(text, p));
                errors.push(RowError::at(line, None, format!("the row cannot be read: {e}")));
            }
        }
    }
    if errors.is_empty() { Ok(set) } else { Err(errors) }
}

/// The line a record starts on. The reader's position is where it began reading, which is
/// before the blank lines it skipped.
fn line_of(text: &str, pos: &Position) -> usize {
    let start = usize::try_from(pos.byte()).unwrap_or(usize::MAX);
    let blank = text
        .as_bytes()
        .get(start..)
        .map_or(0, |rest| rest.iter().take_while(|b| matches!(b, b'\r' | b'\n')).filter(|b| **b == b'\n').count());
    usize::try_from(pos.line()).unwrap_or(usize::MAX).saturating_add(blank)
}

fn line_of_record(text: &str, record: &StringRecord) -> usize {
    record.position().map_or(0, |p| line_of(text, p))
}

fn file(message: impl Into<String>) -> RowErrors {
    RowErrors::one(RowError::file(message))
}

/// The separator, guessed from the header line: `,` unless it has none but has `;` or a tab.
fn delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or("");
    if header.contains(',') {
        b','
    } else if header.contains(';') {
        b';'
    } else if header.contains('\t') {
        b'\t'
    } else {
        b','
    }
}

/// Reads the header; every problem with it is reported at once, as a file error.
fn columns(header: &StringRecord) -> Result<Vec<Column>, RowErrors> {
    let mut errors = RowErrors::default();
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(header.len());
    for (i, raw) in header.iter().enumerate() {
        let name = raw.trim().to_lowercase();
        let col = column(&name);
        let key = match &col {
            Column::Attribute(k) => format!("attr.{k}"),
            _ => name.clone(),
        };
        if name.is_empty() {
            errors.push(RowError::file(format!("column {} of the header has no name", i + 1)));
        } else if !seen.insert(key) {
            errors.push(RowError::file(format!("column {raw:?} appears twice in the header")));
        } else if let Column::Attribute(k) = &col
            && !attribute_key(k)
        {
            errors.push(RowError::file(format!(
                "column {raw:?}: an attribute name must be 1 to 64 of a-z 0-9 _ . - (e.g. \"attr.serial_number\")"
            )));
        }
        out.push(col);
    }
    for required in ["identity", "class"] {
        if !seen.contains(required) {
            errors.push(RowError::file(format!("the header has no {required:?} column")));
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// The meaning of a (trimmed, lowercased) column name.
fn column(name: &str) -> Column {
    match name {
        "identity" => Column::Identity,
        "name" => Column::Name,
        "class" => Column::Class,
        "status" => Column::Status,
        "environment" => Column::Environment,
        "location" => Column::Location,
        "owner_team" => Column::OwnerTeam,
        "service" => Column::Service,
        "tags" => Column::Tags,
        "description" => Column::Description,
        "min_up" => Column::MinUp,
        "purchase_date" => Column::Date("purchase_date"),
        "warranty_end" => Column::Date("warranty_end"),
        "end_of_support" => Column::Date("end_of_support"),
        "end_of_life" => Column::Date("end_of_life"),
        "cost" => Column::Cost,
        _ => match RelationType::parse(name) {
            Some(kind) => Column::Relation(kind),
            None => Column::Attribute(name.strip_prefix("attr.").unwrap_or(name).to_owned()),
        },
    }
}

/// Adds one data row's CI and relations to `set`, or its problems to `errors`.
fn row(columns: &[Column], record: &StringRecord, line: usize, set: &mut ImportSet, errors: &mut RowErrors) {
    if record.iter().all(|c| c.trim().is_empty()) {
        return;
    }
    let identity = columns.iter().position(|c| *c == Column::Identity).and_then(|i| record.get(i)).map(str::trim);
    let shown = identity.filter(|i| !i.is_empty());
    if record.len() != columns.len() {
        let message = format!("the row has {} cells but the header has {} columns", record.len(), columns.len());
        errors.push(RowError::at(line, shown, message));
        return;
    }
    let mut item = ImportItem { row: line, input: CiInput::default(), owner_team: None, service: None };
    let mut relations = Vec::new();
    for (col, cell) in columns.iter().zip(record.iter()) {
        let cell = cell.trim();
        let text = (!cell.is_empty()).then(|| cell.to_owned());
        let input = &mut item.input;
        match col {
            Column::Identity => input.identity = text,
            Column::Name => input.name = cell.to_owned(),
            Column::Class => input.class = cell.to_owned(),
            Column::Status => input.status = text,
            Column::Environment => input.environment = text,
            Column::Location => input.location = text,
            Column::OwnerTeam => item.owner_team = text,
            Column::Service => item.service = text,
            Column::Description => input.description = text,
            Column::Tags => input.tags = split_tags(cell),
            Column::MinUp => match min_up(cell) {
                Ok(k) => input.min_up = k,
                Err(m) => errors.push(RowError::at(line, shown, m)),
            },
            Column::Date(field) => {
                let slot = match *field {
                    "purchase_date" => &mut input.purchase_date,
                    "warranty_end" => &mut input.warranty_end,
                    "end_of_support" => &mut input.end_of_support,
                    _ => &mut input.end_of_life,
                };
                *slot = text;
            }
            Column::Cost if cell.is_empty() => {}
            Column::Cost => match cell.parse::<f64>() {
                Ok(c) => input.cost = Some(c),
                Err(_) => errors.push(RowError::at(line, shown, format!("cost: {cell:?} is not a number"))),
            },
            Column::Relation(kind) => {
                relations.extend(cell.split(';').map(str::trim).filter(|t| !t.is_empty()).map(|t| (*kind, t)));
            }
            Column::Attribute(key) => {
                if let Some(v) = text {
                    input.attributes.insert(key.clone(), Value::String(v));
                }
            }
        }
    }
    if item.input.name.is_empty() {
        item.input.name = shown.unwrap_or_default().to_owned();
    }
    // Without an identity the relations have no source; validation reports the missing identity.
    if let Some(source) = shown {
        set.relations.extend(relations.into_iter().map(|(kind, target)| ImportRelation {
            row: line,
            source: source.to_owned(),
            target: target.to_owned(),
            kind,
        }));
    }
    set.items.push(item);
}

fn split_tags(cell: &str) -> Vec<String> {
    cell.split(|c: char| c == ';' || c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

fn min_up(cell: &str) -> Result<Option<i64>, String> {
    if cell.is_empty() {
        return Ok(None);
    }
    cell.parse::<i64>().map(Some).map_err(|_| format!("min_up: {cell:?} is not a whole number"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(text: &str) -> ImportSet {
        parse(text.as_bytes()).expect("valid")
    }

    fn err(text: &[u8]) -> RowErrors {
        parse(text).expect_err("invalid")
    }

    #[test]
    fn rows_become_cis_and_relations() {
        let text = "\u{feff} Identity ,Name,CLASS,status,environment,location,owner_team,service,tags,description,\
                    min_up,depends_on,runs_on,attr.OS,Serial\n\
                    web-01,Web 1,server,in_use,prod,fra1,ops,,web; linux,front end,1,db-01;cache-01,,debian,SN1\n\
                    pay,,business_service,,,,,payments,\"a,b c\",,,,host-01,,\n";
        let set = ok(text);
        assert_eq!(set.items.len(), 2);
        let web = &set.items[0];
        assert_eq!((web.row, web.input.identity.as_deref(), web.input.name.as_str()), (2, Some("web-01"), "Web 1"));
        assert_eq!((web.input.class.as_str(), web.input.status.as_deref()), ("server", Some("in_use")));
        assert_eq!((web.input.environment.as_deref(), web.input.location.as_deref()), (Some("prod"), Some("fra1")));
        assert_eq!((web.owner_team.as_deref(), web.service.as_deref()), (Some("ops"), None));
        assert_eq!((web.input.tags.clone(), web.input.min_up), (vec!["web".to_owned(), "linux".to_owned()], Some(1)));
        assert_eq!(web.input.attributes.get("os"), Some(&json!("debian")));
        assert_eq!(web.input.attributes.get("serial"), Some(&json!("SN1")), "a bare column is an attribute");
        let pay = &set.items[1];
        assert_eq!((pay.row, pay.input.name.as_str(), pay.service.as_deref()), (3, "pay", Some("payments")));
        assert_eq!(pay.input.tags, ["a", "b", "c"]);
        assert!(pay.input.attributes.is_empty(), "empty cells are no attributes");
        let rels: Vec<(usize, &str, &str, RelationType)> =
            set.relations.iter().map(|r| (r.row, r.source.as_str(), r.target.as_str(), r.kind)).collect();
        assert_eq!(
            rels,
            [
                (2, "web-01", "db-01", RelationType::DependsOn),
                (2, "web-01", "cache-01", RelationType::DependsOn),
                (3, "pay", "host-01", RelationType::RunsOn),
            ]
        );
        set.validate().expect("the parsed set is valid");
    }

    #[test]
    fn rows_are_file_lines_and_values_stay_text() {
        let set = ok("identity,class,description,size\n\nvm-1,vm,\"two\nlines\",42\n,,,\nvm-2,vm,,true\n");
        let rows: Vec<usize> = set.items.iter().map(|i| i.row).collect();
        assert_eq!(rows, [3, 6], "blank lines count, all-empty rows are skipped");
        assert_eq!(set.items[0].input.attributes.get("size"), Some(&json!("42")));
        assert_eq!(set.items[1].input.attributes.get("size"), Some(&json!("true")));
        let crlf = ok("identity,class\r\n\r\n\r\nvm-1,vm\r\nvm-2,vm\r\n");
        assert_eq!(crlf.items.iter().map(|i| i.row).collect::<Vec<_>>(), [4, 5]);
        assert_eq!(ok("identity,class\n").items.len(), 0, "a header alone is an empty import");
    }

    #[test]
    fn a_semicolon_separated_file_is_read() {
        let set = ok("identity;class;tags\nsw-1;network_device;core,lan\n");
        assert_eq!((set.items[0].input.class.as_str(), set.items[0].input.tags.len()), ("network_device", 2));
    }

    #[test]
    fn the_header_needs_identity_and_class_and_sane_names() {
        let e = err(b"name,tags\nx,y\n");
        let messages: Vec<&str> = e.errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages, ["the header has no \"identity\" column", "the header has no \"class\" column"]);
        assert!(e.errors.iter().all(|e| e.row == 0));

        let e = err(b"identity,class,Serial Number,,Identity\n");
        let messages: Vec<&str> = e.errors.iter().map(|e| e.message.as_str()).collect();
        assert!(messages[0].contains("\"Serial Number\""), "{messages:?}");
        assert!(messages[1].contains("column 4"), "{messages:?}");
        assert!(messages[2].contains("twice"), "{messages:?}");
    }

    #[test]
    fn bad_rows_are_reported_with_their_line() {
        let e = err(b"identity,class,min_up\na,vm,2\nb,vm,two\nc,vm\nd,vm,1.5\n");
        let got: Vec<(usize, Option<&str>)> = e.errors.iter().map(|e| (e.row, e.identity.as_deref())).collect();
        assert_eq!(got, [(3, Some("b")), (4, Some("c")), (5, Some("d"))]);
        assert!(e.errors[0].message.starts_with("min_up:"), "{:?}", e.errors[0]);
        assert!(e.errors[1].message.contains("2 cells"), "{:?}", e.errors[1]);
    }

    #[test]
    fn empty_and_binary_files_are_refused() {
        assert_eq!(err(b"").errors[0].message, "the file is empty");
        assert_eq!(err(b"\xEF\xBB\xBF \n").errors[0].message, "the file is empty");
        let e = err(b"identity,class\nok,vm\n\xff\xfe,vm\n");
        assert!(e.errors[0].message.contains("not UTF-8") && e.errors[0].message.contains("line 3"), "{e:?}");
    }

    #[test]
    fn missing_identity_is_left_to_validation() {
        let set = ok("identity,class,depends_on\n,vm,db\n");
        assert!(set.relations.is_empty(), "no source, no relation");
        let e = set.validate().expect_err("no identity");
        assert_eq!((e.errors[0].row, e.errors[0].message.as_str()), (2, "identity: must not be empty"));
    }
}
