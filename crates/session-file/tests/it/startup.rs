//! Start-up: the folder is created owner-only, and an unusable location is a configuration
//! error naming `file.location` and the path.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use session_core::{
    ConfigError, DriverRegistry, SessionConfig, SessionManager, SessionStore, SystemClock,
    WriteOutcome,
};
use session_file::FileDriver;

use crate::common::{driver, key, record};

fn build(section: Option<serde_json::Value>) -> Result<SessionManager, ConfigError> {
    let mut registry = DriverRegistry::new();
    session_file::register(&mut registry);
    let mut config = SessionConfig::new()
        .with_driver("file")
        .with_key("a secret of at least thirty-two bytes!!");
    if let Some(section) = section {
        config = config.with_section("file", section);
    }
    SessionManager::builder(config)
        .with_registry(registry)
        .build()
}

fn assert_names_location(err: &ConfigError, path: &Path) {
    assert_eq!(err.option(), "file.location", "{err}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "the error names the path: {err}"
    );
}

#[test]
fn a_missing_location_is_a_start_up_error() {
    let err = build(None).expect_err("no location");
    assert_eq!(err.option(), "file.location", "{err}");
    let err = build(Some(json!({}))).expect_err("no location");
    assert_eq!(err.option(), "file.location", "{err}");
    let err = build(Some(json!({"location": "/tmp", "sharding": 3}))).expect_err("unknown option");
    assert_eq!(err.option(), "file", "{err}");
}

#[test]
fn a_location_that_is_a_file_is_a_start_up_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("sessions");
    std::fs::write(&file, b"not a folder").expect("file");
    let err = build(Some(json!({ "location": file }))).expect_err("a file");
    assert_names_location(&err, &file);
    // A path that goes through a file cannot be created either.
    let below = file.join("inner");
    let err = build(Some(json!({ "location": below }))).expect_err("below a file");
    assert_names_location(&err, &below);
    assert_eq!(std::fs::read(&file).expect("untouched"), b"not a folder");
}

#[test]
fn an_unwritable_location_is_a_start_up_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let locked = dir.path().join("read-only");
    std::fs::create_dir(&locked).expect("folder");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o500)).expect("chmod");
    // Permission bits do not stop a privileged account; a folder of /proc stops everyone.
    let unwritable = if std::fs::write(locked.join("probe"), b"").is_ok() {
        Path::new("/proc/self").to_owned()
    } else {
        locked.clone()
    };
    let err = build(Some(json!({ "location": unwritable }))).expect_err("unwritable");
    assert_names_location(&err, &unwritable);
    assert!(err.to_string().contains("not writable"), "{err}");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).expect("chmod");
}

#[tokio::test]
async fn folders_are_owner_only_and_files_owner_readable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let location = dir.path().join("a/b/sessions");
    let driver = driver(&location, Arc::new(SystemClock));
    let mode = |p: &Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
    assert_eq!(mode(&location), 0o700);
    let key = key();
    assert_eq!(
        driver
            .write(&key, &record(json!(1), 1, 0), None)
            .await
            .expect("write"),
        WriteOutcome::Written
    );
    let path = driver.session_path(&key);
    assert_eq!(mode(path.parent().expect("shard")), 0o700);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(driver.location(), location.as_path());
}

#[test]
fn a_driver_built_in_code_checks_its_folder_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("sessions");
    std::fs::write(&file, b"not a folder").expect("file");
    let err = FileDriver::new(&file).expect_err("a file");
    assert_names_location(&err, &file);
    let err = FileDriver::from_config(serde_json::from_value(json!({})).expect("section"))
        .expect_err("no location");
    assert_eq!(err.option(), "file.location", "{err}");
}

#[test]
fn a_section_under_another_name_is_named_in_errors() {
    let err = SessionManager::builder(
        SessionConfig::new()
            .with_driver("disk")
            .with_key("a secret of at least thirty-two bytes!!")
            .with_section("disk", json!({})),
    )
    .extend("disk", |setup| Ok(FileDriver::from_setup(setup)?.into()))
    .build()
    .expect_err("no location");
    assert_eq!(err.option(), "disk.location", "{err}");
}
