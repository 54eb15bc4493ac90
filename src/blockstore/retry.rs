//! Retries around any store: a read that fails with "unavailable" (connection refused or
//! reset, timeout, 5xx, body cut short) is tried again with exponential backoff, up to a
//! bound; "not found" is an answer and is returned at once. Each attempt has a time limit,
//! so a store that hangs counts as unavailable rather than stalling the export.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use uuid::Uuid;

use super::health::Health;
use super::{BlockStore, ReadResult, StoreError};

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts after the first one.
    pub retries: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    /// 8 retries: 0.5 s, 1 s, 2 s … capped at 30 s, about 90 s of waiting in all — enough for
    /// a store restart, short enough to fail within minutes when the store is gone.
    fn default() -> Self {
        RetryPolicy {
            retries: 8,
            first_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            attempt_timeout: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(16));
        self.first_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

pub struct Retrying {
    inner: Arc<dyn BlockStore>,
    policy: RetryPolicy,
    /// Where retries are counted.
    health: Option<Arc<Health>>,
}

impl Retrying {
    pub fn new(inner: Arc<dyn BlockStore>, policy: RetryPolicy) -> Self {
        Retrying {
            inner,
            policy,
            health: None,
        }
    }

    pub fn counted(mut self, health: Arc<Health>) -> Self {
        self.health = Some(health);
        self
    }
}

impl BlockStore for Retrying {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn read<'a>(&'a self, organization_id: &'a str, block_id: Uuid) -> BoxFuture<'a, ReadResult> {
        Box::pin(self.retried(organization_id, block_id, None))
    }

    fn batch(&self) -> usize {
        self.inner.batch()
    }

    /// One attempt for the whole batch; a block it could not get is then retried alone.
    fn read_many<'a>(
        &'a self,
        organization_id: &'a str,
        block_ids: &'a [Uuid],
    ) -> BoxFuture<'a, Vec<ReadResult>> {
        Box::pin(async move {
            let first = tokio::time::timeout(
                self.policy.attempt_timeout,
                self.inner.read_many(organization_id, block_ids),
            )
            .await
            .unwrap_or_else(|_| vec![Err(self.timed_out()); block_ids.len()]);
            let retried = block_ids
                .iter()
                .zip(first)
                .map(|(id, result)| self.retried(organization_id, *id, Some(result)));
            futures::future::join_all(retried).await
        })
    }

    fn check<'a>(&'a self, organization_id: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.check(organization_id)
    }
}

impl Retrying {
    fn timed_out(&self) -> StoreError {
        StoreError::Unavailable(format!(
            "no answer within {} s",
            self.policy.attempt_timeout.as_secs()
        ))
    }

