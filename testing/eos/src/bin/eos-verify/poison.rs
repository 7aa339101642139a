//! The poison-pill round (`--scenario poison`; issue 15 item 4): the input
//! holds about 1% poison pills (bytes that do not deserialize, values the
//! processor fails or panics on, records whose output is too large for its
//! topic) while instances are SIGKILLed and the broker restarts; the
//! application runs with every exception handler `log_and_continue` and a
//! dead-letter topic. The checker (`weir_eos::poison`) finds every pill in
//! the dead-letter topic, no good record lost and the outputs still exact;
//! the round prints `RESULT poison ...`.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use weir_eos::check::{check, CheckInput};
use weir_eos::format::{key_name, partition_of, InputValue};
use weir_eos::poison::{
    check_dead_letters, check_sized, split_input, PoisonVerdict, Stage, BIG_AMOUNT, DESER_PREFIX,
    FAIL_PREFIX, H_POISON_ID, PANIC_PREFIX, SIZED_MAX_MESSAGE_BYTES,
};
use weir_eos::poison_topology::poison_internal_topics;
use weir_eos::rng::SplitMix64;
use weir_eos::topology::JITTER_MS;
use weir_kafka::{Connection, ProduceRecord, TopicSpec};

use crate::generator::Generator;
use crate::round;
use crate::{say, Cli, Outcome, Plan, Res, BATCH};

const APPLICATION_ID: &str = "weir-poison";
const INPUT: &str = "poison-input";
const ECHO: &str = "poison-echo";
const AGGS: &str = "poison-aggs";
const SIZED: &str = "poison-sized";
const DLQ: &str = "poison-dlq";

/// The poison round's plan: shorter than the eos round's (CI runs both
/// guarantees), the same faults.
fn plan(args: &Cli) -> Res<Plan> {
    let base = Plan::new(&args.mode, args.guarantee)?;
    let mut plan = match args.mode.as_str() {
        "long" => Plan {
            records: 400_000,
            kills: 25,
            broker_restarts: 2,
            produce_secs: 300,
            catch_up_secs: 240,
            ..base
        },
        _ => Plan {
            records: 30_000,
            kills: 4,
            broker_restarts: 1,
            produce_secs: 50,
            catch_up_secs: 60,
            ..base
        },
    };
    // An instance that dies on a pill (a handler missing) restarts into the
    // same pill: that is a stall to report, not a reason to abort the round.
    plan.max_crashes = 10_000;
    args.apply(&mut plan);
    Ok(plan)
}

