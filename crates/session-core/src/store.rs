//! The values store: path operations on a JSON object, and the log of changes that the commit
//! protocol replays on fresh data.

use serde_json::{Map, Number, Value};

use crate::error::Error;
use crate::path::KeyPath;

/// One change made to the values store during a request. The log of these is replayed on the
/// record as it is at commit time, which is what keeps concurrent requests from erasing each
/// other's changes.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Put(KeyPath, Value),
    Forget(KeyPath),
    Increment(KeyPath, i64, &'static str),
    Clear,
}

impl Op {
    /// Applies the change to `values`. Replaying is exact for increments (the step is added to
    /// whatever is stored now) and idempotent for the others.
    pub(crate) fn apply(&self, values: &mut Map<String, Value>) -> Result<(), Error> {
        match self {
            Op::Put(path, value) => put(values, path, value.clone()).map(|_| ()),
            Op::Forget(path) => {
                forget(values, path);
                Ok(())
            }
            Op::Increment(path, step, operation) => {
                increment(values, path, *step, operation).map(|_| ())
            }
            Op::Clear => {
                values.clear();
                Ok(())
            }
        }
    }
}

/// Reads a path. Missing and `null` both read as `None`; numeric segments index arrays.
pub(crate) fn get<'a>(values: &'a Map<String, Value>, path: &KeyPath) -> Option<&'a Value> {
    let (first, rest) = path.segments().split_first()?;
    let mut current = values.get(first)?;
    for segment in rest {
        current = match current {
            Value::Object(map) => map.get(segment)?,
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    (!current.is_null()).then_some(current)
}

/// Writes a path, creating intermediate objects; a numeric segment goes into an array that
/// holds that index (as [`get`] reads it). Returns whether the stored value changed.
pub(crate) fn put(
    values: &mut Map<String, Value>,
    path: &KeyPath,
    value: Value,
) -> Result<bool, Error> {
    let conflict = || Error::PathConflict {
        path: path.as_str().to_owned(),
    };
    let (last, parents) = path
        .segments()
        .split_last()
        .ok_or_else(|| Error::InvalidPath {
            path: path.as_str().to_owned(),
        })?;
    let mut container = Container::Map(values);
    for segment in parents {
        let slot = match container {
            Container::Map(map) => map
                .entry(segment.clone())
                .or_insert_with(|| Value::Object(Map::new())),
            Container::Array(items) => element(items, segment).ok_or_else(conflict)?,
        };
        // A null on the way counts as missing and becomes an object.
        if slot.is_null() {
            *slot = Value::Object(Map::new());
        }
        container = match slot {
            Value::Object(map) => Container::Map(map),
            Value::Array(items) => Container::Array(items),
            _ => return Err(conflict()),
        };
    }
    let slot = match container {
        Container::Map(map) => {
            // An existing key is updated in place: no copy of the key, one lookup.
            if let Some(slot) = map.get_mut(last) {
                slot
            } else {
                map.insert(last.clone(), value);
                return Ok(true);
            }
        }
        Container::Array(items) => element(items, last).ok_or_else(conflict)?,
    };
    if *slot == value {
        return Ok(false);
    }
    *slot = value;
    Ok(true)
}

/// What a write goes through: an object or an array.
enum Container<'a> {
    Map(&'a mut Map<String, Value>),
    Array(&'a mut Vec<Value>),
}

/// The element of `items` that a numeric `segment` names, if the array holds it.
fn element<'a>(items: &'a mut [Value], segment: &str) -> Option<&'a mut Value> {
    items.get_mut(segment.parse::<usize>().ok()?)
}

/// Removes the leaf of a path. Emptied parents stay. Returns whether anything was removed.
pub(crate) fn forget(values: &mut Map<String, Value>, path: &KeyPath) -> bool {
    let Some((last, parents)) = path.segments().split_last() else {
        return false;
    };
    let Some((first, between)) = parents.split_first() else {
        return values.shift_remove(last).is_some();
    };
    let mut current = match values.get_mut(first) {
        Some(value) => value,
        None => return false,
    };
    for segment in between {
        current = match current {
            Value::Object(map) => match map.get_mut(segment) {
                Some(value) => value,
                None => return false,
            },
            Value::Array(items) => match element(items, segment) {
                Some(value) => value,
                None => return false,
            },
            _ => return false,
        };
    }
    match current {
        Value::Object(map) => map.shift_remove(last).is_some(),
        // An array element is set to null (it reads as missing) rather than removed, so that
        // the indexes of the elements after it do not move.
        Value::Array(items) => match element(items, last) {
            Some(item) if !item.is_null() => {
                *item = Value::Null;
                true
            }
            _ => false,
        },
        _ => false,
    }
}

