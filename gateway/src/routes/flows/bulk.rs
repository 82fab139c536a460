//! Several flows at once, as Kestra's clients and CI deploys call it:
//! replacing a namespace's flows, importing and exporting zip archives of
//! YAML, validating several documents, and deleting, disabling or enabling
//! flows by a list of ids or by a search.
//!
//! Writes of several flows go through flow-svc's `ImportFlows`, one
//! transaction: all of them or none. Bulk delete, disable and enable check
//! every flow first and change nothing when one is missing; each change
//! then goes through the single-flow call, with its permission and audit.

use std::io::{Cursor, Read, Write};

use aerie_common::kestra::source::{documents, with_disabled};
use aerie_proto::flow::v1 as pb;
use axum::Json;
use axum::extract::{Multipart, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Finding, Flow, NamespacePath, SearchQuery, Validation};
use crate::error::{ApiError, ErrorBody, JsonArray, YamlBody};
use crate::routes::executions::manage::{BulkErrorResponse, BulkResponse, Invalid};
use crate::routes::executions::parse_bool;
use crate::state::AppState;
use crate::tenant_scope::Tenant;

/// Most flows one call reads or changes.
const MAX_FLOWS: usize = 1000;

/// Most documents one validation checks: validating needs no write access,
/// so one call's parsing work stays small.
const MAX_VALIDATED: usize = 100;

/// Largest flow source, as flow-svc takes it (1 MiB).
const MAX_SOURCE_BYTES: u64 = 1024 * 1024;

/// Most YAML text one import unpacks, whatever the archive's size: the
/// gateway's largest request body, so that a small zip of large files
/// costs the gateway no more memory than a plain YAML body could.
const MAX_IMPORT_BYTES: u64 = 10 * 1024 * 1024;

/// A flow's address, as Kestra's bulk calls send it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdWithNamespace {
    pub namespace: String,
    pub id: String,
}

fn unprocessable(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
}

/// The documents of a multi-document YAML body, as sources.
fn sources_of(body: &str) -> Vec<String> {
    documents(body)
        .into_iter()
        .map(|d| d.text.to_owned())
        .collect()
}

async fn import(
    state: &AppState,
    tenant: &Tenant,
    sources: Vec<String>,
    namespace: String,
    delete_missing: bool,
) -> Result<Vec<Flow>, ApiError> {
    let request = tenant.request(pb::ImportFlowsRequest {
        sources,
        namespace,
        delete_missing,
    });
    let imported = state
        .flows
        .clone()
        .import_flows(request)
        .await?
        .into_inner();
    Ok(imported.flows.into_iter().map(Into::into).collect())
}

/// Replace a namespace's flows with the YAML documents of the body, all or none: each is created or updated (an unchanged one keeps its revision), and with `delete=true` (the default) the namespace's other flows are deleted. Every flow must be in this namespace.
#[utoipa::path(post, path = "/flows/{namespace}", tag = "flows",
    params(NamespacePath,
        ("delete" = Option<bool>, Query, description = "delete the namespace's flows the body leaves out (default true)")),
    request_body(content = String, content_type = "application/x-yaml",
        description = "one or more flows separated by `---` lines"),
    responses((status = 200, body = [Flow]), (status = 422, body = ErrorBody)))]
async fn replace_namespace(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(NamespacePath { namespace }): Path<NamespacePath>,
    RawQuery(raw): RawQuery,
    YamlBody(body): YamlBody,
) -> Result<Json<Vec<Flow>>, ApiError> {
    let mut delete = true;
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "delete" => delete = parse_bool("delete", &value)?,
            other => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("unknown query parameter '{other}': use delete"),
                ));
            }
        }
    }
    let flows = import(&state, &tenant, sources_of(&body), namespace, delete).await?;
    Ok(Json(flows))
}