/// Starts the generator: `plan.records` input records at a steady pace,
/// about `plan.poison_per_mille` of them pills (the stages in turn);
/// returns the good records per key. `pills` counts the pills written.
fn start_generator(bootstrap: &str, plan: &Plan, pills: Arc<AtomicU64>) -> Generator {
    let produced = Arc::new(AtomicU64::new(0));
    let in_flight = Arc::new(Mutex::new(()));
    let stop = Arc::new(AtomicBool::new(false));
    let conn = Connection::new(bootstrap.to_string()).with_timeout(Duration::from_secs(180));
    let (p, lock, halt, plan) = (
        produced.clone(),
        in_flight.clone(),
        stop.clone(),
        plan.clone(),
    );
    let handle = thread::spawn(move || -> Res<Vec<u64>> {
        let mut rng = SplitMix64::new(plan.seed ^ 0x9015_0ABD);
        let mut per_key = vec![0u64; plan.keys as usize];
        let began = Instant::now();
        let epoch_ms = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis())?;
        let span_ms = i64::try_from(plan.produce_secs * 1000)?;
        let total = plan.records;
        let total_i = i64::try_from(total.max(1))?;
        let mut sent = 0u64;
        let mut pill_no = 0u64;
        let mut processing_pills = 0u64;
        while sent < total {
            if halt.load(Ordering::Relaxed) {
                return Err("generator stopped".into());
            }
            let due = total.saturating_mul(began.elapsed().as_millis() as u64)
                / (plan.produce_secs * 1000).max(1);
            if sent > due {
                thread::sleep(Duration::from_millis(20));
                continue;
            }
            let n = (total - sent).min(BATCH as u64);
            let mut batch = Vec::with_capacity(BATCH);
            for i in 0..n {
                let k = u32::try_from(rng.range(0, u64::from(plan.keys) - 1))?;
                let key = key_name(k);
                let partition = partition_of(&key, plan.partitions).ok_or("no partition")?;
                let pill =
                    !plan.poison_stages.is_empty() && rng.chance(plan.poison_per_mille, 1000);
                let stage = plan
                    .poison_stages
                    .get(usize::try_from(pill_no)? % plan.poison_stages.len().max(1))
                    .copied()
                    .filter(|_| pill);
                let tag = format!("{key}:{pill_no}");
                let value: Vec<u8> = if stage == Some(Stage::Deserialization) {
                    let mut v = DESER_PREFIX.to_vec();
                    v.extend_from_slice(tag.as_bytes());
                    v
                } else if stage == Some(Stage::Processing) {
                    // An error and a panic in turn.
                    processing_pills += 1;
                    let prefix = if processing_pills.is_multiple_of(2) {
                        PANIC_PREFIX
                    } else {
                        FAIL_PREFIX
                    };
                    format!("{prefix}{tag}").into_bytes()
                } else {
                    // A good record; a production pill is one with a big amount.
                    let seq = &mut per_key[k as usize];
                    let amount = if stage == Some(Stage::Production) {
                        BIG_AMOUNT + i64::try_from(rng.range(0, 999))?
                    } else {
                        i64::try_from(rng.range(1, 1_000_000))?
                    };
                    let value = InputValue {
                        seq: i64::try_from(*seq)?,
                        amount,
                    };
                    *seq += 1;
                    value.to_string().into_bytes()
                };
                if pill {
                    pill_no += 1;
                }
                let index = i64::try_from(sent + i)?;
                let jitter = i64::try_from(rng.range(0, u64::try_from(JITTER_MS)?))?;
                let mut record = ProduceRecord::new(key, value).to_partition(partition);
                if pill {
                    record = record.with_header(H_POISON_ID, tag);
                }
                record.timestamp = Some(epoch_ms + index * span_ms / total_i - jitter);
                batch.push(record);
            }
            {
                let _guard = lock.lock().map_err(|_| "generator lock poisoned")?;
                weir_kafka::produce_batch(&conn, INPUT, &batch)
                    .map_err(|e| format!("producing input records {sent}..{}: {e}", sent + n))?;
            }
            sent += n;
            p.store(sent, Ordering::Relaxed);
            pills.store(pill_no, Ordering::Relaxed);
        }
        Ok(per_key)
    });
    Generator {
        produced,
        in_flight,
        stop,
        handle,
    }
}

