//! Keyset paging under a sort, for the lists that are sorted by one of a few columns: rows are
//! ordered by (column, id), ties broken by the id in the same direction, and a page starts right
//! after the (key, id) of the last row of the one before, read from an index on (column, id)
//! however deep the page is.

use crate::StoreError;
use crate::db::{Conn, Value};

/// Counting stops past this many rows: a list this long says "10,000+" rather than visit every
/// row for its count.
pub const COUNT_CAP: i64 = 10_000;

/// A column a list can be sorted by.
pub trait Column: Copy + PartialEq + std::fmt::Debug + Send + 'static {
    /// Every column, the first being the list's usual order.
    const ALL: &'static [Self];
    /// Its name in a `sort` parameter.
    fn as_str(self) -> &'static str;
    /// The column's SQL; `None` when the list is sorted by its id alone (time-ordered ids).
    fn sql(self) -> Option<&'static str>;
    /// Its values are integers (times in microseconds), compared as numbers.
    fn is_integer(self) -> bool;
}

/// A list's sort: a column and a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort<C> {
    pub column: C,
    pub descending: bool,
}

impl<C: Column> Default for Sort<C> {
    /// The list's usual order: its first column, descending (newest first).
    fn default() -> Self {
        Sort {
            column: C::ALL[0],
            descending: true,
        }
    }
}

impl<C: Column> Sort<C> {
    /// `column` or `-column` (descending); `None` for a name the list does not have.
    pub fn parse(text: &str) -> Option<Self> {
        let (descending, name) = match text.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, text),
        };
        C::ALL
            .iter()
            .find(|c| c.as_str() == name)
            .map(|&column| Sort { column, descending })
    }

    /// The `sort` parameter that names this sort.
    pub fn as_param(self) -> String {
        if self.descending {
            format!("-{}", self.column.as_str())
        } else {
            self.column.as_str().to_owned()
        }
    }

    /// `ORDER BY` (without the words) for rows whose id is `id`.
    pub fn order_by(self, id: &str) -> String {
        let dir = if self.descending { "DESC" } else { "ASC" };
        match self.column.sql() {
            None => format!("{id} {dir}"),
            Some(column) => format!("{column} {dir}, {id} {dir}"),
        }
    }
}

/// Where the previous page ended: the sort key of its last row (none when sorted by the id) and
/// the row's id. As a `cursor` parameter: `key~id`, or the id alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    pub key: Option<String>,
    pub id: String,
}

impl After {
    /// The position after a row with this id and value of the sort's column.
    pub fn row<C: Column>(sort: Sort<C>, key: impl FnOnce() -> String, id: &str) -> After {
        After {
            key: sort.column.sql().map(|_| key()),
            id: id.to_owned(),
        }
    }

    /// Reads a cursor written by [`After::cursor`] for the same sort; `None` when it is not one
    /// (the id may hold no `~`, which no id of these lists does).
    pub fn parse<C: Column>(sort: Sort<C>, cursor: &str) -> Option<After> {
        if sort.column.sql().is_none() {
            return (!cursor.is_empty()).then(|| After {
                key: None,
                id: cursor.to_owned(),
            });
        }
        let (key, id) = cursor.rsplit_once('~')?;
        if id.is_empty() || (sort.column.is_integer() && key.parse::<i64>().is_err()) {
            return None;
        }
        Some(After {
            key: Some(key.to_owned()),
            id: id.to_owned(),
        })
    }

    pub fn cursor(&self) -> String {
        match &self.key {
            None => self.id.clone(),
            Some(key) => format!("{key}~{}", self.id),
        }
    }
}

/// A parameter of a built statement, owned.
#[derive(Debug, Clone)]
pub(crate) enum Param {
    Text(String),
    Int(i64),
}

/// The conditions after `WHERE` of a list's statement, with their parameters in order.
pub(crate) struct Conditions {
    pub sql: String,
    params: Vec<Param>,
}

impl Conditions {
    pub fn new() -> Self {
        Conditions {
            sql: String::from("1 = 1"),
            params: Vec::new(),
        }
    }

    /// ` AND ` and `clause`, whose `?` is `value`.
    pub fn and(&mut self, clause: &str, value: Param) {
        self.params.push(value);
        let n = format!("${}", self.params.len());
        self.sql.push_str(" AND ");
        self.sql.push_str(&clause.replace('?', &n));
    }

    /// The rows after `after` in `sort`, whose id column is `id`. `column <= key` (or `>=`)
    /// bounds the index range; the OR keeps the ties after the cursor's id.
    pub fn after<C: Column>(&mut self, sort: Sort<C>, id: &str, after: &After) {
        let op = if sort.descending { "<" } else { ">" };
        match (sort.column.sql(), &after.key) {
            (Some(column), Some(key)) => {
                let key = if sort.column.is_integer() {
                    Param::Int(key.parse().unwrap_or_default())
                } else {
                    Param::Text(key.clone())
                };
                self.params.push(key);
                let k = self.params.len();
                self.params.push(Param::Text(after.id.clone()));
                let i = self.params.len();
                self.sql.push_str(&format!(
                    " AND {column} {op}= ${k} AND ({column} {op} ${k} OR {id} {op} ${i})"
                ));
            }
            _ => self.and(&format!("{id} {op} ?"), Param::Text(after.id.clone())),
        }
    }

    pub fn values(&self) -> Vec<Value<'_>> {
        self.params
            .iter()
            .map(|p| match p {
                Param::Text(t) => Value::Text(t),
                Param::Int(i) => Value::Int(*i),
            })
            .collect()
    }

    /// How many rows of `table` match, counted up to one past [`COUNT_CAP`].
    pub fn count_capped(&self, conn: &mut dyn Conn, table: &str) -> Result<i64, StoreError> {
        let sql = format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE {} LIMIT {}) capped",
            self.sql,
            COUNT_CAP + 1
        );
        conn.query_one(&sql, &self.values())?
            .map_or(Ok(0), |r| r.int(0))
    }
}
