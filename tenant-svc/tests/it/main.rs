//! tenant-svc over real gRPC on 127.0.0.1:0 (with auth-svc beside it, as
//! every call is authenticated), against SQLite or (with
//! AERIE_TEST_DATABASE_URL) PostgreSQL.

use aerie_common::config::Config;
use aerie_common::testkit::TestDatabase;
use aerie_proto::tenant::v1 as pb;
use aerie_proto::tenant::v1::tenant_service_client::TenantServiceClient;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Adds the super admin's bearer token to every call.
#[derive(Clone)]
struct Bearer(MetadataValue<tonic::metadata::Ascii>);

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

type Client = TenantServiceClient<InterceptedService<Channel, Bearer>>;

/// One tenant-svc server (plus auth-svc) with fresh databases.
struct TestService {
    client: Client,
    channel: Channel,
    shutdown: CancellationToken,
    service_token: String,
    _db: TestDatabase,
    _auth_db: TestDatabase,
    _data: tempfile::TempDir,
}

impl Drop for TestService {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn start(multi_tenancy: bool) -> TestService {
    let db = TestDatabase::new("tenant").await;
    let auth_db = TestDatabase::new("auth").await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut config = Config::default();
    config.tenants.enabled = multi_tenancy;
    config.database.tenant = db.config();
    config.database.auth = auth_db.config();
    config.security.super_admin.username = Some("admin".into());
    config.security.super_admin.password = Some("admin-password".into());
    config.default_endpoints_to(addr.port());
    let data = tempfile::tempdir().expect("tempdir");
    config.data_dir = data.path().to_owned();
    let shutdown = CancellationToken::new();
    let auth = aerie_auth_svc::open(&config).await.expect("open auth-svc");
    let api = aerie_tenant_svc::open(&config)
        .await
        .expect("open tenant-svc");
    let verifier = aerie_common::auth::verifier_for(&config).expect("verifier");
    let mut services = aerie_common::grpc::GrpcServices::new(verifier);
    aerie_auth_svc::register(&mut services, auth);
    aerie_tenant_svc::register(&mut services, api);
    tokio::spawn(services.serve(listener, shutdown.clone()));
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let token = aerie_proto::auth::v1::auth_service_client::AuthServiceClient::new(channel.clone())
        .issue_token(aerie_proto::auth::v1::IssueTokenRequest {
            username: "admin".into(),
            password: "admin-password".into(),
        })
        .await
        .expect("login")
        .into_inner()
        .access_token;
    let bearer = Bearer(format!("Bearer {token}").parse().expect("ascii"));
    TestService {
        client: TenantServiceClient::with_interceptor(channel.clone(), bearer),
        channel,
        shutdown,
        service_token: config.service_token().expect("service token"),
        _db: db,
        _auth_db: auth_db,
        _data: data,
    }
}

fn create(id: &str, name: &str) -> pb::CreateTenantRequest {
    pb::CreateTenantRequest {
        id: id.to_owned(),
        name: name.to_owned(),
        admin_username: String::new(),
        validate_only: false,
    }
}

#[tokio::test]
async fn tenant_crud_over_grpc() {
    let svc = start(true).await;
    let mut client = svc.client.clone();

    let created = client
        .create_tenant(create("stage", "Staging"))
        .await
        .expect("create")
        .into_inner();
    assert_eq!(
        (created.id.as_str(), created.name.as_str()),
        ("stage", "Staging")
    );
    assert!(!created.deleted);
    assert!(created.create_time.is_some());

    let got = client
        .get_tenant(pb::GetTenantRequest { id: "stage".into() })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(got, created);

    let renamed = client
        .update_tenant(pb::UpdateTenantRequest {
            id: "stage".into(),
            name: "Staging EU".into(),
        })
        .await
        .expect("update")
        .into_inner();
    assert_eq!(renamed.name, "Staging EU");

    let list = client
        .list_tenants(pb::ListTenantsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(list.total, 1);
    assert_eq!(list.results[0].name, "Staging EU");

    client
        .delete_tenant(pb::DeleteTenantRequest { id: "stage".into() })
        .await
        .expect("delete");
    let gone = client
        .get_tenant(pb::GetTenantRequest { id: "stage".into() })
        .await
        .expect_err("deleted tenant must be gone");
    assert_eq!(gone.code(), Code::NotFound);
    assert!(gone.message().contains("'stage'"), "{}", gone.message());
    let list = client
        .list_tenants(pb::ListTenantsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(list.total, 0);
    assert!(list.results.is_empty());

    for err in [
        client
            .update_tenant(pb::UpdateTenantRequest {
                id: "stage".into(),
                name: "x".into(),
            })
            .await
            .expect_err("update deleted"),
        client
            .delete_tenant(pb::DeleteTenantRequest { id: "stage".into() })
            .await
            .expect_err("delete twice"),
    ] {
        assert_eq!(err.code(), Code::NotFound);
    }
}

#[tokio::test]
async fn every_invalid_id_class_is_invalid_argument() {
    let svc = start(true).await;
    let mut client = svc.client.clone();
    let long = "a".repeat(101);
    for (id, expected) in [
        ("Stage", "must match"),
        ("-stage", "must match"),
        ("tenants", "reserved"),
        ("flows", "reserved"),
        (long.as_str(), "longer than 100"),
        ("", "must not be empty"),
    ] {
        let err = client
            .create_tenant(create(id, "Name"))
            .await
            .expect_err(id);
        assert_eq!(err.code(), Code::InvalidArgument, "{id}");
        assert!(err.message().contains(expected), "{id}: {}", err.message());
        let err = client
            .get_tenant(pb::GetTenantRequest { id: id.into() })
            .await
            .expect_err(id);
        assert_eq!(err.code(), Code::InvalidArgument, "{id}");
    }
    // 100 characters is the limit, not past it.
    client
        .create_tenant(create(&"a".repeat(100), "Longest"))
        .await
        .expect("100 characters is valid");
}

#[tokio::test]
async fn name_is_required_and_bounded() {
    let svc = start(true).await;
    let mut client = svc.client.clone();
    for name in ["", "   ", &"n".repeat(201)] {
        let err = client
            .create_tenant(create("named", name))
            .await
            .expect_err("bad name");
        assert_eq!(err.code(), Code::InvalidArgument);
    }
    let err = client
        .get_tenant(pb::GetTenantRequest { id: "named".into() })
        .await
        .expect_err("nothing was written");
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn duplicate_and_deleted_ids_already_exist() {
    let svc = start(true).await;
    let mut client = svc.client.clone();
    client
        .create_tenant(create("dup", "One"))
        .await
        .expect("first");
    let err = client
        .create_tenant(create("dup", "Two"))
        .await
        .expect_err("second");
    assert_eq!(err.code(), Code::AlreadyExists);
    let kept = client
        .get_tenant(pb::GetTenantRequest { id: "dup".into() })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(kept.name, "One", "the loser must not overwrite the winner");

    client
        .delete_tenant(pb::DeleteTenantRequest { id: "dup".into() })
        .await
        .expect("delete");
    let err = client
        .create_tenant(create("dup", "Again"))
        .await
        .expect_err("deleted ids are not reused");
    assert_eq!(err.code(), Code::AlreadyExists);
    assert!(err.message().contains("deleted"), "{}", err.message());
}

#[tokio::test]
async fn fifty_concurrent_creates_of_one_id_have_exactly_one_winner() {
    let svc = start(true).await;
    let attempts = (0..50).map(|i| {
        let mut client = svc.client.clone();
        async move {
            client
                .create_tenant(create("race", &format!("Racer {i}")))
                .await
        }
    });
    let results = futures::future::join_all(attempts).await;
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "{results:?}");
    for result in &results {
        if let Err(status) = result {
            assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
        }
    }
    let list = svc
        .client
        .clone()
        .list_tenants(pb::ListTenantsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(list.total, 1);
}

#[tokio::test]
async fn list_pages_and_sorts() {
    let svc = start(true).await;
    let mut client = svc.client.clone();
    for (id, name) in [
        ("c-one", "Alpha"),
        ("a-two", "Charlie"),
        ("b-three", "Bravo"),
    ] {
        client
            .create_tenant(create(id, name))
            .await
            .expect("create");
    }
    let page = |page, size, sort: &str| pb::ListTenantsRequest {
        page,
        size,
        sort: sort.to_owned(),
    };
    let ids = |r: pb::ListTenantsResponse| r.results.into_iter().map(|t| t.id).collect::<Vec<_>>();

    let first = client
        .list_tenants(page(1, 2, ""))
        .await
        .expect("p1")
        .into_inner();
    assert_eq!(first.total, 3);
    assert_eq!(ids(first), ["a-two", "b-three"]);
    let second = client
        .list_tenants(page(2, 2, ""))
        .await
        .expect("p2")
        .into_inner();
    assert_eq!(ids(second), ["c-one"]);
    let by_name = client
        .list_tenants(page(1, 10, "name:desc"))
        .await
        .expect("sorted")
        .into_inner();
    assert_eq!(ids(by_name), ["a-two", "b-three", "c-one"]);

    for bad in [
        page(1, 5000, ""),
        page(1, 10, "password"),
        page(1, 10, "id:sideways"),
    ] {
        let err = client.list_tenants(bad).await.expect_err("bad paging");
        assert_eq!(err.code(), Code::InvalidArgument);
    }
}

#[tokio::test]
async fn tenant_management_is_refused_without_multi_tenancy() {
    let svc = start(false).await;
    let err = svc
        .client
        .clone()
        .create_tenant(create("stage", "Staging"))
        .await
        .expect_err("disabled");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("aerie.tenants.enabled"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn malformed_tenant_header_is_rejected_before_any_handler() {
    let svc = start(true).await;
    let mut request = tonic::Request::new(pb::ListTenantsRequest::default());
    request
        .metadata_mut()
        .insert("x-aerie-tenant", "Not_Valid".parse().expect("ascii"));
    let err = svc
        .client
        .clone()
        .list_tenants(request)
        .await
        .expect_err("malformed header");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("Not_Valid"), "{}", err.message());
}

#[tokio::test]
async fn calls_without_a_token_are_unauthenticated() {
    let svc = start(true).await;
    let mut anonymous = TenantServiceClient::new(svc.channel.clone());
    let err = anonymous
        .list_tenants(pb::ListTenantsRequest::default())
        .await
        .expect_err("anonymous");
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = anonymous
        .create_tenant(create("sneaky", "S"))
        .await
        .expect_err("anonymous");
    assert_eq!(err.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn health_reports_the_tenant_service_serving() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    let svc = start(true).await;
    let mut health = HealthClient::new(svc.channel.clone());
    for service in ["", "aerie.tenant.v1.TenantService"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .expect("health")
            .into_inner()
            .status();
        assert_eq!(status, ServingStatus::Serving, "{service:?}");
    }
}

/// auth-svc alone on a fixed address, stoppable and restartable.
async fn start_auth(config: &Config, addr: std::net::SocketAddr) -> CancellationToken {
    let shutdown = CancellationToken::new();
    let listener = TcpListener::bind(addr).await.expect("bind auth");
    let core = aerie_auth_svc::open(config).await.expect("open auth-svc");
    let verifier = aerie_common::auth::verifier_for(config).expect("verifier");
    let mut services = aerie_common::grpc::GrpcServices::new(verifier);
    aerie_auth_svc::register(&mut services, core);
    tokio::spawn(services.serve(listener, shutdown.clone()));
    shutdown
}

/// CREATE entries for `tenant` in auth-svc's log, read through its own code.
async fn creates_logged(config: &Config, tenant: &str) -> u64 {
    let db = aerie_common::db::connect(&config.auth_database_url())
        .await
        .expect("auth db");
    let tenant = aerie_common::TenantId::parse(tenant).expect("tenant");
    let page = aerie_common::paging::PageRequest::new(1, 100).expect("page");
    let tx = aerie_common::db::TenantTxn::read(&db, &tenant)
        .await
        .expect("transaction");
    let (rows, _) = aerie_auth_svc::repo::search_audit(&tx, Some("TENANT"), None, page)
        .await
        .expect("search");
    rows.iter().filter(|r| r.action == "CREATE").count() as u64
}

#[tokio::test]
async fn no_audit_entry_is_lost_while_auth_svc_is_down() {
    let db = TestDatabase::new("tenant").await;
    let auth_db = TestDatabase::new("auth").await;
    let data = tempfile::tempdir().expect("tempdir");
    let auth_addr = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("probe")
        .local_addr()
        .expect("addr");
    let mut config = Config::default();
    config.tenants.enabled = true;
    config.data_dir = data.path().to_owned();
    config.database.tenant.url = Some(db.url.clone());
    config.database.auth.url = Some(auth_db.url.clone());
    config.endpoints.auth = Some(format!("http://{auth_addr}"));

    let auth = start_auth(&config, auth_addr).await;
    let tenants = aerie_tenant_svc::open(&config)
        .await
        .expect("open tenant-svc");
    let relay_stop = CancellationToken::new();
    aerie_tenant_svc::spawn_audit_relay(&tenants, &config, relay_stop.clone()).expect("relay");

    tenants
        .create("before", "Before", "cli")
        .await
        .expect("create");
    wait_until(|| async { creates_logged(&config, "before").await == 1 }).await;

    // auth-svc goes away; changes keep their entries in the outbox.
    auth.cancel();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for id in ["during-1", "during-2", "during-3"] {
        tenants
            .create(id, "While down", "cli")
            .await
            .expect("create while auth is down");
    }
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let waiting = aerie_common::audit::backlog(tenants.db())
        .await
        .expect("backlog");
    assert_eq!(
        waiting, 3,
        "entries wait in the outbox while auth-svc is down"
    );

    // auth-svc comes back: everything arrives, each entry once.
    let auth = start_auth(&config, auth_addr).await;
    wait_until(|| async {
        aerie_common::audit::backlog(tenants.db())
            .await
            .expect("backlog")
            == 0
    })
    .await;
    for id in ["before", "during-1", "during-2", "during-3"] {
        assert_eq!(creates_logged(&config, id).await, 1, "{id}");
    }
    relay_stop.cancel();
    auth.cancel();
}

#[tokio::test]
async fn redelivered_audit_entries_are_stored_once() {
    let svc = start(true).await;
    let mut audit =
        aerie_proto::auth::internal::v1::auth_internal_service_client::AuthInternalServiceClient::new(
            svc.channel.clone(),
        );
    let entry = aerie_proto::auth::internal::v1::OutboxEntry {
        id: "0b6f3a52-2f4e-4d7c-9a51-8d0d6f1c2b11".into(),
        tenant: String::new(),
        resource_type: "TENANT".into(),
        resource_id: "x".into(),
        action: "CREATE".into(),
        actor: "test".into(),
        time: None,
        details_json: "{}".into(),
    };
    let send = |token: &str| {
        let mut request =
            tonic::Request::new(aerie_proto::auth::internal::v1::RecordAuditEntriesRequest {
                entries: vec![entry.clone()],
            });
        request.metadata_mut().insert(
            aerie_common::audit::SERVICE_TOKEN_HEADER,
            token.parse().expect("ascii"),
        );
        request
    };
    let err = audit
        .record_audit_entries(send("forged"))
        .await
        .expect_err("forged");
    assert_eq!(err.code(), Code::PermissionDenied);
    let token = svc.service_token.clone();
    let first = audit
        .record_audit_entries(send(&token))
        .await
        .expect("first")
        .into_inner();
    let again = audit
        .record_audit_entries(send(&token))
        .await
        .expect("again")
        .into_inner();
    assert_eq!((first.stored, again.stored), (1, 0));
}

async fn wait_until<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "condition not reached in 15 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn reflection_v1_and_v1alpha_both_list_every_service() {
    let svc = start(true).await;
    let expected = [
        "aerie.tenant.v1.TenantService",
        "aerie.auth.v1.AuthService",
        "aerie.auth.v1.RbacService",
        "grpc.health.v1.Health",
    ];

    use tonic_reflection::pb::v1;
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut stream = v1::server_reflection_client::ServerReflectionClient::new(svc.channel.clone())
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .expect("v1 reflection")
        .into_inner();
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) = stream
        .message()
        .await
        .expect("v1 answer")
        .expect("one message")
        .message_response
    else {
        panic!("v1 did not list services");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for name in expected {
        assert!(
            names.iter().any(|n| n == name),
            "v1 lacks {name}: {names:?}"
        );
    }

    use tonic_reflection::pb::v1alpha as alpha;
    let request = alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut stream =
        alpha::server_reflection_client::ServerReflectionClient::new(svc.channel.clone())
            .server_reflection_info(tokio_stream::iter(vec![request]))
            .await
            .expect("v1alpha reflection")
            .into_inner();
    let Some(alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        stream
            .message()
            .await
            .expect("v1alpha answer")
            .expect("one message")
            .message_response
    else {
        panic!("v1alpha did not list services");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for name in expected {
        assert!(
            names.iter().any(|n| n == name),
            "v1alpha lacks {name}: {names:?}"
        );
    }
}

/// A read transaction reads one snapshot on either backend: a commit made
/// while it is open is not seen by its later statements (on PostgreSQL's
/// default READ COMMITTED it would be, and an execution could be read
/// beside task runs from a later commit). On PostgreSQL it also refuses
/// to write.
#[tokio::test]
async fn a_read_transaction_sees_one_snapshot() {
    use aerie_common::db::TenantTxn;
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let db = TestDatabase::new("snapshot").await;
    let conn = aerie_common::db::connect(&db.url).await.expect("connect");
    conn.execute_unprepared("CREATE TABLE probe (n INTEGER NOT NULL)")
        .await
        .expect("create probe");
    let tenant = aerie_common::TenantId::parse("acme").expect("tenant");
    let backend = conn.get_database_backend();
    async fn count(tx: &TenantTxn, backend: DbBackend) -> i64 {
        let query = Statement::from_string(backend, "SELECT COUNT(*) AS n FROM probe");
        let row = tx.conn().query_one_raw(query).await.expect("count");
        row.expect("row").try_get::<i64>("", "n").expect("n")
    }
    let read = TenantTxn::read(&conn, &tenant).await.expect("read");
    assert_eq!(count(&read, backend).await, 0);
    let write = TenantTxn::write(&conn, &tenant).await.expect("write");
    write
        .conn()
        .execute_unprepared("INSERT INTO probe (n) VALUES (1)")
        .await
        .expect("insert");
    write.commit().await.expect("commit");
    assert_eq!(
        count(&read, backend).await,
        0,
        "the read saw a later commit"
    );
    read.commit().await.expect("end read");
    let after = TenantTxn::read(&conn, &tenant).await.expect("read");
    assert_eq!(count(&after, backend).await, 1);
    if backend == DbBackend::Postgres {
        let refused = after
            .conn()
            .execute_unprepared("INSERT INTO probe (n) VALUES (2)")
            .await;
        assert!(refused.is_err(), "a read transaction wrote");
    }
}
