//! The middleware: cookies on every response, the commit table's driver calls, error answers,
//! streaming bodies.

use std::time::Duration;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::http::StatusCode;
use actix_web::test::{call_service, init_service, read_body, TestRequest};
use actix_web::web::Bytes;
use actix_web::{web, App, HttpResponse};
use session_actix::{Error, Session, SessionMiddleware, SessionReader};
use session_core::adapter::ErrorAnswer;
use session_core::{Refresh, SessionConfig};

use crate::common::{cookie_header, counting_manager, set_cookies};

async fn put_user(session: Session) -> Result<&'static str, Error> {
    session.put("user", "ada")?;
    Ok("stored")
}

async fn get_user(session: Session) -> Result<String, Error> {
    session.get_or("user", String::new())
}

#[actix_web::test]
async fn a_new_visitor_gets_an_id_cookie_even_when_the_handler_ignores_the_session() {
    let (manager, calls) = counting_manager(SessionConfig::new());
    let app = init_service(
        App::new()
            .route("/", web::get().to(|| async { "no session here" }))
            .wrap(SessionMiddleware::new(manager)),
    )
    .await;
    let res = call_service(&app, TestRequest::get().uri("/").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookies = set_cookies(&res);
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    assert!(cookies[0].starts_with("id="), "{cookies:?}");
    assert!(cookies[0].contains("HttpOnly"), "{cookies:?}");
    assert_eq!(
        res.headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
        Some("private, no-store"),
        "a response that sets a session cookie is not for shared caches"
    );
    assert_eq!(
        (calls.reads(), calls.writes(), calls.touches()),
        (0, 0, 0),
        "a new visitor that never used the session costs no storage"
    );
}

#[actix_web::test]
async fn values_survive_across_requests_and_an_unused_session_is_touched() {
    // `refresh = always`: every request slides the expiry (the default waits for 20% of it).
    let (manager, calls) = counting_manager(SessionConfig::new().with_refresh(Refresh::Always));
    let app = init_service(
        App::new()
            .route("/put", web::post().to(put_user))
            .route("/get", web::get().to(get_user))
            .route("/static", web::get().to(|| async { "a static file" }))
            .wrap(SessionMiddleware::new(manager)),
    )
    .await;
    let res = call_service(&app, TestRequest::post().uri("/put").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(calls.writes(), 1);
    let cookie = cookie_header(&res);

    let res = call_service(
        &app,
        TestRequest::get()
            .uri("/static")
            .insert_header(("cookie", cookie.clone()))
            .to_request(),
    )
    .await;
    assert_eq!(
        (calls.reads(), calls.touches()),
        (0, 1),
        "a handler that never asked for the session costs no read, and its idle expiry slides"
    );
    assert!(
        set_cookies(&res)[0].starts_with("id="),
        "the id cookie is refreshed"
    );

    let res = call_service(
        &app,
        TestRequest::get()
            .uri("/get")
            .insert_header(("cookie", cookie))
            .to_request(),
    )
    .await;
    assert_eq!(read_body(res).await, Bytes::from_static(b"ada"));
    assert_eq!(
        (calls.reads(), calls.writes()),
        (1, 1),
        "unmodified: no write"
    );
    assert_eq!(calls.touches(), 2);
}

#[actix_web::test]
async fn a_readonly_request_gets_no_cookie_and_costs_no_write() {
    let (manager, calls) = counting_manager(SessionConfig::new());
    let app = init_service(
        App::new()
            .route("/put", web::post().to(put_user))
            .route(
                "/events",
                web::get().to(|session: SessionReader| async move {
                    Ok::<_, Error>(format!("{:?}", session.get_value("user")?))
                }),
            )
            .wrap(SessionMiddleware::new(manager)),
    )
    .await;
    let res = call_service(&app, TestRequest::post().uri("/put").to_request()).await;
    let cookie = cookie_header(&res);
    let res = call_service(
        &app,
        TestRequest::get()
            .uri("/events")
            .insert_header(("cookie", cookie))
            .to_request(),
    )
    .await;
    assert!(set_cookies(&res).is_empty(), "readonly: no cookie");
    assert!(res.headers().get(CACHE_CONTROL).is_none());
    assert_eq!(
        read_body(res).await,
        Bytes::from_static(br#"Some(String("ada"))"#)
    );
    assert_eq!((calls.writes(), calls.touches()), (1, 0));
}

#[actix_web::test]
async fn a_cache_policy_of_the_handler_is_kept() {
    let (manager, _) = counting_manager(SessionConfig::new());
    let app = init_service(
        App::new()
            .route(
                "/",
                web::get().to(|| async {
                    HttpResponse::Ok()
                        .insert_header((CACHE_CONTROL, "no-cache"))
                        .finish()
                }),
            )
            .wrap(SessionMiddleware::new(manager)),
    )
    .await;
    let res = call_service(&app, TestRequest::get().uri("/").to_request()).await;
    assert_eq!(set_cookies(&res).len(), 1);
    assert_eq!(res.headers().get(CACHE_CONTROL).unwrap(), "no-cache");
}

#[actix_web::test]
async fn a_disabled_middleware_passes_requests_through() {
    let (manager, calls) = counting_manager(SessionConfig::new().with_enabled(false));
    let app = init_service(
        App::new()
            .route("/", web::get().to(|| async { "plain" }))
            .route("/put", web::post().to(put_user))
            .wrap(SessionMiddleware::new(manager)),
    )
    .await;
    let res = call_service(&app, TestRequest::get().uri("/").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(set_cookies(&res).is_empty());
    let res = call_service(&app, TestRequest::post().uri("/put").to_request()).await;
    assert_eq!(
        res.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "no session to extract"
    );
    assert_eq!(calls.reads() + calls.writes() + calls.touches(), 0);
}

#[actix_web::test]
async fn a_failed_commit_answers_503_and_sends_no_cookie() {
    let (manager, calls) = counting_manager(SessionConfig::new());
    let app = init_service(
        App::new()
            .route("/put", web::post().to(put_user))
            .route("/get", web::get().to(get_user))
            .wrap(SessionMiddleware::new(manager)),
    )
    .await;
    let res = call_service(&app, TestRequest::post().uri("/put").to_request()).await;
    let cookie = cookie_header(&res);
    calls.set_down(true);

    // The read fails inside the extractor: Error answers.
    let res = call_service(
        &app,
        TestRequest::get()
            .uri("/get")
            .insert_header(("cookie", cookie.clone()))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    // A failed initiate makes the commit a no-op: the error answer carries no cookie.
    assert!(set_cookies(&res).is_empty(), "{:?}", set_cookies(&res));

    // A new visitor's write fails in the commit: the middleware answers, the handler's 200 is
    // never sent.
    let res = call_service(&app, TestRequest::post().uri("/put").to_request()).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        set_cookies(&res).is_empty(),
        "no cookie for data that was not stored"
    );
    assert_eq!(
        res.headers().get(CONTENT_TYPE).unwrap(),
        "text/plain; charset=utf-8"
    );
    assert_eq!(
        read_body(res).await,
        Bytes::from_static(b"Session storage is unavailable. Please try again shortly.")
    );

    calls.set_down(false);
    let res = call_service(
        &app,
        TestRequest::get()
            .uri("/get")
            .insert_header(("cookie", cookie))
            .to_request(),
    )
    .await;
    assert_eq!(
        read_body(res).await,
        Bytes::from_static(b"ada"),
        "works again"
    );
}

#[actix_web::test]
async fn the_error_handler_can_replace_the_answer() {
    let (manager, calls) = counting_manager(SessionConfig::new());
    let middleware = SessionMiddleware::new(manager).with_error_handler(|err| {
        let answer = ErrorAnswer::for_error(err);
        HttpResponse::build(StatusCode::from_u16(answer.status).unwrap())
            .insert_header(("retry-after", "5"))
            .json(serde_json::json!({ "error": answer.body, "kind": format!("{:?}", err.kind()) }))
    });
    let app = init_service(
        App::new()
            .route("/put", web::post().to(put_user))
            .wrap(middleware),
    )
    .await;
    calls.set_down(true);
    let res = call_service(&app, TestRequest::post().uri("/put").to_request()).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers().get("retry-after").unwrap(), "5");
    assert!(set_cookies(&res).is_empty());
    let body: serde_json::Value = serde_json::from_slice(&read_body(res).await).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "error": "Session storage is unavailable. Please try again shortly.",
            "kind": "Backend",
        })
    );
}

