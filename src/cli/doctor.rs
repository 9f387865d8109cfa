//! `abathur doctor`: the installation and the repository, checked, with what to do.

use crate::cli::Ui;
use crate::cli::output::{Table, Text};
use crate::doctor::{DoctorReport, Finding, Health};
use crate::error::{Error, ErrorKind, Result};
use crate::service::Service;

/// Runs `abathur doctor`; exits 1 when a check fails.
pub fn cmd_doctor(ui: &Ui, cwd: &std::path::Path) -> Result<()> {
    let mut findings = vec![crate::cli::engine::paired_binaries()];
    match Service::open(cwd) {
        Ok(service) => findings.extend(service.doctor()),
        Err(e) => findings.push(Finding::new("ledger", Health::Fail, e.message, e.hints.join("; "))),
    }
    let ok = findings.iter().all(|f| f.health != Health::Fail);
    let report = DoctorReport { findings, ok };
    ui.reply(&report, |r| {
        let mut t = Table::new(&["CHECK", "STATUS", "DETAIL"]).state_column(1);
        for f in &r.findings {
            let health = match f.health {
                Health::Ok => "ok",
                Health::Warn => "warn",
                Health::Fail => "fail",
            };
            t.add_row(vec![f.check.clone(), health.into(), f.detail.clone()]);
        }
        let fixes: String =
            r.findings.iter().filter(|f| !f.fix.is_empty()).map(|f| format!("{}: {}\n", f.check, f.fix)).collect();
        Text::default().table(t).plain(fixes)
    })?;
    if report.ok {
        Ok(())
    } else {
        ui.failed_after_report(
            Error::new(ErrorKind::Validation, "abathur doctor found a problem")
                .hint("each check marked fail above says what to do"),
        )
    }
}
