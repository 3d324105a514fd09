//! The extractors: once per request, flash messages, and the session in guards, in an inner
//! middleware's `ServiceResponse`, and in a plain `HttpRequest`.

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::test::{call_service, init_service, read_body, TestRequest};
use actix_web::web::Bytes;
use actix_web::{guard, web, App, HttpRequest, HttpResponse};
use session_actix::{
    Error, FlashMessages, InitiateSession, Session, SessionExt, SessionMiddleware,
};
use session_core::SessionConfig;

use crate::common::{cookie_header, counting_manager, set_cookies};

#[test]
fn the_handles_are_send_and_sync() {
    fn send_sync<T: Send + Sync + Clone + 'static>() {}
    send_sync::<Session>();
    send_sync::<session_actix::SessionReader>();
    send_sync::<FlashMessages>();
    send_sync::<SessionMiddleware>();
}

#[actix_web::test]
async fn extracting_twice_reads_the_driver_once() {
    let (manager, calls) = counting_manager(SessionConfig::new());
    let app = init_service(
        App::new()
            .route(
                "/put",
                web::post().to(|s: Session| async move {
                    s.put("n", 1)?;
                    s.flash("message", "hello")?;
                    Ok::<_, Error>("ok")
                }),
            )
            .route(
                "/twice",
                web::get().to(|a: Session, b: Session, flash: FlashMessages| async move {
                    a.increment("n")?;
                    // Both handles are the same session: b sees a's change.
                    let n: i64 = b.get_or("n", 0)?;
                    let message = flash.get_value("message")?.unwrap_or_default();
                    Ok::<_, Error>(format!("{n} {message}"))
                }),
            )
            .wrap(SessionMiddleware::new(manager)),
    )
    .await;
    let res = call_service(&app, TestRequest::post().uri("/put").to_request()).await;
    let cookie = cookie_header(&res);
    let before = calls.reads();
    let res = call_service(
        &app,
        TestRequest::get()
            .uri("/twice")
            .insert_header(("cookie", cookie.clone()))
            .to_request(),
    )
    .await;
    assert_eq!(calls.reads() - before, 1, "three extractors, one read");
    assert_eq!(read_body(res).await, Bytes::from_static(br#"2 "hello""#));
    let res = call_service(
        &app,
        TestRequest::get()
            .uri("/twice")
            .insert_header(("cookie", cookie))
            .to_request(),
    )
    .await;
    assert_eq!(
        read_body(res).await,
        Bytes::from_static(b"3 null"),
        "the flash message lived one request"
    );
}

fn signed_in(ctx: &guard::GuardContext<'_>) -> bool {
    ctx.session().is_some_and(|s| s.has("user"))
}

#[actix_web::test]
async fn guards_read_the_session_initiated_for_their_scope() {
    let (manager, calls) = counting_manager(SessionConfig::new());
    let app = init_service(
        App::new()
            .route(
                "/login",
                web::post().to(|s: Session| async move {
                    s.regenerate()?;
                    s.put("user", "ada")?;
                    Ok::<_, Error>("welcome")
                }),
            )
            .service(
                web::scope("/admin")
                    .wrap(InitiateSession::read_write())
                    .route(
                        "",
                        web::get()
                            .guard(guard::fn_guard(signed_in))
                            .to(|s: Session| async move {
                                Ok::<_, Error>(format!(
                                    "admin: {}",
                                    s.get_or("user", String::new())?
                                ))
                            }),
                    )
                    .default_service(web::to(|| async { HttpResponse::Forbidden().finish() })),
            )
            .service(
                // Without InitiateSession the guard runs before any extractor: the session is
                // not initiated yet and reads as an error, so the guard does not match.
                web::scope("/lazy")
                    .route(
                        "",
                        web::get()
                            .guard(guard::fn_guard(signed_in))
                            .to(|| async { "in" }),
                    )
                    .default_service(web::to(|| async { HttpResponse::Forbidden().finish() })),
            )
            .wrap(SessionMiddleware::new(manager)),
    )
    .await;
    let res = call_service(&app, TestRequest::get().uri("/admin").to_request()).await;
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "a visitor is not signed in"
    );
    let res = call_service(&app, TestRequest::post().uri("/login").to_request()).await;
    let cookie = cookie_header(&res);
    let reads = calls.reads();
    let res = call_service(
        &app,
        TestRequest::get()
            .uri("/admin")
            .insert_header(("cookie", cookie.clone()))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        calls.reads() - reads,
        1,
        "the guard's read is the handler's read"
    );
    assert_eq!(read_body(res).await, Bytes::from_static(b"admin: ada"));
    let res = call_service(
        &app,
        TestRequest::get()
            .uri("/lazy")
            .insert_header(("cookie", cookie))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn a_failed_read_in_initiate_session_answers_503() {
    let (manager, calls) = counting_manager(SessionConfig::new());
    let app = init_service(
        App::new()
            .route(
                "/put",
                web::post().to(|s: Session| async move {
                    s.put("user", "ada")?;
                    Ok::<_, Error>("ok")
                }),
            )
            .service(
                web::scope("/admin")
                    .wrap(InitiateSession::readonly())
                    .route("", web::get().to(|| async { "admin" })),
            )
            .wrap(SessionMiddleware::new(manager)),
    )
    .await;
    let res = call_service(&app, TestRequest::post().uri("/put").to_request()).await;
    let cookie = cookie_header(&res);
    calls.set_down(true);
    let res = call_service(
        &app,
        TestRequest::get()
            .uri("/admin")
            .insert_header(("cookie", cookie))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(set_cookies(&res).is_empty(), "{:?}", set_cookies(&res));
}

#[actix_web::test]
async fn an_inner_middleware_reads_the_session_from_the_service_response() {
    let (manager, _) = counting_manager(SessionConfig::new());
    let app = init_service(
        App::new()
            .route(
                "/login",
                web::post().to(|s: Session| async move {
                    s.put("user", "ada")?;
                    Ok::<_, Error>("welcome")
                }),
            )
            .route("/plain", web::get().to(|| async { "plain" }))
            // Registered before the session middleware, so it runs inside it: it sees the
            // response before the commit.
            .wrap_fn(|req, srv| {
                let fut = srv.call(req);
                async move {
                    let mut res: ServiceResponse<_> = fut.await?;
                    let request = res
                        .request_session()
                        .expect("the session middleware is outside");
                    let user = match request.opened_reader() {
                        Some(session) => session
                            .get_or("user", String::from("nobody"))
                            .unwrap_or_default(),
                        None => String::from("not initiated"),
                    };
                    res.headers_mut().insert(
                        HeaderName::from_static("x-user"),
                        HeaderValue::from_str(&user).unwrap(),
                    );
                    Ok::<_, actix_web::Error>(res.map_body(|_, b| b.boxed()))
                }
            })
            .wrap(SessionMiddleware::new(manager)),
    )
    .await;
    let res = call_service(&app, TestRequest::post().uri("/login").to_request()).await;
    assert_eq!(res.headers().get("x-user").unwrap(), "ada");
    assert_eq!(
        set_cookies(&res).len(),
        1,
        "and the commit still ran after it"
    );
    let res = call_service(&app, TestRequest::get().uri("/plain").to_request()).await;
    assert_eq!(res.headers().get("x-user").unwrap(), "not initiated");
}

#[actix_web::test]
async fn request_session_reads_the_session_from_a_plain_request() {
    let (manager, _) = counting_manager(SessionConfig::new());
    let app = init_service(
        App::new()
            .route(
                "/",
                web::get().to(|req: HttpRequest, s: Session| async move {
                    s.put("seen", true)?;
                    let again = req.session().expect("opened by the extractor");
                    Ok::<_, Error>(format!("{:?}", again.get_value("seen")?))
                }),
            )
            .route(
                "/missing",
                web::get().to(|req: HttpRequest| async move {
                    format!("{}", req.request_session().is_none())
                }),
            ),
    )
    .await;
    let res = call_service(&app, TestRequest::get().uri("/").to_request()).await;
    // No middleware on this app: the extractor fails with a clear 500, request_session() is None.
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = String::from_utf8_lossy(&read_body(res).await).into_owned();
    assert!(
        body.contains("not wrapped in `session_actix::SessionMiddleware`"),
        "the message names the missing middleware: {body}"
    );
    let res = call_service(&app, TestRequest::get().uri("/missing").to_request()).await;
    assert_eq!(read_body(res).await, Bytes::from_static(b"true"));

    let (manager2, _) = counting_manager(SessionConfig::new());
    let _ = manager;
    let app = init_service(
        App::new()
            .route(
                "/",
                web::get().to(|req: HttpRequest, s: Session| async move {
                    s.put("seen", true)?;
                    let again = req.session().expect("opened by the extractor");
                    Ok::<_, Error>(format!("{:?}", again.get_value("seen")?))
                }),
            )
            .wrap(SessionMiddleware::new(manager2)),
    )
    .await;
    let res = call_service(&app, TestRequest::get().uri("/").to_request()).await;
    assert_eq!(
        read_body(res).await,
        Bytes::from_static(b"Some(Bool(true))")
    );
}
