//! `stackfleet plan`: change sets in every target, grouped; nothing is changed.

use std::process::ExitCode;

use stackfleet_aws::StsAssumer;
use stackfleet_core::escape::terminal_line;
use stackfleet_core::plan::{group_plans, plan_all, PlanVerdict};
use stackfleet_core::report::targets_count;
use stackfleet_core::waves::Wave;

use crate::cli::PlanArgs;
use crate::inputs::{self, Prepared};
use crate::output::{list_targets, write_file};
use crate::progress::Progress;
use crate::CliError;

/// The waves, as a deploy would run them: for documents that write waves.
fn print_waves(waves: &[Wave]) {
    println!("\nwaves, in order:");
    for (index, wave) in waves.iter().enumerate() {
        println!(
            "  {}. {}: {}, bake {} s, failure tolerance {}",
            index + 1,
            terminal_line(&wave.name),
            targets_count(wave.targets.len()),
            wave.bake_seconds,
            wave.failure_tolerance
        );
    }
    for wave in waves.iter().filter(|w| w.targets.is_empty()) {
        println!(
            "  warning: wave {:?} has no target: none of its accounts or OUs is among the targets \
             (a deploy passes it over)",
            wave.name
        );
    }
}

pub async fn plan(args: PlanArgs) -> Result<ExitCode, CliError> {
    let resolved = inputs::local_document(&args.spec, &args.targets, None)?;
    let written_waves = !resolved.waves.is_empty();
    let Prepared {
        spec,
        run,
        config,
        resolution,
        waves,
        ..
    } = inputs::prepare(resolved, &args.spec, &args.aws, None).await?;
    eprintln!(
        "stackfleet: planning stack {} in {} targets ({} skipped)",
        spec.stack_name,
        resolution.targets.len(),
        resolution.skipped.len()
    );

    let mut progress = Progress::new(resolution.targets.len(), "planning", true);
    let assumer = StsAssumer::new(&config);
    let concurrency = usize::from(args.concurrency);
    let plans = plan_all(&assumer, &spec, &run, &resolution.targets, concurrency, |_| {
        progress.tick();
    })
    .await;
    progress.finish();

    if written_waves {
        print_waves(&waves);
    }
    println!("\nplan for stack {} ({} targets):", spec.stack_name, plans.len());
    for (headline, targets) in group_plans(&plans) {
        println!("  {}: {}", targets_count(targets.len()), terminal_line(&headline));
        println!("      {}", list_targets(&targets));
    }
    for skipped in &resolution.skipped {
        println!(
            "  skipped {}: {}",
            skipped.target,
            terminal_line(skipped.skipped_reason().unwrap_or("not deployed to"))
        );
    }
    if let Some(path) = &args.report_json {
        let json = serde_json::to_string_pretty(&plans).unwrap_or_default();
        write_file(path, &json).map_err(CliError::Runtime)?;
    }
    let unplanned = plans
        .iter()
        .filter(|p| matches!(p.verdict, PlanVerdict::CannotPlan { .. }))
        .count();
    Ok(if unplanned == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
