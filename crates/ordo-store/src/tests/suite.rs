//! openraft's own storage test suite, run against a store in a fresh
//! temporary directory for every case.

use openraft::testing::log::{StoreBuilder, Suite};
use openraft::type_config::TypeConfigExt;
use openraft::StorageError;
use tempfile::TempDir;

use super::support::TestConfig;
use crate::{open, LogStore, StateMachineStore};

struct TempDirStoreBuilder;

impl StoreBuilder<TestConfig, LogStore<TestConfig>, StateMachineStore<TestConfig>, TempDir>
    for TempDirStoreBuilder
{
    async fn build(
        &self,
    ) -> Result<
        (TempDir, LogStore<TestConfig>, StateMachineStore<TestConfig>),
        StorageError<TestConfig>,
    > {
        let to_storage_error = |e: &dyn std::error::Error| {
            StorageError::read(TestConfig::err_from_string(e.to_string()))
        };
        let dir = tempfile::tempdir().map_err(|e| to_storage_error(&e))?;
        let (log, sm) = open(dir.path()).map_err(|e| to_storage_error(&e))?;
        Ok((dir, log, sm))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_openraft_storage_suite() {
    Suite::test_all(TempDirStoreBuilder)
        .await
        .expect("openraft storage suite");
}
