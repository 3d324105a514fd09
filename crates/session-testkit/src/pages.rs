//! The demo's HTML pages (the AdonisJS guide's examples), clicked through over HTTP. Both demos
//! (axum and actix-web) serve the same pages; their tests run these checks.

use crate::http::HttpClient;

/// The home page counts views, keeps the cart total posted from its form, and shows the flash message once.
///
/// # Panics
///
/// Panics when the app does not behave so (a test failure).
///
/// ```no_run
/// # async fn example() {
/// // With the demo listening on 127.0.0.1:3000:
/// session_testkit::pages::the_home_page_counts_views_and_keeps_the_cart_total("http://127.0.0.1:3000").await;
/// # }
/// ```
pub async fn the_home_page_counts_views_and_keeps_the_cart_total(base: &str) {
    let mut c = HttpClient::new(base);
    let r = c.send("GET", "/", None).await;
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains(r#"<strong id="page-views">1</strong>"#),
        "{}",
        r.body
    );
    let r = c.send("GET", "/", None).await;
    assert!(
        r.body.contains(r#"<strong id="page-views">2</strong>"#),
        "{}",
        r.body
    );
    let r = c.send_form("/cart", &[("amount", "25")]).await;
    assert_eq!((r.status, r.location.as_deref()), (303, Some("/")));
    c.send_form("/cart", &[("amount", "10")]).await;
    let r = c.send("GET", "/", None).await;
    assert!(
        r.body.contains(r#"<strong id="cart-total">35</strong>"#),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("Added 10 to the cart"),
        "the flash message shows once"
    );
    let r = c.send("GET", "/", None).await;
    assert!(!r.body.contains("Added 10 to the cart"), "and only once");
}

/// Logging in regenerates the id (the pre-login id opens nothing) and keeps the data; logging out clears everything.
///
/// # Panics
///
/// Panics when the app does not behave so (a test failure).
///
/// ```no_run
/// # async fn example() {
/// // With the demo listening on 127.0.0.1:3000:
/// session_testkit::pages::login_regenerates_the_id_and_logout_clears_everything("http://127.0.0.1:3000").await;
/// # }
/// ```
pub async fn login_regenerates_the_id_and_logout_clears_everything(base: &str) {
    let mut c = HttpClient::new(base);
    c.send("GET", "/", None).await;
    c.send_form("/cart", &[("amount", "5")]).await;
    let before = c.cookies().get("id").cloned();
    let planted = c.clone();
    let r = c.send_form("/login", &[("username", "ada")]).await;
    assert_eq!(r.status, 303);
    assert_ne!(c.cookies().get("id"), before.as_ref(), "a new id at login");
    let r = c.send("GET", "/", None).await;
    assert!(r.body.contains("Welcome, ada"), "{}", r.body);
    assert!(
        r.body.contains("signed in as <strong>ada</strong>"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains(r#"<strong id="cart-total">5</strong>"#),
        "data kept"
    );
    // The id from before login (a fixation attempt) opens nothing.
    let mut planted = planted;
    let r = planted.send("GET", "/api/session", None).await;
    assert_eq!(r.json(), serde_json::json!({}));
    c.send_form("/logout", &[]).await;
    let r = c.send("GET", "/", None).await;
    assert!(r.body.contains("You have been logged out"), "{}", r.body);
    assert!(!r.body.contains("signed in as"), "{}", r.body);
    assert!(
        r.body.contains(r#"<strong id="cart-total">0</strong>"#),
        "{}",
        r.body
    );
}

/// The seed's flash example: the flashed message shows on the next page, escaped, exactly once.
///
/// # Panics
///
/// Panics when the app does not behave so (a test failure).
///
/// ```no_run
/// # async fn example() {
/// // With the demo listening on 127.0.0.1:3000:
/// session_testkit::pages::the_flash_example_shows_the_message_exactly_once("http://127.0.0.1:3000").await;
/// # }
/// ```
pub async fn the_flash_example_shows_the_message_exactly_once(base: &str) {
    let mut c = HttpClient::new(base);
    let r = c.send_form("/flash", &[("message", "Hello <world>")]).await;
    assert_eq!(r.location.as_deref(), Some("/see-message"));
    let r = c.send("GET", "/see-message", None).await;
    assert!(
        r.body.contains("Hello &lt;world&gt;"),
        "escaped and shown: {}",
        r.body
    );
    let r = c.send("GET", "/see-message", None).await;
    assert!(r.body.contains(r#"id="no-message""#), "{}", r.body);
}

/// A sign-up with errors flashes the input back (never the password) and the errors next to the fields, for one request.
///
/// # Panics
///
/// Panics when the app does not behave so (a test failure).
///
/// ```no_run
/// # async fn example() {
/// // With the demo listening on 127.0.0.1:3000:
/// session_testkit::pages::signup_errors_flash_the_input_back_without_the_password("http://127.0.0.1:3000").await;
/// # }
/// ```
pub async fn signup_errors_flash_the_input_back_without_the_password(base: &str) {
    let mut c = HttpClient::new(base);
    let r = c
        .send_form(
            "/signup",
            &[
                ("username", "ada"),
                ("email", "nope"),
                ("password", "hunter2"),
            ],
        )
        .await;
    assert_eq!(r.location.as_deref(), Some("/signup"));
    let r = c.send("GET", "/signup", None).await;
    assert!(
        r.body.contains(r#"name="username" value="ada""#),
        "{}",
        r.body
    );
    assert!(
        r.body.contains(r#"name="email" value="nope""#),
        "{}",
        r.body
    );
    assert!(!r.body.contains("hunter2"), "the password is never flashed");
    assert!(
        r.body
            .contains(r#"id="error-email">Enter a valid email address"#),
        "{}",
        r.body
    );
    assert!(r
        .body
        .contains(r#"id="error-password">The password needs at least 8 characters"#));
    assert!(!r.body.contains(r#"id="error-username""#));
    let r = c.send("GET", "/signup", None).await;
    assert!(
        !r.body.contains("Enter a valid email"),
        "errors live one request"
    );
    let r = c
        .send_form(
            "/signup",
            &[
                ("username", "ada"),
                ("email", "ada@example.com"),
                ("password", "correct horse"),
            ],
        )
        .await;
    assert_eq!(r.location.as_deref(), Some("/"));
    let r = c.send("GET", "/", None).await;
    assert!(
        r.body.contains("Account created. Welcome, ada"),
        "{}",
        r.body
    );
}
