//! Windows of event time and windowed keys: what a windowed aggregation's
//! table is keyed by, and what window and session stores return.

use std::fmt;

/// A window of event time, in milliseconds: `start` and `end`.
///
/// For time windows (tumbling and hopping) `end` is exclusive; for sliding
/// and session windows both ends are inclusive, as in Kafka Streams. A
/// window only carries its bounds; what they include is the window kind's
/// rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window {
    start: i64,
    end: i64,
}

impl Window {
    /// The window `[start, end]` (`end` exclusive for time windows).
    /// A window whose `end` is before its `start` is clamped to `start`.
    pub fn new(start: i64, end: i64) -> Self {
        Window {
            start,
            end: end.max(start),
        }
    }

    /// The first millisecond of the window.
    pub fn start(&self) -> i64 {
        self.start
    }

    /// The window's end (exclusive for time windows, inclusive for sliding
    /// and session windows).
    pub fn end(&self) -> i64 {
        self.end
    }
}

/// A key and the window it was aggregated in: the key of a windowed
/// aggregation's table (Kafka Streams' `Windowed<K>`).
///
/// ```
/// use weir_core::window::{Window, Windowed};
///
/// let w = Windowed::new("sensor-1".to_string(), Window::new(60_000, 120_000));
/// assert_eq!(w.key(), "sensor-1");
/// assert_eq!(w.window().start(), 60_000);
/// assert_eq!(w.to_string(), "[sensor-1@60000/120000]");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Windowed<K> {
    key: K,
    window: Window,
}

impl<K> Windowed<K> {
    /// `key` in `window`.
    pub fn new(key: K, window: Window) -> Self {
        Windowed { key, window }
    }

    /// The key.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// The window.
    pub fn window(&self) -> Window {
        self.window
    }

    /// The key, by value.
    pub fn into_key(self) -> K {
        self.key
    }

    /// The key and the window, by value.
    pub fn into_parts(self) -> (K, Window) {
        (self.key, self.window)
    }
}

impl<K: fmt::Display> fmt::Display for Windowed<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}@{}/{}]",
            self.key,
            self.window.start(),
            self.window.end()
        )
    }
}
