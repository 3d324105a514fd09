//! The facade reads the core's variables, picks the default driver and lets the chosen driver
//! read its own.

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn the_default_driver_is_chosen_without_session_driver() {
    let config = session_kit::config_from_vars(vars(&[("APP_KEY", "k")])).expect("config");
    assert_eq!(config.driver(), session_kit::DEFAULT_DRIVER);
}

#[cfg(all(feature = "file", feature = "redis"))]
#[test]
fn only_the_chosen_driver_reads_its_variables() {
    let config = session_kit::config_from_vars(vars(&[
        ("REDIS_URL", "redis://elsewhere"),
        ("SESSION_DRIVER", "file"),
        ("SESSION_FILE_LOCATION", "/tmp/s"),
    ]))
    .expect("config");
    assert!(config.section("redis").is_none());
    assert_eq!(config.section("file").expect("file")["location"], "/tmp/s");

    let config = session_kit::config_from_vars(vars(&[
        ("SESSION_DRIVER", "redis"),
        ("REDIS_URL", "redis://127.0.0.1:7000"),
        ("SESSION_REDIS_CLUSTER", "true"),
        ("SESSION_REDIS_LOCAL_CACHE", "5000"),
        ("SESSION_FILE_LOCATION", "/tmp/s"),
    ]))
    .expect("config");
    let redis = config.section("redis").expect("redis");
    assert_eq!(redis["url"], "redis://127.0.0.1:7000");
    assert_eq!(redis["cluster"], true);
    assert_eq!(redis["local_cache"], 5000);
    assert!(config.section("file").is_none());

    let err = session_kit::config_from_vars(vars(&[
        ("SESSION_DRIVER", "redis"),
        ("SESSION_REDIS_LOCAL_CACHE", "lots"),
    ]))
    .expect_err("not a number");
    assert_eq!(err.option(), "redis.local_cache");
    // A misspelling of a driver's variable is caught too.
    let err = session_kit::config_from_vars(vars(&[("SESSION_REDIS_PRFIX", "app:")]))
        .expect_err("misspelt");
    assert_eq!(err.option(), "SESSION_REDIS_PRFIX");
}

/// Run by the feature matrix (`cargo xtask features`), which tests the facade without drivers.
#[cfg(not(feature = "redis"))]
#[test]
fn a_driver_left_out_names_its_cargo_feature() {
    let config = session_kit::config_from_vars(vars(&[
        ("SESSION_DRIVER", "redis"),
        ("APP_KEY", "a secret of at least thirty-two bytes!!"),
    ]))
    .expect("config");
    let err = session_kit::builder(config)
        .build()
        .expect_err("no redis driver");
    assert_eq!(err.option(), "driver");
    let message = format!("{err:?}");
    assert!(
        message.contains("enable the cargo feature `redis` of session-kit"),
        "{message}"
    );
}
