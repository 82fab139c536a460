//! The last tick each Schedule trigger fired for. Moving a cursor is a
//! compare-and-set inside the transaction that creates the tick's
//! execution, so of several replicas seeing the same tick exactly one fires.

use sea_orm::{ActiveValue::Set, ConnectionTrait, DbBackend, DbErr, EntityTrait, Statement};

use super::TenantTxn;
use super::entities::schedule_cursors;

/// Which trigger, inside the transaction's tenant.
pub struct TriggerRef<'a> {
    pub namespace: &'a str,
    pub flow_id: &'a str,
    pub trigger_id: &'a str,
}

/// What [`claim`] found for one tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The trigger is new, or another replica holds its cursor now
    /// (PostgreSQL, which then fires it): not fired here.
    NotHere,
    /// The tick (or a later one) has fired.
    AlreadyFired,
    /// The cursor moved to the tick inside this transaction: fire it here.
    Due,
}

/// Claims `ticks` inside `tx`, in a few statements whatever their number:
/// answers, for each, whether it fires here. One trigger's ticks come in
/// ascending order. A trigger without a cursor is new: its cursor starts at
/// its latest tick here, which does not fire. On PostgreSQL the cursor rows
/// stay locked until `tx` ends, and those another replica has locked are
/// skipped rather than waited for.
pub async fn claim<'a>(
    tx: &TenantTxn,
    ticks: &[(TriggerRef<'a>, i64)],
) -> Result<Vec<Claim>, DbErr> {
    type Key<'k> = (&'k str, &'k str, &'k str);
    fn key<'k>(t: &TriggerRef<'k>) -> Key<'k> {
        (t.namespace, t.flow_id, t.trigger_id)
    }
    let mut triggers: Vec<Key<'a>> = ticks.iter().map(|(t, _)| key(t)).collect();
    triggers.sort_unstable();
    triggers.dedup();
    if triggers.is_empty() {
        return Ok(Vec::new());
    }
    let backend = tx.conn().get_database_backend();
    let lock = match backend {
        DbBackend::Postgres => " FOR UPDATE SKIP LOCKED",
        // One process per SQLite file, whose writes are serialised.
        _ => "",
    };
    let mut values: Vec<sea_orm::Value> = vec![tx.tenant_key().into()];
    let rows_sql = row_values(&triggers, &mut values);
    let found = tx
        .conn()
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT namespace, flow_id, trigger_id, last_tick FROM schedule_cursors \
                 WHERE tenant_id = $1 AND (namespace, flow_id, trigger_id) IN ({rows_sql}){lock}"
            ),
            values,
        ))
        .await?;
    let mut cursors: std::collections::HashMap<(String, String, String), i64> =
        std::collections::HashMap::with_capacity(found.len());
    for row in found {
        cursors.insert(
            (
                row.try_get("", "namespace")?,
                row.try_get("", "flow_id")?,
                row.try_get("", "trigger_id")?,
            ),
            row.try_get("", "last_tick")?,
        );
    }
    // Walk the ticks in order against the cursors read.
    let mut last: std::collections::HashMap<Key<'_>, Option<i64>> = triggers
        .iter()
        .map(|&(n, f, t)| {
            let at = cursors.get(&(n.to_owned(), f.to_owned(), t.to_owned()));
            ((n, f, t), at.copied())
        })
        .collect();
    let mut new: std::collections::BTreeMap<Key<'_>, i64> = Default::default();
    let mut claims = Vec::with_capacity(ticks.len());
    for (trigger, tick) in ticks {
        let k = key(trigger);
        let claim = match last.get_mut(&k).expect("every trigger listed") {
            None => {
                let start = new.entry(k).or_insert(*tick);
                *start = (*start).max(*tick);
                Claim::NotHere
            }
            Some(at) if *at >= *tick => Claim::AlreadyFired,
            Some(at) => {
                *at = *tick;
                Claim::Due
            }
        };
        claims.push(claim);
    }
    // New cursors (a replica inserting the same one first wins; either way
    // the tick does not fire here).
    if !new.is_empty() {
        schedule_cursors::Entity::insert_many(new.iter().map(|(&(n, f, t), &tick)| {
            schedule_cursors::ActiveModel {
                tenant_id: Set(tx.tenant_key().to_owned()),
                namespace: Set(n.to_owned()),
                flow_id: Set(f.to_owned()),
                trigger_id: Set(t.to_owned()),
                last_tick: Set(tick),
            }
        }))
        .on_conflict_do_nothing()
        .exec_without_returning(tx.conn())
        .await?;
    }
    // Moved cursors, one statement per new position (usually one or two).
    let mut moved: std::collections::BTreeMap<i64, Vec<Key<'_>>> = Default::default();
    for (k, at) in &last {
        if let Some(at) = at
            && cursors.get(&(k.0.to_owned(), k.1.to_owned(), k.2.to_owned())) != Some(at)
        {
            moved.entry(*at).or_default().push(*k);
        }
    }
    for (to, keys) in moved {
        let mut values: Vec<sea_orm::Value> = vec![to.into(), tx.tenant_key().into()];
        let rows_sql = row_values(&keys, &mut values);
        let result = tx
            .conn()
            .execute_raw(Statement::from_sql_and_values(
                backend,
                format!(
                    "UPDATE schedule_cursors SET last_tick = $1 \
                     WHERE tenant_id = $2 AND last_tick < $1 \
                     AND (namespace, flow_id, trigger_id) IN ({rows_sql})"
                ),
                values,
            ))
            .await?;
        if result.rows_affected() != keys.len() as u64 {
            // Held rows cannot move under us; if one did, nothing of this
            // transaction is kept and its ticks are tried again.
            return Err(DbErr::Custom(format!(
                "{} of {} schedule cursors moved concurrently",
                keys.len() as u64 - result.rows_affected(),
                keys.len()
            )));
        }
    }
    Ok(claims)
}

