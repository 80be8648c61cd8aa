//! Lists for the `nested`, `together` and `subelements` lookups.

use crate::value::Value;
use minijinja::value::ValueKind;
use minijinja::{Error, Value as MjValue};

pub(super) fn list_of(v: &MjValue) -> Result<Vec<MjValue>, Error> {
    if matches!(v.kind(), ValueKind::Seq) {
        Ok(v.try_iter()?.collect())
    } else {
        Ok(vec![v.clone()])
    }
}

/// The lists a `nested`/`together` lookup combines: its terms, or the one list of lists.
pub(super) fn lists_of(terms: &[MjValue]) -> Result<Vec<Vec<MjValue>>, Error> {
    match terms {
        [one] if matches!(one.kind(), ValueKind::Seq) => {
            one.try_iter()?.map(|l| list_of(&l)).collect()
        }
        many => many.iter().map(list_of).collect(),
    }
}

/// Every combination taking one item of each list, in order (Python's
/// `itertools.product`).
pub(in crate::template) fn product(lists: &[Vec<MjValue>]) -> Vec<Vec<MjValue>> {
    let mut acc: Vec<Vec<MjValue>> = vec![Vec::new()];
    for l in lists {
        acc = acc
            .iter()
            .flat_map(|p| {
                l.iter().map(move |x| {
                    let mut n = p.clone();
                    n.push(x.clone());
                    n
                })
            })
            .collect();
    }
    acc
}

/// Removes and returns the list at `path` then `last` in `m`.
pub(super) fn take_list(
    m: &mut crate::value::Map,
    path: &[&str],
    last: &str,
) -> Option<Vec<Value>> {
    match path.split_first() {
        None => match m.shift_remove(last) {
            Some(Value::List(l)) => Some(l),
            _ => None,
        },
        Some((p, rest)) => match m.get_mut(*p) {
            Some(Value::Map(n)) => take_list(n, rest, last),
            _ => None,
        },
    }
}
