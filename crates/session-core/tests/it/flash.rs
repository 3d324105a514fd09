//! Two-request flash scenarios for every flash and reflash method (semantics §3).

use serde_json::{json, Value};
use session_core::{Error, ErrorKind};

use crate::common::memory;

async fn next_messages(b: &mut session_testkit::Browser) -> Value {
    let m = b
        .request(|s| Ok(s.flash_messages().all().clone()))
        .await
        .expect("read messages");
    Value::Object(m)
}

#[tokio::test]
async fn flash_key_value_and_nested_paths() {
    let mut b = memory();
    b.request(|s| {
        s.flash("message", "Hello world")?;
        s.flash("errors.title", "Post title is required")?;
        s.flash("falsy", false)
    })
    .await
    .expect("flash");
    let m = b.request(|s| Ok(s.flash_messages())).await.expect("read");
    assert_eq!(
        m.get_value("message").expect("path"),
        Some(json!("Hello world"))
    );
    assert_eq!(
        m.get_value("errors.title").expect("path"),
        Some(json!("Post title is required"))
    );
    assert!(m.has("falsy"));
    assert!(!m.is_empty());
    assert_eq!(
        next_messages(&mut b).await,
        json!({}),
        "messages live one request"
    );
}

#[tokio::test]
async fn flash_object_deep_merges_and_accumulates() {
    let mut b = memory();
    b.request(|s| {
        s.flash_object(json!({"errors": {"title": "Title is required"}}))?;
        s.flash_object(json!({"errors": {"description": "Description is required"}}))
    })
    .await
    .expect("flash");
    assert_eq!(
        next_messages(&mut b).await,
        json!({"errors": {"title": "Title is required", "description": "Description is required"}})
    );
}

#[tokio::test]
async fn flash_all_only_and_except_put_input_at_the_top_level_and_the_last_wins() {
    let input =
        json!({"title": "Hi", "body": {"text": "x", "draft": true}, "password": "p", "_csrf": "t"});
    let mut b = memory();
    b.request(|s| s.flash_all(&input)).await.expect("all");
    assert_eq!(next_messages(&mut b).await, input);

    b.request(|s| s.flash_only(&input, &["title", "body.text"]))
        .await
        .expect("only");
    assert_eq!(
        next_messages(&mut b).await,
        json!({"title": "Hi", "body": {"text": "x"}})
    );

    b.request(|s| s.flash_except(&input, &["password", "_csrf", "body.draft"]))
        .await
        .expect("except");
    assert_eq!(
        next_messages(&mut b).await,
        json!({"title": "Hi", "body": {"text": "x"}})
    );

    b.request(|s| {
        s.flash_all(&input)?;
        s.flash_only(&input, &["title"])
    })
    .await
    .expect("last wins");
    assert_eq!(next_messages(&mut b).await, json!({"title": "Hi"}));
}

#[tokio::test]
async fn flash_errors_lands_under_errors() {
    let mut b = memory();
    b.request(|s| s.flash_errors(json!({"email": ["Email is required"]})))
        .await
        .expect("flash");
    assert_eq!(
        next_messages(&mut b).await,
        json!({"errors": {"email": ["Email is required"]}})
    );
}

#[tokio::test]
async fn reflash_carries_everything_over() {
    let mut b = memory();
    b.request(|s| s.flash_object(json!({"a": 1, "b": 2})))
        .await
        .expect("flash");
    let seen = b
        .request(|s| {
            s.reflash()?;
            Ok(s.flash_messages().all().clone())
        })
        .await
        .expect("reflash");
    assert_eq!(Value::Object(seen), json!({"a": 1, "b": 2}));
    assert_eq!(next_messages(&mut b).await, json!({"a": 1, "b": 2}));
    assert_eq!(next_messages(&mut b).await, json!({}));
}

