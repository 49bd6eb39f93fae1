//! Loose JSON reading for [`crate::request`] and [`crate::stream_events`]: serde leaves that accept
//! any JSON value and read the wrong type as absent (skipping it without building it), and a
//! walker that hands each key of an object to a [`Fill`] target.
//!
//! Why not derived structs: a derived struct fails the whole document on a duplicate key, and its
//! result is lost when the document is cut short. With [`ObjSeed`] every field is stored the moment
//! its value has been read, so a parse error keeps what came before it (a truncated request body
//! still names its model), and a repeated key simply overwrites (last wins, as in Python's `json`).
//! Strings without escapes are borrowed from the input.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// The visitor methods of every non-string, non-container JSON value, returning `$absent`.
macro_rules! absent_scalars {
    ($value:ty, $absent:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<$value, E> {
            Ok($absent)
        }
        fn visit_i64<E>(self, _: i64) -> Result<$value, E> {
            Ok($absent)
        }
        fn visit_u64<E>(self, _: u64) -> Result<$value, E> {
            Ok($absent)
        }
        fn visit_f64<E>(self, _: f64) -> Result<$value, E> {
            Ok($absent)
        }
        fn visit_unit<E>(self) -> Result<$value, E> {
            Ok($absent)
        }
    };
}

/// A JSON string; any other type reads as absent. Numbers are not turned into text: the Python
/// dialects read these fields with `isinstance(v, str)`, and the columns must agree with them.
#[derive(Debug, Default)]
pub(crate) struct LStr<'a>(pub Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for LStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = LStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(LStr(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(LStr(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(LStr(Some(Cow::Owned(v))))
            }
            absent_scalars!(LStr<'a>, LStr(None));
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                drain_map(map).map(|_| LStr(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                drain_seq(seq).map(|_| LStr(None))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// An integer (an integral float is accepted, `true`/`false` are not: Python's `i()` rule);
/// other types: absent.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LInt(pub Option<i64>);

impl<'de> Deserialize<'de> for LInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LInt;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_i64<E>(self, v: i64) -> Result<LInt, E> {
                Ok(LInt(Some(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<LInt, E> {
                Ok(LInt(i64::try_from(v).ok()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<LInt, E> {
                let ok = v.fract() == 0.0 && v.abs() < 9.0e15;
                Ok(LInt(ok.then_some(v as i64)))
            }
            fn visit_bool<E>(self, _: bool) -> Result<LInt, E> {
                Ok(LInt(None))
            }
            fn visit_unit<E>(self) -> Result<LInt, E> {
                Ok(LInt(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<LInt, E> {
                Ok(LInt(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<LInt, A::Error> {
                drain_map(map).map(|_| LInt(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<LInt, A::Error> {
                drain_seq(seq).map(|_| LInt(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A boolean; other types: absent.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LBool(pub Option<bool>);

impl<'de> Deserialize<'de> for LBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LBool;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<LBool, E> {
                Ok(LBool(Some(v)))
            }
            fn visit_i64<E>(self, _: i64) -> Result<LBool, E> {
                Ok(LBool(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<LBool, E> {
                Ok(LBool(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<LBool, E> {
                Ok(LBool(None))
            }
            fn visit_unit<E>(self) -> Result<LBool, E> {
                Ok(LBool(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<LBool, E> {
                Ok(LBool(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<LBool, A::Error> {
                drain_map(map).map(|_| LBool(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<LBool, A::Error> {
                drain_seq(seq).map(|_| LBool(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// Skips the value of the current key (`Fill::field` for a key it does not read).
pub(crate) fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(|_| ())
}

/// An object key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Key<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V(PhantomData))
    }
}

/// A target that an object's members are read into, one key at a time.
pub(crate) trait Fill<'de> {
    /// Read the value of `key` from `map` (`map.next_value…`), or skip it with
    /// [`skip`]. Exactly one value must be consumed.
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error>;

    /// The value was a string instead of an object (e.g. OpenAI's `conversation`, a string or an
    /// object with an `id`). Ignored by default.
    fn string(&mut self, _s: Cow<'de, str>) {}
}

/// Reads an object into a [`Fill`] target; any other JSON value is skipped (absent). Use as
/// `map.next_value_seed(ObjSeed(&mut target))`, or [`fill_root`] for a whole document.
pub(crate) struct ObjSeed<'s, T>(pub &'s mut T);

impl<'de, T: Fill<'de>> DeserializeSeed<'de> for ObjSeed<'_, T> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: Fill<'de>> Visitor<'de> for ObjSeed<'_, T> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            self.0.field(&k, &mut map)?;
        }
        Ok(())
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<(), E> {
        self.0.string(Cow::Borrowed(v));
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.string(Cow::Owned(v.to_owned()));
        Ok(())
    }
    absent_scalars!((), ());
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        drain_seq(seq)
    }
}

/// Reads the JSON document `json` into `target`. Returns whether the document was read without
/// a syntax error up to the end of its top-level value; fields read before an error are kept.
/// Bytes after the top-level value are not looked at.
pub(crate) fn fill_root<'de, T: Fill<'de>>(json: &'de [u8], target: &mut T) -> bool {
    let mut de = serde_json::Deserializer::from_slice(json);
    ObjSeed(target).deserialize(&mut de).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct T<'a> {
        a: Option<Cow<'a, str>>,
        n: Option<i64>,
        b: Option<bool>,
        inner: Option<Cow<'a, str>>,
    }
    struct Inner<'s, 'a>(&'s mut T<'a>);
    impl<'de> Fill<'de> for Inner<'_, 'de> {
        fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
            match key {
                "x" => self.0.inner = map.next_value::<LStr<'de>>()?.0,
                _ => skip(map)?,
            }
            Ok(())
        }
        fn string(&mut self, s: Cow<'de, str>) {
            self.0.inner = Some(s);
        }
    }
    impl<'de> Fill<'de> for T<'de> {
        fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
            match key {
                "a" => self.a = map.next_value::<LStr<'de>>()?.0,
                "n" => self.n = map.next_value::<LInt>()?.0,
                "b" => self.b = map.next_value::<LBool>()?.0,
                "o" => map.next_value_seed(ObjSeed(&mut Inner(self)))?,
                _ => skip(map)?,
            }
            Ok(())
        }
    }

    fn read(s: &str) -> (T<'_>, bool) {
        let mut t = T::default();
        let ok = fill_root(s.as_bytes(), &mut t);
        (t, ok)
    }

    #[test]
    fn wrong_types_read_as_absent() {
        let (t, ok) = read(r#"{"a":5,"n":"7","b":1,"o":[1,{"x":"no"}],"z":{"a":"deep"}}"#);
        assert!(ok);
        assert_eq!((t.a, t.n, t.b, t.inner), (None, None, None, None));
        let (t, _) = read(r#"{"a":"s","n":3.0,"b":true,"o":{"x":"in"}}"#);
        assert_eq!((t.a.as_deref(), t.n, t.b, t.inner.as_deref()), (Some("s"), Some(3), Some(true), Some("in")));
        let (t, _) = read(r#"{"o":"str","n":true}"#);
        assert_eq!((t.inner.as_deref(), t.n), (Some("str"), None));
    }

    #[test]
    fn borrowed_escaped_duplicates_and_salvage() {
        let (t, _) = read(r#"{"a":"plain"}"#);
        assert!(matches!(t.a, Some(Cow::Borrowed("plain"))));
        let (t, _) = read(r#"{"a":"\u00e9\n"}"#);
        assert_eq!(t.a.as_deref(), Some("é\n"));
        // Last wins, as in Python.
        let (t, _) = read(r#"{"a":"1","a":"2"}"#);
        assert_eq!(t.a.as_deref(), Some("2"));
        // Cut short: what was read stays.
        let (t, ok) = read(r#"{"a":"kept","n":12,"b":tr"#);
        assert!(!ok);
        assert_eq!((t.a.as_deref(), t.n, t.b), (Some("kept"), Some(12), None));
        let (t, ok) = read("[1,2]");
        assert!(ok && t.a.is_none());
        let (_, ok) = read("{nope");
        assert!(!ok);
    }
}
