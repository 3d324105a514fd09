//! Logging a tag out everywhere with the cookie driver: a tag store keeps the tag's "valid from"
//! time; the sessions of the tag tagged before it read as fresh, but the one kept.

use std::sync::Arc;
use std::time::Duration;

use session_core::{
    DriverRegistry, Error, ErrorKind, ManualClock, MemoryDriver, SessionConfig, SessionManager,
};
use session_testkit::Browser;

use crate::common::{manager, IDLE, SECRET};

fn with_tag_store(clock: &ManualClock) -> (SessionManager, Arc<MemoryDriver>) {
    let store = Arc::new(MemoryDriver::new().with_clock(Arc::new(clock.clone())));
    let mut registry = DriverRegistry::new();
    session_cookie::register(&mut registry);
    let manager = SessionManager::builder(
        SessionConfig::new()
            .with_driver("cookie")
            .with_age(IDLE)
            .with_key(SECRET),
    )
    .with_registry(registry)
    .tag_store(store.clone())
    .with_clock(Arc::new(clock.clone()))
    .build()
    .unwrap_or_else(|e| panic!("valid configuration: {e}"));
    (manager, store)
}

async fn log_in(b: &mut Browser, tag: &str, agent: &str) {
    b.request(|s| {
        s.regenerate()?;
        s.tag(tag)?;
        s.put("agent", agent)
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
}

async fn agent(b: &mut Browser) -> Option<String> {
    b.request(|s| s.get::<String>("agent"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_handle_kept_from_outside_the_request_stays_logged_in_and_can_regenerate() {
    let clock = ManualClock::starting_now();
    let (manager, store) = with_tag_store(&clock);
    let (mut phone, mut laptop) = (Browser::new(manager.clone()), Browser::new(manager.clone()));
    log_in(&mut phone, "ada", "phone").await;
    log_in(&mut laptop, "ada", "laptop").await;
    let laptop_handle = laptop
        .readonly_request(|s| Ok(s.session_id().storage_key()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    clock.advance(Duration::from_secs(1));
    // From an admin task, say: keep the laptop.
    let count = manager
        .destroy_tagged_sessions("ada", Some(&laptop_handle))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(count, None, "the cookie driver cannot count the sessions");
    assert_eq!(store.len(), 1, "one record in the tag store");

    assert_eq!(agent(&mut phone).await, None);
    // The kept laptop: a readonly request sees its login, the next request re-tags it.
    let seen = laptop
        .readonly_request(|s| s.get::<String>("agent"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(seen.as_deref(), Some("laptop"));
    assert_eq!(agent(&mut laptop).await.as_deref(), Some("laptop"));
    clock.advance(Duration::from_secs(1));
    laptop
        .request(|s| s.regenerate())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(agent(&mut laptop).await.as_deref(), Some("laptop"));

    // The tag store's record lasts an idle age: by then every session it invalidated expired.
    clock.advance(IDLE + Duration::from_secs(1));
    assert_eq!(store.sweep(), 1);
    assert!(store.is_empty());
}

#[tokio::test]
async fn a_logged_out_cookie_loses_its_data_cookie_on_an_untouched_request() {
    let clock = ManualClock::starting_now();
    let (manager, _store) = with_tag_store(&clock);
    let (mut phone, mut laptop) = (Browser::new(manager.clone()), Browser::new(manager.clone()));
    log_in(&mut phone, "ada", "phone").await;
    log_in(&mut laptop, "ada", "laptop").await;
    clock.advance(Duration::from_secs(1));
    let request = laptop.begin();
    let session = request.session().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(session.destroy_other_sessions().await.ok(), Some(None));
    laptop
        .finish(&session)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // An untouched request (an image) of the phone past its refresh point removes its data.
    clock.advance(IDLE / 2);
    assert!(phone.cookies().contains_key("id.d"));
    phone
        .untouched_request()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !phone.cookies().contains_key("id.d"),
        "{:?}",
        phone.cookies()
    );
    assert_eq!(agent(&mut phone).await, None);
    assert_eq!(agent(&mut laptop).await.as_deref(), Some("laptop"));
}

#[tokio::test]
async fn without_a_tag_store_tagging_is_a_typed_error_naming_the_option() {
    let clock = ManualClock::starting_now();
    let manager = manager(&clock);
    assert!(!manager.supports_tagging());
    let mut b = Browser::new(manager.clone());
    let err = b.request(|s| s.tag("ada")).await.unwrap_err();
    assert!(matches!(
        err,
        Error::TaggingNotSupported {
            driver: "cookie",
            ..
        }
    ));
    assert_eq!(err.kind(), ErrorKind::Usage);
    assert!(
        err.to_string().contains("SessionManagerBuilder::tag_store"),
        "{err}"
    );
    assert!(matches!(
        manager.destroy_tagged_sessions("ada", None).await,
        Err(Error::TaggingNotSupported { .. })
    ));
}

#[tokio::test]
async fn with_a_tag_store_listing_is_still_refused() {
    let clock = ManualClock::starting_now();
    let (manager, _store) = with_tag_store(&clock);
    let err = manager.tagged_sessions("ada").await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::TaggingNotSupported {
                operation: "list sessions",
                ..
            }
        ),
        "{err}"
    );
}