#[actix_web::test]
async fn a_streaming_response_gets_its_cookie_before_the_body_streams() {
    let (manager, calls) = counting_manager(SessionConfig::new());
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let released = std::sync::Mutex::new(Some(released));
    let released = web::Data::new(released);
    let app = init_service(
        App::new()
            .app_data(released.clone())
            .route(
                "/stream",
                web::get().to(
                    |session: Session,
                     released: web::Data<
                        std::sync::Mutex<Option<tokio::sync::oneshot::Receiver<()>>>,
                    >| async move {
                        session.put("streamed", true)?;
                        let gate = released.lock().unwrap().take().expect("one request");
                        let first = futures_util::stream::once(async {
                            Ok::<_, actix_web::Error>(Bytes::from_static(b"first "))
                        });
                        let second = futures_util::stream::once(async move {
                            // The rest of the body waits until the test has seen the headers.
                            let _ = gate.await;
                            Ok::<_, actix_web::Error>(Bytes::from_static(b"second"))
                        });
                        use futures_util::StreamExt;
                        Ok::<_, Error>(HttpResponse::Ok().streaming(first.chain(second)))
                    },
                ),
            )
            .wrap(SessionMiddleware::new(manager)),
    )
    .await;
    let res = call_service(&app, TestRequest::get().uri("/stream").to_request()).await;
    // The body has not been polled, and the second chunk cannot be produced yet: the commit has
    // already happened and the cookie is in the headers.
    assert_eq!(calls.writes(), 1, "committed before the body streams");
    let cookies = set_cookies(&res);
    assert!(cookies[0].starts_with("id="), "{cookies:?}");
    release.send(()).unwrap();
    let body = tokio::time::timeout(Duration::from_secs(5), read_body(res))
        .await
        .expect("the body finishes");
    assert_eq!(body, Bytes::from_static(b"first second"));
}

