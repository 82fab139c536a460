//! What the executor walks: the one typed model of a flow, which flow-svc's
//! validation builds too (see [`aerie_common::kestra::flow`]).

pub use aerie_common::kestra::flow::*;
