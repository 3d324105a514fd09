//! The demo app on actix-web: the same HTML pages as the axum demo (a cart total, a page-view
//! counter, login with id regeneration, the flash-message example, a sign-up form that flashes
//! its input and errors back) and the same JSON API over the session, which the HTTP scenario
//! suite drives. The templates (each page names the session calls it shows; the footer shows the
//! id shortened and whether it was regenerated), the configuration from the environment and the
//! form validation come from the `demo` crate.
//!
//! `cargo run -p demo-actix` starts it; [`app`] builds the application for tests.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{ContentType, LOCATION, USER_AGENT};
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, ResponseError};
use minijinja::Environment;
use serde::Deserialize;
use serde_json::Value;
use session_kit::actix::SessionMiddleware;
use session_kit::{Error, FlashMessages, Session, SessionManager};

/// What every page handler shares: the templates and the driver's name.
struct Pages {
    templates: Environment<'static>,
    driver: &'static str,
}

/// The demo's application with the session middleware installed. Call it inside
/// `HttpServer::new(move || demo_actix::app(manager.clone()))`.
pub fn app(
    manager: SessionManager,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let pages = web::Data::new(Pages {
        templates: demo::templates(),
        driver: manager.driver().name(),
    });
    App::new()
        .app_data(pages)
        .route("/", web::get().to(home))
        .route("/cart", web::post().to(add_to_cart))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout))
        .route("/account", web::get().to(account))
        .route("/account/logout-others", web::post().to(logout_others))
        .route("/account/logout-session", web::post().to(logout_session))
        .service(
            web::resource("/flash")
                .route(web::get().to(flash_form))
                .route(web::post().to(flash_message)),
        )
        .route("/see-message", web::get().to(see_message))
        .service(
            web::resource("/signup")
                .route(web::get().to(signup_form))
                .route(web::post().to(signup)),
        )
        .route("/api", web::get().to(api_index))
        .route("/api/health", web::get().to(|| async { "ok" }))
        .service(
            web::resource("/api/session")
                .route(web::get().to(api_all))
                .route(web::delete().to(api_clear)),
        )
        // Before `/api/session/{path}`: actix-web tries resources in registration order.
        .route("/api/session/regenerate", web::post().to(api_regenerate))
        .service(
            web::resource("/api/session/{path}")
                .route(web::get().to(api_get))
                .route(web::put().to(api_put))
                .route(web::delete().to(api_forget)),
        )
        .route(
            "/api/session/{path}/increment",
            web::post().to(api_increment),
        )
        .route(
            "/api/session/{path}/decrement",
            web::post().to(api_decrement),
        )
        .service(
            web::resource("/api/flash")
                .route(web::get().to(api_flash_messages))
                .route(web::post().to(api_flash)),
        )
        .route("/api/reflash", web::post().to(api_reflash))
        .wrap(SessionMiddleware::new(manager))
}

// ----- HTML pages -----------------------------------------------------------------------------

/// Errors of the HTML pages: session errors answer as [`Error`] does (503 when the
/// storage is down), template errors with a 500.
#[derive(Debug)]
enum PageError {
    Session(Error),
    Template(minijinja::Error),
}

impl From<Error> for PageError {
    fn from(e: Error) -> Self {
        Self::Session(e)
    }
}

impl From<demo::PageError> for PageError {
    fn from(e: demo::PageError) -> Self {
        match e {
            demo::PageError::Session(e) => Self::Session(e),
            demo::PageError::Template(e) => Self::Template(e),
        }
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Session(e) => e.fmt(f),
            Self::Template(e) => e.fmt(f),
        }
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Session(e) => e.status_code(),
            Self::Template(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Session(e) => e.error_response(),
            Self::Template(e) => {
                tracing::error!("template error: {e}");
                HttpResponse::InternalServerError().body("template error")
            }
        }
    }
}

type PageResult = Result<HttpResponse, PageError>;

fn render(pages: &Pages, name: &str, session: &Session) -> PageResult {
    let html = demo::render_page(&pages.templates, name, session, pages.driver)?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::html())
        .body(html))
}

/// A 303 See Other to `to`, as axum's `Redirect::to`.
fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, to))
        .finish()
}

async fn home(pages: web::Data<Pages>, session: Session) -> PageResult {
    session.increment("page_views")?;
    render(&pages, "home.html", &session)
}

#[derive(Deserialize)]
struct CartForm {
    amount: String,
}

async fn add_to_cart(session: Session, form: web::Form<CartForm>) -> PageResult {
    match form.amount.trim().parse::<i64>() {
        Ok(amount) => {
            // As in the seed: read the value, write it back.
            let total: i64 = session.get_or("cart_total", 0)?;
            session.put("cart_total", total.saturating_add(amount))?;
            session.flash("message", format!("Added {amount} to the cart"))?;
        }
        Err(_) => session.flash("message", "The amount must be a whole number")?,
    }
    Ok(redirect("/"))
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
}

async fn login(request: HttpRequest, session: Session, form: web::Form<LoginForm>) -> PageResult {
    let name = form.username.trim();
    if name.is_empty() {
        session.flash("message", "Enter a user name")?;
        return Ok(redirect("/"));
    }
    demo::sign_in(&session, name, agent(&request), format!("Welcome, {name}"))?;
    Ok(redirect("/"))
}

fn agent(request: &HttpRequest) -> Option<&str> {
    request
        .headers()
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
}

async fn account(pages: web::Data<Pages>, session: Session) -> PageResult {
    let Some(extra) = demo::account_context(&session).await? else {
        session.flash("message", "Sign in to see your sessions")?;
        return Ok(redirect("/"));
    };
    let html = demo::render_page_with(
        &pages.templates,
        "account.html",
        &session,
        pages.driver,
        extra,
    )?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::html())
        .body(html))
}

