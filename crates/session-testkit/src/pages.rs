//! The demo's HTML pages (the AdonisJS guide's examples), clicked through over HTTP. Both demos
//! (axum and actix-web) serve the same pages; their tests run these checks. Each page names the
//! session calls behind it, and its footer shows the session id shortened and whether it was
//! regenerated.

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

/// The text of the first element whose opening tag contains `marker` (such as
/// `id="session-id"`), up to the next `<` (the element's leading text).
fn element_text<'a>(body: &'a str, marker: &str) -> Option<&'a str> {
    let start = body.find(marker)?;
    let rest = &body[start..];
    let text = &rest[rest.find('>')? + 1..];
    Some(&text[..text.find('<')?])
}

/// The paragraph whose opening tag contains `marker`, markup included, up to its `</p>`.
fn paragraph<'a>(body: &'a str, marker: &str) -> Option<&'a str> {
    let rest = &body[body.find(marker)?..];
    Some(&rest[..rest.find("</p>")?])
}

/// The shortened session id in a page's footer: 8 characters and `…`, a prefix of the id the id
/// cookie carries (the signed cookie value starts with the id), never more of it.
fn footer_id(body: &str, id_cookie: Option<&String>, page: &str) -> String {
    let short = element_text(body, r#"id="session-id""#)
        .unwrap_or_else(|| panic!("{page}: no shortened session id in the footer: {body}"));
    let head = short
        .strip_suffix('…')
        .unwrap_or_else(|| panic!("{page}: the shortened id ends with …: {short:?}"));
    assert_eq!(head.chars().count(), 8, "{page}: 8 characters: {short:?}");
    let cookie = id_cookie.unwrap_or_else(|| panic!("{page}: no id cookie"));
    assert!(
        cookie.starts_with(head),
        "{page}: {short:?} is the start of the id in the cookie {cookie:?}"
    );
    let longer = cookie
        .get(..9)
        .expect("an id cookie longer than 9 characters");
    assert!(
        !body.contains(longer),
        "{page}: more than 8 characters of the id are shown: {body}"
    );
    short.to_owned()
}

/// Every page's footer shows the session id shortened (8 characters and `…`, never the whole
/// id) and whether it is new, kept or regenerated in this request; at login the id changes and
/// the next page says it was regenerated, from which id, for that one request.
///
/// # Panics
///
/// Panics when the app does not behave so (a test failure).
///
/// ```no_run
/// # async fn example() {
/// // With the demo listening on 127.0.0.1:3000:
/// session_testkit::pages::every_page_shows_the_short_id_and_login_regenerates_it("http://127.0.0.1:3000").await;
/// # }
/// ```
pub async fn every_page_shows_the_short_id_and_login_regenerates_it(base: &str) {
    let mut c = HttpClient::new(base);
    let r = c.send("GET", "/", None).await;
    assert_eq!(r.status, 200);
    let first = footer_id(&r.body, c.cookies().get("id"), "the first visit");
    assert!(
        r.body.contains(r#"id="id-status" data-status="new""#),
        "a first visit gets a new id: {}",
        r.body
    );
    for page in ["/", "/flash", "/see-message", "/signup", "/api"] {
        let r = c.send("GET", page, None).await;
        assert_eq!(r.status, 200, "{page}");
        assert_eq!(footer_id(&r.body, c.cookies().get("id"), page), first);
        assert!(
            r.body.contains(r#"id="id-status" data-status="kept""#),
            "{page}: the id is kept: {}",
            r.body
        );
        assert!(!r.body.contains(r#"id="id-regenerated""#), "{page}");
    }

    let r = c.send_form("/login", &[("username", "ada")]).await;
    assert_eq!(r.status, 303);
    let r = c.send("GET", "/", None).await;
    let second = footer_id(&r.body, c.cookies().get("id"), "after login");
    assert_ne!(second, first, "login gives a new id");
    let note = paragraph(&r.body, r#"id="id-regenerated""#).unwrap_or_else(|| {
        panic!(
            "the page after login says the id was regenerated: {}",
            r.body
        )
    });
    assert!(note.contains("regenerated"), "{note}");
    assert!(
        note.contains(&format!("it was <code>{first}</code>")),
        "the old id: {note}"
    );
    assert!(
        note.contains(&format!("is now <code>{second}</code>")),
        "the new id: {note}"
    );
    let r = c.send("GET", "/", None).await;
    assert_eq!(footer_id(&r.body, c.cookies().get("id"), "reload"), second);
    assert!(
        !r.body.contains(r#"id="id-regenerated""#),
        "the note lives one request: {}",
        r.body
    );

    c.send_form("/logout", &[]).await;
    let r = c.send("GET", "/", None).await;
    let third = footer_id(&r.body, c.cookies().get("id"), "after logout");
    assert_ne!(third, second, "logout gives a new id");
    assert!(
        r.body.contains(&format!("it was <code>{second}</code>")),
        "{}",
        r.body
    );
}

/// Each page names the session calls behind what it shows, and the JSON API's page (`/api`)
/// lists the endpoints with their calls and links back to the home page.
///
/// # Panics
///
/// Panics when the app does not behave so (a test failure).
///
/// ```no_run
/// # async fn example() {
/// // With the demo listening on 127.0.0.1:3000:
/// session_testkit::pages::every_page_names_its_session_calls("http://127.0.0.1:3000").await;
/// # }
/// ```
pub async fn every_page_names_its_session_calls(base: &str) {
    let mut c = HttpClient::new(base);
    for (page, calls) in [
        (
            "/",
            &[
                r#"session.increment("page_views")"#,
                r#"session.get_or("cart_total", 0)"#,
                "session.put(...)",
                "session.regenerate()",
            ][..],
        ),
        ("/flash", &[r#"session.flash("message", ...)"#][..]),
        ("/see-message", &["session.flash_messages()"][..]),
        (
            "/signup",
            &[
                "session.flash_except(",
                "session.flash_errors(errors)",
                "session.regenerate()",
            ][..],
        ),
        ("/api", &["session.all()", "session.flash_object(body)"][..]),
    ] {
        let r = c.send("GET", page, None).await;
        assert_eq!(r.status, 200, "{page}");
        assert!(r.body.contains(r#"class="explain""#), "{page}: {}", r.body);
        for call in calls {
            assert!(r.body.contains(call), "{page} names {call}: {}", r.body);
        }
        assert!(r.body.contains(r#"<a href="/api">"#), "{page}: the nav");
    }
    let r = c.send("GET", "/api", None).await;
    assert!(
        r.body
            .contains(r#"<a href="/" id="back-home">Back to the home page</a>"#),
        "{}",
        r.body
    );
    c.send_form("/login", &[("username", "ada")]).await;
    let r = c.send("GET", "/", None).await;
    assert!(r.body.contains("session.flush()"), "{}", r.body);
}

/// The handles of the sessions an account page lists, and which one it marks as this browser's.
fn listed_sessions(body: &str) -> (Vec<String>, Option<String>) {
    let mut handles = Vec::new();
    let mut current = None;
    for row in body.split(r#"<tr class="session" data-handle=""#).skip(1) {
        let Some((handle, rest)) = row.split_once('"') else {
            continue;
        };
        let tag_end = rest.find('>').unwrap_or(rest.len());
        if rest[..tag_end].contains(r#"data-current="yes""#) {
            current = Some(handle.to_owned());
        }
        handles.push(handle.to_owned());
    }
    (handles, current)
}

/// The user a browser is signed in as, asked through the JSON API.
async fn signed_in_as(c: &mut HttpClient) -> Option<String> {
    let r = c.send("GET", "/api/session/user", None).await;
    r.json().as_str().map(str::to_owned)
}

/// The account page, with three browsers signed in as one user and one as another: it lists the
/// user's sessions and marks this browser's (when the driver can list them: every server-side
/// driver), logs out one device by its handle (but not another user's), logs out everywhere
/// else (on every driver, the cookie driver through its tag store), and "log out this device"
/// ends the browser's own session. A visitor is sent home.
///
/// # Panics
///
/// Panics when the app does not behave so (a test failure).
///
/// ```no_run
/// # async fn example() {
/// // With the demo listening on 127.0.0.1:3000:
/// session_testkit::pages::the_account_page_lists_devices_and_logs_out_everywhere_else("http://127.0.0.1:3000").await;
/// # }
/// ```
pub async fn the_account_page_lists_devices_and_logs_out_everywhere_else(base: &str) {
    // Storage may be shared between tests: a user name of this run only.
    let id = session_core::SessionId::generate().storage_key();
    let user = format!("ada-{}", id.short());
    let stranger = format!("bob-{}", id.short());

    let r = HttpClient::new(base).send("GET", "/account", None).await;
    assert_eq!(
        (r.status, r.location.as_deref()),
        (303, Some("/")),
        "a visitor is sent home"
    );

    let mut devices: Vec<HttpClient> = (0..3).map(|_| HttpClient::new(base)).collect();
    for c in &mut devices {
        let r = c.send_form("/login", &[("username", &user)]).await;
        assert_eq!(r.status, 303);
    }
    let mut other = HttpClient::new(base);
    other.send_form("/login", &[("username", &stranger)]).await;

    let page = devices[0].send("GET", "/account", None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let listing = page.body.contains(r#"data-listing="yes""#);
    if listing {
        let (handles, current) = listed_sessions(&page.body);
        assert_eq!(handles.len(), 3, "the user's three sessions: {}", page.body);
        let laptop = current.expect("this browser's session is marked");
        // The phone's handle, as its own account page marks it.
        let phone_page = devices[1].send("GET", "/account", None).await;
        let phone = listed_sessions(&phone_page.body).1.expect("marked");
        assert!(handles.contains(&phone) && phone != laptop);
        let other_page = other.send("GET", "/account", None).await;
        let (other_handles, other_current) = listed_sessions(&other_page.body);
        assert_eq!(
            other_handles.len(),
            1,
            "another user sees only their own session"
        );
        let other_handle = other_current.expect("marked");

        // Another user's handle does nothing.
        devices[0]
            .send_form("/account/logout-session", &[("handle", &other_handle)])
            .await;
        let page = devices[0].send("GET", "/account", None).await;
        assert!(
            page.body.contains("That session had already ended"),
            "{}",
            page.body
        );
        assert_eq!(
            signed_in_as(&mut other).await.as_deref(),
            Some(stranger.as_str())
        );

        // Log out the phone.
        let r = devices[0]
            .send_form("/account/logout-session", &[("handle", &phone)])
            .await;
        assert_eq!((r.status, r.location.as_deref()), (303, Some("/account")));
        let page = devices[0].send("GET", "/account", None).await;
        assert!(
            page.body.contains("Logged out the session"),
            "{}",
            page.body
        );
        assert_eq!(listed_sessions(&page.body).0.len(), 2, "{}", page.body);
        assert_eq!(
            signed_in_as(&mut devices[1]).await,
            None,
            "the phone is logged out"
        );
        // The phone signs in again, for the next step.
        devices[1].send_form("/login", &[("username", &user)]).await;
    } else {
        assert!(page.body.contains(r#"data-listing="no""#), "{}", page.body);
    }

    // Log out everywhere else.
    let r = devices[0].send_form("/account/logout-others", &[]).await;
    assert_eq!((r.status, r.location.as_deref()), (303, Some("/account")));
    let page = devices[0].send("GET", "/account", None).await;
    assert!(page.body.contains("Logged out"), "{}", page.body);
    if listing {
        assert!(
            page.body.contains("Logged out 2 other sessions"),
            "{}",
            page.body
        );
        assert_eq!(listed_sessions(&page.body).0.len(), 1, "{}", page.body);
    }
    let mut signed_in = Vec::new();
    for c in devices.iter_mut().chain([&mut other]) {
        signed_in.push(signed_in_as(c).await);
    }
    assert_eq!(
        signed_in,
        [Some(user.clone()), None, None, Some(stranger.clone())],
        "after log out everywhere else from the first browser"
    );

    // Log out this device.
    let r = devices[0].send_form("/logout", &[]).await;
    assert_eq!(r.status, 303);
    assert_eq!(signed_in_as(&mut devices[0]).await, None);
    let r = devices[0].send("GET", "/account", None).await;
    assert_eq!(r.status, 303, "signed out, the account page sends home");
}
