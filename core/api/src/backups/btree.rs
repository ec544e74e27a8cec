//! Enough of SQLite's file format to find one row of a rowid table by its rowid, on pages read
//! from a replica (<https://www.sqlite.org/fileformat2.html>): the database header, the schema
//! table on page 1, table b-tree interior and leaf pages, records, overflow chains.
//!
//! Every length and offset comes from the page and is checked before use: a damaged page is an
//! error, never a panic, and a cycle of pages ends at a depth bound.

use super::pages::PagesError;

/// Pages of one database state, numbered from 1.
pub trait PageSource {
    fn page_size(&self) -> u32;
    fn page(&mut self, number: u32) -> Result<Vec<u8>, PagesError>;
}

/// A column value of a record.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(Vec<u8>),
    Blob(Vec<u8>),
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BtreeError {
    #[error(transparent)]
    Pages(#[from] PagesError),
    #[error("page {page}: {problem}")]
    Corrupt { page: u32, problem: String },
    #[error("no table named {0}")]
    NoTable(String),
}

impl BtreeError {
    /// Whether the replica's content is to blame.
    pub fn is_damage(&self) -> bool {
        match self {
            BtreeError::Pages(error) => error.is_damage(),
            BtreeError::Corrupt { .. } => true,
            BtreeError::NoTable(_) => false,
        }
    }
}

/// Deeper than any real b-tree (SQLite's own limit is 20 levels): a cycle of damaged pages.
const MAX_DEPTH: usize = 40;
/// Pages an overflow chain or the schema scan may visit before it is taken as a cycle.
const MAX_PAGES: usize = 100_000;

/// The row `rowid` of table `table`, its columns in order (an `INTEGER PRIMARY KEY` column is
/// stored as NULL: it is the rowid), or `None` when the table has no such row.
pub fn find_row(db: &mut dyn PageSource, table: &str, rowid: i64) -> Result<Option<Vec<Value>>, BtreeError> {
    let mut tree = Tree::open(db)?;
    let root = tree.root_of(table)?.ok_or_else(|| BtreeError::NoTable(table.to_owned()))?;
    tree.find(root, rowid)
}

struct Tree<'d> {
    db: &'d mut dyn PageSource,
    /// The page size less the reserved bytes at the end of each page.
    usable: usize,
}

/// One b-tree page, parsed only as far as its header.
struct Page {
    number: u32,
    bytes: Vec<u8>,
    /// Where the b-tree header starts: 100 on page 1 (after the database header), else 0.
    header: usize,
    kind: u8,
    cells: usize,
}

const INTERIOR_TABLE: u8 = 0x05;
const LEAF_TABLE: u8 = 0x0d;

