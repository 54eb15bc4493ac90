//! `parsec-sequester realms`: the realms of an organization and what exporting each would
//! download.

use crate::cli::RealmsArgs;
use crate::db::DbTarget;
use crate::error::Result;
use crate::ids::validate_organization_id;
use crate::report::{output, realms, session};

pub async fn run(args: RealmsArgs) -> Result<()> {
    let db = DbTarget::parse(&args.report.db)?;
    let organization_id = validate_organization_id(&args.report.organization)?;
    args.report.color.apply();

    let mut client = db.connect().await?;
    let snapshot = session::open(&mut client, &organization_id).await?;
    let report = realms::load(&snapshot, &organization_id).await?;
    snapshot.close().await;

    if args.report.json {
        output::print_json(&report)
    } else {
        output::print_styled(&realms::render(&report))
    }
}