#[tokio::test]
async fn reflash_only_and_except_select_and_the_last_reflash_wins() {
    let mut b = memory();
    b.request(|s| s.flash_object(json!({"errors": {"a": 1}, "success": "ok", "username": "u"})))
        .await
        .expect("flash");
    b.request(|s| s.reflash_only(&["errors"]))
        .await
        .expect("only");
    assert_eq!(next_messages(&mut b).await, json!({"errors": {"a": 1}}));

    b.request(|s| s.flash_object(json!({"errors": {"a": 1}, "success": "ok", "username": "u"})))
        .await
        .expect("flash");
    b.request(|s| {
        s.reflash()?;
        s.reflash_except(&["success", "username"])
    })
    .await
    .expect("except");
    assert_eq!(next_messages(&mut b).await, json!({"errors": {"a": 1}}));
}

#[tokio::test]
async fn reflashed_input_and_flashed_merge_with_later_ones_winning() {
    let mut b = memory();
    b.request(|s| s.flash_object(json!({"k": "old", "only_old": 1})))
        .await
        .expect("flash");
    b.request(|s| {
        s.flash("k", "new")?;
        s.flash_all(json!({"k": "input", "field": "v"}))?;
        s.reflash()
    })
    .await
    .expect("mix");
    assert_eq!(
        next_messages(&mut b).await,
        json!({"k": "new", "only_old": 1, "field": "v"})
    );
}

#[tokio::test]
async fn flash_methods_refuse_non_object_input() {
    let mut b = memory();
    let err = b
        .request(|s| s.flash_all(json!([1, 2])))
        .await
        .expect_err("array input");
    assert!(matches!(err, Error::NotAnObject { what: "input" }), "{err}");
    assert_eq!(err.kind(), ErrorKind::Data);
    let err = b
        .request(|s| s.flash_object(json!("text")))
        .await
        .expect_err("string messages");
    assert!(
        matches!(err, Error::NotAnObject { what: "messages" }),
        "{err}"
    );
}

#[tokio::test]
async fn consuming_messages_is_a_modification_even_when_nothing_else_changed() {
    let mut b = memory();
    b.request(|s| {
        s.put("n", 1)?;
        s.flash("m", 1)
    })
    .await
    .expect("flash");
    assert_eq!(next_messages(&mut b).await, json!({"m": 1}));
    assert_eq!(next_messages(&mut b).await, json!({}));
    assert_eq!(b.request(|s| s.get("n")).await.expect("n"), Some(json!(1)));
}

#[tokio::test]
async fn a_message_flashed_by_a_concurrent_request_is_not_consumed_by_another() {
    let mut b = memory();
    b.request(|s| s.flash("first", 1)).await.expect("flash");
    // Request A reads (and so consumes) "first" …
    let a = b.begin().session().await.expect("A");
    assert!(a.flash_messages().has("first"));
    // … while request B flashes "second" and commits first.
    let mut other = b.clone();
    other
        .request(|s| {
            s.reflash()?;
            s.flash("second", 2)
        })
        .await
        .expect("B");
    a.commit().await.expect("A commit");
    let m = next_messages(&mut b).await;
    assert_eq!(
        m["second"],
        json!(2),
        "B's message survived A's consumption: {m}"
    );
}

#[tokio::test]
async fn flat_form_keys_are_nested_so_old_input_is_found_by_path() {
    let mut b = memory();
    b.request(|s| {
        s.flash_except(
            json!({"user[name]": "ada", "user[email]": "a@b.c", "user[password]": "x", "plain": 1}),
            &["user.password"],
        )
    })
    .await
    .expect("flash");
    let m = b.request(|s| Ok(s.flash_messages())).await.expect("read");
    assert_eq!(m.get_value("user[name]").expect("path"), Some(json!("ada")));
    assert_eq!(
        m.get_value("user.email").expect("path"),
        Some(json!("a@b.c"))
    );
    assert_eq!(m.get_value("user.password").expect("path"), None);
    assert_eq!(m.get_value("plain").expect("path"), Some(json!(1)));
}
