//! What the stores went through during a run: per node, reads answered and failed (by
//! kind), chunks rebuilt from parity or reads served by a mirror; and reads that needed
//! retries. Counted by the wrappers (`Counted`, the RAID arrays, `Retrying`) into one shared
//! `Health`, handed down when the stack is built (no global state). Warnings go to the log
//! once per node and cause when it starts happening; `final_warnings` gives the counts.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::Serialize;
use uuid::Uuid;

use super::{BlockStore, ReadResult, StoreError};

/// One node (a single store counts as node 0 of a one-node "array").
pub struct NodeHealth {
    /// `RAID5 node 1`, or `store` for a single store.
    label: String,
    /// Where it is (bucket and endpoint; never credentials).
    store: String,
    ok: AtomicU64,
    missing: AtomicU64,
    unavailable: AtomicU64,
    timeout: AtomicU64,
    rebuilt: AtomicU64,
    parity_lost: AtomicU64,
    failed_over: AtomicU64,
    warned_fail: AtomicBool,
    warned_recovery: AtomicBool,
}

pub struct Health {
    /// `RAID5`, `RAID1`, `RAID0` or empty for a single store.
    array: String,
    nodes: Vec<NodeHealth>,
    store: String,
    retried_ok: AtomicU64,
    retries: AtomicU64,
    retry_timeouts: AtomicU64,
    warned_retry: AtomicBool,
}

/// The counts of one node, as printed and as `--json` gives them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeReport {
    pub node: String,
    pub store: String,
    pub reads_ok: u64,
    pub missing: u64,
    pub unavailable: u64,
    pub timeout: u64,
    /// RAID5: this node's chunk was rebuilt from parity.
    pub rebuilt_from_parity: u64,
    /// RAID5 parity node: the parity chunk could not be read (the block has no redundancy).
    pub parity_unreadable: u64,
    /// RAID1: this node failed the read and another mirror served it.
    pub failed_over: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthReport {
    pub store: String,
    /// True when every read was answered at the first attempt by every node.
    pub clean: bool,
    pub nodes: Vec<NodeReport>,
    /// Reads that succeeded only after one or more retries.
    pub reads_succeeded_after_retries: u64,
    /// Retry attempts in all (successful in the end or not).
    pub retries: u64,
    /// Attempts abandoned after --block-timeout.
    pub attempts_timed_out: u64,
}

impl NodeReport {
    fn failures(&self) -> u64 {
        self.missing + self.unavailable + self.timeout
    }
}

impl Health {
    pub fn new(array: &str, nodes: &[Arc<dyn BlockStore>], store: String) -> Arc<Health> {
        let single = nodes.len() == 1 && array.is_empty();
        Arc::new(Health {
            array: array.to_owned(),
            nodes: nodes
                .iter()
                .enumerate()
                .map(|(i, n)| NodeHealth {
                    label: if single {
                        "store".to_owned()
                    } else {
                        format!("{array} node {i}")
                    },
                    store: n.describe(),
                    ok: AtomicU64::new(0),
                    missing: AtomicU64::new(0),
                    unavailable: AtomicU64::new(0),
                    timeout: AtomicU64::new(0),
                    rebuilt: AtomicU64::new(0),
                    parity_lost: AtomicU64::new(0),
                    failed_over: AtomicU64::new(0),
                    warned_fail: AtomicBool::new(false),
                    warned_recovery: AtomicBool::new(false),
                })
                .collect(),
            store,
            retried_ok: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            retry_timeouts: AtomicU64::new(0),
            warned_retry: AtomicBool::new(false),
        })
    }

    /// Wraps each node so that its answers are counted.
    pub fn counted(self: &Arc<Self>, nodes: Vec<Arc<dyn BlockStore>>) -> Vec<Arc<dyn BlockStore>> {
        nodes
            .into_iter()
            .enumerate()
            .map(|(index, inner)| {
                Arc::new(Counted {
                    inner,
                    health: self.clone(),
                    index,
                }) as Arc<dyn BlockStore>
            })
            .collect()
    }

    fn node(&self, i: usize) -> Option<&NodeHealth> {
        self.nodes.get(i)
    }