#[actix_web::test]
async fn another_cookie_with_bytes_that_are_not_ascii_does_not_cost_the_session() {
    use actix_web::http::header::{HeaderValue, COOKIE};
    let (manager, _) = counting_manager(SessionConfig::new());
    let app = init_service(
        App::new()
            .route("/put", web::post().to(put_user))
            .route("/get", web::get().to(get_user))
            .wrap(SessionMiddleware::new(manager)),
    )
    .await;
    let res = call_service(&app, TestRequest::post().uri("/put").to_request()).await;
    let session = cookie_header(&res);
    // A Latin-1 byte and a UTF-8 character in cookies of other applications on the same host:
    // `HeaderValue::to_str` refuses both, and the session must still be found.
    for other in [&b"lang=caf\xe9; "[..], "pref=caf\u{e9}; ".as_bytes()] {
        let mut header = other.to_vec();
        header.extend_from_slice(session.as_bytes());
        let value = HeaderValue::from_bytes(&header).expect("a header value");
        let req = TestRequest::get()
            .uri("/get")
            .insert_header((COOKIE, value))
            .to_request();
        let res = call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(read_body(res).await, Bytes::from_static(b"ada"));
    }
}

#[actix_web::test]
async fn an_unchanged_session_sets_no_cookie_until_its_refresh_is_due() {
    let (manager, calls) = counting_manager(SessionConfig::new());
    let app = init_service(
        App::new()
            .route("/put", web::post().to(put_user))
            .route("/get", web::get().to(get_user))
            .route("/static", web::get().to(|| async { "a static file" }))
            .wrap(SessionMiddleware::new(manager)),
    )
    .await;
    let res = call_service(&app, TestRequest::post().uri("/put").to_request()).await;
    assert_eq!(
        res.headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap()),
        Some("private, no-store"),
        "a response that sets the cookie is not cacheable"
    );
    let cookie = cookie_header(&res);
    for uri in ["/static", "/get"] {
        let res = call_service(
            &app,
            TestRequest::get()
                .uri(uri)
                .insert_header(("cookie", cookie.clone()))
                .to_request(),
        )
        .await;
        assert!(set_cookies(&res).is_empty(), "{uri}: no cookie");
        assert!(
            res.headers().get("cache-control").is_none(),
            "{uri}: a response without a session cookie stays cacheable"
        );
    }
    assert_eq!((calls.reads(), calls.touches()), (1, 0), "no refresh");
}
