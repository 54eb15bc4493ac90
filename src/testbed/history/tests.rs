use std::collections::{HashMap, HashSet};

use super::*;
use crate::parsec::manifests::{BlockAccess, FileManifest, Header};
use crate::testbed::plan::{self, Event};

fn windows(plan: &plan::Plan) -> Vec<Window> {
    plan.events
        .iter()
        .filter_map(|e| match e {
            Event::Activity(w) => Some(w.clone()),
            _ => None,
        })
        .collect()
}

fn run(spec: &OrgSpec) -> (plan::Plan, Vec<Window>, Vec<Op>) {
    let plan = plan::plan(spec);
    let windows = windows(&plan);
    let roots: Vec<Uuid> = plan.realms.iter().map(|r| r.realm_id).collect();
    let ops = History::new(spec, &roots, &windows, None).collect();
    (plan, windows, ops)
}

fn spec(seed: u64, skew: u32) -> OrgSpec {
    let mut spec = OrgSpec::small("Hist");
    spec.seed = seed;
    spec.vlob_versions_per_realm = 400;
    spec.blocks_per_realm = 150;
    spec.block_size_min = 1024;
    spec.block_size_max = 512 * 1024;
    spec.clock_skew_s = skew;
    spec
}

#[test]
fn fills_every_budget_and_follows_parsecs_rules() {
    for (seed, skew) in [(1, 0), (2, 300), (3, 60)] {
        let spec = spec(seed, skew);
        let (plan, windows, ops) = run(&spec);
        let mut vlobs = vec![0; plan.realms.len()];
        let mut blocks = vec![0; plan.realms.len()];
        let mut block_specs = Vec::new();
        let mut last: HashMap<Uuid, (u32, Ts)> = HashMap::new();
        let mut seen_first: HashMap<Uuid, usize> = HashMap::new();
        let mut listings: Vec<(usize, Uuid, Uuid)> = Vec::new();
        let mut parents: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        let (mut holes, mut empty) = (0, 0);
        for (position, op) in ops.iter().enumerate() {
            match op {
                Op::Block(b) => {
                    blocks[b.realm] += 1;
                    assert!(b.size >= 1 && u64::from(b.size) <= BLOCKSIZE);
                    block_specs.push(b.clone());
                }
                Op::Vlob(w) => {
                    if vlobs[w.realm] == 0 {
                        let root = plan.realms[w.realm].realm_id;
                        assert_eq!((w.id, w.parent, w.version), (root, root, 1));
                        assert!(matches!(w.kind, Kind::Folder(_)));
                    }
                    vlobs[w.realm] += 1;
                    let window = windows
                        .iter()
                        .find(|win| {
                            win.realm == w.realm
                                && win.start < w.timestamp
                                && w.timestamp < win.end + Duration::seconds(1)
                        })
                        .expect("inside a window of its realm");
                    assert_eq!(w.key_index, window.key_index);
                    assert!(window.writers.contains(&w.device));
                    let previous = last.insert(w.id, (w.version, w.timestamp));
                    match previous {
                        None => assert_eq!(w.version, 1),
                        Some((version, at)) => {
                            assert_eq!(w.version, version + 1);
                            assert!(w.timestamp > at, "versions of a vlob go forward in time");
                        }
                    }
                    seen_first.entry(w.id).or_insert(position);
                    parents.entry(w.id).or_default().push(w.parent);
                    match &w.kind {
                        Kind::Folder(children) => {
                            for (name, child) in children {
                                crate::parsec::entry_name::EntryName::parse(name)
                                    .expect("valid name");
                                listings.push((position, w.id, *child));
                            }
                        }
                        Kind::File { size, blocks: refs } => {
                            let accesses: Vec<BlockAccess> = refs
                                .iter()
                                .map(|(n, offset)| BlockAccess {
                                    id: block_specs[*n].id,
                                    offset: *offset,
                                    size: u64::from(block_specs[*n].size),
                                    digest: [0; 32],
                                })
                                .collect();
                            let covered: u64 = accesses.iter().map(|a| a.size).sum();
                            holes += usize::from(covered < *size && !refs.is_empty());
                            empty += usize::from(*size == 0);
                            for (n, _) in refs {
                                assert!(
                                    *n < block_specs.len(),
                                    "block uploaded before its manifest"
                                );
                                assert!(block_specs[*n].created_on <= window.end);
                            }
                            FileManifest {
                                header: Header {
                                    author: Uuid::nil(),
                                    timestamp: 0,
                                    id: w.id,
                                    parent: w.parent,
                                    version: w.version,
                                    created: 0,
                                    updated: 0,
                                },
                                size: *size,
                                blocksize: BLOCKSIZE,
                                blocks: accesses,
                            }
                            .check_integrity()
                            .expect("Parsec's file manifest integrity rules");
                        }
                    }
                }
            }
        }
        for realm in 0..plan.realms.len() {
            assert_eq!(vlobs[realm], spec.vlob_versions_per_realm, "vlob budget");
            assert_eq!(blocks[realm], spec.blocks_per_realm, "block budget");
        }
        assert!(holes > 0 && empty > 0, "holes {holes}, empty files {empty}");
        // A folder lists a child before the child's first upload, and a folder keeps
        // listing a child that moved away.
        assert!(listings
            .iter()
            .any(|(at, _, child)| seen_first.get(child).is_some_and(|first| first > at)));
        assert!(listings.iter().any(|(_, folder, child)| parents
            .get(child)
            .is_some_and(|p| p.iter().any(|p| p != folder))));
    }
}

