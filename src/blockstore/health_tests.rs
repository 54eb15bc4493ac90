//! Health counting through the real wrappers (RAID arrays, retries) over in-memory nodes.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use uuid::Uuid;

use super::Health;
use crate::blockstore::raid::{build, raid5_chunks};
use crate::blockstore::{BlockStore, RaidMode, ReadResult, RetryPolicy, Retrying, StoreError};

/// Answers `answer` to every read, after failing `failures` times as unavailable.
struct Node {
    answer: ReadResult,
    failures: u32,
    calls: AtomicU32,
}

fn node(answer: ReadResult) -> Arc<dyn BlockStore> {
    Arc::new(Node {
        answer,
        failures: 0,
        calls: AtomicU32::new(0),
    })
}

impl BlockStore for Node {
    fn describe(&self) -> String {
        "mem".into()
    }
    fn read<'a>(&'a self, _: &'a str, _: Uuid) -> BoxFuture<'a, ReadResult> {
        Box::pin(async move {
            if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
                return Err(StoreError::unavailable("operation timed out"));
            }
            self.answer.clone()
        })
    }
    fn check<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn raid5_rebuilds_and_lost_parity_are_counted_per_node() {
    let block = b"some block".to_vec();
    let chunks = raid5_chunks(&block, 2);
    for (lost, field) in [(1usize, "rebuilt"), (2, "parity")] {
        let nodes: Vec<Arc<dyn BlockStore>> = (0..3)
            .map(|i| {
                node(if i == lost {
                    Err(StoreError::NotFound)
                } else {
                    Ok(chunks[i].clone())
                })
            })
            .collect();
        let health = Health::new("RAID5", &nodes, "RAID5 of 3 nodes".into());
        let array = build(RaidMode::Raid5, health.counted(nodes), health.clone());
        for _ in 0..3 {
            assert_eq!(array.read("o", Uuid::nil()).await, Ok(block.clone()));
        }
        let r = health.report();
        assert!(!r.clean);
        let n = &r.nodes[lost];
        assert_eq!(
            (n.node.as_str(), n.missing, n.reads_ok),
            (format!("RAID5 node {lost}").as_str(), 3, 0)
        );
        let (rebuilt, parity) = if field == "rebuilt" { (3, 0) } else { (0, 3) };
        assert_eq!(
            (n.rebuilt_from_parity, n.parity_unreadable),
            (rebuilt, parity)
        );
        let warnings = health.final_warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with(&format!("RAID5 node {lost} (mem) did not return 3 ")),
            "{warnings:?}"
        );
    }
}

#[tokio::test]
async fn raid1_fail_over_and_retries_are_counted() {
    let nodes = vec![
        node(Err(StoreError::unavailable("refused"))),
        node(Ok(vec![7])),
    ];
    let health = Health::new("RAID1", &nodes, "RAID1 of 2 nodes".into());
    let array = build(RaidMode::Raid1, health.counted(nodes), health.clone());
    assert_eq!(array.read("o", Uuid::nil()).await, Ok(vec![7]));
    let r = health.report();
    assert_eq!((r.nodes[0].unavailable, r.nodes[0].failed_over), (1, 1));
    assert_eq!(
        health.final_warnings(),
        vec![
            "RAID1 node 0 (mem) failed 1 reads (1 unavailable): served by another mirror"
                .to_owned()
        ]
    );

    let flaky: Arc<dyn BlockStore> = Arc::new(Node {
        answer: Ok(vec![1]),
        failures: 2,
        calls: AtomicU32::new(0),
    });
    let health = Health::new("", std::slice::from_ref(&flaky), "mem".into());
    let policy = RetryPolicy {
        retries: 3,
        first_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(2),
        attempt_timeout: Duration::from_secs(5),
    };
    let store =
        Retrying::new(health.counted(vec![flaky]).remove(0), policy).counted(health.clone());
    assert_eq!(store.read("o", Uuid::nil()).await, Ok(vec![1]));
    let r = health.report();
    assert_eq!(
        (
            r.reads_succeeded_after_retries,
            r.retries,
            r.attempts_timed_out
        ),
        (1, 2, 2)
    );
    assert_eq!(
        (
            r.nodes[0].node.as_str(),
            r.nodes[0].timeout,
            r.nodes[0].reads_ok
        ),
        ("store", 2, 1)
    );
    assert!(health
        .final_warnings()
        .iter()
        .any(|w| w.starts_with("1 reads succeeded after retries")));
    // Nothing failed: clean, and nothing to say.
    let fine = vec![node(Ok(vec![1]))];
    let health = Health::new("", &fine, "mem".into());
    assert!(health.report().clean && health.final_warnings().is_empty());
}
