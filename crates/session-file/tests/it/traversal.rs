//! No input can make the driver touch anything outside its folder: hostile strings cannot become
//! a storage key, and hostile cookies only ever produce fresh sessions with generated ids.

use std::path::{Component, Path};
use std::sync::Arc;

use proptest::prelude::*;
use serde_json::json;
use session_core::{
    DriverRegistry, SessionConfig, SessionId, SessionManager, StorageKey, SystemClock,
};

use crate::common::{driver, files};

fn hostile() -> Vec<String> {
    let mut list: Vec<String> = [
        "../../etc/passwd",
        "..",
        ".",
        "/",
        "/etc/passwd",
        "/tmp/x",
        "a/../b",
        "..\\..\\windows\\system32",
        "%2e%2e%2f%2e%2e%2f",
        "a\0b",
        "\0",
        "",
        "~root",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    // The right length, the wrong characters.
    list.push(format!("{}/{}", "a".repeat(21), "b".repeat(21)));
    list.push(format!("../{}", "A".repeat(40)));
    list.push(".".repeat(43));
    list.push("\0".repeat(43));
    list.push(format!("/{}", "A".repeat(42)));
    list.push(format!("{}é", "A".repeat(41)));
    // The length of a storage key (22), the wrong characters.
    list.push(format!("{}/{}", "a".repeat(10), "b".repeat(11)));
    list.push(format!("../{}", "A".repeat(19)));
    list.push(".".repeat(22));
    list.push("\0".repeat(22));
    list.push(format!("/{}", "A".repeat(21)));
    list.push(format!("{}é", "A".repeat(20)));
    // A key whose last character carries padding bits.
    list.push(format!("{}B", "A".repeat(21)));
    // Very long names.
    list.push("A".repeat(44));
    list.push("A".repeat(255));
    list.push("A".repeat(100_000));
    list
}

#[test]
fn hostile_strings_cannot_become_keys() {
    for s in hostile() {
        assert!(StorageKey::parse(&s).is_none(), "{s:?}");
        assert!(SessionId::parse(&s).is_none(), "{s:?}");
    }
}

proptest! {
    #[test]
    fn strings_with_separators_never_become_keys(
        prefix in "[A-Za-z0-9_-]{0,42}",
        bad in prop::sample::select(vec!['.', '/', '\\', '\0', ':', '~', ' ', '%']),
        suffix in "[A-Za-z0-9_-]{0,42}",
    ) {
        let s = format!("{prefix}{bad}{suffix}");
        prop_assert!(StorageKey::parse(&s).is_none(), "{:?}", s);
        prop_assert!(SessionId::parse(&s).is_none(), "{:?}", s);
    }

    #[test]
    fn every_key_maps_to_two_plain_components_inside_the_folder(s in "[A-Za-z0-9_-]{21}[AQgw]") {
        let key = StorageKey::parse(&s).expect("a well-formed key");
        let dir = tempfile::tempdir().expect("temp dir");
        let driver = driver(dir.path(), Arc::new(SystemClock));
        let path = driver.session_path(&key);
        let rest = path.strip_prefix(driver.location()).expect("inside");
        prop_assert_eq!(rest.components().count(), 2);
        prop_assert!(rest.components().all(|c| matches!(c, Component::Normal(_))));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_cookies_touch_nothing_outside_the_folder() {
    let outer = tempfile::tempdir().expect("temp dir");
    let location = outer.path().join("sessions");
    let secret = outer.path().join("secret.txt");
    std::fs::write(&secret, b"do not touch").expect("sentinel");
    let mut registry = DriverRegistry::new();
    session_file::register(&mut registry);
    let manager = SessionManager::builder(
        SessionConfig::new()
            .with_driver("file")
            .with_key("a secret of at least thirty-two bytes!!")
            .with_section("file", json!({ "location": location })),
    )
    .with_registry(registry)
    .build()
    .expect("manager");
    let mut values = hostile();
    values.push("../secret.txt".to_owned());
    values.push(secret.display().to_string());
    for value in values {
        let cookie = format!("id={value}");
        let session = manager
            .start_request([cookie.as_str()])
            .session()
            .await
            .expect("initiate");
        assert!(session.is_fresh(), "{value:?} opened a session");
        session.put("visited", true).expect("put");
        session.commit().await.expect("commit");
    }
    assert_eq!(std::fs::read(&secret).expect("sentinel"), b"do not touch");
    let mut top: Vec<_> = std::fs::read_dir(outer.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    top.sort();
    assert_eq!(top, ["secret.txt", "sessions"]);
    for file in files(&location) {
        assert_shape(&location, &file);
    }
}

/// `<location>/<shard>/<key>.session` or `.lock`, where the shard is the key's start.
fn assert_shape(location: &Path, file: &Path) {
    let rest = file.strip_prefix(location).expect("inside");
    let parts: Vec<&str> = rest
        .components()
        .map(|c| c.as_os_str().to_str().expect("utf-8"))
        .collect();
    assert_eq!(parts.len(), 2, "{file:?}");
    let key = parts[1]
        .strip_suffix(".session")
        .or_else(|| parts[1].strip_suffix(".lock"))
        .unwrap_or_else(|| panic!("unexpected file {file:?}"));
    let key = StorageKey::parse(key).unwrap_or_else(|| panic!("not a key: {file:?}"));
    assert_eq!(&key.as_str()[..2], parts[0]);
}
