//! The HTML pages on actix-web: the seed's examples, clicked through over HTTP, with the same
//! assertions as the axum demo's.

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