#[test]
fn awkward_names_land_in_every_root_and_the_stream_replays() {
    let spec = spec(4, 0);
    let (plan, _, ops) = run(&spec);
    let (_, _, again) = run(&spec);
    assert_eq!(ops.len(), again.len());
    for realm in &plan.realms {
        let names: HashSet<String> = ops
            .iter()
            .filter_map(|op| match op {
                Op::Vlob(VlobWrite {
                    id,
                    kind: Kind::Folder(children),
                    ..
                }) if *id == realm.realm_id => {
                    Some(children.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>())
                }
                _ => None,
            })
            .flatten()
            .collect();
        for name in ["Foo", "foo", "a:b", "CON", "x.", "r\u{e9}sum\u{e9}.txt"] {
            assert!(
                names.contains(name),
                "{name:?} missing from the root of {}",
                realm.realm_id
            );
        }
    }
    for (a, b) in ops.iter().zip(&again) {
        match (a, b) {
            (Op::Block(a), Op::Block(b)) => assert_eq!((a.id, a.size), (b.id, b.size)),
            (Op::Vlob(a), Op::Vlob(b)) => assert_eq!(
                (a.id, a.version, a.timestamp),
                (b.id, b.version, b.timestamp)
            ),
            _ => panic!("the replay differs"),
        }
    }
}

#[test]
fn skewed_clocks_stay_in_parsecs_window_and_inside_the_activity_window() {
    let offsets: Vec<i64> = (0..50).map(|d| clock_offset(7, d, 300)).collect();
    assert!(offsets.iter().all(|o| o.abs() < 300_000_000));
    assert!(offsets.iter().any(|o| *o > 100_000_000), "no device ahead");
    assert!(
        offsets.iter().any(|o| *o < -100_000_000),
        "no device behind"
    );
    assert_eq!(clock_offset(7, 3, 0), 0);
    let start = chrono::DateTime::from_timestamp_micros(1_000_000_000_000_000).expect("valid");
    let window = Window {
        realm: 0,
        key_index: 1,
        start,
        end: start + Duration::seconds(600),
        vlobs: 3,
        blocks: 0,
        writers: vec![0],
    };
    let inside = start + Duration::seconds(300);
    assert_eq!(
        client_timestamp(inside, 200_000_000, &window, 0),
        inside + Duration::seconds(200)
    );
    let early = [0, 1].map(|p| client_timestamp(start, -300_000_000, &window, p));
    assert!(early.iter().all(|t| *t > window.start && *t < window.end));
    assert_ne!(early[0], early[1]);
    let late = client_timestamp(window.end, 100_000_000, &window, 0);
    assert!(late < window.end && late > window.start);
}

#[test]
fn spread_is_strictly_inside_and_increasing() {
    let start = chrono::DateTime::from_timestamp_micros(1_000_000_000_000_000).expect("valid");
    let mut rng = stream_rng(1, 1);
    for (span, count) in [(10_000_000, 9), (5, 4), (3_600_000_000, 1000)] {
        let end = start + Duration::microseconds(span);
        let times = spread(start, end, count, &mut rng);
        assert_eq!(times.len(), count);
        assert!(times[0] > start);
        assert!(*times.last().expect("non-empty") < end);
        assert!(times.windows(2).all(|pair| pair[0] < pair[1]));
    }
}
