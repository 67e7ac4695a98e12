//! openraft's own storage test suite, run against a fresh store for every
//! case on each medium: sled in a temporary directory, and a `MemDisk`;
//! on sled also with appends that wait for their flush (`StoreOptions::pipelined_flush` off).

use openraft::testing::log::{StoreBuilder, Suite};
use openraft::type_config::TypeConfigExt;
use openraft::StorageError;
use tempfile::TempDir;

use super::support::TestConfig;
use crate::{open_memory, open_with, LogStore, MemDisk, StateMachineStore, StoreOptions};

type Built<G> =
    Result<(G, LogStore<TestConfig>, StateMachineStore<TestConfig>), StorageError<TestConfig>>;

fn to_storage_error(e: &dyn std::error::Error) -> StorageError<TestConfig> {
    StorageError::read(TestConfig::err_from_string(e.to_string()))
}

struct TempDirStoreBuilder {
    options: StoreOptions,
}

impl StoreBuilder<TestConfig, LogStore<TestConfig>, StateMachineStore<TestConfig>, TempDir>
    for TempDirStoreBuilder
{
    async fn build(&self) -> Built<TempDir> {
        let dir = tempfile::tempdir().map_err(|e| to_storage_error(&e))?;
        let (log, sm) = open_with(dir.path(), &self.options).map_err(|e| to_storage_error(&e))?;
        Ok((dir, log, sm))
    }
}

struct MemDiskStoreBuilder;

impl StoreBuilder<TestConfig, LogStore<TestConfig>, StateMachineStore<TestConfig>, MemDisk>
    for MemDiskStoreBuilder
{
    async fn build(&self) -> Built<MemDisk> {
        let disk = MemDisk::new();
        let (log, sm) = open_memory(&disk).map_err(|e| to_storage_error(&e))?;
        Ok((disk, log, sm))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_openraft_storage_suite_on_sled() {
    Suite::test_all(TempDirStoreBuilder {
        options: StoreOptions::default(),
    })
    .await
    .expect("openraft storage suite on sled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_openraft_storage_suite_on_sled_with_appends_that_wait_for_their_flush() {
    Suite::test_all(TempDirStoreBuilder {
        options: StoreOptions {
            pipelined_flush: false,
            ..StoreOptions::default()
        },
    })
    .await
    .expect("openraft storage suite on sled, not pipelined");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_openraft_storage_suite_on_a_memory_disk() {
    Suite::test_all(MemDiskStoreBuilder)
        .await
        .expect("openraft storage suite on a memory disk");
}
