//! The HTML pages: the seed's examples, clicked through over HTTP.

use session::SessionConfig;
use session_testkit::http::HttpClient;

use crate::server::serve;

#[tokio::test]
async fn the_home_page_counts_views_and_keeps_the_cart_total() {
    let app = serve(SessionConfig::new().with_driver("cookie")).await;
    let mut c = HttpClient::new(app.base());
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

#[tokio::test]
async fn login_regenerates_the_id_and_logout_clears_everything() {
    let app = serve(SessionConfig::new().with_driver("memory")).await;
    let mut c = HttpClient::new(app.base());
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

#[tokio::test]
async fn the_flash_example_shows_the_message_exactly_once() {
    let app = serve(SessionConfig::new().with_driver("cookie")).await;
    let mut c = HttpClient::new(app.base());
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

#[tokio::test]
async fn signup_errors_flash_the_input_back_without_the_password() {
    let app = serve(SessionConfig::new().with_driver("memory")).await;
    let mut c = HttpClient::new(app.base());
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

#[tokio::test]
async fn the_demo_configuration_from_the_environment() {
    let vars = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    let (config, notes) = demo::config_from_env(vars(&[])).expect("defaults");
    assert_eq!(config.driver(), "cookie");
    assert!(!config.cookie().secure(), "plain HTTP on loopback");
    assert!(
        notes.iter().any(|n| n.contains("APP_KEY is not set")),
        "{notes:?}"
    );
    assert!(session::builder(config).build().is_ok());

    let (config, notes) = demo::config_from_env(vars(&[
        ("APP_KEY", "an application key that is long enough"),
        ("SESSION_COOKIE_SECURE", "true"),
        ("SESSION_DRIVER", "memory"),
    ]))
    .expect("explicit");
    assert!(config.cookie().secure());
    assert!(notes.is_empty(), "{notes:?}");

    let (config, _) = demo::config_from_env(vars(&[("SESSION_DRIVER", "nosql")])).expect("parsed");
    let err = session::builder(config)
        .build()
        .expect_err("unknown driver");
    assert_eq!(err.option(), "driver");
    assert!(
        err.to_string().contains("cookie, file, memory, redis"),
        "{err}"
    );
}
