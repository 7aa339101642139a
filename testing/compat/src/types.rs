//! The topic types scenarios use, and how Weir's serdes turn their JSON into
//! bytes and back (the Java side does the same with Kafka's serdes).

use std::str::FromStr;

use serde_json::{json, Value};
use weir_core::serde::SharedSerde;
use weir_core::window::Windowed;
use weir_core::{Headers, SerdeContext, Serdes, SerializeContext};

/// A key or value type: `string`, `long`, `time-windowed:string:<size ms>`
/// or `session-windowed:string`. Windowed keys are output only; their JSON is
/// `{key, start, end}` as Kafka's windowed deserializers see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicType {
    /// UTF-8 strings (`Serdes.String()`).
    String,
    /// 64-bit integers, 8 bytes big-endian (`Serdes.Long()`).
    Long,
    /// String keys in time windows of this size (`TimeWindowedSerde`).
    TimeWindowed(i64),
    /// String keys in session windows (`SessionWindowedSerde`).
    SessionWindowed,
}

impl FromStr for TopicType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(':').collect();
        match parts.as_slice() {
            ["string"] => Ok(TopicType::String),
            ["long"] => Ok(TopicType::Long),
            ["time-windowed", "string", size] => size
                .parse()
                .map(TopicType::TimeWindowed)
                .map_err(|e| format!("bad window size in '{s}': {e}")),
            ["session-windowed", "string"] => Ok(TopicType::SessionWindowed),
            _ => Err(format!("unknown topic type '{s}'")),
        }
    }
}

fn windowed_json(w: &Windowed<String>) -> Value {
    json!({"key": w.key(), "start": w.window().start(), "end": w.window().end()})
}

impl TopicType {
    /// The bytes of `value` (JSON of this type) as Weir's serde writes them;
    /// JSON `null` is a null key or value.
    pub fn encode(
        &self,
        topic: &str,
        is_key: bool,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, String> {
        let mut headers = Headers::new();
        let mut ctx = SerializeContext::new(topic, &mut headers, is_key);
        let out = match (self, value) {
            (_, Value::Null) => return Ok(None),
            (TopicType::String, Value::String(s)) => Serdes::string().serialize(&mut ctx, s),
            (TopicType::Long, Value::Number(n)) => {
                let n = n
                    .as_i64()
                    .ok_or_else(|| format!("{n} is not a 64-bit integer"))?;
                Serdes::i64().serialize(&mut ctx, &n)
            }
            _ => return Err(format!("cannot write {value} as {self:?} into '{topic}'")),
        };
        out.map_err(|e| e.to_string())
    }

    /// The JSON of `bytes` read with Weir's serde for this type.
    pub fn decode(&self, topic: &str, is_key: bool, bytes: Option<&[u8]>) -> Result<Value, String> {
        let headers = Headers::new();
        let ctx = SerdeContext::new(topic, &headers, is_key);
        fn read<T>(
            serde: SharedSerde<T>,
            ctx: &SerdeContext<'_>,
            bytes: Option<&[u8]>,
        ) -> Result<Option<T>, String> {
            serde.deserialize(ctx, bytes).map_err(|e| e.to_string())
        }
        Ok(match self {
            TopicType::String => {
                read(Serdes::string(), &ctx, bytes)?.map_or(Value::Null, Value::from)
            }
            TopicType::Long => read(Serdes::i64(), &ctx, bytes)?.map_or(Value::Null, Value::from),
            TopicType::TimeWindowed(size) => {
                read(Serdes::time_windowed(Serdes::string(), *size), &ctx, bytes)?
                    .map_or(Value::Null, |w| windowed_json(&w))
            }
            TopicType::SessionWindowed => {
                read(Serdes::session_windowed(Serdes::string()), &ctx, bytes)?
                    .map_or(Value::Null, |w| windowed_json(&w))
            }
        })
    }
}