/// `($n, $n+1, $n+2), ...` for `keys`, their values pushed onto `values`.
fn row_values(keys: &[(&str, &str, &str)], values: &mut Vec<sea_orm::Value>) -> String {
    let mut sql = Vec::with_capacity(keys.len());
    for (n, f, t) in keys {
        let at = values.len();
        sql.push(format!("(${}, ${}, ${})", at + 1, at + 2, at + 3));
        values.extend([(*n).into(), (*f).into(), (*t).into()]);
    }
    sql.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aerie_common::TenantId;

    fn trigger(flow_id: &str) -> TriggerRef<'_> {
        TriggerRef {
            namespace: "team",
            flow_id,
            trigger_id: "tick",
        }
    }

    #[tokio::test]
    async fn one_claim_walks_each_triggers_ticks_in_order_and_fires_each_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("execution.db").display());
        let db = aerie_common::db::connect_and_migrate::<crate::migration::Migrator>(
            &url,
            &url,
            "execution",
        )
        .await
        .unwrap();
        let tenant = TenantId::parse("acme").unwrap();
        let claim_in = |ticks: Vec<(TriggerRef<'static>, i64)>| {
            let (db, tenant) = (db.clone(), tenant.clone());
            async move {
                let tx = TenantTxn::write(&db, &tenant).await.unwrap();
                let claims = claim(&tx, &ticks).await.unwrap();
                tx.commit().await.unwrap();
                claims
            }
        };
        // New triggers: their cursors start at their latest tick; none fires.
        let first = claim_in(vec![
            (trigger("a"), 10),
            (trigger("a"), 11),
            (trigger("b"), 10),
        ])
        .await;
        assert_eq!(first, [Claim::NotHere, Claim::NotHere, Claim::NotHere]);
        // Later ticks fire once each, in order; ticks at or before the
        // cursor have fired already.
        let second = claim_in(vec![
            (trigger("a"), 11),
            (trigger("a"), 12),
            (trigger("a"), 13),
            (trigger("b"), 11),
        ])
        .await;
        assert_eq!(
            second,
            [Claim::AlreadyFired, Claim::Due, Claim::Due, Claim::Due]
        );
        let again = claim_in(vec![(trigger("a"), 13), (trigger("b"), 11)]).await;
        assert_eq!(again, [Claim::AlreadyFired, Claim::AlreadyFired]);
        // Another tenant's cursors are its own.
        let other = TenantId::parse("globex").unwrap();
        let tx = TenantTxn::write(&db, &other).await.unwrap();
        assert_eq!(
            claim(&tx, &[(trigger("a"), 20)]).await.unwrap(),
            [Claim::NotHere]
        );
    }
}
