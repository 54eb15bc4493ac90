//! `parsec-sequester human-accesses`: who had access to which realm, and when.

use crate::cli::HumanAccessesArgs;
use crate::db::DbTarget;
use crate::error::Result;
use crate::ids::validate_organization_id;
use crate::report::human_accesses::{self, Query};
use crate::report::{output, session};

pub async fn run(args: HumanAccessesArgs) -> Result<()> {
    let db = DbTarget::parse(&args.report.db)?;
    let organization_id = validate_organization_id(&args.report.organization)?;
    let query = Query::parse(args.query.as_deref());
    args.report.color.apply();

    let mut client = db.connect().await?;
    let snapshot = session::open(&mut client, &organization_id).await?;
    let report = human_accesses::load(&snapshot, &organization_id, &query).await?;
    snapshot.close().await;

    if args.report.json {
        output::print_json(&report)
    } else {
        output::print_styled(&human_accesses::render(&report))
    }
}