    /// Reads `block_id` until it succeeds, is not found, or the retries are spent; `first`
    /// is the outcome of a first attempt already made (as part of a batch).
    async fn retried(
        &self,
        organization_id: &str,
        block_id: Uuid,
        mut first: Option<ReadResult>,
    ) -> ReadResult {
        {
            let mut attempt = 0;
            loop {
                let result = match first.take() {
                    Some(result) => result,
                    None => tokio::time::timeout(
                        self.policy.attempt_timeout,
                        self.inner.read(organization_id, block_id),
                    )
                    .await
                    .unwrap_or_else(|_| Err(self.timed_out())),
                };
                match result {
                    Err(StoreError::Unavailable(reason)) if attempt < self.policy.retries => {
                        let wait = self.policy.backoff(attempt);
                        let first = self
                            .health
                            .as_ref()
                            .is_none_or(|h| h.retried(super::health::is_timeout(&reason)));
                        let text = format!(
                            "block {}: store unavailable ({reason}); retry {}/{} in {:.1} s",
                            block_id.hyphenated(),
                            attempt + 1,
                            self.policy.retries,
                            wait.as_secs_f64()
                        );
                        // Counted: the first retry is a warning, the others debug lines,
                        // and the counts come at the end (Health::final_warnings).
                        match (first, &self.health) {
                            (true, Some(_)) => tracing::warn!(
                                "{text} (store {}; further retries are counted and reported at the end)",
                                self.inner.describe()
                            ),
                            (true, None) => tracing::warn!("{text}"),
                            (false, _) => tracing::debug!("{text}"),
                        }
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                    }
                    Err(StoreError::Unavailable(reason)) if attempt > 0 => {
                        return Err(StoreError::Unavailable(format!(
                            "{reason} (after {attempt} retries)"
                        )))
                    }
                    Ok(data) if attempt > 0 => {
                        if let Some(h) = &self.health {
                            h.succeeded_after_retries();
                        }
                        return Ok(data);
                    }
                    other => return other,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// Fails `failures` times with `error`, then answers.
    struct Flaky {
        failures: u32,
        error: StoreError,
        calls: AtomicU32,
    }

    impl BlockStore for Flaky {
        fn describe(&self) -> String {
            "flaky".into()
        }
        fn read<'a>(&'a self, _: &'a str, _: Uuid) -> BoxFuture<'a, ReadResult> {
            Box::pin(async move {
                let n = self.calls.fetch_add(1, Ordering::SeqCst);
                if n < self.failures {
                    Err(self.error.clone())
                } else {
                    Ok(vec![1, 2, 3])
                }
            })
        }
        fn check<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
            Box::pin(async { Ok(()) })
        }
    }

    fn policy(retries: u32) -> RetryPolicy {
        RetryPolicy {
            retries,
            first_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(4),
            attempt_timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn unavailable_is_retried_up_to_the_bound() {
        let flaky = Arc::new(Flaky {
            failures: 3,
            error: StoreError::unavailable("down"),
            calls: AtomicU32::new(0),
        });
        let store = Retrying::new(flaky.clone(), policy(3));
        assert_eq!(store.read("o", Uuid::nil()).await, Ok(vec![1, 2, 3]));
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 4);

        let flaky = Arc::new(Flaky {
            failures: 10,
            error: StoreError::unavailable("down"),
            calls: AtomicU32::new(0),
        });
        let store = Retrying::new(flaky.clone(), policy(2));
        let err = store.read("o", Uuid::nil()).await.unwrap_err();
        assert_eq!(
            err,
            StoreError::Unavailable("down (after 2 retries)".into())
        );
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 3);
    }

    /// A batching store: its batch read fails `Unavailable` for every block whose first
    /// byte is odd and says `NotFound` for those whose first byte is 0xff; a single read of
    /// any other block answers its first byte.
    struct Batching {
        batch_calls: AtomicU32,
        single_calls: AtomicU32,
    }

    impl BlockStore for Batching {
        fn describe(&self) -> String {
            "batching".into()
        }
        fn read<'a>(&'a self, _: &'a str, id: Uuid) -> BoxFuture<'a, ReadResult> {
            Box::pin(async move {
                self.single_calls.fetch_add(1, Ordering::SeqCst);
                match id.as_bytes()[0] {
                    0xff => Err(StoreError::NotFound),
                    b => Ok(vec![b]),
                }
            })
        }
        fn batch(&self) -> usize {
            8
        }
        fn read_many<'a>(&'a self, _: &'a str, ids: &'a [Uuid]) -> BoxFuture<'a, Vec<ReadResult>> {
            Box::pin(async move {
                self.batch_calls.fetch_add(1, Ordering::SeqCst);
                ids.iter()
                    .map(|id| match id.as_bytes()[0] {
                        0xff => Err(StoreError::NotFound),
                        b if b % 2 == 1 => Err(StoreError::unavailable("reset")),
                        b => Ok(vec![b]),
                    })
                    .collect()
            })
        }
        fn check<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test]
    async fn a_batch_is_tried_once_then_its_failed_blocks_alone() {
        let inner = Arc::new(Batching {
            batch_calls: AtomicU32::new(0),
            single_calls: AtomicU32::new(0),
        });
        let store = Retrying::new(inner.clone(), policy(3));
        assert_eq!(store.batch(), 8, "the wrapper passes the batch size on");
        let ids: Vec<Uuid> = [2u8, 3, 0xff, 5]
            .iter()
            .map(|b| Uuid::from_bytes([*b; 16]))
            .collect();
        let results = store.read_many("o", &ids).await;
        assert_eq!(
            results,
            vec![
                Ok(vec![2]),
                Ok(vec![3]),
                Err(StoreError::NotFound),
                Ok(vec![5])
            ]
        );
        assert_eq!(inner.batch_calls.load(Ordering::SeqCst), 1);
        // Only the two unavailable blocks were read again, once each (they then answered).
        assert_eq!(inner.single_calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn not_found_is_not_retried() {
        let flaky = Arc::new(Flaky {
            failures: 1,
            error: StoreError::NotFound,
            calls: AtomicU32::new(0),
        });
        let store = Retrying::new(flaky.clone(), policy(5));
        assert_eq!(
            store.read("o", Uuid::nil()).await,
            Err(StoreError::NotFound)
        );
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(0), Duration::from_millis(500));
        assert_eq!(p.backoff(3), Duration::from_secs(4));
        assert_eq!(p.backoff(10), Duration::from_secs(30));
    }
}