/// Adds `step` to the number at `path`; missing or `null` counts as 0. Returns the new value.
pub(crate) fn increment(
    values: &mut Map<String, Value>,
    path: &KeyPath,
    step: i64,
    operation: &'static str,
) -> Result<Value, Error> {
    let not_a_number = || Error::NotANumber {
        operation,
        path: path.as_str().to_owned(),
    };
    let next = match get(values, path) {
        None => Value::from(step),
        Some(Value::Number(n)) => Value::Number(add(n, step)),
        Some(_) => return Err(not_a_number()),
    };
    put(values, path, next.clone())?;
    Ok(next)
}

/// Integer arithmetic stays integer; only a float (or an overflow past the integer range) gives a
/// float.
fn add(n: &Number, step: i64) -> Number {
    let as_int = n
        .as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from));
    if let Some(i) = as_int {
        let sum = i + i128::from(step);
        if let Ok(v) = i64::try_from(sum) {
            return Number::from(v);
        }
        if let Ok(v) = u64::try_from(sum) {
            return Number::from(v);
        }
        // An integer overflow past u64 is absurd for a counter; fall back to a float.
        return float(sum as f64);
    }
    float(n.as_f64().unwrap_or(0.0) + step as f64)
}

fn float(f: f64) -> Number {
    Number::from_f64(f).unwrap_or_else(|| Number::from(0))
}

/// Deep-merges `from` into `into`: objects merge key by key, anything else replaces.
pub(crate) fn deep_merge(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(Value::Object(existing)), Value::Object(incoming)) => {
                deep_merge(existing, incoming)
            }
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

/// Builds an object that holds only the values at `paths` (missing ones are skipped).
pub(crate) fn pick(values: &Map<String, Value>, paths: &[KeyPath]) -> Map<String, Value> {
    let mut out = Map::new();
    for path in paths {
        if let Some(v) = get(values, path) {
            // Writing into a fresh object cannot conflict unless two paths overlap with one
            // going through the other's leaf; the later one then loses, which is harmless.
            let _ = put(&mut out, path, v.clone());
        }
    }
    out
}