/// Import flows, all or none: a multipart `fileUpload` that is a zip archive of `.yml`/`.yaml` files, or one YAML file of flows separated by `---` lines. Existing flows are updated (an unchanged one keeps its revision); nothing is deleted. Answers the flows as they now are.
#[utoipa::path(post, path = "/flows/import", tag = "flows",
    request_body(content = String, content_type = "multipart/form-data",
        description = "field `fileUpload`: a .zip of YAML files, or a .yml/.yaml file"),
    responses((status = 200, body = [Flow]), (status = 422, body = ErrorBody)))]
async fn import_upload(
    State(state): State<AppState>,
    tenant: Tenant,
    mut form: Multipart,
) -> Result<Json<Vec<Flow>>, ApiError> {
    let mut sources = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| ApiError::new(e.status(), e.body_text()))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        if name != "fileUpload" {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("unknown form field '{name}': send the file as fileUpload"),
            ));
        }
        if sources.is_some() {
            return Err(unprocessable(
                "one fileUpload per import: put several files in one zip",
            ));
        }
        let filename = field.file_name().unwrap_or_default().to_lowercase();
        let content = field
            .bytes()
            .await
            .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
        sources = Some(if filename.ends_with(".zip") {
            sources_in_zip(&content)?
        } else if filename.ends_with(".yml") || filename.ends_with(".yaml") {
            let text = std::str::from_utf8(&content)
                .map_err(|_| unprocessable("the YAML file is not UTF-8"))?;
            sources_of(text)
        } else {
            return Err(unprocessable(
                "fileUpload must be a .zip archive or a .yml/.yaml file",
            ));
        });
    }
    let sources = sources.ok_or_else(|| unprocessable("fileUpload is required"))?;
    Ok(Json(
        import(&state, &tenant, sources, String::new(), false).await?,
    ))
}

/// The flow sources of a zip archive: every `.yml`/`.yaml` file, each
/// holding one or more flows. Read within bounds whatever the archive's
/// headers claim: at most [`MAX_FLOWS`] files of 1 MiB each.
fn sources_in_zip(bytes: &[u8]) -> Result<Vec<String>, ApiError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| unprocessable(format!("not a readable zip archive: {e}")))?;
    if archive.len() > MAX_FLOWS {
        return Err(unprocessable(format!(
            "the archive holds {} entries; at most {MAX_FLOWS}",
            archive.len()
        )));
    }
    let mut sources = Vec::new();
    let mut unpacked = 0_u64;
    for index in 0..archive.len() {
        let entry = archive
            .by_index(index)
            .map_err(|e| unprocessable(format!("entry {} is unreadable: {e}", index + 1)))?;
        let name = entry
            .name()
            .map_err(|e| unprocessable(format!("entry {} has no usable name: {e}", index + 1)))?
            .into_owned();
        let base = name.rsplit('/').next().unwrap_or_default();
        if entry.is_dir() || name.starts_with("__MACOSX/") || base.starts_with('.') {
            continue;
        }
        let lower = name.to_lowercase();
        if !(lower.ends_with(".yml") || lower.ends_with(".yaml")) {
            return Err(unprocessable(format!("{name} is not a .yml or .yaml file")));
        }
        let mut text = String::new();
        entry
            .take(MAX_SOURCE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| unprocessable(format!("{name} is unreadable or not UTF-8: {e}")))?;
        if text.len() as u64 > MAX_SOURCE_BYTES {
            return Err(unprocessable(format!(
                "{name} is larger than {MAX_SOURCE_BYTES} bytes"
            )));
        }
        unpacked += text.len() as u64;
        if unpacked > MAX_IMPORT_BYTES {
            return Err(unprocessable(format!(
                "the archive unpacks to more than {MAX_IMPORT_BYTES} bytes of YAML; import it in parts"
            )));
        }
        sources.extend(sources_of(&text));
        if sources.len() > MAX_FLOWS {
            return Err(unprocessable(format!(
                "the archive holds more than {MAX_FLOWS} flows"
            )));
        }
    }
    Ok(sources)
}

