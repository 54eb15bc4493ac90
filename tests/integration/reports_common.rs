//! Running the report commands.

use std::process::Command;

use crate::harness::{run, tool, Run};

/// `parsec-sequester <command> --db URL --organization ORG <extra>`.
pub fn report_cmd(command: &str, db_url: &str, org: &str, extra: &[&str]) -> Command {
    let mut cmd = tool();
    cmd.args([command, "--db", db_url, "--organization", org])
        .args(extra)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR");
    cmd
}

/// The text report of a successful run.
pub fn text(command: &str, db_url: &str, org: &str, extra: &[&str]) -> String {
    let r = run(&mut report_cmd(command, db_url, org, extra));
    r.ok();
    r.stdout
}

/// The `--json` document of a successful run.
pub fn json(command: &str, db_url: &str, org: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    let r: Run = run(&mut report_cmd(command, db_url, org, &args));
    r.ok();
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}):\n{}", r.stdout))
}
