//! Reading the evidence tools already write: JUnit XML (cargo-nextest, pytest, maven, ...), LCOV and
//! Cobertura coverage, and a small JSON of benchmark figures (documented in docs/gates.md).

use std::path::Path;

use quick_xml::events::{BytesStart, Event};

use crate::error::{Error, Result};

/// Test counts from JUnit XML.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TestCounts {
    /// Test cases.
    pub total: u64,
    /// Failed or errored test cases.
    pub failed: u64,
    /// Skipped test cases.
    pub skipped: u64,
}

impl TestCounts {
    /// Passed as a percentage of those that ran (skipped excluded); `None` when none ran.
    pub fn pass_rate(self) -> Option<f64> {
        let ran = self.total - self.skipped;
        (ran > 0).then(|| 100.0 * (ran - self.failed) as f64 / ran as f64)
    }
}

fn read(path: &Path) -> Result<String> {
    let read = std::fs::read(path); // fs: a test report in the work tree
    let bytes = read.map_err(|e| Error::io(path, e).context("cannot read a test report given as evidence"))?;
    String::from_utf8(bytes).map_err(|_| Error::malformed(path, "not UTF-8 text"))
}

fn is(e: &BytesStart<'_>, name: &str) -> bool {
    e.local_name().as_ref() == name
}

/// Counts the `<testcase>` elements of a JUnit XML report and their failures, errors and skips.
pub fn junit(path: &Path) -> Result<TestCounts> {
    let text = read(path)?;
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut counts = TestCounts::default();
    let (mut in_case, mut failed, mut skipped) = (false, false, false);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) if is(&e, "testcase") => (in_case, failed, skipped) = (true, false, false),
            Ok(Event::Empty(e)) if is(&e, "testcase") => counts.total += 1,
            Ok(Event::Start(e) | Event::Empty(e)) if in_case && (is(&e, "failure") || is(&e, "error")) => failed = true,
            Ok(Event::Start(e) | Event::Empty(e)) if in_case && is(&e, "skipped") => skipped = true,
            Ok(Event::End(e)) if e.local_name().as_ref() == "testcase" => {
                counts.total += 1;
                counts.failed += u64::from(failed);
                counts.skipped += u64::from(skipped && !failed);
                in_case = false;
            }
            Ok(Event::Eof) => break,
            Err(e) => return Err(Error::malformed(path, format!("not valid JUnit XML: {e}"))),
            _ => {}
        }
    }
    if counts.total == 0 {
        return Err(Error::malformed(path, "no <testcase> elements: is this a JUnit XML report?"));
    }
    Ok(counts)
}

/// Line coverage percentage from an LCOV tracefile (sum of `LH` over sum of `LF`).
pub fn lcov(path: &Path) -> Result<f64> {
    let text = read(path)?;
    let (mut found, mut hit) = (0u64, 0u64);
    for line in text.lines() {
        let parse =
            |v: &str| v.trim().parse::<u64>().map_err(|_| Error::malformed(path, format!("bad LCOV line `{line}`")));
        if let Some(v) = line.strip_prefix("LF:") {
            found += parse(v)?;
        } else if let Some(v) = line.strip_prefix("LH:") {
            hit += parse(v)?;
        }
    }
    if found == 0 {
        return Err(Error::malformed(path, "no LF: lines: is this an LCOV tracefile?"));
    }
    Ok(100.0 * hit as f64 / found as f64)
}

/// Line coverage percentage from a Cobertura XML report (`lines-covered`/`lines-valid`, or `line-rate`).
pub fn cobertura(path: &Path) -> Result<f64> {
    let text = read(path)?;
    let mut reader = quick_xml::Reader::from_str(&text);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) if is(&e, "coverage") => {
                let attr = |name: &str| -> Option<f64> {
                    e.try_get_attribute(name).ok().flatten().and_then(|a| a.value.trim().parse().ok())
                };
                return match (attr("lines-covered"), attr("lines-valid"), attr("line-rate")) {
                    (Some(c), Some(v), _) if v > 0.0 => Ok(100.0 * c / v),
                    (_, _, Some(rate)) => Ok(100.0 * rate),
                    _ => Err(Error::malformed(path, "<coverage> has neither lines-covered/lines-valid nor line-rate")),
                };
            }
            Ok(Event::Eof) => return Err(Error::malformed(path, "no <coverage> element: is this a Cobertura report?")),
            Err(e) => return Err(Error::malformed(path, format!("not valid XML: {e}"))),
            _ => {}
        }
    }
}

/// Figures from a benchmark JSON: `{"benchmarks": [{"name": "read_latency_ms", "value": 12.5}]}` or a
/// flat object `{"read_latency_ms": 12.5}`.
pub fn bench(path: &Path) -> Result<Vec<(String, f64)>> {
    let value: serde_json::Value =
        serde_json::from_str(&read(path)?).map_err(|e| Error::malformed(path, format!("not valid JSON: {e}")))?;
    let bad =
        || Error::malformed(path, "expected {\"benchmarks\": [{\"name\": ..., \"value\": ...}]} or {\"name\": number}");
    let mut figures = Vec::new();
    match value.get("benchmarks") {
        Some(serde_json::Value::Array(items)) => {
            for item in items {
                let name = item.get("name").and_then(|n| n.as_str()).ok_or_else(bad)?;
                let value = item.get("value").and_then(|v| v.as_f64()).ok_or_else(bad)?;
                figures.push((name.to_string(), value));
            }
        }
        Some(_) => return Err(bad()),
        None => {
            for (name, v) in value.as_object().ok_or_else(bad)? {
                figures.push((name.clone(), v.as_f64().ok_or_else(bad)?));
            }
        }
    }
    Ok(figures)
}