/// A copy of `values` without the values at `paths`.
pub(crate) fn omit(values: &Map<String, Value>, paths: &[KeyPath]) -> Map<String, Value> {
    let mut out = values.clone();
    for path in paths {
        forget(&mut out, path);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> KeyPath {
        KeyPath::parse(s).expect("valid path")
    }

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn get_treats_null_as_missing_and_indexes_arrays() {
        let v = obj(json!({"a": null, "items": [{"t": 1}], "s": "x", "zero": 0}));
        assert_eq!(get(&v, &p("a")), None);
        assert_eq!(get(&v, &p("items.0.t")), Some(&json!(1)));
        assert_eq!(get(&v, &p("items[0][t]")), Some(&json!(1)));
        assert_eq!(get(&v, &p("items.9")), None);
        assert_eq!(get(&v, &p("s.x")), None);
        assert_eq!(get(&v, &p("zero")), Some(&json!(0)));
    }

    #[test]
    fn put_creates_objects_and_reports_real_changes_only() {
        let mut v = Map::new();
        assert!(put(&mut v, &p("user.name"), json!("ada")).expect("put"));
        assert!(!put(&mut v, &p("user[name]"), json!("ada")).expect("put"));
        assert_eq!(Value::Object(v.clone()), json!({"user": {"name": "ada"}}));
        assert!(matches!(
            put(&mut v, &p("user.name.first"), json!(1)),
            Err(Error::PathConflict { .. })
        ));
        put(&mut v, &p("list"), json!([1, {"a": 1}])).expect("put");
        assert!(put(&mut v, &p("list.0"), json!(2)).expect("an index the array holds"));
        assert!(put(&mut v, &p("list.1.b"), json!(3)).expect("through an array"));
        assert_eq!(v["list"], json!([2, {"a": 1, "b": 3}]));
        for missing in ["list.2", "list.x", "list.-1"] {
            assert!(
                matches!(
                    put(&mut v, &p(missing), json!(0)),
                    Err(Error::PathConflict { .. })
                ),
                "{missing}"
            );
        }
        assert_eq!(v["list"], json!([2, {"a": 1, "b": 3}]));
    }

    #[test]
    fn a_null_written_at_a_new_path_is_a_change() {
        let mut v = Map::new();
        assert!(put(&mut v, &p("a.b"), Value::Null).expect("put"));
        assert_eq!(Value::Object(v.clone()), json!({"a": {"b": null}}));
        assert!(!put(&mut v, &p("a.b"), Value::Null).expect("put again"));
        assert!(put(&mut v, &p("c"), Value::Null).expect("top level"));
    }

    #[test]
    fn increment_goes_through_arrays_and_says_why_it_cannot() {
        let mut v = obj(json!({"arr": [1, {"n": 2}], "s": "x"}));
        assert_eq!(
            increment(&mut v, &p("arr.0"), 1, "increment").expect("arr.0"),
            json!(2)
        );
        assert_eq!(
            increment(&mut v, &p("arr.1.n"), 1, "increment").expect("arr.1.n"),
            json!(3)
        );
        let past_the_end = increment(&mut v, &p("arr.5"), 1, "increment").expect_err("arr.5");
        assert!(matches!(past_the_end, Error::PathConflict { .. }));
        assert!(past_the_end
            .to_string()
            .contains("array holding that index"));
        let through_a_string = increment(&mut v, &p("s.x"), 1, "increment").expect_err("s.x");
        assert!(matches!(through_a_string, Error::PathConflict { .. }));
        assert_eq!(Value::Object(v), json!({"arr": [2, {"n": 3}], "s": "x"}));
    }

    #[test]
    fn forget_sets_array_elements_to_null_and_keeps_indexes() {
        let mut v = obj(json!({"arr": [1, {"n": 2}, 3]}));
        assert!(forget(&mut v, &p("arr.1.n")));
        assert!(forget(&mut v, &p("arr.0")));
        assert!(!forget(&mut v, &p("arr.0")));
        assert!(!forget(&mut v, &p("arr.9")));
        assert_eq!(Value::Object(v), json!({"arr": [null, {}, 3]}));
    }

    #[test]
    fn forget_keeps_emptied_parents() {
        let mut v = obj(json!({"user": {"name": "ada"}}));
        assert!(forget(&mut v, &p("user.name")));
        assert_eq!(Value::Object(v.clone()), json!({"user": {}}));
        assert!(!forget(&mut v, &p("user.name")));
        assert!(!forget(&mut v, &p("nope.deeper")));
    }

    #[test]
    fn increment_keeps_integers_and_rejects_non_numbers() {
        let mut v = obj(json!({"n": 41, "f": 1.5, "s": "7", "big": u64::MAX}));
        assert_eq!(
            increment(&mut v, &p("n"), 1, "increment").expect("n"),
            json!(42)
        );
        assert_eq!(
            increment(&mut v, &p("f"), 1, "increment").expect("f"),
            json!(2.5)
        );
        assert_eq!(
            increment(&mut v, &p("new"), -1, "decrement").expect("new"),
            json!(-1)
        );
        assert_eq!(
            increment(&mut v, &p("big"), -1, "decrement").expect("big"),
            json!(u64::MAX - 1)
        );
        let err = increment(&mut v, &p("s"), 1, "increment").expect_err("string");
        assert_eq!(
            err.to_string(),
            "Cannot increment \"s\". Existing value is not a number"
        );
    }

    #[test]
    fn deep_merge_merges_objects_and_replaces_the_rest() {
        let mut a = obj(json!({"errors": {"title": "x"}, "n": 1}));
        deep_merge(&mut a, obj(json!({"errors": {"body": "y"}, "n": [2]})));
        assert_eq!(
            Value::Object(a),
            json!({"errors": {"title": "x", "body": "y"}, "n": [2]})
        );
    }

    #[test]
    fn pick_and_omit_follow_paths() {
        let v = obj(json!({"a": {"b": 1, "c": 2}, "d": 3}));
        assert_eq!(
            Value::Object(pick(&v, &[p("a.b"), p("d"), p("zz")])),
            json!({"a": {"b": 1}, "d": 3})
        );
        assert_eq!(
            Value::Object(omit(&v, &[p("a.c")])),
            json!({"a": {"b": 1}, "d": 3})
        );
    }
}