/// A zip archive of flows, one `<namespace>.<id>.yml` each, as Kestra exports them.
fn zip_of(flows: &[Flow]) -> Result<Response, ApiError> {
    let failed = |e: zip::result::ZipError| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("zip failed: {e}"),
        )
    };
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for flow in flows {
        writer
            .start_file(format!("{}.{}.yml", flow.namespace, flow.id), options)
            .map_err(failed)?;
        writer
            .write_all(flow.source.as_bytes())
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    }
    let bytes = writer.finish().map_err(failed)?.into_inner();
    Ok((
        [
            ("content-type", "application/octet-stream"),
            ("content-disposition", "attachment; filename=\"flows.zip\""),
        ],
        bytes,
    )
        .into_response())
}

/// The live flows a search matches (at most [`MAX_FLOWS`]), sources included.
async fn matching(
    state: &AppState,
    tenant: &Tenant,
    query: SearchQuery,
) -> Result<Vec<Flow>, ApiError> {
    // Pages small enough that 1 MiB sources stay within a gRPC message.
    const PAGE: u32 = 25;
    let mut flows = Vec::new();
    for page in 1.. {
        let request = tenant.request(pb::SearchFlowsRequest {
            q: query.q.clone().unwrap_or_default(),
            namespace: query.namespace.clone().unwrap_or_default(),
            labels: query.labels.clone(),
            page,
            size: PAGE,
            sort: "namespace:asc".into(),
        });
        let found = state
            .flows
            .clone()
            .search_flows(request)
            .await?
            .into_inner();
        if found.total as usize > MAX_FLOWS {
            return Err(unprocessable(format!(
                "{} flows match: a bulk call takes at most {MAX_FLOWS}; narrow it down",
                found.total
            )));
        }
        let last = found.results.len() < PAGE as usize;
        flows.extend(found.results.into_iter().map(Flow::from));
        if last || flows.len() >= found.total as usize {
            break;
        }
    }
    Ok(flows)
}

/// The search filters of a by-query call: q, namespace, labels.
fn by_query(raw: Option<String>, at_least_one: bool) -> Result<SearchQuery, ApiError> {
    let mut query = SearchQuery::parse(raw.as_deref())?;
    // An empty filter (`q=`) filters nothing: it is no filter at all.
    query.q = query.q.filter(|q| !q.trim().is_empty());
    query.namespace = query.namespace.filter(|n| !n.trim().is_empty());
    query.labels.retain(|l| !l.trim().is_empty());
    if query.page.is_some() || query.size.is_some() || query.sort.is_some() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "a by-query call takes q, namespace and labels, not page, size or sort",
        ));
    }
    if at_least_one && query.q.is_none() && query.namespace.is_none() && query.labels.is_empty() {
        // Kestra acts on every flow then; a typo must not do that.
        return Err(unprocessable(
            "a by-query call needs at least one filter: q, namespace or labels",
        ));
    }
    Ok(query)
}

/// Export the flows a search matches as a zip archive of YAML (FLOW:READ); no filter exports every flow the caller may read.
#[utoipa::path(get, path = "/flows/export/by-query", tag = "flows",
    params(("q" = Option<String>, Query), ("namespace" = Option<String>, Query),
           ("labels" = Option<Vec<String>>, Query, description = "key:value, repeatable")),
    responses((status = 200, description = "zip archive", content_type = "application/octet-stream"),
              (status = 422, body = ErrorBody)))]
async fn export_by_query(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let flows = matching(&state, &tenant, by_query(raw, false)?).await?;
    zip_of(&flows)
}

