//! `stackfleet plan`: change sets in every target, grouped; nothing is changed. With `--out`,
//! the change sets are kept and the plan written for review, for `stackfleet apply`.

use std::process::ExitCode;

use stackfleet_aws::StsAssumer;
use stackfleet_core::escape::terminal_line;
use stackfleet_core::lifecycle::{Clock, SystemClock};
use stackfleet_core::plan::{
    group_blockers, group_plans, plan_all, recorded_document, PlanFile, PlanVerdict, SkippedTarget,
    TargetPlan,
};
use stackfleet_core::report::targets_count;
use stackfleet_core::waves::Wave;
use stackfleet_core::StackName;

use crate::cli::PlanArgs;
use crate::inputs::{self, Prepared};
use crate::output::{list_targets, write_file};
use crate::progress::Progress;
use crate::resume::{Earlier, Takeover};
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

/// The plan as text on stdout: the groups (with their IDs when kept for review), the skipped
/// targets and the blocked ones.
fn print_plan(
    args: &PlanArgs,
    stack_name: &StackName,
    waves: &[Wave],
    written_waves: bool,
    plans: &[TargetPlan],
    file: Option<&PlanFile>,
    skipped: &[SkippedTarget],
) {
    if written_waves {
        print_waves(waves);
    }
    match (&args.out, file) {
        (Some(out), Some(file)) => {
            println!(
                "\nplan {} for stack {} ({} targets), for review in {}:",
                file.plan_id,
                stack_name,
                plans.len(),
                out.display()
            );
            for group in &file.groups {
                println!(
                    "  [{}] {}: {}",
                    group.id,
                    targets_count(group.targets.len()),
                    terminal_line(&group.headline)
                );
                println!("      {}", list_targets(&group.targets));
            }
            println!(
                "apply once reviewed, group by group: stackfleet apply {} --group ID (or --all)",
                out.display()
            );
        }
        _ => {
            println!("\nplan for stack {} ({} targets):", stack_name, plans.len());
            for (headline, targets) in group_plans(plans) {
                println!("  {}: {}", targets_count(targets.len()), terminal_line(&headline));
                println!("      {}", list_targets(&targets));
            }
        }
    }
    for skipped in skipped {
        println!("  skipped {}: {}", skipped.target, terminal_line(&skipped.reason));
    }
    let blocked = group_blockers(plans.iter().map(|p| (&p.target, p.blockers())));
    if !blocked.is_empty() {
        println!("\nblocked before any change (the deploy would be refused there):");
        for group in &blocked {
            println!("  {}", terminal_line(&group.headline()));
            println!("      {}", list_targets(&group.targets));
        }
    }
}

pub async fn plan(args: PlanArgs) -> Result<ExitCode, CliError> {
    let (given, resolved) = inputs::local_rollout(&args.spec, &args.targets, None)?;
    let earlier = match &args.rerun_failed {
        Some(path) => Some(Earlier::read(path, Takeover::Rerun, &resolved)?),
        None => None,
    };
    if earlier.as_ref().is_some_and(|e| e.waves.is_empty()) {
        println!("nothing failed, was stale or was not started in that report: nothing to plan again");
        return Ok(ExitCode::SUCCESS);
    }
    let written_waves = !resolved.waves.is_empty() || earlier.is_some();
    let Prepared {
        spec,
        no_echo,
        run,
        config,
        resolution,
        waves,
        ..
    } = inputs::prepare(
        resolved,
        &args.spec,
        &args.aws,
        earlier.as_ref().map(Earlier::carried),
    )
    .await?;
    let keep = args.out.is_some();
    eprintln!(
        "stackfleet: planning stack {} in {} targets ({} skipped){}",
        spec.stack_name,
        resolution.targets.len(),
        resolution.skipped.len(),
        if keep {
            format!(", keeping the change sets (stackfleet-plan-{run}) for review")
        } else {
            String::new()
        }
    );

    let mut progress = Progress::new(resolution.targets.len(), "planning", true);
    let assumer = StsAssumer::new(&config);
    let concurrency = usize::from(args.concurrency);
    // In the waves' order: the targets a carried report's waves keep, or all of them.
    let targets: Vec<_> = waves.iter().flat_map(|w| w.targets.clone()).collect();
    let plans = plan_all(&assumer, &spec, &run, &targets, concurrency, keep, |_| {
        progress.tick();
    })
    .await;
    progress.finish();

    let skipped: Vec<SkippedTarget> = resolution
        .skipped
        .iter()
        .map(|s| SkippedTarget {
            target: s.target.clone(),
            reason: s.skipped_reason().unwrap_or("not deployed to").to_owned(),
        })
        .collect();
    // The plan file's shape serves --out and --json alike.
    let file = (keep || args.json).then(|| {
        let document = recorded_document(given, &no_echo);
        PlanFile::new(
            run,
            SystemClock.now_ms(),
            document,
            waves.clone(),
            &plans,
            skipped.clone(),
        )
    });
    if let (Some(out), Some(file)) = (&args.out, &file) {
        let json = serde_json::to_string_pretty(file).unwrap_or_default();
        write_file(out, &json).map_err(CliError::Runtime)?;
        if let Some(path) = &args.report_md {
            let md = file.to_markdown(&out.display().to_string());
            write_file(path, &md).map_err(CliError::Runtime)?;
        }
    }
    match (&file, args.json) {
        (Some(file), true) => println!("{}", serde_json::to_string_pretty(file).unwrap_or_default()),
        _ => print_plan(
            &args,
            &spec.stack_name,
            &waves,
            written_waves,
            &plans,
            file.as_ref(),
            &skipped,
        ),
    }
    if let Some(path) = &args.report_json {
        let json = serde_json::to_string_pretty(&plans).unwrap_or_default();
        write_file(path, &json).map_err(CliError::Runtime)?;
    }
    // A blocked target fails the plan as one that could not be planned: its deploy would fail.
    let unplanned = plans
        .iter()
        .filter(|p| {
            matches!(
                p.verdict,
                PlanVerdict::CannotPlan { .. } | PlanVerdict::Blocked { .. }
            )
        })
        .count();
    Ok(if unplanned == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
