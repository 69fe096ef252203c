//! The fields a type knows at each JSON path of a file, for a "did you mean" on an unknown field.
//!
//! serde's derive passes a struct's field names to `deserialize_struct` and
//! nowhere else, and the types here tolerate unknown fields (server responses
//! must), so the names are learnt by deserializing the file's JSON once more
//! through a deserializer that notes them with the path it is at. Only done
//! after an unknown field was found; any error of this pass is ignored.

use std::cell::RefCell;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde_json::Value;

/// A struct read from a JSON object: the fields the type knows, and the keys the object holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct Shape {
    pub(crate) fields: &'static [&'static str],
    pub(crate) keys: Vec<String>,
}

/// Paths (as `read_user_file` writes them: `.`, `cases[0]`, `[0].filters[1]`)
/// and the shape of the struct read there. A struct inside an enum's variant
/// is found under two paths: with the variant's name (`sees.where[0]`, as
/// serde_path_to_error writes it) and without (`sees[0]`, as serde_ignored does).
type Found = RefCell<Vec<(String, Shape)>>;

/// The shape of the struct `T` reads at `path` of `text`; empty when no
/// struct is read there.
pub(crate) fn shape_at<T: DeserializeOwned>(text: &str, path: &str) -> Shape {
    let Ok(value) = serde_json::from_str::<Value>(text) else { return Shape::default() };
    let found = Found::default();
    let _ignored = T::deserialize(Walker { value: &value, path: String::new(), plain: String::new(), found: &found });
    let found = found.into_inner();
    found.into_iter().find(|(at, _)| at == path).map(|(_, shape)| shape).unwrap_or_default()
}

/// A deserializer over one JSON value that knows its path.
struct Walker<'a> {
    value: &'a Value,
    path: String,
    /// The path without enum variants' names.
    plain: String,
    found: &'a Found,
}

impl<'a> Walker<'a> {
    fn child(&self, value: &'a Value, key: &str) -> Walker<'a> {
        let join = |path: &str| if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") };
        Walker { value, path: join(&self.path), plain: join(&self.plain), found: self.found }
    }

    fn item(&self, value: &'a Value, index: usize) -> Walker<'a> {
        Walker {
            value,
            path: format!("{}[{index}]", self.path),
            plain: format!("{}[{index}]", self.plain),
            found: self.found,
        }
    }
}

fn key<'de, S: DeserializeSeed<'de>>(seed: S, key: &str) -> Result<S::Value, serde_json::Error> {
    seed.deserialize(IntoDeserializer::<serde_json::Error>::into_deserializer(key))
}

impl<'de> Deserializer<'de> for Walker<'_> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => visitor.visit_u64(u),
                (None, Some(i)) => visitor.visit_i64(i),
                (None, None) => visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => visitor.visit_str(s),
            Value::Array(items) => visitor.visit_seq(Items { items: items.iter().enumerate(), walker: &self }),
            Value::Object(map) => visitor.visit_map(Fields { fields: map.iter(), pending: None, walker: &self }),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let shown = |path: &str| if path.is_empty() { ".".to_owned() } else { path.to_owned() };
        let keys = self.value.as_object().map(|map| map.keys().cloned().collect()).unwrap_or_default();
        let shape = Shape { fields, keys };
        if self.plain != self.path {
            self.found.borrow_mut().push((shown(&self.plain), shape.clone()));
        }
        self.found.borrow_mut().push((shown(&self.path), shape));
        self.deserialize_any(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        if self.value.is_null() { visitor.visit_none() } else { visitor.visit_some(self) }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::String(s) => {
                visitor.visit_enum(IntoDeserializer::<serde_json::Error>::into_deserializer(s.as_str()))
            }
            Value::Object(map) if map.len() == 1 => match map.iter().next() {
                Some((name, value)) => {
                    let walker = Walker { plain: self.plain.clone(), ..self.child(value, name) };
                    visitor.visit_enum(Variant { name, walker })
                }
                None => Err(de::Error::custom("an enum with no variant")),
            },
            _ => Err(de::Error::custom("not an enum")),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit unit_struct
        seq tuple tuple_struct map identifier ignored_any
    }
}

struct Items<'a, 'w> {
    items: std::iter::Enumerate<std::slice::Iter<'a, Value>>,
    walker: &'w Walker<'a>,
}

impl<'de> SeqAccess<'de> for Items<'_, '_> {
    type Error = serde_json::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Self::Error> {
        let Some((index, value)) = self.items.next() else { return Ok(None) };
        seed.deserialize(self.walker.item(value, index)).map(Some)
    }
}

struct Fields<'a, 'w> {
    fields: serde_json::map::Iter<'a>,
    pending: Option<(&'a String, &'a Value)>,
    walker: &'w Walker<'a>,
}

impl<'de> MapAccess<'de> for Fields<'_, '_> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Self::Error> {
        let Some((name, value)) = self.fields.next() else { return Ok(None) };
        self.pending = Some((name, value));
        key(seed, name).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Self::Error> {
        let Some((name, value)) = self.pending.take() else { return Err(de::Error::custom("a value before its key")) };
        seed.deserialize(self.walker.child(value, name))
    }
}

struct Variant<'a> {
    name: &'a str,
    walker: Walker<'a>,
}

impl<'de, 'a> EnumAccess<'de> for Variant<'a> {
    type Error = serde_json::Error;
    type Variant = Walker<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self::Variant), Self::Error> {
        Ok((key(seed, self.name)?, self.walker))
    }
}

impl<'de> VariantAccess<'de> for Walker<'_> {
    type Error = serde_json::Error;

    fn unit_variant(self) -> Result<(), Self::Error> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Self::Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_any(visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_struct("", fields, visitor)
    }
}