impl<'d> Tree<'d> {
    fn open(db: &'d mut dyn PageSource) -> Result<Tree<'d>, BtreeError> {
        let first = db.page(1)?;
        let corrupt = |problem: &str| BtreeError::Corrupt { page: 1, problem: problem.to_owned() };
        if first.get(..16) != Some(b"SQLite format 3\0") {
            return Err(corrupt("not a SQLite database header"));
        }
        let page_size = match u16::from_be_bytes([first[16], first[17]]) {
            1 => 65536,
            n => usize::from(n),
        };
        if page_size != db.page_size() as usize {
            return Err(corrupt("the header's page size is not the LTX files' page size"));
        }
        let reserved = usize::from(first[20]);
        let usable = page_size
            .checked_sub(reserved)
            .filter(|u| *u >= 480)
            .ok_or_else(|| corrupt("reserved space leaves no usable page"))?;
        Ok(Tree { db, usable })
    }

    fn page(&mut self, number: u32) -> Result<Page, BtreeError> {
        let bytes = self.db.page(number)?;
        let header = if number == 1 { 100 } else { 0 };
        let kind = *bytes.get(header).ok_or_else(|| corrupt(number, "empty page"))?;
        if kind != INTERIOR_TABLE && kind != LEAF_TABLE {
            return Err(corrupt(number, &format!("not a table b-tree page (type {kind:#04x})")));
        }
        let cells = usize::from(u16_at(&bytes, header + 3).ok_or_else(|| corrupt(number, "short header"))?);
        Ok(Page { number, bytes, header, kind, cells })
    }

    /// The root page of `table`, from the schema table (a rowid table rooted at page 1).
    fn root_of(&mut self, table: &str) -> Result<Option<u32>, BtreeError> {
        let mut stack = vec![(1u32, 0usize)];
        let mut visited = 0;
        while let Some((number, depth)) = stack.pop() {
            visited += 1;
            if depth > MAX_DEPTH || visited > MAX_PAGES {
                return Err(corrupt(number, "the schema b-tree does not end (a cycle?)"));
            }
            let page = self.page(number)?;
            for i in 0..page.cells {
                let at = page.cell_offset(i)?;
                if page.kind == INTERIOR_TABLE {
                    stack.push((
                        u32_at(&page.bytes, at).ok_or_else(|| corrupt(number, "short cell"))?,
                        depth + 1,
                    ));
                    continue;
                }
                let (_, record) = self.leaf_cell(&page, at)?;
                let columns =
                    parse_record(&record).ok_or_else(|| corrupt(number, "unreadable schema record"))?;
                if let [Value::Text(kind), Value::Text(name), _, Value::Integer(root), ..] =
                    columns.as_slice()
                    && kind == b"table"
                    && name == table.as_bytes()
                {
                    return u32::try_from(*root)
                        .map(Some)
                        .map_err(|_| corrupt(number, "a root page out of range"));
                }
            }
            if page.kind == INTERIOR_TABLE {
                stack.push((page.right_most()?, depth + 1));
            }
        }
        Ok(None)
    }

    /// Descends from `root` to the leaf that holds `rowid`, if any.
    fn find(&mut self, root: u32, rowid: i64) -> Result<Option<Vec<Value>>, BtreeError> {
        let mut number = root;
        for _ in 0..=MAX_DEPTH {
            let page = self.page(number)?;
            if page.kind == LEAF_TABLE {
                for i in 0..page.cells {
                    let at = page.cell_offset(i)?;
                    let (key, record) = self.leaf_cell(&page, at)?;
                    if key == rowid {
                        return parse_record(&record)
                            .map(Some)
                            .ok_or_else(|| corrupt(number, "unreadable record"));
                    }
                }
                return Ok(None);
            }
            // Interior: the first cell whose key is at least the rowid leads to it.
            let mut next = page.right_most()?;
            for i in 0..page.cells {
                let at = page.cell_offset(i)?;
                let child = u32_at(&page.bytes, at).ok_or_else(|| corrupt(number, "short cell"))?;
                let (key, _) = varint(page.bytes.get(at + 4..).unwrap_or_default())
                    .ok_or_else(|| corrupt(number, "bad key"))?;
                if rowid <= key as i64 {
                    next = child;
                    break;
                }
            }
            number = next;
        }
        Err(corrupt(root, "the b-tree does not end (a cycle?)"))
    }

    /// A table leaf cell at `at`: its rowid and its whole payload (overflow pages followed).
    fn leaf_cell(&mut self, page: &Page, at: usize) -> Result<(i64, Vec<u8>), BtreeError> {
        let number = page.number;
        let bytes = page.bytes.get(at..).ok_or_else(|| corrupt(number, "cell beyond the page"))?;
        let (size, a) = varint(bytes).ok_or_else(|| corrupt(number, "bad payload size"))?;
        let (rowid, b) = varint(&bytes[a..]).ok_or_else(|| corrupt(number, "bad rowid"))?;
        let size = usize::try_from(size).map_err(|_| corrupt(number, "payload too large"))?;
        let local = self.local_payload(size);
        let start = a + b;
        let mut payload = bytes
            .get(start..start + local)
            .ok_or_else(|| corrupt(number, "payload beyond the page"))?
            .to_vec();
        if local < size {
            let mut next =
                u32_at(bytes, start + local).ok_or_else(|| corrupt(number, "no overflow pointer"))?;
            let mut visited = 0;
            while payload.len() < size {
                visited += 1;
                if next == 0 || visited > MAX_PAGES {
                    return Err(corrupt(number, "the overflow chain ends early"));
                }
                let overflow = self.db.page(next)?;
                let room = self.usable - 4;
                let take = room.min(size - payload.len());
                payload.extend_from_slice(
                    overflow.get(4..4 + take).ok_or_else(|| corrupt(next, "short overflow page"))?,
                );
                next = u32_at(&overflow, 0).ok_or_else(|| corrupt(next, "short overflow page"))?;
            }
        }
        Ok((rowid as i64, payload))
    }

    /// How much of a table leaf payload of `size` bytes is stored on the page itself (the
    /// file format's X, M and K).
    fn local_payload(&self, size: usize) -> usize {
        let u = self.usable;
        let max_local = u - 35;
        if size <= max_local {
            return size;
        }
        let min_local = ((u - 12) * 32 / 255) - 23;
        let k = min_local + ((size - min_local) % (u - 4));
        if k <= max_local { k } else { min_local }
    }
}

impl Page {
    fn cell_offset(&self, i: usize) -> Result<usize, BtreeError> {
        let array = self.header + if self.kind == INTERIOR_TABLE { 12 } else { 8 };
        let at = u16_at(&self.bytes, array + 2 * i)
            .ok_or_else(|| corrupt(self.number, "cell pointer beyond the page"))?;
        let at = usize::from(at);
        if at < array || at >= self.bytes.len() {
            return Err(corrupt(self.number, "cell pointer out of range"));
        }
        Ok(at)
    }