/// Each flow's live revision, or the ids that are not found.
async fn find_all(
    state: &AppState,
    tenant: &Tenant,
    ids: Vec<IdWithNamespace>,
) -> Result<Result<Vec<Flow>, Vec<Invalid>>, ApiError> {
    if ids.len() > MAX_FLOWS {
        return Err(unprocessable(format!(
            "{} flows: a bulk call takes at most {MAX_FLOWS}",
            ids.len()
        )));
    }
    let mut found = Vec::new();
    let mut missing = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for IdWithNamespace { namespace, id } in ids {
        if !seen.insert((namespace.clone(), id.clone())) {
            continue;
        }
        let request = tenant.request(pb::GetFlowRequest {
            namespace: namespace.clone(),
            id: id.clone(),
            revision: 0,
        });
        match state.flows.clone().get_flow(request).await {
            Ok(flow) => found.push(Flow::from(flow.into_inner())),
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::NotFound | tonic::Code::InvalidArgument
                ) =>
            {
                missing.push(Invalid {
                    invalid_value: format!("{namespace}.{id}"),
                    message: "flow not found".into(),
                });
            }
            Err(status) => return Err(status.into()),
        }
    }
    Ok(if missing.is_empty() {
        Ok(found)
    } else {
        Err(missing)
    })
}

fn refused(operation: &str, invalids: Vec<Invalid>) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(BulkErrorResponse {
            message: format!("invalid bulk {operation}"),
            count: 0,
            invalids,
        }),
    )
        .into_response()
}

/// Export the flows named as a zip archive of YAML (FLOW:READ).
#[utoipa::path(post, path = "/flows/export/by-ids", tag = "flows",
    request_body = Vec<IdWithNamespace>,
    responses((status = 200, description = "zip archive", content_type = "application/octet-stream"),
              (status = 422, body = BulkErrorResponse)))]
async fn export_by_ids(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonArray(ids): JsonArray<IdWithNamespace>,
) -> Result<Response, ApiError> {
    match find_all(&state, &tenant, ids).await? {
        Ok(flows) => zip_of(&flows),
        Err(missing) => Ok(refused("export", missing)),
    }
}

/// What a bulk call does to each flow.
#[derive(Debug, Clone, Copy)]
enum Change {
    Delete,
    Disable,
    Enable,
}

impl Change {
    fn name(self) -> &'static str {
        match self {
            Change::Delete => "delete",
            Change::Disable => "disable",
            Change::Enable => "enable",
        }
    }

    /// Applies the change to each flow, one by one through the single-flow
    /// calls; a flow already in the wanted state is left as it is.
    async fn apply(
        self,
        state: &AppState,
        tenant: &Tenant,
        flows: Vec<Flow>,
    ) -> Result<Response, ApiError> {
        let mut count = 0;
        let mut failures = Vec::new();
        for flow in flows {
            let result = match self {
                Change::Delete => state
                    .flows
                    .clone()
                    .delete_flow(tenant.request(pb::DeleteFlowRequest {
                        namespace: flow.namespace.clone(),
                        id: flow.id.clone(),
                    }))
                    .await
                    .map(|_| ()),
                Change::Disable | Change::Enable => {
                    let disabled = matches!(self, Change::Disable);
                    if flow.disabled == disabled {
                        Ok(())
                    } else {
                        state
                            .flows
                            .clone()
                            .update_flow(tenant.request(pb::UpdateFlowRequest {
                                namespace: flow.namespace.clone(),
                                id: flow.id.clone(),
                                source: with_disabled(&flow.source, disabled),
                            }))
                            .await
                            .map(|_| ())
                    }
                }
            };
            match result {
                Ok(()) => count += 1,
                Err(status) => failures.push(Invalid {
                    invalid_value: format!("{}.{}", flow.namespace, flow.id),
                    message: ApiError::from(status).message,
                }),
            }
        }
        if failures.is_empty() {
            return Ok(Json(BulkResponse { count }).into_response());
        }
        Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(BulkErrorResponse {
                message: format!("bulk {} partly applied", self.name()),
                count,
                invalids: failures,
            }),
        )
            .into_response())
    }

    async fn by_ids(
        self,
        state: &AppState,
        tenant: &Tenant,
        ids: Vec<IdWithNamespace>,
    ) -> Result<Response, ApiError> {
        match find_all(state, tenant, ids).await? {
            Ok(flows) => self.apply(state, tenant, flows).await,
            Err(missing) => Ok(refused(self.name(), missing)),
        }
    }

    async fn by_query(
        self,
        state: &AppState,
        tenant: &Tenant,
        raw: Option<String>,
    ) -> Result<Response, ApiError> {
        let flows = matching(state, tenant, by_query(raw, true)?).await?;
        self.apply(state, tenant, flows).await
    }
}

