//! Nagios threshold ranges, as the plugin guidelines define them
//! (`[@]start:end`, where `start` defaults to 0, `~` is minus infinity and
//! an empty `end` plus infinity):
//!
//! | range   | alerts when the value is     |
//! |---------|------------------------------|
//! | `10`    | below 0 or above 10          |
//! | `10:`   | below 10                     |
//! | `~:10`  | above 10                     |
//! | `10:20` | below 10 or above 20         |
//! | `@10:20`| from 10 to 20, both included |
//!
//! A range prints back the way perfdata writes it.

use std::fmt;
use std::str::FromStr;

/// One threshold range.
#[derive(Clone, Debug, PartialEq)]
pub struct Range {
    /// `None` is minus infinity (`~`).
    start: Option<f64>,
    /// `None` is plus infinity (an empty end).
    end: Option<f64>,
    /// `@`: alert inside the range instead of outside.
    inside: bool,
}

impl Range {
    /// Whether `value` crosses this threshold (raises an alert).
    pub fn alerts(&self, value: f64) -> bool {
        let below = self.start.is_some_and(|start| value < start);
        let above = self.end.is_some_and(|end| value > end);
        let outside = below || above;
        if self.inside { !outside } else { outside }
    }
}

impl FromStr for Range {
    type Err = String;

    fn from_str(text: &str) -> Result<Range, String> {
        let bad = |why: &str| format!("`{text}` is not a Nagios range ({why}; e.g. 10, 10:, ~:10, 10:20 or @10:20)");
        let (inside, body) = match text.strip_prefix('@') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if body.is_empty() {
            return Err(bad("it is empty"));
        }
        let number = |part: &str| -> Result<f64, String> {
            match part.parse::<f64>() {
                Ok(value) if value.is_finite() => Ok(value),
                _ => Err(bad(&format!("`{part}` is not a number"))),
            }
        };
        let (start, end) = match body.split_once(':') {
            None => (Some(0.0), Some(number(body)?)),
            Some((start, end)) => {
                let start = match start {
                    "~" => None,
                    "" => Some(0.0),
                    start => Some(number(start)?),
                };
                let end = if end.is_empty() { None } else { Some(number(end)?) };
                (start, end)
            }
        };
        if let (Some(start), Some(end)) = (start, end)
            && start > end
        {
            return Err(bad("its start is above its end"));
        }
        Ok(Range { start, end, inside })
    }
}

/// The canonical spelling: `10`, `10:`, `~:10`, `10:20`, `@10:20`.
impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.inside {
            f.write_str("@")?;
        }
        match (self.start, self.end) {
            (Some(start), Some(end)) if start == 0.0 && !self.inside => write!(f, "{}", Number(end)),
            (start, end) => {
                match start {
                    None => f.write_str("~")?,
                    Some(start) => write!(f, "{}", Number(start))?,
                }
                f.write_str(":")?;
                match end {
                    None => Ok(()),
                    Some(end) => write!(f, "{}", Number(end)),
                }
            }
        }
    }
}

/// A number as perfdata writes it: no exponent, no trailing `.0`, at most
/// two decimals.
pub struct Number(pub f64);

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rounded = (self.0 * 100.0).round() / 100.0;
        if rounded.fract() == 0.0 {
            write!(f, "{rounded:.0}")
        } else {
            let text = format!("{rounded:.2}");
            f.write_str(text.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str) -> Range {
        text.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Which of the probe values raise an alert.
    fn alerting(text: &str) -> Vec<f64> {
        let range = range(text);
        [-1.0, 0.0, 5.0, 10.0, 10.5, 15.0, 20.0, 25.0].into_iter().filter(|v| range.alerts(*v)).collect()
    }

    #[test]
    fn the_five_forms_of_the_guidelines() {
        assert_eq!(alerting("10"), [-1.0, 10.5, 15.0, 20.0, 25.0]);
        assert_eq!(alerting("10:"), [-1.0, 0.0, 5.0]);
        assert_eq!(alerting("~:10"), [10.5, 15.0, 20.0, 25.0]);
        assert_eq!(alerting("10:20"), [-1.0, 0.0, 5.0, 25.0]);
        assert_eq!(alerting("@10:20"), [10.0, 10.5, 15.0, 20.0]);
    }

    #[test]
    fn edges_and_other_spellings() {
        assert_eq!(alerting("0"), [-1.0, 5.0, 10.0, 10.5, 15.0, 20.0, 25.0], "0: anything above zero");
        assert_eq!(alerting(":10"), alerting("10"), "an empty start is 0");
        assert_eq!(alerting("~:"), Vec::<f64>::new(), "everything is inside");
        assert_eq!(alerting("@~:"), [-1.0, 0.0, 5.0, 10.0, 10.5, 15.0, 20.0, 25.0]);
        assert_eq!(alerting("-5:2.5"), [5.0, 10.0, 10.5, 15.0, 20.0, 25.0]);
        assert_eq!(alerting("@10"), [0.0, 5.0, 10.0], "@10 is @0:10");
        assert!(range("10:10").alerts(9.9) && !range("10:10").alerts(10.0));
    }

    #[test]
    fn bad_ranges_are_refused_with_the_reason() {
        for (text, why) in [
            ("", "empty"),
            ("@", "empty"),
            ("x", "`x` is not a number"),
            ("10:x", "`x` is not a number"),
            ("20:10", "start is above its end"),
            ("1:2:3", "`2:3` is not a number"),
            ("inf", "`inf` is not a number"),
            ("NaN:", "`NaN` is not a number"),
            ("~10", "`~10` is not a number"),
        ] {
            let error = text.parse::<Range>().expect_err(text);
            assert!(error.contains(why), "{text:?}: {error}");
            assert!(error.contains("Nagios range"), "{error}");
        }
    }

    #[test]
    fn a_range_prints_in_its_canonical_form() {
        for (text, shown) in [
            ("10", "10"),
            ("0:10", "10"),
            (":10", "10"),
            ("10:", "10:"),
            ("~:10", "~:10"),
            ("10:20", "10:20"),
            ("@10:20", "@10:20"),
            ("@0:10", "@0:10"),
            ("2.50:", "2.5:"),
            ("-1.25:1e2", "-1.25:100"),
        ] {
            assert_eq!(range(text).to_string(), shown, "{text}");
        }
    }

    #[test]
    fn numbers_have_at_most_two_decimals_and_no_exponent() {
        let shown = |v: f64| Number(v).to_string();
        assert_eq!(shown(42.0), "42");
        assert_eq!(shown(42.504), "42.5");
        assert_eq!(shown(0.125), "0.13");
        assert_eq!(shown(1e12), "1000000000000");
        assert_eq!(shown(-3.0), "-3");
    }
}