    fn record(&self, i: usize, result: &ReadResult) {
        let Some(n) = self.node(i) else { return };
        let (counter, cause) = match result {
            Ok(_) => return bump(&n.ok),
            Err(StoreError::NotFound) => (&n.missing, "not found".to_owned()),
            Err(StoreError::Unavailable(r)) if is_timeout(r) => (&n.timeout, r.clone()),
            Err(StoreError::Unavailable(r)) => (&n.unavailable, r.clone()),
        };
        bump(counter);
        // Without redundancy (single store, RAID0) a failure is retried or is the export's
        // error: only arrays that work around it warn here.
        if self.redundant() && !n.warned_fail.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "{} ({}) failed a read ({cause}); counts at the end",
                n.label,
                n.store
            );
        }
    }

    fn redundant(&self) -> bool {
        self.array == "RAID1" || self.array == "RAID5"
    }

    /// RAID5: node `i`'s chunk was rebuilt from the others and the parity.
    pub fn rebuilt(&self, i: usize) {
        self.recovered(i, |n| &n.rebuilt, "rebuilding its chunks from parity");
    }

    /// RAID5: the parity chunk was unreadable; the data chunks were all there.
    pub fn parity_lost(&self, i: usize) {
        self.recovered(
            i,
            |n| &n.parity_lost,
            "its parity is unreadable: these blocks have no redundancy left",
        );
    }

    /// RAID1: node `i` failed and another mirror served the read.
    pub fn failed_over(&self, i: usize) {
        self.recovered(i, |n| &n.failed_over, "served by another mirror");
    }

    fn recovered(&self, i: usize, counter: fn(&NodeHealth) -> &AtomicU64, what: &str) {
        let Some(n) = self.node(i) else { return };
        bump(counter(n));
        if !n.warned_recovery.swap(true, Ordering::Relaxed) {
            tracing::warn!("{} ({}) is degraded: {what}", n.label, n.store);
        }
    }

    /// Counts one retry; true for the first of the run (the one worth a warning).
    pub fn retried(&self, timed_out: bool) -> bool {
        bump(&self.retries);
        if timed_out {
            bump(&self.retry_timeouts);
        }
        !self.warned_retry.swap(true, Ordering::Relaxed)
    }

    pub fn succeeded_after_retries(&self) {
        bump(&self.retried_ok);
    }

    pub fn report(&self) -> HealthReport {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let nodes: Vec<NodeReport> = self
            .nodes
            .iter()
            .map(|n| NodeReport {
                node: n.label.clone(),
                store: n.store.clone(),
                reads_ok: get(&n.ok),
                missing: get(&n.missing),
                unavailable: get(&n.unavailable),
                timeout: get(&n.timeout),
                rebuilt_from_parity: get(&n.rebuilt),
                parity_unreadable: get(&n.parity_lost),
                failed_over: get(&n.failed_over),
            })
            .collect();
        let retries = get(&self.retries);
        HealthReport {
            store: self.store.clone(),
            clean: retries == 0 && nodes.iter().all(|n| n.failures() == 0),
            nodes,
            reads_succeeded_after_retries: get(&self.retried_ok),
            retries,
            attempts_timed_out: get(&self.retry_timeouts),
        }
    }

    /// The end-of-run warnings, one per node and cause, with the counts.
    pub fn final_warnings(&self) -> Vec<String> {
        let r = self.report();
        let mut out = Vec::new();
        for n in &r.nodes {
            let who = format!("{} ({})", n.node, n.store);
            let kinds = failure_kinds(n);
            if n.rebuilt_from_parity > 0 {
                out.push(format!(
                    "{who} did not return {} chunks ({kinds}): rebuilt from parity",
                    n.rebuilt_from_parity
                ));
            }
            if n.parity_unreadable > 0 {
                out.push(format!(
                    "{who} did not return {} parity chunks ({kinds}): those blocks were read from the data nodes but have no redundancy left",
                    n.parity_unreadable
                ));
            }
            if n.failed_over > 0 {
                out.push(format!(
                    "{who} failed {} reads ({kinds}): served by another mirror",
                    n.failed_over
                ));
            }
            let explained = n.rebuilt_from_parity + n.parity_unreadable + n.failed_over;
            if n.failures() > explained && self.redundant() {
                out.push(format!(
                    "{who} failed {} more reads ({kinds}) that the array could not work around",
                    n.failures() - explained
                ));
            }
        }
        if r.reads_succeeded_after_retries > 0 {
            out.push(format!(
                "{} reads succeeded after retries ({} retries, {} attempts timed out; store {})",
                r.reads_succeeded_after_retries, r.retries, r.attempts_timed_out, r.store
            ));
        }
        out
    }
}

fn failure_kinds(n: &NodeReport) -> String {
    let kinds: Vec<String> = [
        (n.missing, "missing"),
        (n.unavailable, "unavailable"),
        (n.timeout, "timed out"),
    ]
    .into_iter()
    .filter(|(c, _)| *c > 0)
    .map(|(c, k)| format!("{c} {k}"))
    .collect();
    kinds.join(", ")
}

fn bump(a: &AtomicU64) {
    a.fetch_add(1, Ordering::Relaxed);
}

/// The store clients spell a timeout in their error text only.
pub fn is_timeout(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("timed out") || r.contains("timeout") || r.contains("no answer within")
}

/// A node whose answers are counted into `health`.
struct Counted {
    inner: Arc<dyn BlockStore>,
    health: Arc<Health>,
    index: usize,
}

impl BlockStore for Counted {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn read<'a>(&'a self, organization_id: &'a str, block_id: Uuid) -> BoxFuture<'a, ReadResult> {
        Box::pin(async move {
            let result = self.inner.read(organization_id, block_id).await;
            self.health.record(self.index, &result);
            result
        })
    }

    fn batch(&self) -> usize {
        self.inner.batch()
    }

    fn read_many<'a>(
        &'a self,
        organization_id: &'a str,
        block_ids: &'a [Uuid],
    ) -> BoxFuture<'a, Vec<ReadResult>> {
        Box::pin(async move {
            let results = self.inner.read_many(organization_id, block_ids).await;
            for result in &results {
                self.health.record(self.index, result);
            }
            results
        })
    }

    fn check<'a>(
        &'a self,
        organization_id: &'a str,
    ) -> BoxFuture<'a, std::result::Result<(), StoreError>> {
        self.inner.check(organization_id)
    }
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;