/// Delete the flows named (FLOW:DELETE on each); their revisions stay readable.
#[utoipa::path(delete, path = "/flows/delete/by-ids", tag = "flows",
    request_body = Vec<IdWithNamespace>,
    responses((status = 200, body = BulkResponse), (status = 422, body = BulkErrorResponse)))]
async fn delete_by_ids(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonArray(ids): JsonArray<IdWithNamespace>,
) -> Result<Response, ApiError> {
    Change::Delete.by_ids(&state, &tenant, ids).await
}

/// Delete the flows a search matches (FLOW:DELETE on each); at least one filter.
#[utoipa::path(delete, path = "/flows/delete/by-query", tag = "flows",
    params(("q" = Option<String>, Query), ("namespace" = Option<String>, Query),
           ("labels" = Option<Vec<String>>, Query, description = "key:value, repeatable")),
    responses((status = 200, body = BulkResponse), (status = 422, body = BulkErrorResponse)))]
async fn delete_by_query(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    Change::Delete.by_query(&state, &tenant, raw).await
}

/// Disable the flows named: each gets a revision with `disabled: true` (FLOW:UPDATE on each).
#[utoipa::path(post, path = "/flows/disable/by-ids", tag = "flows",
    request_body = Vec<IdWithNamespace>,
    responses((status = 200, body = BulkResponse), (status = 422, body = BulkErrorResponse)))]
async fn disable_by_ids(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonArray(ids): JsonArray<IdWithNamespace>,
) -> Result<Response, ApiError> {
    Change::Disable.by_ids(&state, &tenant, ids).await
}

/// Disable the flows a search matches (FLOW:UPDATE on each); at least one filter.
#[utoipa::path(post, path = "/flows/disable/by-query", tag = "flows",
    params(("q" = Option<String>, Query), ("namespace" = Option<String>, Query),
           ("labels" = Option<Vec<String>>, Query, description = "key:value, repeatable")),
    responses((status = 200, body = BulkResponse), (status = 422, body = BulkErrorResponse)))]
async fn disable_by_query(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    Change::Disable.by_query(&state, &tenant, raw).await
}

/// Enable the flows named: each gets a revision with `disabled: false` (FLOW:UPDATE on each).
#[utoipa::path(post, path = "/flows/enable/by-ids", tag = "flows",
    request_body = Vec<IdWithNamespace>,
    responses((status = 200, body = BulkResponse), (status = 422, body = BulkErrorResponse)))]
async fn enable_by_ids(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonArray(ids): JsonArray<IdWithNamespace>,
) -> Result<Response, ApiError> {
    Change::Enable.by_ids(&state, &tenant, ids).await
}

/// Enable the flows a search matches (FLOW:UPDATE on each); at least one filter.
#[utoipa::path(post, path = "/flows/enable/by-query", tag = "flows",
    params(("q" = Option<String>, Query), ("namespace" = Option<String>, Query),
           ("labels" = Option<Vec<String>>, Query, description = "key:value, repeatable")),
    responses((status = 200, body = BulkResponse), (status = 422, body = BulkErrorResponse)))]
async fn enable_by_query(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    Change::Enable.by_query(&state, &tenant, raw).await
}

/// Check one or more flows (separated by `---` lines) without saving them: one result per document, in order, each with its findings (lines count from the top of the body).
#[utoipa::path(post, path = "/flows/validate", tag = "flows",
    request_body(content = serde_json::Value, content_type = "application/x-yaml"),
    responses((status = 200, body = [Validation])))]
