//! A proptest model test: random sequences of store operations against a plain reference model,
//! checked live within the request and again after a commit and a fresh read.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::common::memory;

/// The model: a flat map from full paths of two segments at most to leaf values.
#[derive(Debug, Clone)]
enum Op {
    Put(String, i64),
    Forget(String),
    Increment(String),
    Decrement(String),
    Pull(String),
    Clear,
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_owned()),
        Just("b".to_owned()),
        Just("c.x".to_owned()),
        Just("c.y".to_owned()),
        Just("c[z]".to_owned()),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (path(), -5i64..5).prop_map(|(p, v)| Op::Put(p, v)),
        path().prop_map(Op::Forget),
        path().prop_map(Op::Increment),
        path().prop_map(Op::Decrement),
        path().prop_map(Op::Pull),
        Just(Op::Clear),
    ]
}

fn norm(p: &str) -> String {
    p.replace("c[z]", "c.z")
}

/// The reference: leaves by normalized path, plus whether the `c` object exists (forgetting a
/// child keeps an empty parent).
#[derive(Debug, Default)]
struct Model {
    leaves: BTreeMap<String, i64>,
    c_exists: bool,
}

impl Model {
    fn apply(&mut self, op: &Op) -> Option<i64> {
        match op {
            Op::Put(p, v) => {
                self.touch_parent(p);
                self.leaves.insert(norm(p), *v);
                None
            }
            Op::Forget(p) => {
                self.leaves.remove(&norm(p));
                None
            }
            Op::Increment(p) | Op::Decrement(p) => {
                let step = if matches!(op, Op::Increment(_)) {
                    1
                } else {
                    -1
                };
                self.touch_parent(p);
                let v = self.leaves.get(&norm(p)).copied().unwrap_or(0) + step;
                self.leaves.insert(norm(p), v);
                Some(v)
            }
            Op::Pull(p) => self.leaves.remove(&norm(p)),
            Op::Clear => {
                self.leaves.clear();
                self.c_exists = false;
                None
            }
        }
    }

    fn touch_parent(&mut self, p: &str) {
        if p.starts_with('c') {
            self.c_exists = true;
        }
    }

    fn json(&self) -> Value {
        let mut root = serde_json::Map::new();
        let mut c = serde_json::Map::new();
        for (k, v) in &self.leaves {
            match k.strip_prefix("c.") {
                Some(child) => {
                    c.insert(child.to_owned(), json!(v));
                }
                None => {
                    root.insert(k.clone(), json!(v));
                }
            }
        }
        if self.c_exists {
            root.insert("c".to_owned(), Value::Object(c));
        }
        Value::Object(root)
    }
}

fn sorted(v: Value) -> Value {
    // Object key order is insertion order in the store; compare as sorted maps.
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, sorted(v)))
                .collect::<BTreeMap<_, _>>()
                .into_iter()
                .collect(),
        ),
        other => other,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn store_operations_match_the_model_live_and_after_commit(
        requests in prop::collection::vec(prop::collection::vec(op(), 0..8), 1..4)
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let mut b = memory();
            let mut model = Model::default();
            for ops in &requests {
                let ops = ops.clone();
                let expected: Vec<Option<i64>> = ops.iter().map(|o| model.apply(o)).collect();
                let want = model.json();
                let (live, results) = b
                    .request(move |s| {
                        let mut results = Vec::new();
                        for op in &ops {
                            results.push(match op {
                                Op::Put(p, v) => { s.put(p, v)?; None }
                                Op::Forget(p) => { s.forget(p)?; None }
                                Op::Increment(p) => s.increment(p)?.as_i64(),
                                Op::Decrement(p) => s.decrement(p)?.as_i64(),
                                Op::Pull(p) => s.pull(p)?.and_then(|v| v.as_i64()),
                                Op::Clear => { s.clear()?; None }
                            });
                        }
                        Ok((Value::Object(s.all()), results))
                    })
                    .await
                    .expect("request");
                prop_assert_eq!(results, expected);
                prop_assert_eq!(sorted(live), sorted(want.clone()));
                let stored = b.request(|s| Ok(s.all())).await.expect("read back");
                prop_assert_eq!(sorted(Value::Object(stored)), sorted(want));
            }
            Ok(())
        })?;
    }
}
