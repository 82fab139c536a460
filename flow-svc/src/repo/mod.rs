//! sea-orm queries on flow-svc's own tables. Every function takes a
//! [`TenantTxn`]: the tenant filters each query, and on PostgreSQL the same
//! tenant is set for row-level security.

pub mod entities;
pub mod flows;
pub mod stores;
pub mod triggers;

use aerie_common::auth::NamespaceScope;
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, SimpleExpr};
use sea_orm::{Condition, DbErr, SqlErr};

pub use aerie_common::db::TenantTxn;

/// Now, at the precision every backend stores (microseconds).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Whether an insert failed on a primary key held by another row.
pub fn is_conflict(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// `text` with LIKE's wildcards and the escape character escaped.
fn like_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// `column` is `namespace` or one of its children.
fn within_namespace(column: SimpleExpr, namespace: &str) -> Condition {
    Condition::any()
        .add(column.clone().eq(namespace))
        .add(column.like(LikeExpr::new(format!("{}.%", like_escaped(namespace))).escape('\\')))
}

/// `column` is inside the caller's namespace scope (`None`: everywhere).
fn in_scope(column: impl Fn() -> SimpleExpr, scope: &NamespaceScope) -> Option<Condition> {
    match scope {
        NamespaceScope::Everywhere => None,
        NamespaceScope::Within(namespaces) => Some(namespaces.iter().fold(
            // No namespace at all: nothing matches.
            Condition::any().add(Expr::val(1).eq(0)),
            |any, namespace| any.add(within_namespace(column(), namespace)),
        )),
    }
}

/// `column`, lower-cased, contains `text` (case-insensitive on both backends).
fn contains_text(column: SimpleExpr, text: &str) -> SimpleExpr {
    Expr::expr(sea_orm::sea_query::Func::lower(column))
        .like(LikeExpr::new(format!("%{}%", like_escaped(&text.to_lowercase()))).escape('\\'))
}

#[cfg(test)]
mod tests {
    use super::like_escaped;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(like_escaped("a_b%c\\d"), "a\\_b\\%c\\\\d");
    }
}