async fn validate(
    State(state): State<AppState>,
    tenant: Tenant,
    YamlBody(body): YamlBody,
) -> Result<Json<Vec<Validation>>, ApiError> {
    let mut docs = documents(&body);
    if docs.is_empty() {
        // An empty body is one empty flow, with the findings that says.
        docs.push(aerie_common::kestra::source::Document {
            index: 0,
            line_offset: 0,
            text: &body,
        });
    }
    if docs.len() > MAX_VALIDATED {
        return Err(unprocessable(format!(
            "at most {MAX_VALIDATED} flows are validated at once; this body has {}",
            docs.len()
        )));
    }
    let mut results = Vec::with_capacity(docs.len());
    for doc in docs {
        let request = tenant.request(pb::ValidateFlowRequest {
            source: doc.text.to_owned(),
        });
        let report = state
            .flows
            .clone()
            .validate_flow(request)
            .await?
            .into_inner();
        let findings: Vec<Finding> = report
            .findings
            .into_iter()
            .map(|f| Finding {
                path: f.path,
                line: if f.line == 0 {
                    0
                } else {
                    f.line + doc.line_offset
                },
                column: f.column,
                message: f.message,
            })
            .collect();
        results.push(Validation {
            index: doc.index,
            valid: report.valid,
            constraints: (!findings.is_empty()).then(|| {
                findings
                    .iter()
                    .map(|f| f.message.clone())
                    .collect::<Vec<_>>()
                    .join("\n")
            }),
            id: (!report.id.is_empty()).then_some(report.id),
            namespace: (!report.namespace.is_empty()).then_some(report.namespace),
            findings,
        });
    }
    Ok(Json(results))
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(validate))
        .routes(routes!(replace_namespace))
        .routes(routes!(import_upload))
        .routes(routes!(export_by_query))
        .routes(routes!(export_by_ids))
        .routes(routes!(delete_by_ids))
        .routes(routes!(delete_by_query))
        .routes(routes!(disable_by_ids))
        .routes(routes!(disable_by_query))
        .routes(routes!(enable_by_ids))
        .routes(routes!(enable_by_query))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_with(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, text) in entries {
            writer
                .start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            writer.write_all(text.as_bytes()).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn a_zip_gives_every_flow_of_its_yaml_files_and_refuses_others() {
        let archive = zip_with(&[
            ("a.yml", "id: a\nnamespace: n\n"),
            (
                "dir/b.yaml",
                "id: b\nnamespace: n\n---\nid: c\nnamespace: n\n",
            ),
            ("__MACOSX/._a.yml", "junk"),
            (".hidden.yml", "junk"),
        ]);
        let sources = sources_in_zip(&archive).expect("read");
        assert_eq!(sources.len(), 3);
        assert!(sources[2].starts_with("id: c"));
        let err = sources_in_zip(&zip_with(&[("notes.txt", "hi")])).unwrap_err();
        assert!(err.message.contains("notes.txt"), "{}", err.message);
        assert!(sources_in_zip(b"not a zip").is_err());
        // Small files, but more YAML in all than one request may carry.
        let part = "#".repeat(MAX_SOURCE_BYTES as usize - 10);
        let names: Vec<String> = (0..11).map(|i| format!("f{i}.yml")).collect();
        let entries: Vec<(&str, &str)> =
            names.iter().map(|n| (n.as_str(), part.as_str())).collect();
        let err = sources_in_zip(&zip_with(&entries)).unwrap_err();
        assert!(
            err.message.contains("unpacks to more than"),
            "{}",
            err.message
        );
        let big = "x".repeat(MAX_SOURCE_BYTES as usize + 1);
        let err = sources_in_zip(&zip_with(&[("big.yml", &big)])).unwrap_err();
        assert!(err.message.contains("larger than"), "{}", err.message);
    }
}
