//! Every record the Redis driver writes reads back with the same values and messages
//! (`session_testkit::readback`), on a real `redis-server`.

use session_testkit::redis_server::RedisServer;

use crate::common::{simple_manager, standalone};

#[test]
fn every_record_written_reads_back() {
    let server = RedisServer::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    // The manager's connections run on the runtime that opens them.
    let manager = runtime.block_on(async { simple_manager(standalone(server.url())) });
    session_testkit::readback::run(&runtime, &manager, 128);
}
