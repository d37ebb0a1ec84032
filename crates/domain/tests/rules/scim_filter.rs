//! The SCIM filter grammar (RFC 7644 §3.4.2.2): every tree prints to a text that parses back to
//! the same tree, and text that is not a filter is refused, never read as some other filter.

use proptest::prelude::*;
use roster_domain::scim::filter::{AttrPath, CompValue, CompareOp, Filter, PatchPath};
use serde_json::Number;

const URNS: [&str; 3] = [
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:example:custom",
];

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z][a-zA-Z0-9_-]{0,8}",
        Just("$ref".to_owned()),
        // Names that are also the grammar's words.
        prop::sample::select(vec!["not", "and", "or", "pr", "eq", "true", "null", "NOT"]).prop_map(str::to_owned),
    ]
}

fn path() -> impl Strategy<Value = AttrPath> {
    (prop::option::of(prop::sample::select(URNS.to_vec())), name(), prop::option::of(name()))
        .prop_map(|(urn, name, sub)| AttrPath { urn: urn.map(str::to_owned), name, sub })
}

fn value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        Just(CompValue::Null),
        any::<bool>().prop_map(CompValue::Bool),
        any::<i64>().prop_map(|n| CompValue::Number(n.into())),
        any::<f64>().prop_filter_map("finite", Number::from_f64).prop_map(CompValue::Number),
        any::<String>().prop_map(CompValue::String),
        r#"[ "\\()\[\]a-z%_]{0,12}"#.prop_map(CompValue::String),
    ]
}

fn attr_expr() -> impl Strategy<Value = Filter> {
    prop_oneof![
        path().prop_map(Filter::Present),
        (path(), prop::sample::select(CompareOp::ALL.to_vec()), value())
            .prop_map(|(p, op, v)| Filter::Compare(p, op, v)),
    ]
}

/// A `valFilter`: no complex filter inside.
fn val_filter() -> impl Strategy<Value = Filter> {
    attr_expr().prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(Filter::not),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| Filter::and(l, r)),
            (inner.clone(), inner).prop_map(|(l, r)| Filter::or(l, r)),
        ]
    })
}

fn filter() -> impl Strategy<Value = Filter> {
    let leaf = prop_oneof![
        3 => attr_expr(),
        1 => (path(), val_filter()).prop_map(|(p, f)| Filter::ValuePath(p, Box::new(f))),
    ];
    leaf.prop_recursive(5, 32, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(Filter::not),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| Filter::and(l, r)),
            (inner.clone(), inner).prop_map(|(l, r)| Filter::or(l, r)),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_printed_filter_parses_back_to_the_same_tree(f in filter()) {
        let text = f.to_string();
        prop_assert_eq!(Filter::parse(&text), Ok(f), "{}", text);
    }

    #[test]
    fn a_printed_patch_path_parses_back_to_the_same_path(
        attr in path(),
        filter in prop::option::of(val_filter()),
        sub in prop::option::of(name()),
    ) {
        // The grammar gives a sub-attribute after a filter, or in the attribute path, not both.
        let (attr, sub) = match filter {
            Some(_) => (AttrPath { sub: None, ..attr }, sub),
            None => (attr, None),
        };
        let p = PatchPath { attr, filter, sub };
        prop_assert_eq!(PatchPath::parse(&p.to_string()), Ok(p.clone()), "{}", p);
    }

    #[test]
    fn a_filter_with_its_text_cut_short_is_refused_or_another_whole_filter(f in filter(), cut in any::<prop::sample::Index>()) {
        let text = f.to_string();
        let at = cut.index(text.len());
        if let Some(prefix) = text.get(..at) {
            // A prefix of a filter either fails to parse or parses to a tree that prints to a
            // text the parser reads back: never a panic, never a partial read.
            if let Ok(g) = Filter::parse(prefix) {
                prop_assert_eq!(Filter::parse(&g.to_string()), Ok(g));
            }
        }
    }
}
