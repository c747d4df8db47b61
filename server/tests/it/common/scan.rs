//! Searches every column of every table of the test database for a string (erasure and closure tests: what
//! must be gone is gone everywhere, including tables added after the test was written).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sqlx::{AnyPool, Row as _};

/// Every table of the database (migrations bookkeeping excluded).
pub async fn tables(pool: &AnyPool) -> Vec<String> {
    let sql = if super::backend_name() == "postgres" {
        "SELECT CAST(table_name AS TEXT) AS name FROM information_schema.tables WHERE table_schema = 'public' \
         AND table_type = 'BASE TABLE' ORDER BY table_name"
    } else {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    };
    let rows = sqlx::query(sql).fetch_all(pool).await.unwrap();
    rows.iter().map(|r| r.get::<String, _>("name")).filter(|t| t != "_sqlx_migrations").collect()
}

/// The columns of a table.
pub async fn columns(pool: &AnyPool, table: &str) -> Vec<String> {
    let sql = if super::backend_name() == "postgres" {
        "SELECT CAST(column_name AS TEXT) AS name FROM information_schema.columns WHERE table_schema = 'public' \
         AND table_name = $1 ORDER BY ordinal_position"
    } else {
        "SELECT name FROM pragma_table_info($1)"
    };
    let rows = sqlx::query(sql).bind(table).fetch_all(pool).await.unwrap();
    rows.iter().map(|r| r.get::<String, _>("name")).collect()
}

/// Every (table, column, rows) whose value contains `needle` (case-insensitive).
pub async fn find_everywhere(pool: &AnyPool, needle: &str) -> Vec<(String, String, i64)> {
    let mut hits = Vec::new();
    let pattern = format!("%{}%", needle.to_lowercase());
    for table in tables(pool).await {
        for column in columns(pool, &table).await {
            let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE LOWER(CAST({column} AS TEXT)) LIKE $1");
            let n: i64 = sqlx::query(&sql).bind(&pattern).fetch_one(pool).await.unwrap().get("n");
            if n > 0 {
                hits.push((table.clone(), column, n));
            }
        }
    }
    hits
}
