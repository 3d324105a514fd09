//! The Rust code of the README files and of the guide in `docs/`, compiled and run as doctests
//! (`cargo test -p doctests`), so that what a reader copies works. Nothing here is published.
//!
//! A block that cannot run here (a server that listens on a fixed port, a Redis at a fixed
//! address) is marked `no_run`: it still compiles. Lines starting with `# ` are set-up that
//! rustdoc runs and hides; the guide says so in `docs/README.md`.

#![forbid(unsafe_code)]

/// Includes a Markdown file as the documentation of an empty item, so its code blocks become
/// doctests.
macro_rules! markdown {
    ($($name:ident => $path:literal,)*) => {
        $(
            #[doc = include_str!(concat!("../../../", $path))]
            #[cfg(doctest)]
            pub struct $name;
        )*
    };
}

markdown! {
    Readme => "README.md",
    GuideIndex => "docs/README.md",
    Values => "docs/values.md",
    Flash => "docs/flash.md",
    Lifecycle => "docs/lifecycle.md",
    Configuration => "docs/configuration.md",
    Security => "docs/security.md",
    Axum => "docs/axum.md",
    Actix => "docs/actix.md",
    CustomDrivers => "docs/custom-drivers.md",
    Production => "docs/production.md",
    Testing => "docs/testing.md",
    Tags => "docs/tags.md",
    CookieDriver => "docs/drivers/cookie.md",
    FileDriver => "docs/drivers/file.md",
    RedisDriver => "docs/drivers/redis.md",
    SqlDriver => "docs/drivers/sql.md",
    CoreReadme => "crates/session-core/README.md",
    KitReadme => "crates/session-kit/README.md",
    CookieReadme => "crates/session-cookie/README.md",
    FileReadme => "crates/session-file/README.md",
    RedisReadme => "crates/session-redis/README.md",
    AxumReadme => "crates/session-axum/README.md",
    ActixReadme => "crates/session-actix/README.md",
    TestkitReadme => "crates/session-testkit/README.md",
    SqlReadme => "crates/session-sql/README.md",
}
