//! The HTML pages: the seed's examples, clicked through over HTTP.

use session_kit::SessionConfig;
use session_testkit::pages;

use crate::server::serve;

#[tokio::test]
async fn the_home_page_counts_views_and_keeps_the_cart_total() {
    let app = serve(SessionConfig::new().with_driver("cookie")).await;
    pages::the_home_page_counts_views_and_keeps_the_cart_total(app.base()).await;
}

#[tokio::test]
async fn login_regenerates_the_id_and_logout_clears_everything() {
    let app = serve(SessionConfig::new().with_driver("memory")).await;
    pages::login_regenerates_the_id_and_logout_clears_everything(app.base()).await;
}

#[tokio::test]
async fn the_flash_example_shows_the_message_exactly_once() {
    let app = serve(SessionConfig::new().with_driver("cookie")).await;
    pages::the_flash_example_shows_the_message_exactly_once(app.base()).await;
}

#[tokio::test]
async fn signup_errors_flash_the_input_back_without_the_password() {
    let app = serve(SessionConfig::new().with_driver("memory")).await;
    pages::signup_errors_flash_the_input_back_without_the_password(app.base()).await;
}

#[tokio::test]
async fn every_page_shows_the_short_id_and_login_regenerates_it() {
    let app = serve(SessionConfig::new().with_driver("cookie")).await;
    pages::every_page_shows_the_short_id_and_login_regenerates_it(app.base()).await;
    let app = serve(SessionConfig::new().with_driver("memory")).await;
    pages::every_page_shows_the_short_id_and_login_regenerates_it(app.base()).await;
}

#[tokio::test]
async fn every_page_names_its_session_calls() {
    let app = serve(SessionConfig::new().with_driver("memory")).await;
    pages::every_page_names_its_session_calls(app.base()).await;
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
    assert!(session_kit::builder(config).build().is_ok());

    let (config, notes) = demo::config_from_env(vars(&[
        ("APP_KEY", "an application key that is long enough"),
        ("SESSION_COOKIE_SECURE", "true"),
        ("SESSION_DRIVER", "memory"),
    ]))
    .expect("explicit");
    assert!(config.cookie().secure());
    assert!(notes.is_empty(), "{notes:?}");

    // The file driver's default folder is outside the repository, in the temporary folder.
    let (config, notes) = demo::config_from_env(vars(&[("SESSION_DRIVER", "file")])).expect("file");
    let location = config.section("file").expect("a file section")["location"]
        .as_str()
        .expect("a location")
        .to_owned();
    assert_eq!(
        std::path::Path::new(&location),
        std::env::temp_dir().join("session-demo").join("sessions")
    );
    assert_eq!(
        std::path::PathBuf::from(&location),
        demo::default_file_location()
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("SESSION_FILE_LOCATION is not set") && n.contains(&location)),
        "{notes:?}"
    );
    let (config, notes) = demo::config_from_env(vars(&[
        ("SESSION_DRIVER", "file"),
        ("SESSION_FILE_LOCATION", "/var/lib/app/sessions"),
    ]))
    .expect("file with a location");
    assert_eq!(
        config.section("file").expect("a file section")["location"],
        "/var/lib/app/sessions"
    );
    assert!(
        !notes.iter().any(|n| n.contains("SESSION_FILE_LOCATION")),
        "{notes:?}"
    );

    let (config, _) = demo::config_from_env(vars(&[("SESSION_DRIVER", "nosql")])).expect("parsed");
    let err = session_kit::builder(config)
        .build()
        .expect_err("unknown driver");
    assert_eq!(err.option(), "driver");
    assert!(
        err.to_string().contains("cookie, file, memory, redis"),
        "{err}"
    );
}