/// One poison round; see the module docs.
pub(crate) fn poison_round(args: &Cli) -> Res<Outcome> {
    let start = Instant::now();
    let plan = plan(args)?;
    let dir = round::fresh_dir(
        &args.work_dir,
        &format!("poison-{}", plan.guarantee.as_str()),
    )?;
    say(
        start,
        format!(
            "poison round {}: {} records ({} per mille pills, stages {:?}) over {} keys in {} \
             partitions, {} instances, {} kills, {} broker restarts, seed {}, work dir {}",
            plan.guarantee,
            plan.records,
            plan.poison_per_mille,
            plan.poison_stages,
            plan.keys,
            plan.partitions,
            plan.instances,
            plan.kills,
            plan.broker_restarts,
            plan.seed,
            dir.display()
        ),
    );
    let (broker, conn) = round::start_broker(args, &dir, start)?;
    weir_kafka::create_topics(
        &conn,
        &[
            TopicSpec::new(INPUT, plan.partitions),
            TopicSpec::new(ECHO, plan.partitions),
            TopicSpec::new(AGGS, plan.partitions),
            TopicSpec::new(SIZED, plan.partitions)
                .config("max.message.bytes", SIZED_MAX_MESSAGE_BYTES.to_string()),
            TopicSpec::new(DLQ, plan.partitions),
        ],
    )?;

    let mut rng = SplitMix64::new(plan.seed);
    let app_args = [
        "--application-id",
        APPLICATION_ID,
        "--topology",
        "poison",
        "--input",
        INPUT,
        "--echo",
        ECHO,
        "--aggs",
        AGGS,
        "--sized",
        SIZED,
        "--dlq",
        DLQ,
    ];
    let mut fleet = round::start_fleet(args, &dir, &broker, &app_args, &plan, &mut rng, start)?;
    let pills = Arc::new(AtomicU64::new(0));
    let generator = start_generator(&broker.bootstrap, &plan, pills.clone());
    let mut run = round::Running {
        start,
        plan: &plan,
        broker: &broker,
        fleet: &mut fleet,
        rng: &mut rng,
    };
    let broker_restarts = round::fault_phase(
        &mut run,
        &generator,
        round::Kills::AnyRunning,
        |fleet, broker_restarts| {
            format!(
                "progress: produced {} of {} ({} pills), kills {}, broker restarts {}, \
                 instance exits {}, running {:?}",
                generator.produced.load(Ordering::Relaxed),
                plan.records,
                pills.load(Ordering::Relaxed),
                fleet.kills,
                broker_restarts,
                fleet.crashes,
                fleet.running()
            )
        },
    )?;
    let per_key = generator
        .handle
        .join()
        .map_err(|_| "the generator panicked")??;
    say(
        start,
        format!(
            "input complete: {} good records, {} pills",
            per_key.iter().sum::<u64>(),
            pills.load(Ordering::Relaxed)
        ),
    );
    round::write_expected(&dir, &per_key)?;

    let reader = round::reader(args);
    let complete = round::catch_up(
        &mut run,
        &reader,
        &dir,
        &[ECHO, AGGS, APPLICATION_ID, INPUT],
        round::CatchUpText {
            waiting: "waiting for the outputs to complete and the lag to reach 0",
            complete: "outputs complete, lag 0",
            incomplete: &|log| {
                format!(
                    "outputs NOT complete (or lag not 0) after {}s: stalled (see {})",
                    plan.catch_up_secs,
                    log.display()
                )
            },
        },
    )?;
    fleet.close_all(Duration::from_secs(90), start)?;
    say(
        start,
        "instances closed; reading every topic (read_committed)",
    );

    let dump = round::dump(
        &reader,
        &broker,
        &dir,
        300,
        &[
            &format!("{INPUT}:raw"),
            ECHO,
            AGGS,
            SIZED,
            &format!("{DLQ}:raw"),
        ],
    )?;
    drop(broker);
    for topic in poison_internal_topics(APPLICATION_ID) {
        if !dump.ends.iter().any(|e| e.topic == topic) {
            say(start, format!("note: internal topic {topic} not found"));
        }
    }
    let split = split_input(dump.raw_topic(INPUT));
    let report = check(CheckInput {
        input: &split.good,
        echo: dump.topic(ECHO),
        aggs: dump.topic(AGGS),
        ends: &dump.ends,
        partitions: plan.partitions,
        guarantee: plan.guarantee,
    });
    let (sized, sized_samples) = check_sized(&split.good, dump.topic(SIZED));
    let dead_letters = check_dead_letters(INPUT, &split.pills, dump.raw_topic(DLQ), plan.guarantee);
    let verdict = PoisonVerdict {
        lost: report.lost() + sized.lost,
        duplicated: report.duplicated() + sized.duplicated,
        wrong: report.wrong() + sized.wrong,
        stalled: !complete,
        other_failures: split.unknown
            + report.input_problems
            + report.dangling.len() as u64
            + u64::from(report.records == 0),
        guarantee: plan.guarantee,
        dead_letters,
    };
    let mut text = String::new();
    for s in verdict
        .dead_letters
        .samples
        .iter()
        .chain(&report.samples)
        .chain(&sized_samples)
        .take(30)
    {
        writeln!(text, "  problem: {s}")?;
    }
    writeln!(
        text,
        "kills {}; broker restarts {broker_restarts}; instances exiting by themselves: {}; \
         forced closes: {}; outputs complete: {complete}; input records neither good nor \
         pills: {}; duration {:.0}s",
        fleet.kills,
        fleet.crashes,
        fleet.forced_closes,
        split.unknown,
        start.elapsed().as_secs_f64()
    )?;
    writeln!(
        text,
        "DETAIL poison dead-lettered/injected: {}; {}; sized: lost={} duplicated={} wrong={}",
        verdict.dead_letters.per_stage(),
        report.detail_line(),
        sized.lost,
        sized.duplicated,
        sized.wrong
    )?;
    writeln!(text, "{}", verdict.result_line())?;
    print!("{text}");
    fs::write(dir.join("result.txt"), &text)?;
    let _ = std::io::stdout().flush();
    Ok(Outcome {
        passed: verdict.passed() && fleet.forced_closes == 0,
    })
}