async fn logout_others(session: Session) -> PageResult {
    demo::log_out_others(&session).await?;
    Ok(redirect("/account"))
}

#[derive(Deserialize)]
struct HandleForm {
    handle: String,
}

async fn logout_session(session: Session, form: web::Form<HandleForm>) -> PageResult {
    demo::log_out_session(&session, &form.handle).await?;
    Ok(redirect("/account"))
}

async fn logout(session: Session) -> PageResult {
    // Clears the store and regenerates the id: the old cookie opens nothing afterwards.
    let before = demo::short_id(&session.session_id());
    session.flush()?;
    session.flash("message", "You have been logged out")?;
    session.flash(demo::REGENERATED_FROM, before)?;
    Ok(redirect("/"))
}

async fn flash_form(pages: web::Data<Pages>, session: Session) -> PageResult {
    render(&pages, "flash_form.html", &session)
}

#[derive(Deserialize)]
struct FlashForm {
    message: String,
}

async fn flash_message(session: Session, form: web::Form<FlashForm>) -> PageResult {
    session.flash("message", &form.message)?;
    Ok(redirect("/see-message"))
}

async fn see_message(pages: web::Data<Pages>, session: Session) -> PageResult {
    render(&pages, "see_message.html", &session)
}

async fn signup_form(pages: web::Data<Pages>, session: Session) -> PageResult {
    render(&pages, "signup.html", &session)
}

async fn api_index(pages: web::Data<Pages>, session: Session) -> PageResult {
    render(&pages, "api.html", &session)
}

async fn signup(
    request: HttpRequest,
    session: Session,
    input: web::Form<BTreeMap<String, String>>,
) -> PageResult {
    let input = input.into_inner();
    let errors = demo::signup_errors(&input);
    if !errors.is_empty() {
        // The input goes back to pre-fill the form, except the password.
        // The form cannot pose as the demo's own note of a regenerated id.
        session.flash_except(&input, &["password", demo::REGENERATED_FROM])?;
        session.flash_errors(errors)?;
        return Ok(redirect("/signup"));
    }
    let username = input.get("username").map(|v| v.trim()).unwrap_or("");
    let welcome = format!("Account created. Welcome, {username}");
    demo::sign_in(&session, username, agent(&request), welcome)?;
    Ok(redirect("/"))
}

// ----- JSON API -------------------------------------------------------------------------------

/// Errors of the JSON API: a JSON body with the status of the error's kind, as the axum demo.
#[derive(Debug)]
struct ApiError(Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        let (status, _) = demo::api_error_answer(&self.0);
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let (_, body) = demo::api_error_answer(&self.0);
        HttpResponse::build(self.status_code()).json(body)
    }
}

type ApiResult = Result<HttpResponse, ApiError>;

fn json(value: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok().json(value)
}

fn no_content() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

async fn api_all(session: Session) -> ApiResult {
    Ok(json(session.all()))
}

/// The `{path}` segment of a JSON API route, percent-decoded from the request's raw URL. A
/// segment that does not decode to UTF-8 is a 400, as axum's `Path<String>` answers; actix-web's
/// own `Path` would leave the bytes encoded and serve the literal text.
struct KeyParam(String);

impl std::ops::Deref for KeyParam {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl actix_web::FromRequest for KeyParam {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let raw = req
            .uri()
            .path()
            .strip_prefix("/api/session/")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default();
        std::future::ready(
            percent_decode(raw).map(KeyParam).ok_or_else(|| {
                actix_web::error::ErrorBadRequest("Invalid URL: the path is not UTF-8")
            }),
        )
    }
}

/// Decodes `%XX` escapes; `None` when an escape is malformed or the bytes are not UTF-8.
fn percent_decode(raw: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut rest = raw.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = tail.get(..2)?;
            let hex = std::str::from_utf8(hex).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

async fn api_get(session: Session, path: KeyParam) -> ApiResult {
    Ok(json(session.get(&path)?.unwrap_or(Value::Null)))
}

async fn api_put(session: Session, path: KeyParam, value: web::Json<Value>) -> ApiResult {
    session.put(&path, value.into_inner())?;
    Ok(no_content())
}

async fn api_forget(session: Session, path: KeyParam) -> ApiResult {
    session.forget(&path)?;
    Ok(no_content())
}

async fn api_increment(session: Session, path: KeyParam) -> ApiResult {
    Ok(json(session.increment(&path)?))
}

async fn api_decrement(session: Session, path: KeyParam) -> ApiResult {
    Ok(json(session.decrement(&path)?))
}

async fn api_clear(session: Session) -> ApiResult {
    session.clear()?;
    Ok(no_content())
}

async fn api_regenerate(session: Session) -> ApiResult {
    session.regenerate()?;
    Ok(no_content())
}

async fn api_flash(session: Session, messages: web::Json<Value>) -> ApiResult {
    session.flash_object(messages.into_inner())?;
    Ok(no_content())
}

async fn api_reflash(session: Session) -> ApiResult {
    session.reflash()?;
    Ok(no_content())
}

async fn api_flash_messages(flash: FlashMessages) -> HttpResponse {
    json(flash.all())
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn key_params_decode_strictly() {
        assert_eq!(percent_decode("user.name").as_deref(), Some("user.name"));
        assert_eq!(percent_decode("a%5Bb%5D").as_deref(), Some("a[b]"));
        assert_eq!(percent_decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(percent_decode("%FF%FE"), None);
        assert_eq!(percent_decode("%F"), None);
        assert_eq!(percent_decode("%zz"), None);
    }
}
