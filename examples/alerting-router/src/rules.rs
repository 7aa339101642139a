//! Thresholds: which readings are plausible, and which are anomalies.

use crate::model::{Alert, Reading, Severity};

/// Which way a metric goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Too high is bad (temperature, pressure, vibration).
    Above,
    /// Too low is bad (battery charge).
    Below,
}

/// The thresholds of one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The metric's name in readings.
    pub metric: &'static str,
    /// Its unit, for messages.
    pub unit: &'static str,
    /// Values outside `[plausible_min, plausible_max]` are sensor faults and dropped.
    pub plausible_min: f64,
    /// See `plausible_min`.
    pub plausible_max: f64,
    /// Which way is bad.
    pub direction: Direction,
    /// Past this value (in `direction`): a warning.
    pub warning: f64,
    /// Past this value (in `direction`): critical.
    pub critical: f64,
}

impl Rule {
    /// Whether `value` is a value this sensor can really report.
    pub fn is_plausible(&self, value: f64) -> bool {
        value.is_finite() && value >= self.plausible_min && value <= self.plausible_max
    }

    /// The severity of `value`, if it is an anomaly.
    pub fn severity(&self, value: f64) -> Option<(Severity, f64)> {
        let past = |threshold: f64| match self.direction {
            Direction::Above => value > threshold,
            Direction::Below => value < threshold,
        };
        if past(self.critical) {
            Some((Severity::Critical, self.critical))
        } else if past(self.warning) {
            Some((Severity::Warning, self.warning))
        } else {
            None
        }
    }
}

/// The rules of every metric the router knows.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    rules: Vec<Rule>,
}

impl Default for Rules {
    /// Temperature (C), pressure (bar), vibration (mm/s, ISO 10816-like
    /// zones) and battery charge (%).
    fn default() -> Self {
        let rule =
            |metric, unit, (plausible_min, plausible_max), direction, warning, critical| Rule {
                metric,
                unit,
                plausible_min,
                plausible_max,
                direction,
                warning,
                critical,
            };
        Rules {
            rules: vec![
                rule(
                    "temperature",
                    "C",
                    (-50.0, 200.0),
                    Direction::Above,
                    80.0,
                    95.0,
                ),
                rule("pressure", "bar", (0.0, 100.0), Direction::Above, 8.0, 10.0),
                rule(
                    "vibration",
                    "mm/s",
                    (0.0, 100.0),
                    Direction::Above,
                    7.1,
                    11.2,
                ),
                rule("battery", "%", (0.0, 100.0), Direction::Below, 20.0, 10.0),
            ],
        }
    }
}

impl Rules {
    /// Rules from a list.
    pub fn new(rules: Vec<Rule>) -> Self {
        Rules { rules }
    }

    /// The rule of `metric`, if the router knows it.
    pub fn get(&self, metric: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.metric == metric)
    }

    /// Why `reading` cannot be trusted (unknown metric, value out of the
    /// sensor's range, no device, no event time), or `None` if it can.
    pub fn implausible(&self, reading: &Reading) -> Option<String> {
        if reading.device.trim().is_empty() {
            return Some("empty device id".to_string());
        }
        if reading.ts <= 0 {
            return Some(format!("invalid event time {}", reading.ts));
        }
        let Some(rule) = self.get(&reading.metric) else {
            return Some(format!("unknown metric '{}'", reading.metric));
        };
        if !rule.is_plausible(reading.value) {
            return Some(format!(
                "{} {} {} outside the sensor range [{}, {}]",
                reading.metric, reading.value, rule.unit, rule.plausible_min, rule.plausible_max
            ));
        }
        None
    }

    /// The alert for `reading`, if it is an anomaly. Implausible readings
    /// (see [`Rules::implausible`]) give none.
    pub fn classify(&self, reading: &Reading) -> Option<Alert> {
        if self.implausible(reading).is_some() {
            return None;
        }
        let rule = self.get(&reading.metric)?;
        let (severity, threshold) = rule.severity(reading.value)?;
        let (side, level) = match (rule.direction, severity) {
            (Direction::Above, Severity::Critical) => ("above", "critical"),
            (Direction::Above, Severity::Warning) => ("above", "warning"),
            (Direction::Below, Severity::Critical) => ("below", "critical"),
            (Direction::Below, Severity::Warning) => ("below", "warning"),
        };
        Some(Alert {
            device: reading.device.clone(),
            metric: reading.metric.clone(),
            value: reading.value,
            severity,
            reason: format!(
                "{} {} {unit} {side} {level} threshold {threshold} {unit}",
                reading.metric,
                reading.value,
                unit = rule.unit
            ),
            ts: reading.ts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(metric: &str, value: f64) -> Reading {
        Reading {
            device: "d".to_string(),
            metric: metric.to_string(),
            value,
            ts: 1,
        }
    }

    #[test]
    fn thresholds_in_both_directions() {
        let rules = Rules::default();
        let sev = |m, v| rules.classify(&reading(m, v)).map(|a| a.severity);
        assert_eq!(sev("temperature", 70.0), None);
        assert_eq!(sev("temperature", 80.0), None);
        assert_eq!(sev("temperature", 85.0), Some(Severity::Warning));
        assert_eq!(sev("temperature", 95.5), Some(Severity::Critical));
        assert_eq!(sev("battery", 50.0), None);
        assert_eq!(sev("battery", 15.0), Some(Severity::Warning));
        assert_eq!(sev("battery", 5.0), Some(Severity::Critical));
        assert_eq!(sev("temperature", 900.0), None);
        assert_eq!(sev("humidity", 99.0), None);
    }

    #[test]
    fn reasons_name_metric_value_and_threshold() {
        let alert = Rules::default()
            .classify(&reading("pressure", 12.5))
            .map(|a| a.reason);
        assert_eq!(
            alert.as_deref(),
            Some("pressure 12.5 bar above critical threshold 10 bar")
        );
    }

    #[test]
    fn implausible_readings_say_why() {
        let rules = Rules::default();
        assert_eq!(
            rules.implausible(&reading("vibration", -3.0)).as_deref(),
            Some("vibration -3 mm/s outside the sensor range [0, 100]")
        );
        assert!(rules.implausible(&reading("vibration", f64::NAN)).is_some());
        let mut r = reading("vibration", 3.0);
        r.ts = 0;
        assert!(rules.implausible(&r).is_some());
        r.ts = 5;
        r.device = " ".to_string();
        assert!(rules.implausible(&r).is_some());
    }
}