    fn right_most(&self) -> Result<u32, BtreeError> {
        u32_at(&self.bytes, self.header + 8).ok_or_else(|| corrupt(self.number, "short interior header"))
    }
}

fn corrupt(page: u32, problem: &str) -> BtreeError {
    BtreeError::Corrupt { page, problem: problem.to_owned() }
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// SQLite's varint: 1 to 9 bytes, big-endian, 7 bits each but the ninth (8 bits). The value
/// and how many bytes it took.
fn varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, &byte) in bytes.iter().enumerate().take(9) {
        if i == 8 {
            return Some(((value << 8) | u64::from(byte), 9));
        }
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// A record: a header of serial types, then the values.
fn parse_record(record: &[u8]) -> Option<Vec<Value>> {
    let (header_size, mut at) = varint(record)?;
    let header_size = usize::try_from(header_size).ok()?;
    let mut body = header_size;
    let mut values = Vec::new();
    while at < header_size {
        let (serial, n) = varint(record.get(at..header_size)?)?;
        at += n;
        let int = |len: usize| -> Option<i64> {
            let bytes = record.get(body..body + len)?;
            // Sign-extended big-endian integer of 1, 2, 3, 4, 6 or 8 bytes.
            let mut value = if bytes.first()? & 0x80 != 0 { -1i64 } else { 0 };
            for &b in bytes {
                value = (value << 8) | i64::from(b);
            }
            Some(value)
        };
        let (value, len) = match serial {
            0 => (Value::Null, 0),
            1 => (Value::Integer(int(1)?), 1),
            2 => (Value::Integer(int(2)?), 2),
            3 => (Value::Integer(int(3)?), 3),
            4 => (Value::Integer(int(4)?), 4),
            5 => (Value::Integer(int(6)?), 6),
            6 => (Value::Integer(int(8)?), 8),
            7 => (
                Value::Real(f64::from_bits(u64::from_be_bytes(record.get(body..body + 8)?.try_into().ok()?))),
                8,
            ),
            8 => (Value::Integer(0), 0),
            9 => (Value::Integer(1), 0),
            10 | 11 => return None,
            n => {
                let len = usize::try_from((n - 12) / 2).ok()?;
                let bytes = record.get(body..body.checked_add(len)?)?.to_vec();
                (if n % 2 == 0 { Value::Blob(bytes) } else { Value::Text(bytes) }, len)
            }
        };
        body += len;
        values.push(value);
    }
    Some(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain database file as a page source.
    struct FileSource(Vec<u8>, u32);

    impl PageSource for FileSource {
        fn page_size(&self) -> u32 {
            self.1
        }
        fn page(&mut self, number: u32) -> Result<Vec<u8>, PagesError> {
            let size = self.1 as usize;
            let start = (number as usize - 1) * size;
            self.0.get(start..start + size).map(<[u8]>::to_vec).ok_or(PagesError::MissingPage(number))
        }
    }

    #[test]
    fn finds_rows_through_interior_pages_and_overflow_chains() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA page_size = 1024; CREATE TABLE other(x); CREATE TABLE t(id INTEGER PRIMARY KEY, code TEXT, big BLOB);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
             INSERT INTO t SELECT i, printf('code-%d', i), CASE WHEN i % 500 = 0 THEN randomblob(5000) END FROM n;",
        )
        .unwrap();
        let big: Vec<u8> = conn.query_row("SELECT big FROM t WHERE id = 2500", [], |r| r.get(0)).unwrap();
        drop(conn);
        let mut source = FileSource(std::fs::read(&path).unwrap(), 1024);
        for id in [1, 2, 777, 2500, 4999, 5000] {
            let row = find_row(&mut source, "t", id).unwrap().unwrap();
            assert_eq!(row[0], Value::Null, "INTEGER PRIMARY KEY is the rowid");
            assert_eq!(row[1], Value::Text(format!("code-{id}").into_bytes()));
        }
        assert_eq!(
            find_row(&mut source, "t", 2500).unwrap().unwrap()[2],
            Value::Blob(big),
            "5000 bytes over 5 overflow pages"
        );
        assert_eq!(find_row(&mut source, "t", 5001).unwrap(), None);
        assert_eq!(find_row(&mut source, "t", 0).unwrap(), None);
        assert!(matches!(find_row(&mut source, "nosuch", 1), Err(BtreeError::NoTable(_))));

        // Damage: garbage pages are errors, never panics.
        for seed in 0..200u32 {
            let mut bytes = std::fs::read(&path).unwrap();
            for k in 0..64u32 {
                let at = (seed.wrapping_mul(2_654_435_761).wrapping_add(k * 40_503) as usize) % bytes.len();
                bytes[at] = (seed ^ k) as u8;
            }
            let _ = find_row(&mut FileSource(bytes, 1024), "t", i64::from(seed) * 25);
        }
    }

    #[test]
    fn varints_as_sqlite_writes_them() {
        assert_eq!(varint(&[0x05]), Some((5, 1)));
        assert_eq!(varint(&[0x81, 0x00]), Some((128, 2)));
        assert_eq!(varint(&[0xff; 9]), Some((u64::MAX, 9)));
        assert_eq!(varint(&[0x81]), None);
        assert_eq!(varint(&[]), None);
    }

    #[test]
    fn records_decode_and_bad_ones_are_none() {
        // Header: 4 bytes (size, NULL, 1-byte int, 3-byte text "abc" = 13 + 2*3 = 19).
        let record = [4, 0, 1, 19, 0xfe, b'a', b'b', b'c'];
        assert_eq!(
            parse_record(&record),
            Some(vec![Value::Null, Value::Integer(-2), Value::Text(b"abc".to_vec())])
        );
        assert_eq!(parse_record(&[4, 0, 1, 19, 0xfe, b'a']), None, "text beyond the record");
        assert_eq!(parse_record(&[2, 10]), None, "reserved serial type");
        assert_eq!(parse_record(&[200]), None, "header beyond the record");
    }
}
