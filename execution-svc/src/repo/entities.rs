//! execution-svc's tables as sea-orm entities.

/// One row per execution; the flow source is kept as it was when the
/// execution was created, so later flow edits do not change a running one.
pub mod executions {
    use sea_orm::entity::prelude::*;

    #[derive(
        Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize,
    )]
    #[sea_orm(table_name = "executions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub namespace: String,
        pub flow_id: String,
        pub flow_revision: i32,
        pub flow_source: String,
        pub state: String,
        /// JSON array of `{state, date}`.
        pub histories: String,
        /// JSON objects.
        pub inputs: String,
        pub outputs: String,
        pub labels: String,
        /// JSON object, `{}` when started by hand.
        pub trigger: String,
        pub create_time: ChronoDateTimeUtc,
        pub update_time: ChronoDateTimeUtc,
        /// The execution whose Subflow task started this one.
        pub parent_execution_id: Option<String>,
        /// The task run of the parent that started this one.
        pub parent_task_run_id: Option<String>,
        /// 1, or more for an execution a retry created
        /// (`CREATE_NEW_EXECUTION`).
        pub attempt_number: i32,
        /// When the first attempt was created, for an execution a retry
        /// created.
        pub first_attempt_time: Option<ChronoDateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// One row per run of a task (per ForEach value).
pub mod task_runs {
    use sea_orm::entity::prelude::*;

    #[derive(
        Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize,
    )]
    #[sea_orm(table_name = "task_runs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub execution_id: String,
        /// Empty at the top level.
        pub parent_id: String,
        pub task_id: String,
        /// The ForEach value; empty outside ForEach.
        pub value: String,
        pub state: String,
        pub histories: String,
        pub outputs: String,
        pub attempts: i32,
        /// When the current attempt started (a resumed Sleep counts from it).
        pub start_time: Option<ChronoDateTimeUtc>,
        pub update_time: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Log lines, in the order they were written.
pub mod execution_logs {
    use sea_orm::entity::prelude::*;

    #[derive(
        Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize,
    )]
    #[sea_orm(table_name = "execution_logs")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub seq: i64,
        pub tenant_id: String,
        pub execution_id: String,
        pub task_run_id: String,
        pub task_id: String,
        pub level: String,
        pub time: ChronoDateTimeUtc,
        pub message: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Work waiting for a worker, or held by one until `lease_until`.
pub mod execution_queue {
    use sea_orm::entity::prelude::*;

    #[derive(
        Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize,
    )]
    #[sea_orm(table_name = "execution_queue")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub execution_id: String,
        pub tenant_id: String,
        /// Epoch milliseconds.
        pub available_at: i64,
        pub lease_owner: Option<String>,
        pub lease_until: Option<i64>,
        pub kill_requested: bool,
        /// A pause of the running execution was asked for.
        pub pause_requested: bool,
        /// Incremented by every claim: the fencing token of the current one.
        pub lease_epoch: i64,
        /// The tenant's own quota of running executions; 0: the default.
        pub running_quota: i64,
        /// A digest of the job's namespace and flow id (see `queue::flow_key`).
        pub flow_key: String,
        /// The flow's limit of executions running at once; 0: none.
        pub flow_limit: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The last tick each Schedule trigger fired for.
pub mod schedule_cursors {
    use sea_orm::entity::prelude::*;

    #[derive(
        Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize,
    )]
    #[sea_orm(table_name = "schedule_cursors")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub namespace: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub flow_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub trigger_id: String,
        /// Epoch seconds of the tick.
        pub last_tick: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod idempotency_keys {
    use sea_orm::entity::prelude::*;

    #[derive(
        Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize,
    )]
    #[sea_orm(table_name = "idempotency_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub execution_id: String,
        pub namespace: String,
        pub flow_id: String,
        pub create_time: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Which conditions of a Flow trigger's set were met, in which window.
pub mod flow_trigger_windows {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "flow_trigger_windows")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub namespace: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub flow_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub trigger_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub window_id: String,
        /// The window, epoch milliseconds, end excluded.
        pub start_ms: i64,
        pub end_ms: i64,
        /// The keys of the conditions met, a JSON list.
        pub met: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The source of each flow revision executions ran, once.
pub mod flow_sources {
    use sea_orm::entity::prelude::*;

    #[derive(
        Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize,
    )]
    #[sea_orm(table_name = "flow_sources")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub namespace: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub flow_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub revision: i32,
        pub source: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
