//! ISO-8601 durations as Kestra writes them (`PT1H`, `P1DT12H`, `PT0.5S`,
//! `P2W`), used by Sleep, timeouts and KV expiry.

use std::time::Duration;

/// Parses an ISO-8601 duration; `None` when it is not one. Years and months
/// are refused: their length depends on the calendar.
pub fn parse_iso_duration(text: &str) -> Option<Duration> {
    let rest = text.strip_prefix('P').or_else(|| text.strip_prefix('p'))?;
    if rest.is_empty() {
        return None;
    }
    let (date, time) = match rest.split_once(['T', 't']) {
        Some((date, time)) if !time.is_empty() => (date, Some(time)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut seconds = 0f64;
    seconds += units(date, &[('W', 604_800.0), ('D', 86_400.0)])?;
    if let Some(time) = time {
        seconds += units(time, &[('H', 3_600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    (seconds.is_finite() && seconds < 1e12).then(|| Duration::from_secs_f64(seconds))
}

/// Sums `<number><unit>` pairs, units in the given order, each at most once.
fn units(text: &str, allowed: &[(char, f64)]) -> Option<f64> {
    let mut total = 0f64;
    let mut number = String::new();
    let mut next_unit = 0;
    for c in text.chars() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let unit = c.to_ascii_uppercase();
        let position = allowed[next_unit..].iter().position(|(u, _)| *u == unit)?;
        if number.is_empty() {
            return None;
        }
        total += number.parse::<f64>().ok()? * allowed[next_unit + position].1;
        number.clear();
        next_unit += position + 1;
    }
    number.is_empty().then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kestra_durations_parse() {
        assert_eq!(parse_iso_duration("PT1H"), Some(Duration::from_secs(3600)));
        assert_eq!(
            parse_iso_duration("P1DT2H3M4S"),
            Some(Duration::from_secs(86_400 + 7_200 + 180 + 4))
        );
        assert_eq!(
            parse_iso_duration("PT0.5S"),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            parse_iso_duration("P2W"),
            Some(Duration::from_secs(1_209_600))
        );
        for bad in [
            "", "P", "PT", "1H", "PT1", "PTH", "P1M", "PT1S1H", "PT1H1H", "10s",
        ] {
            assert_eq!(parse_iso_duration(bad), None, "{bad}");
        }
    }
}
